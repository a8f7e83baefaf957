"""The operator CLI on a real supervision database."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update

from bdcwatch.cli import main
from bdcwatch.config.run import RunContext
from bdcwatch.ledger.findings import record_findings
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import finding, finding_event


def test_migrate_set_status_and_verify(sqlite_url, capsys):
    url = sqlite_url("supervision")
    assert main(["--url", url, "migrate"]) == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        record_findings(conn, rule_code="ECERT_MISSING", severity="high", subject_type="BDCQZH", period=None,
                        due_date=date(2026, 6, 15), select_sql="SELECT 'S1' AS subject_id, 'YQ00' AS unit_code, '{}' AS detail",
                        params={}, ctx=RunContext("ecert_completeness", "r1", datetime(2026, 6, 1, 9)))
    # open → closed skips rectifying: refused (CONTRACT §4), nothing moves
    assert main(["--url", url, "finding", "set-status", "1", "--to", "closed", "--actor", "李科长", "--note", "已补发"]) == 2
    assert main(["--url", url, "finding", "set-status", "1", "--to", "rectifying", "--actor", "李科长",
                 "--note", "通知补发"]) == 0
    assert main(["--url", url, "finding", "set-status", "1", "--to", "closed", "--actor", "李科长", "--note", "已补发"]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(finding.c.status)).scalar_one() == "closed"
        last = conn.execute(select(finding_event).order_by(finding_event.c.id.desc())).first()
    assert (last.actor, last.from_status, last.to_status, last.note) == ("李科长", "rectifying", "closed", "已补发")
    # The trail keeps no full ID number (§6): a note quoting one, an actor typed as one.
    assert main(["--url", url, "finding", "set-status", "1", "--to", "reopened", "--actor", "140321198803150012",
                 "--note", "申请人 140321198803150012 来电"]) == 0
    with engine.connect() as conn:
        last = conn.execute(select(finding_event).order_by(finding_event.c.id.desc())).first()
    assert "140321198803150012" not in last.actor + last.note and "140*************12" in last.note
    assert main(["--url", url, "audit", "verify"]) == 0
    with engine.begin() as conn:
        conn.execute(update(finding_event).values(actor="someone else"))
    assert main(["--url", url, "audit", "verify"]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def _ledger(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for n, (unit, rule, subject) in enumerate([("YQ00", "ECERT_MISSING", "晋(2026)阳泉市不动产权第0000001号"),
                                                   ("YQ21", "CASE_OVERDUE", "YQ21-2026-0001"),
                                                   ("YQ21", "ECERT_MISSING", "110101199003074578")]):
            record_findings(conn, rule_code=rule, severity="high", subject_type="BDCQZH", period=None,
                            due_date=date(2020, 1, 6) if n == 1 else date(2099, 1, 1),
                            select_sql=f"SELECT '{subject}' AS subject_id, '{unit}' AS unit_code, '{{}}' AS detail",
                            params={}, ctx=RunContext("ecert_completeness", f"r{n}", datetime(2026, 6, 1 + n, 9)))


def test_finding_list_takes_the_uis_filters(sqlite_url, capsys):
    url = sqlite_url.migrated("supervision")
    _ledger(url)
    assert main(["--url", url, "finding", "list", "--unit", "yq21"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out[1:-1]] == ["3", "2"]  # newest first, ids shown
    assert out[-1].startswith("2 finding(s)")
    assert "110*************78" in out[1] and "110101199003074578" not in "\n".join(out)
    assert main(["--url", url, "finding", "list", "--overdue", "true"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out[1:-1]] == ["2"] and "OVERDUE" in out[1]
    assert main(["--url", url, "finding", "list", "--q", "第0000001"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 finding(s)")


def test_finding_show_and_unknown_ids(sqlite_url, capsys):
    url = sqlite_url.migrated("supervision")
    _ledger(url)
    assert main(["--url", url, "finding", "set-status", "2", "--to", "rectifying", "--actor", "李科长", "--note", "已约谈"]) == 0
    capsys.readouterr()
    assert main(["--url", url, "finding", "show", "2"]) == 0
    out = capsys.readouterr().out
    assert "问题编号\t2" in out and "整改中 (rectifying)" in out and "李科长\topen → rectifying\t已约谈" in out
    assert main(["--url", url, "finding", "show", "99"]) == 1
    assert "no such finding: 99" in capsys.readouterr().err
    assert main(["--url", url, "finding", "set-status", "1", "99", "--to", "closed", "--actor", "李", "--note", "x"]) == 1
    captured = capsys.readouterr()
    assert "no such finding: 99" in captured.err and "moved" not in captured.out
    with make_engine(url).connect() as conn:
        assert conn.execute(select(finding.c.status).where(finding.c.id == 1)).scalar_one() == "open"


def test_without_a_usable_database_the_cli_says_so_in_one_line(sqlite_url, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SUPERVISION_DB", raising=False)
    for argv, expected in [
        (["finding", "list"], "no supervision database: give --url URL or define the supervision_db connection"),
        (["--url", "not a url", "finding", "list"], "not a database URL"),
        (["--url", f"sqlite:///{tmp_path}/missing/dir/x.db", "finding", "list"], "cannot reach supervision_db at"),
        (["--url", "postgresql://bdcwatch:secret@127.0.0.1:1/none", "audit", "verify"], "cannot reach supervision_db at"),
        (["--url", "postgress://bdcwatch:secret@127.0.0.1:1/none", "audit", "verify"], "not a database URL"),  # typo
        (["--url", "bdcwatch:secret@127.0.0.1", "audit", "verify"], "not a database URL"),
        (["--url", sqlite_url("empty"), "finding", "show", "1"], "has no bdcwatch tables (run `bdcwatch migrate`)"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "secret" not in err


def test_city_picks_a_province_citys_database_and_policy(sqlite_url, capsys, monkeypatch):
    """With a province file, ``--city 1401`` reads 太原's supervision_db__1401 (default: the
    home city's supervision_db); an unknown code, or a code without a province, is one line."""
    from pathlib import Path

    from tests.support import airflow_uri

    province = Path(__file__).resolve().parents[2] / "deploy" / "province.example.yaml"
    monkeypatch.setenv("BDCWATCH_POLICY", str(province))
    for conn_id, subject in (("SUPERVISION_DB", "晋(2026)阳泉市不动产权第0000001号"),
                             ("SUPERVISION_DB__1401", "晋(2026)太原市不动产权第0000009号")):
        url = sqlite_url.migrated(conn_id.lower())
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", airflow_uri(url))
        with make_engine(url).begin() as conn:
            record_findings(conn, rule_code="ECERT_MISSING", severity="high", subject_type="BDCQZH", period=None,
                            due_date=date(2099, 1, 1), params={"s": subject, "asof": datetime(2026, 12, 1)},
                            select_sql="SELECT :s AS subject_id, 'U' AS unit_code, '{\"szsj\": \"2026-11-30\"}' AS detail",
                            ctx=RunContext("ecert_completeness", "r1", datetime(2026, 12, 1, 2)))
    assert main(["--city", "1401", "finding", "list", "--within", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert "太原市不动产权第0000009号" in out and "阳泉市" not in out and out.splitlines()[-1].startswith("1 finding(s)")
    assert main(["finding", "list"]) == 0
    assert "阳泉市不动产权第0000001号" in capsys.readouterr().out
    assert main(["--city", "1404", "finding", "list"]) == 2
    assert "supervision_db__1404" in capsys.readouterr().err  # its connection is not defined here
    assert main(["--city", "9999", "finding", "list"]) == 2
    assert "no city '9999'" in capsys.readouterr().err
    monkeypatch.delenv("BDCWATCH_POLICY")
    assert main(["--city", "1401", "finding", "list"]) == 2
    assert "not a province file" in capsys.readouterr().err
