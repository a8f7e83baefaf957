"""The ledger's subject search (``q``, CONTRACT §7) cannot read back what the pages mask
(§6): a subject every output shows masked is found only by what is shown of it, or by its
masked form copied from a page — on each supported database."""

from __future__ import annotations

from datetime import date

import pytest

from bdcwatch.ledger.query import FindingFilter, find_findings
from tests.web.ledger_world import new_world

ID_SUBJECT = "110101199003071234"  # a complaint whose 工单编号 is someone's ID number
CASE_15 = "202603050000123"  # 15 digits without a birth date where GB 11643 puts one: shown as written
TODAY = date(2026, 4, 2)


@pytest.fixture
def world(database_url):
    world = new_world(database_url.migrated())
    world.add("id", "COMPLAINT", ID_SUBJECT, "YQ21")
    world.add("case", "CASE_OVERDUE", CASE_15, "YQ21")
    world.add("ticket", "COMPLAINT", "GD2026040101", "YQ21")
    return world


def _found(world, q: str) -> set[str]:
    with world.engine.connect() as conn:
        page = find_findings(conn, FindingFilter(q=q), today=TODAY, page_size=50)
    names = {v: k for k, v in world.ids.items()}
    return {names[item.id] for item in page.items}


def test_a_masked_subject_is_found_only_by_what_the_pages_show(world):
    assert _found(world, "1101011990") == set()  # the hidden middle, probed: nothing
    assert _found(world, "199") == set()
    assert _found(world, ID_SUBJECT) == set()
    assert _found(world, "110") == {"id"} and _found(world, "34") == {"id"}
    assert _found(world, "110*************34") == {"id"}  # copied from the ledger page
    assert _found(world, "110************34") == set()  # not its length


def test_other_subjects_are_searched_as_written(world):
    assert _found(world, CASE_15) == {"case"} and _found(world, "0000123") == {"case"}
    assert _found(world, "gd2026") == {"ticket"}
    assert _found(world, "2026") == {"case", "ticket"}


def test_control_characters_typed_into_a_filter_are_dropped(world):
    """A NUL in ``?q=`` or ``?unit=``: PostgreSQL refuses it in a query (the API answered
    500); it is dropped as the outputs drop it."""
    assert _found(world, "GD\x002026\u202e") == {"ticket"}
    with world.engine.connect() as conn:
        assert find_findings(conn, FindingFilter(unit="YQ\x0021"), today=TODAY).total == 3


@pytest.mark.parametrize("subject", [
    "110101-19900307-4512", "GD110101199003074512", "工单110101199003074512", "110101199003074512-1",
    "11010119900307451×", "１１０１０１１９９００３０７４５１２", " 110101199003074512",
])
def test_every_form_the_pages_mask_is_searched_only_as_shown(database_url, subject):
    """Whatever form the masker hides (dashes, a prefix or suffix, a look-alike check
    character, full-width digits), the search reads what the pages show (an adversary
    spelled each of these out through ``q``)."""
    from bdcwatch.standards.masking import mask_id_numbers

    world = new_world(database_url.migrated())
    world.add("it", "COMPLAINT", subject, "YQ21")
    shown = mask_id_numbers(subject)
    assert shown != subject
    for probe in ("19900307", "0307", "990", "4512" if "4512" not in shown else "0101199"):
        assert _found(world, probe) == set(), probe
    assert _found(world, shown.strip()) == {"it"}
