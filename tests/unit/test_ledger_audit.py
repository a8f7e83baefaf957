"""The audit trail is hash-chained: editing, deleting or reordering any entry is detected."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, select, text, update

from bdcwatch.config.run import RunContext
from bdcwatch.ledger.audit import verify_chain
from bdcwatch.ledger.findings import record_findings
from bdcwatch.ledger.lifecycle import change_status
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, finding_event

NOW = datetime(2026, 6, 1, 9, 0)


@pytest.fixture
def ledger(sqlite_url):
    engine = make_engine(sqlite_url.migrated())
    subjects = " UNION ALL ".join(
        f"SELECT 'S{i}' AS subject_id, 'YQ00' AS unit_code, '{{}}' AS detail" for i in range(4)
    )
    with engine.begin() as conn:
        detected, new = record_findings(
            conn, rule_code="ECERT_MISSING", severity="high", subject_type="BDCQZH", period=None,
            due_date=date(2026, 6, 15), select_sql=subjects, params={}, ctx=RunContext("ecert_completeness", "r1", NOW),
        )
    assert (detected, new) == (4, 4)
    with engine.begin() as conn:
        ids = conn.execute(select(finding.c.id).order_by(finding.c.id)).scalars().all()
        change_status(conn, ids[:2], "rectifying", actor="张科长", note="已安排补发电子证照", now=NOW)
        change_status(conn, ids[:1], "closed", actor="张科长", note="已补发并核实", now=NOW)
    return engine


def test_intact_chain_verifies(ledger):
    with ledger.connect() as conn:
        assert verify_chain(conn) == []
        statuses = dict(conn.execute(select(finding.c.subject_id, finding.c.status)).all())
    assert statuses == {"S0": "closed", "S1": "rectifying", "S2": "open", "S3": "open"}


def test_edited_entry_is_detected(ledger):
    with ledger.begin() as conn:
        conn.execute(update(finding_event).where(finding_event.c.id == 5).values(note="改过的意见"))
        problems = verify_chain(conn)
    assert any("event 5" in p and "edited" in p for p in problems)


def test_deleted_entry_is_detected(ledger):
    with ledger.begin() as conn:
        conn.execute(delete(finding_event).where(finding_event.c.id == 3))
        problems = verify_chain(conn)
    assert any("event 4" in p and "deleted or reordered" in p for p in problems)


def test_removed_last_entry_is_detected(ledger):
    with ledger.begin() as conn:
        last = conn.execute(select(finding_event.c.id).order_by(finding_event.c.id.desc())).scalars().first()
        conn.execute(delete(finding_event).where(finding_event.c.id == last))
        assert any("audit head" in p for p in verify_chain(conn))


def test_reordered_entries_are_detected(ledger):
    with ledger.begin() as conn:
        # swap the content of two entries (ids stay in place)
        rows = {r.id: r for r in conn.execute(select(finding_event).where(finding_event.c.id.in_([2, 3])))}
        for target, source in ((2, rows[3]), (3, rows[2])):
            conn.execute(
                update(finding_event).where(finding_event.c.id == target).values(
                    finding_id=source.finding_id, note=source.note, prev_hash=source.prev_hash, hash=source.hash + "x"
                )
            )
        conn.execute(text("UPDATE finding_event SET hash = substr(hash, 1, 64)"))
        assert verify_chain(conn)


def test_status_change_requires_person_and_note(ledger):
    with ledger.begin() as conn, pytest.raises(ValueError, match="person and a note"):
        change_status(conn, [1], "closed", actor=" ", note="", now=NOW)


def test_lifecycle_transitions_are_enforced(ledger):
    """open → rectifying → closed by hand; closed only reopens; nothing is moved when one
    finding of the batch may not make the change."""
    with ledger.connect() as conn:
        status = dict(conn.execute(select(finding.c.id, finding.c.status)).all())
    closed_id = next(i for i, s in status.items() if s == "closed")
    rectifying_id = next(i for i, s in status.items() if s == "rectifying")
    open_id = next(i for i, s in status.items() if s == "open")
    with ledger.begin() as conn, pytest.raises(ValueError, match=f"问题 {closed_id}：已销号 → 整改中"):
        change_status(conn, [open_id, closed_id], "rectifying", actor="张科长", note="重新整改", now=NOW)
    with ledger.connect() as conn:
        assert conn.execute(select(finding.c.status).where(finding.c.id == open_id)).scalar_one() == "open"
    with ledger.begin() as conn:
        assert change_status(conn, [closed_id], "reopened", actor="李处长", note="复核发现仍未补发", now=NOW) == 1
        assert change_status(conn, [rectifying_id], "open", actor="李处长", note="整改材料不符合要求", now=NOW) == 1
    with ledger.begin() as conn, pytest.raises(ValueError, match="待整改 → 复发待整改"):
        change_status(conn, [open_id], "reopened", actor="李处长", note="x", now=NOW)
    with ledger.connect() as conn:
        assert verify_chain(conn) == []
