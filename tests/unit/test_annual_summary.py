"""The annual summary narrowed to some units (a DAG adversary): the bureau's report of
those units is marked as such and keyed apart, so the whole city's summary still goes out."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from bdcwatch.config.policy import load_policy
from bdcwatch.config.run import Job, RunContext, RunSpec
from bdcwatch.reports import annual
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import outbox


def test_a_run_for_some_units_neither_passes_for_the_city_nor_blocks_it(sqlite_url):
    engine = make_engine(sqlite_url.migrated())
    policy = load_policy()

    def run(units: tuple[str, ...], run_id: str) -> None:
        spec = RunSpec(period_start=date(2026, 1, 1), period_end=date(2026, 12, 15), units=units)
        annual.compose(Job(spec, policy, engine, RunContext("annual_summary", run_id, datetime(2026, 12, 15, 9))))

    run(("YQ21",), "manual__yq21")
    run((), "scheduled__2026")
    with engine.connect() as conn:
        bureau = {r.dedup_key: r.subject for r in conn.execute(select(outbox.c.dedup_key, outbox.c.subject)
                                                               .where(outbox.c.unit_code.is_(None)))}
    assert set(bureau) == {"annual_summary|2026-01-01..2026-12-15|CITY_BUREAU|YQ21",
                           "annual_summary|2026-01-01..2026-12-15|CITY_BUREAU"}
    with engine.connect() as conn:
        html = conn.execute(select(outbox.c.html).where(
            outbox.c.dedup_key == "annual_summary|2026-01-01..2026-12-15|CITY_BUREAU|YQ21")).scalar_one()
    assert "所选 1 个机构合计" in html and "全市合计" not in html
