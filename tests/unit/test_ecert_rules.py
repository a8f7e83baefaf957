"""Each ECERT rule on tiny fixtures: what must be flagged, and the traps that must not."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.ecert_world import TYPE_CODES, UNIT_B, World, number

START, END = date(2026, 3, 1), date(2026, 4, 1)
AS_OF = datetime(2026, 4, 1)
T = datetime(2026, 3, 10, 10, 0)


@pytest.fixture
def world(database_url) -> World:
    """Every rule must give the same findings on each supported supervision_db."""
    return World(database_url("source"), database_url.migrated("supervision"))


def flagged(world: World, rule: str) -> set[str]:
    return {subject for code, subject in world.run(START, END) if code == rule}


def test_missing_ecert_is_flagged_and_a_present_one_is_not(world):
    missing = world.cert(1, szsj=T)
    present = world.cert(2, szsj=T)
    world.ecert(present, zzbfrq=T + timedelta(minutes=5))
    assert flagged(world, "ECERT_MISSING") == {missing}


def test_missing_waits_out_the_grace_and_ignores_other_periods(world):
    world.cert(1, szsj=AS_OF - timedelta(hours=23))  # printed 23h before as-of: still in grace
    exactly = world.cert(2, szsj=AS_OF - timedelta(hours=24))  # grace just over: judged
    world.cert(3, szsj=datetime(2026, 2, 28, 23, 0))  # before the period
    world.cert(4, szsj=datetime(2026, 4, 2, 9, 0))  # after the period
    assert flagged(world, "ECERT_MISSING") == {exactly}


def test_an_ecert_issued_after_as_of_does_not_count(world):
    late_after_as_of = world.cert(1, szsj=T)
    world.ecert(late_after_as_of, zzbfrq=AS_OF + timedelta(days=2))
    found = world.run(START, END)
    assert ("ECERT_MISSING", late_after_as_of) in found
    assert ("ECERT_LATE", late_after_as_of) not in found


def test_cancelled_ecert_still_counts_as_existing_for_missing(world):
    # "has no BDC_DZZZ_ZZXX row": any status counts as a row.
    cert = world.cert(1, szsj=T)
    world.ecert(cert, zzbfrq=T + timedelta(minutes=5), zzzt=2, zxsj=T + timedelta(days=1), zxyy=2)
    assert flagged(world, "ECERT_MISSING") == set()


def test_number_normalization_traps_are_not_missing(world):
    fullwidth = world.cert(1, szsj=T, bdcqzh="晋（2026）阳泉市不动产权第０００0001号")
    world.ecert(number(1), zzbfrq=T + timedelta(minutes=5))
    spaced = world.cert(2, szsj=T)
    world.ecert(" 晋(2026) 阳泉市不动产权第0000002号", zzbfrq=T + timedelta(minutes=5))
    found = world.run(START, END)
    assert not {f for f in found if f[0] in ("ECERT_MISSING", "ECERT_ORPHAN")}, found
    assert fullwidth and spaced


def test_late_ecert(world):
    late = world.cert(1, szsj=T, dbsj=T - timedelta(hours=1))
    world.ecert(late, zzbfrq=T + timedelta(days=3))
    in_grace = world.cert(2, szsj=T, dbsj=T - timedelta(hours=1))
    world.ecert(in_grace, zzbfrq=T - timedelta(hours=1) + timedelta(hours=23))
    on_the_dot = world.cert(3, szsj=T, dbsj=T - timedelta(hours=1))
    world.ecert(on_the_dot, zzbfrq=T - timedelta(hours=1) + timedelta(hours=24))
    assert flagged(world, "ECERT_LATE") == {late}


def test_not_revoked(world):
    cancelled_at = datetime(2026, 3, 20, 9, 0)
    still_valid = world.cert(1, szsj=datetime(2026, 1, 5, 10), zszt=2, zxsj=cancelled_at,
                             bdcqzh=number(1) + "(销)")
    world.ecert(number(1), zzbfrq=datetime(2026, 1, 5, 10, 5))
    revoked = world.cert(2, szsj=datetime(2026, 1, 5, 10), zszt=2, zxsj=cancelled_at, bdcqzh=number(2) + "(销)")
    world.ecert(number(2), zzbfrq=datetime(2026, 1, 5, 10, 5), zzzt=2, zxsj=cancelled_at + timedelta(hours=2), zxyy=1)
    in_grace = world.cert(3, szsj=datetime(2026, 1, 5, 10), zszt=2, zxsj=AS_OF - timedelta(hours=5))
    world.ecert(in_grace, zzbfrq=datetime(2026, 1, 5, 10, 5))
    revoked_after_as_of = world.cert(4, szsj=datetime(2026, 1, 5, 10), zszt=2, zxsj=cancelled_at)
    world.ecert(revoked_after_as_of, zzbfrq=datetime(2026, 1, 5, 10, 5), zzzt=2, zxsj=AS_OF + timedelta(days=3), zxyy=1)
    # subjects are normalized numbers: the trailing (销) of the paper number is dropped
    assert flagged(world, "ECERT_NOT_REVOKED") == {number(1), revoked_after_as_of}
    assert still_valid.endswith("(销)") and revoked


def test_mismatch_in_unit_holders_and_type_but_not_in_holder_order(world):
    unit = world.cert(1, szsj=T)
    world.ecert(unit, zzbfrq=T, bdcdyh=UNIT_B)
    holders = world.cert(2, szsj=T, holders="张三、李四")
    world.ecert(holders, zzbfrq=T, holders="张三")
    kind = world.cert(3, szsj=T, zslx=1)
    world.ecert(kind, zzbfrq=T, zzlxdm=TYPE_CODES[2])
    reordered = world.cert(4, szsj=T, holders="张三、李四")
    world.ecert(reordered, zzbfrq=T, holders="李四，张三")
    cancelled_wrong = world.cert(5, szsj=T)
    world.ecert(cancelled_wrong, zzbfrq=T, bdcdyh=UNIT_B, zzzt=2, zxsj=T + timedelta(hours=1), zxyy=2)
    world.ecert(cancelled_wrong, zzbfrq=T + timedelta(hours=2))
    assert flagged(world, "ECERT_MISMATCH") == {unit, holders, kind}


def test_duplicate_counts_only_valid_ecerts(world):
    dup = world.cert(1, szsj=T)
    world.ecert(dup, zzbfrq=T)
    world.ecert(dup, zzbfrq=T + timedelta(hours=1))
    reissued = world.cert(2, szsj=T)
    world.ecert(reissued, zzbfrq=T, zzzt=2, zxsj=T + timedelta(hours=1), zxyy=2)
    world.ecert(reissued, zzbfrq=T + timedelta(hours=2))
    assert flagged(world, "ECERT_DUPLICATE") == {dup}


def test_orphan(world):
    orphan = world.ecert(number(99), zzbfrq=T)
    in_grace = world.ecert(number(98), zzbfrq=AS_OF - timedelta(hours=3))
    revoked = world.ecert(number(97), zzbfrq=T, zzzt=2, zxsj=T + timedelta(hours=1))
    matched = world.cert(1, szsj=T)
    world.ecert(matched, zzbfrq=T)
    assert flagged(world, "ECERT_ORPHAN") == {orphan}
    assert in_grace and revoked


def test_bad_identifier(world):
    cert = world.cert(1, szsj=T)
    good = world.ecert(cert, zzbfrq=T)
    wrong_check = world.ecert(number(50), zzbfrq=T, zzbs="1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.8",
                              zzlxdm=TYPE_CODES[2])
    malformed = world.ecert(number(51), zzbfrq=T, zzbs="1.2.156.3005.2.11100000MB03271699001.140302.12345.001.0")
    found = flagged(world, "ECERT_BAD_ID")
    assert found == {wrong_check, malformed}
    assert good not in found


def test_rerun_updates_instead_of_duplicating_and_units_filter(world):
    a = world.cert(1, szsj=T, djjg="YQ00")
    b = world.cert(2, szsj=T, djjg="YQ21")
    assert {s for c, s in world.run(START, END) if c == "ECERT_MISSING"} == {a, b}
    assert {s for c, s in world.run(START, END) if c == "ECERT_MISSING"} == {a, b}
    assert {s for c, s in world.run(START, END, units=["YQ21"]) if c == "ECERT_MISSING"} == {b}
    from sqlalchemy import func, select

    from bdcwatch.store.models import finding, finding_event

    with world.supervision.connect() as conn:
        assert conn.execute(select(func.count()).select_from(finding)).scalar_one() == 2
        # one creation event per finding, however often it was detected again
        assert conn.execute(select(func.count()).select_from(finding_event)).scalar_one() == 2


def test_a_counterpart_held_in_quarantine_is_not_unmatched(world):
    """A certificate held back (a 证书状态 outside the code list) is still in
    the source: its e-certificate is no ECERT_ORPHAN; likewise a certificate whose
    e-certificate is held back is no ECERT_MISSING. The data defect went to operations;
    the unit is not blamed for a certificate that exists."""
    held_cert = world.cert(1, szsj=T, zszt=9)
    world.ecert(held_cert, zzbfrq=T + timedelta(minutes=5))
    cert_of_held_ecert = world.cert(2, szsj=T)
    world.ecert(cert_of_held_ecert, zzbfrq=T + timedelta(minutes=5), zzzt=9)
    really_missing = world.cert(3, szsj=T)
    found = world.run(START, END)
    assert {s for c, s in found if c == "ECERT_ORPHAN"} == set()
    assert {s for c, s in found if c == "ECERT_MISSING"} == {really_missing}


def test_a_new_finding_is_due_after_its_severitys_working_days(world):
    """CONTRACT §4 due_date: rectification_working_days by severity (high 10, medium 20)
    counted on the State Council calendar from the day first detected (Mon 1 June 2026;
    Fri 19 June is the Dragon Boat holiday)."""
    from sqlalchemy import select

    from bdcwatch.store.models import finding

    missing = world.cert(1, szsj=T)  # ECERT_MISSING, high
    orphan = world.ecert(number(99), zzbfrq=T)  # ECERT_ORPHAN, medium
    world.run(START, END)
    with world.supervision.connect() as conn:
        due = dict(conn.execute(select(finding.c.subject_id, finding.c.due_date)).tuples().all())
    assert (due[missing], due[orphan]) == (date(2026, 6, 15), date(2026, 6, 30))
