"""Issue 10, the dirty-source world: the demo world written as vendor databases hold it
(``generate(dirty=True)``: integer id columns with NULLs, blanks and zero dates,
zone-carrying timestamps, control and look-alike characters, ID numbers in free text) and
judged through `airflow dags test` on SQLite, PostgreSQL (``timestamptz`` columns, the
database's zone UTC) and MariaDB (``TIMESTAMP`` written from a +08:00 session, zero dates).
Each DAG's findings equal the ground truth (the clean world's, staff ids renamed as
written), no row is quarantined that the truth does not hold back, and no mail part, task
log or console output carries an unmasked ID number in any form CONTRACT §6 names.

On SQLite each family's own DAG runs (ecert_completeness, monthly_quality_check,
staff_registry_audit: their own digests are scanned); on PostgreSQL and MariaDB one
county_self_inspection of the same month judges all three families in one run (every
source table, so every dialect quirk, in one `airflow dags test` instead of three)."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, select, text

from bdcwatch import rules
from bdcwatch.store.models import load_log, quarantine
from tests.conftest import World
from tests.support import MYSQL, POSTGRES, SYSTEMS, Received, connections_of

PERIOD_START, PERIOD_END = date(2026, 3, 1), date(2026, 4, 1)
CASE_RULES = {"CASE_OVERDUE", "CASE_OVERDUE_OPEN", "CASE_QUEUE_JUMP", "RETURN_UNJUSTIFIED", "RETURN_REPEATED",
              "MORTGAGE_WHILE_SEALED", "ONLINE_RATIO_LOW"}
ALL_FAMILIES = ("case", "ecert", "staff")
# dag_id -> (the rules it answers for, the families whose tables it reads)
DAGS = {
    "ecert_completeness": (lambda rule: rule.startswith("ECERT_"), "ecert"),
    "monthly_quality_check": (lambda rule: rule in CASE_RULES, "case"),
    "staff_registry_audit": (lambda rule: rule.startswith("STAFF_"), "staff"),
    # Every case, e-certificate and staff rule at once (here on the same month).
    "county_self_inspection": (lambda rule: rule in rules.select(family=ALL_FAMILIES), ALL_FAMILIES),
}
# (backend, dag_id): each family's DAG on SQLite; all families in one run on each server.
RUNS = [*(("sqlite", dag_id) for dag_id in ("ecert_completeness", "monthly_quality_check", "staff_registry_audit")),
        ("postgresql", "county_self_inspection"), ("mysql", "county_self_inspection")]

# CONTRACT §6: an ID number is 18 or the legacy 15 characters, ASCII or full-width digits
# and X/x/Ｘ, with or without spaces between the digit groups (6 8 4, 6 4 4 4; 6 6 3 for
# 15), check character right or wrong. Strict on purpose: every such token is a leak.
_D = "0-9０-９"
_C = "0-9０-９XxＸｘ"
_S = "[ \u00a0\u3000\t]+"
_EDGE = "0-9０-９A-Za-zＡ-Ｚａ-ｚ"
ID_FORMS = re.compile(
    rf"(?<![{_EDGE}])(?:"
    rf"[{_D}]{{17}}[{_C}]|[{_D}]{{15}}"
    rf"|[{_D}]{{6}}{_S}[{_D}]{{8}}{_S}[{_D}]{{3}}[{_C}]"
    rf"|[{_D}]{{6}}{_S}[{_D}]{{4}}{_S}[{_D}]{{4}}{_S}[{_D}]{{3}}[{_C}]"
    rf"|[{_D}]{{6}}{_S}[{_D}]{{6}}{_S}[{_D}]{{3}}"
    rf")(?![{_EDGE}])"
)
# Not personal data: inline images' content ids (``cid:879907891518344272``) and message
# ids (``<176...@host>``) are decimal hashes that may be 15 or 18 digits long.
_NOT_PERSONAL = re.compile(r"cid:[^\s\"'>]+|<[^<>\s]*@[^<>\s]*>")


# CONTRACT §6's mask (first 3 and last 2 characters kept), in either width.
MASKED = re.compile(rf"[{_D}]{{3}}\*{{8,}}[{_C}]{{2}}")
# The runs whose mail carries ID numbers from the sources, masked: return reasons
# (RETURN_* details) and staff records (STAFF_RECORD_INCOMPLETE).
CARRIES_IDS = {"monthly_quality_check", "staff_registry_audit", "county_self_inspection"}


def id_leaks(where: str, content: str) -> list[str]:
    """Every ID-number-shaped token in ``content``, as 'where: token'."""
    return [f"{where}: {m.group(0)!r}" for m in ID_FORMS.finditer(_NOT_PERSONAL.sub(" ", content))]


def test_the_detector_sees_every_form_and_nothing_else():
    from bdcwatch.demo.dirty import id_number_forms

    forms = id_number_forms(20261201)
    for form in forms.values():
        assert id_leaks("x", f"申请人身份证号{form}与户籍不一致"), form
    masked = "140***********12、案件2026031600000435、证照1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9"
    assert not id_leaks("x", masked + " 单元号140302001002GB00123F00010002 cid:879907891518344272")


def mail_texts(received: list[Received]) -> Iterator[tuple[str, str]]:
    """(where, text) of every part of every mail: subject, HTML, text, each workbook row."""
    for n, mail in enumerate(received):
        yield f"mail {n} subject", str(mail.message["Subject"])
        for part in mail.message.walk():
            if part.is_multipart():
                continue
            content, name = part.get_content(), part.get_filename() or part.get_content_type()
            if isinstance(content, str):
                yield f"mail {n} {name}", content
            elif name.endswith(".xlsx"):
                book = openpyxl.load_workbook(io.BytesIO(content))
                for sheet in book.worksheets:
                    for row in sheet.iter_rows(values_only=True):
                        yield f"mail {n} {name}", " | ".join("" if v is None else str(v) for v in row)


def log_leaks(home: Path, dag_id: str, run_id: str, output: str) -> list[str]:
    leaks = id_leaks(f"{dag_id} console", output)
    folder = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        leaks += id_leaks(str(path.relative_to(folder)), path.read_text(encoding="utf-8", errors="replace"))
    return leaks


@pytest.fixture
def dirty_world(request: pytest.FixtureRequest, tmp_path: Path, smtp_server) -> Iterator[World]:
    """A dirty world on one backend; server databases are named ``dirty_…`` and dropped."""
    from bdcwatch.demo.generator import generate

    backend: str = request.param
    created: list[str] = []
    admin = None
    if backend == "sqlite":
        urls = {name: f"sqlite:///{tmp_path / (name + '.db')}" for name in SYSTEMS}
    else:
        server = POSTGRES if backend == "postgresql" else MYSQL
        reason = server.reachable()
        if reason:
            pytest.skip(reason)
        admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        urls = {}
        with admin.connect() as conn:
            for name in SYSTEMS:
                database = f"dirty_{name}_{uuid.uuid4().hex[:10]}"
                conn.execute(text(server.create.format(name=database)))
                created.append(database)
                if backend == "postgresql":  # the server's zone for every session of this database
                    conn.execute(text(f"ALTER DATABASE \"{database}\" SET timezone TO 'UTC'"))
                urls[name] = server.url.format(name=database)
    try:
        truth = generate(urls["registration"], urls["ecert"], urls["staff"], size=400, seed=7,
                         period_start=PERIOD_START, period_end=PERIOD_END, dirty=True)
        yield World(urls, truth, connections_of(urls, smtp_server.airflow_uri()), PERIOD_START, PERIOD_END)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for database in created:
                    conn.execute(text(server.drop.format(name=database)))
            admin.dispose()


@pytest.mark.parametrize(("dirty_world", "dag_id"), RUNS, indirect=["dirty_world"])
def test_dirty_sources_give_the_clean_findings_and_leak_no_id_number(airflow_env, dirty_world, smtp_server, dag_id):
    world = dirty_world
    answers, family = DAGS[dag_id]
    problems: list[str] = []
    try:
        outcome = airflow_env.run_dag(dag_id, PERIOD_END.isoformat(), world.conf, world.connections)
        run_id, output = outcome.run_id, outcome.output
    except AssertionError as failed:  # still judge what the run left: findings, mail and logs
        problems.append(f"the run failed: {str(failed)[-4000:]}")
        last = airflow_env.last_run(dag_id)
        run_id, output = (last.run_id if last else "none"), str(failed)

    found = world.findings()
    expected = {f for f in world.expected() if answers(f[0])}
    assert expected, "the generated world plants this DAG's rules"
    families = {family} if isinstance(family, str) else set(family)
    assert {rules.get(rule).family for rule, _, _ in expected} == families, "the world plants every family judged"
    if found - expected:
        problems.append(f"findings the ground truth does not have: {sorted(found - expected)}")
    if expected - found:
        problems.append(f"ground-truth findings the engine missed: {sorted(expected - found)}")

    tables = rules.tables_read(rules.select(family=family))
    held_back = [q for q in world.truth.quarantine if q.table in tables]
    with create_engine(world.urls["supervision"]).connect() as conn:
        quarantined = [(r.source_table, r.row_key, r.column_name, r.reason) for r in conn.execute(select(quarantine))]
        # The e-certificate replica view has no primary key and rows written twice: counted, staged once.
        repeated = {r.source_table: r.rows_repeated for r in conn.execute(select(load_log))}
    if dag_id == "ecert_completeness" and not repeated.get("BDC_DZZZ_ZZXX"):
        problems.append(f"the e-certificates written twice were not counted as repeated: {repeated}")
    wrongly = [q for q in quarantined if not any(t.table == q[0] and t.key in q[1] for t in held_back)]
    if wrongly:
        problems.append(f"rows quarantined that the truth does not hold back: {wrongly[:20]}")

    texts = list(mail_texts(smtp_server.received))
    if dag_id in CARRIES_IDS and not any(MASKED.search(content) for _, content in texts):
        problems.append("no masked ID number in any mail: the scan below would prove nothing")
    leaks = [leak for where, content in texts for leak in id_leaks(where, content)]
    leaks += log_leaks(airflow_env.home, dag_id, run_id, output)
    if leaks:
        problems.append(f"unmasked ID numbers: {leaks[:20]}")
    assert smtp_server.received, "the run mailed nothing to scan"
    assert not problems, "\n".join(problems)
