"""The dirty-source world's writer (issue 10) keeps the truth: read back through the
engine's one implementation of CONTRACT §5 (``sources.values``, ``standards.normalise``,
whose contract vectors test_masking_forms and test_source_quirks check), every dirty
SQLite row equals its clean twin of the same seed; the quirks the issue names are all
there; and the ground truth is the clean one with staff ids renamed as written."""

from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bdcwatch.config.policy import load_policy
from bdcwatch.demo import generate
from bdcwatch.demo.dirty import DirtyWorld, id_number_forms
from bdcwatch.sources import values
from bdcwatch.sources.coerce import column_kinds
from bdcwatch.sources.schema import SOURCE_TABLES
from bdcwatch.standards.normalise import MIDDLE_DOTS, normalize_certificate_number, normalize_holders

PERIOD = {"period_start": date(2026, 3, 1), "period_end": date(2026, 4, 1)}
SEED = 7
SHANGHAI = ZoneInfo("Asia/Shanghai")
FREE_TEXT = {"THYY", "SHYJ", "CFJG"}
HOLDER_IDS = {"QLRZJH", "CZZTDM"}  # personal data, never staged: their form may differ
STAFF_IDS = {"RYBH", "SLRYBH", "SHRYBH", "DBRYBH", "CZRYBH"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r\n|\t")


def _world(folder: Path, dirty: bool) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    folder.mkdir()
    path = folder / "sources.db"
    url = f"sqlite:///{path}"
    truth = generate(url, url, url, size=200, seed=SEED, dirty=dirty, **PERIOD)
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = {t: [dict(r) for r in conn.execute(f"SELECT * FROM {t}")] for t in SOURCE_TABLES}
    return truth, rows


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("dirty")
    return _world(base / "clean", False), _world(base / "dirty", True)


def _moment(value: Any, kind: str) -> Any:
    """§5: blank and zero dates are NULL; a zone-carrying timestamp is converted to the
    policy zone; a naive one is already local (``sources.values.as_timestamp``)."""
    parsed, status = values.as_timestamp(value, SHANGHAI)
    assert status != "invalid", value
    return parsed.date() if parsed is not None and kind == "date" else parsed


def _clean_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        return datetime.fromisoformat(str(value))
    if kind == "date":
        return date.fromisoformat(str(value))
    return str(value) if isinstance(value, (int, str)) else value


def test_every_dirty_row_reads_back_as_its_clean_twin(worlds):
    (_, clean), (_, dirty) = worlds
    rename = DirtyWorld(SEED, load_policy()).staff_id
    for table, spec in SOURCE_TABLES.items():
        kinds = column_kinds(table)

        def key(row: dict[str, Any], spec=spec) -> tuple[str, ...]:
            return tuple(str(row[k]) for k in spec.key)

        twins = {key(r): r for r in dirty[table]}
        assert len(twins) == len(clean[table]), table  # a key written twice is one row (below)
        for row in clean[table]:
            row_key = key(row)
            if table in ("RY_JBXX", "RY_PXJL") and "RYBH" in spec.key:
                row_key = (rename(row_key[0]) or "",)
            other = twins[row_key]
            for name, kind in kinds.items():
                want, got = _clean_value(row[name], kind), other[name]
                if name in HOLDER_IDS or name in ("QLRMC", "CZZT", "BDCQZH"):
                    continue  # compared below, by their §5 meaning
                if name in STAFF_IDS:
                    want = rename(want)
                if name == "QLLX" and row["DJDL"] == "800":
                    want = None  # 查封: no right registered (limit class follows DJDL 800)
                if name in FREE_TEXT and want is not None:
                    assert CONTROL.sub("", got).startswith(want), (table, name, want, got)
                    continue
                if kind in ("timestamp", "date"):
                    got = _moment(got, kind)
                elif got is not None and not isinstance(got, float):
                    got = str(got)
                assert got == want, (table, row_key, name, row[name], other[name])
            if table == "BDC_DZZZ_ZZXX":
                written, clean_number = other["BDCQZH"], row["BDCQZH"]
                assert normalize_certificate_number(written) == normalize_certificate_number(clean_number), written


def test_holder_sets_match_exactly_where_they_matched_clean(worlds):
    """ECERT_MISMATCH's question has the same answer: per certificate number, the paper
    and e-certificate holder sets are equal in the dirty world iff they were in the clean."""
    (_, clean), (_, dirty) = worlds

    def pairs(rows: dict[str, list[dict[str, Any]]]) -> dict[str, bool]:
        papers = {normalize_certificate_number(r["BDCQZH"]): normalize_holders(r["QLRMC"]) for r in rows["BDC_ZS"]}
        return {e["ZZID"]: papers.get(normalize_certificate_number(e["BDCQZH"])) == normalize_holders(e["CZZT"])
                for e in rows["BDC_DZZZ_ZZXX"]}

    assert pairs(dirty) == pairs(clean)
    minority = [r["CZZT"] for r in dirty["BDC_DZZZ_ZZXX"] if any(d in (r["CZZT"] or "") for d in MIDDLE_DOTS[1:])]
    assert minority, "no e-certificate holder with a look-alike middle dot"


def test_the_issues_quirks_are_all_written(worlds):
    (_, clean), (_, dirty) = worlds
    cases = dirty["DJT_DJ_SL"]
    assert any(isinstance(r["SLRYBH"], int) for r in cases) and any(r["SLRYBH"] is None for r in cases)
    assert any(isinstance(r["QLLX"], int) for r in cases) and any(r["QLLX"] is None for r in cases)
    stamps = [str(r["SLSJ"]) for r in cases]
    assert any(s.endswith("+08:00") for s in stamps) and any(s.endswith(("Z", "+00:00")) for s in stamps)
    nulls = {r[c] for t in ("DJT_DJ_SL", "DJF_DJ_SH", "BDC_ZS") for r in dirty[t] for c in ("JSSJ", "SHJSSJ", "ZXSJ")
             if c in r}
    assert nulls >= {None, "", " ", "0000-00-00 00:00:00"}
    reasons = [r["THYY"] or "" for r in dirty["BDC_BYSL"]]
    assert any(CONTROL.search(r) for r in reasons)
    forms = id_number_forms(1)
    assert any(re.search(r"[０-９]{17}Ｘ|\d{6} \d{8} \d{3}[\dX]|(?<!\d)\d{15}(?!\d)", r) for r in reasons), forms
    numbers = [r["BDCQZH"] for r in dirty["BDC_DZZZ_ZZXX"]]
    assert any(re.search("[〔【［\u3000\u00a0\u200b-\u200d\u2060\ufeff]", n) for n in numbers)


def test_the_keyless_table_holds_rows_written_twice_value_for_value(worlds):
    """The replica view without a primary key (BDC_DZZZ_ZZXX): some rows twice, each copy
    equal to its row in every column (so the truth stays the clean one); no other table."""
    (_, clean), (_, dirty) = worlds
    for table, spec in SOURCE_TABLES.items():
        by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in dirty[table]:
            by_key.setdefault(tuple(row[k] for k in spec.key), []).append(row)
        repeated = [rows for rows in by_key.values() if len(rows) > 1]
        if table != "BDC_DZZZ_ZZXX":
            assert not repeated, table
            continue
        assert repeated and len(dirty[table]) == len(clean[table]) + len(repeated)
        assert all(len(rows) == 2 and rows[0] == rows[1] for rows in repeated)


def test_the_truth_is_the_clean_one_with_staff_ids_as_written(worlds):
    (clean_truth, _), (dirty_truth, _) = worlds
    renamed = DirtyWorld(SEED, load_policy()).rename_truth(clean_truth)
    assert dirty_truth.findings == renamed.findings
    assert dirty_truth.quarantine == renamed.quarantine and dirty_truth.traps == renamed.traps
    assert any(f.rule_code.startswith("STAFF_") and f.subject_id.isdigit() for f in dirty_truth.findings)


def test_id_number_forms_are_one_person_in_every_form():
    forms = id_number_forms(20261201)
    assert len(forms["plain"]) == 18 and len(forms["legacy"]) == 15
    assert forms["legacy"] == forms["plain"][:6] + forms["plain"][8:17]
    assert forms["fullwidth"].endswith("Ｘ") and forms["lower_x"].endswith("x")
    assert forms["grouped"].replace(" ", "") == forms["plain"]
