"""A tiny, explicit e-certificate world for rule tests: write source rows, load them
through the real extraction and gate, run the real rules, read the ledger."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, select

from bdcwatch import rules
from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import RunContext
from bdcwatch.dates.periods import Period
from bdcwatch.dates.workdays import WorkCalendar
from bdcwatch.ledger.findings import run_rules
from bdcwatch.sources.extract import load_table
from bdcwatch.sources.schema import build_metadata
from bdcwatch.standards.identifiers import make_ecert_identifier
from bdcwatch.store.migrate import make_engine, migrate
from bdcwatch.store.models import finding

LOADED_AT = datetime(2026, 6, 1, 9, 0)  # the local clock a load stamps on load_log and quarantine

ECERT_RULES = [rules.get(code) for code in rules.select(family="ecert")]

UNIT_A = "140302001001GB00001F00010001"
UNIT_B = "140302001001GB00002F00010001"
TYPE_CODES = {1: "11100000MB03271699001", 2: "11100000MB03271699022"}


def number(serial: int, kind: str = "不动产权") -> str:
    return f"晋(2026)阳泉市{kind}第{serial:07d}号"


class World:
    def __init__(self, source_url: str, supervision_url: str) -> None:
        self.source = create_engine(source_url)
        self.metadata = build_metadata()
        self.metadata.create_all(self.source)
        self.supervision = make_engine(supervision_url)
        migrate(self.supervision)
        self.policy = load_policy()
        self._ids = itertools.count(1)
        self._runs = itertools.count(1)

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        with self.source.begin() as conn:
            conn.execute(self.metadata.tables[table].insert(), [row])

    def cert(
        self, serial: int, *, szsj: datetime, djjg: str = "YQ00", zslx: int = 1, holders: str = "张三",
        bdcdyh: str = UNIT_A, zszt: int = 1, zxsj: datetime | None = None, bdcqzh: str | None = None,
        dbsj: datetime | None = None,
    ) -> str:
        """A registered case with its paper certificate; returns the certificate number."""
        ident = next(self._ids)
        ywh = f"YWH{ident:06d}"
        bdcqzh = bdcqzh or number(serial, "不动产权" if zslx == 1 else "不动产证明")
        dbsj = dbsj or szsj - timedelta(hours=1)
        self._insert("DJF_DJ_DB", {"YWH": ywh, "DBRYBH": "R001", "DBSJ": dbsj, "GXSJ": dbsj})
        self._insert(
            "BDC_ZS",
            {"ZSID": f"ZS{ident:06d}", "YWH": ywh, "ZSLX": zslx, "BDCQZH": bdcqzh, "BDCDYH": bdcdyh,
             "QLRMC": holders, "QLRZJH": "14030219800101123X", "DJJG": djjg, "SZSJ": szsj, "ZSZT": zszt,
             "ZXSJ": zxsj, "GXSJ": zxsj or szsj},
        )
        return bdcqzh

    def ecert(
        self, bdcqzh: str, *, zzbfrq: datetime, zzzt: int = 1, zxsj: datetime | None = None, holders: str = "张三",
        bdcdyh: str | None = UNIT_A, zslx: int = 1, zzlxdm: str | None = None, zzbs: str | None = None,
        issuer_unit: str = "YQ00", zxyy: int | None = None,
    ) -> str:
        ident = next(self._ids)
        zzid = f"ZZ{ident:06d}"
        zzlxdm = zzlxdm or TYPE_CODES[zslx]
        self._insert(
            "BDC_DZZZ_ZZXX",
            {"ZZID": zzid, "ZZBS": zzbs or make_ecert_identifier(zzlxdm, "140302", ident), "ZZLXDM": zzlxdm,
             "BDCQZH": bdcqzh, "BDCDYH": bdcdyh, "CZZT": holders, "CZZTDM": "14030219800101123X",
             "ZZBFJGDM": issuer_unit, "ZZBFRQ": zzbfrq, "ZZZT": zzzt, "ZXSJ": zxsj, "ZXYY": zxyy,
             "GXSJ": zxsj or zzbfrq},
        )
        return zzid

    def run(self, start: date, end: date, units: list[str] | None = None) -> set[tuple[str, str]]:
        run_id = f"test-{next(self._runs)}"
        for table in ("BDC_ZS", "DJF_DJ_DB", "BDC_DZZZ_ZZXX"):
            load_table(self.source, self.supervision, table, run_id=run_id, full_scan=True, now=LOADED_AT)
        run_rules(
            self.supervision, ECERT_RULES, period=Period(start, end), policy=self.policy, calendar=WorkCalendar(),
            ctx=RunContext("ecert_completeness", run_id, datetime(2026, 6, 1, 9, 0)), units=units,
        )
        with self.supervision.connect() as conn:
            rows = conn.execute(
                select(finding.c.rule_code, finding.c.subject_id).where(finding.c.last_run_id == run_id)
            )
            return {(r.rule_code, r.subject_id) for r in rows}
