"""What the DAG tasks call: each function is one task's work, wired to the connections.

DAG files stay thin (wiring only); everything here is plain Python that takes and returns
small JSON-able values (XCom carries counts, ids and period labels, never data).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine

from . import airflow_io
from .config import Person, Policy, cached_policy
from .db import make_engine, migrate
from .ledger import RunContext
from .periods import Period
from .source_schema import SOURCE_TABLES
from .workdays import WorkCalendar, calendar_from_policy

log = logging.getLogger(__name__)

@lru_cache(maxsize=8)
def source_engine(conn_id: str) -> Engine:
    """A read-only engine on a source system (SQLite files are opened read-only)."""
    return create_engine(airflow_io.read_only(airflow_io.database_url(conn_id)), pool_pre_ping=True)


@lru_cache(maxsize=1)
def supervision_engine() -> Engine:
    return make_engine(airflow_io.database_url(airflow_io.SUPERVISION_DB).render_as_string(hide_password=False))


def local_now(policy: Policy) -> datetime:
    """Wall-clock time in the policy's zone, without zone (as all stored timestamps)."""
    return datetime.now(policy.timezone).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class RunSpec:
    """The resolved Params of an audit run."""

    period_start: str
    period_end: str
    period_label: str
    units: list[str]

    @property
    def period(self) -> Period:
        return Period.parse(self.period_start, self.period_end)

    def as_dict(self) -> dict[str, Any]:
        return {"period_start": self.period_start, "period_end": self.period_end,
                "period_label": self.period_label, "units": self.units}


def resolve_run(params: dict[str, Any], default_period: Period, policy: Policy) -> dict[str, Any]:
    """Params → period and units, validated, with the schedule's default period."""
    start, end = params.get("period_start"), params.get("period_end")
    if bool(start) != bool(end):
        raise ValueError("give both period_start and period_end, or neither (for the schedule's default period)")
    period = Period.parse(start, end) if start else default_period
    units = [str(u) for u in (params.get("units") or [])]
    unknown = sorted(set(units) - set(policy.units))
    if unknown:
        raise ValueError(f"units {unknown} are not in the policy ({policy.source}); known: {sorted(policy.units)}")
    spec = RunSpec(period.start.isoformat(), period.end.isoformat(), period.label, units)
    log.info("run covers %s (as of %s) for %s", period.label, period.as_of, units or "all units")
    return spec.as_dict()


def run_date(context: Any, policy: Policy) -> date:
    """The local date a run stands for: its logical date, or for a manual run triggered
    without one (Airflow 3 allows that) the moment it was asked to run."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    return moment.astimezone(policy.timezone).date()


def rolling_window(run_date: date, days: int) -> Period:
    """[run_date - days, run_date): for daily DAGs whose rules wait out a grace period."""
    return Period(run_date - timedelta(days=days), run_date)


def prepare_supervision_db() -> str:
    """Create or upgrade supervision_db to the newest schema."""
    revision = migrate(supervision_engine())
    log.info("supervision_db at revision %s", revision)
    return revision


def load_source_table(table_name: str, *, run_id: str, full_scan: bool) -> dict[str, Any]:
    from .extract import load_table

    source = source_engine(SOURCE_TABLES[table_name].system)  # the system name is its connection id
    policy = cached_policy()
    return load_table(
        source, supervision_engine(), table_name, run_id=run_id, full_scan=full_scan, now=local_now(policy)
    ).as_dict()


def work_calendar(policy: Policy) -> WorkCalendar:
    return calendar_from_policy(policy.raw)


def evaluate_rules(rule_codes: Sequence[str], run: dict[str, Any], *, dag_id: str, run_id: str) -> dict[str, Any]:
    """Run rules over the period; returns counts per rule and any calendar fallback."""
    from .rules import run_rules
    from .rules.registry import ALL_RULES

    policy = cached_policy()
    spec = RunSpec(**run)
    calendar = work_calendar(policy)
    outcomes = run_rules(
        supervision_engine(), [ALL_RULES[c] for c in rule_codes], period=spec.period, policy=policy,
        calendar=calendar, ctx=RunContext(dag_id, run_id, local_now(policy)), units=spec.units,
    )
    return {"outcomes": [o.as_dict() for o in outcomes], "calendar_fallback_years": sorted(calendar.fallback_years)}


def calendar_warning(fallback_years: Sequence[int]) -> str | None:
    if not fallback_years:
        return None
    years = "、".join(str(y) for y in fallback_years)
    return (f"{years}年的法定节假日及调休安排尚未配置，本次计算按周一至周五为工作日处理，"
            "相关期限可能不准确。请运维人员在策略文件 calendar 中补充。")


def compose_digests(
    run: dict[str, Any],
    evaluation: dict[str, Any],
    *,
    dag_id: str,
    run_id: str,
    source_tables: Sequence[str],
    title: str,
    plan_items: str,
    headline_for: Callable[[str], Sequence[tuple[str, Any, str]]] = lambda unit: (),
    tables_for: Callable[[str], Sequence[Any]] = lambda unit: (),
    attachments_for: Callable[[str], Sequence[Any]] | None = None,
    always_units: Sequence[str] = (),
    finding_ids: Sequence[int] | None = None,
    figures: Sequence[str] = (),
) -> list[int]:
    """Queue each unit's digest of new findings of this DAG (and a notice to operations
    when source rows are held in quarantine); returns the outbox ids queued.

    Every digest opens with the unit's ledger figures (open, overdue, closed in the period)
    and ends with its six-month trend chart; ``figures`` adds "ecert" (e-certificate
    coverage) and/or "online" (online-handling share against the target) for DAGs that
    load those tables."""
    from .digest.chart import trend_chart_png
    from .digest.compose import compose_quarantine_report, compose_unit_digests
    from .digest.render import DigestContext
    from .figures import LedgerFigures, UnitFigures, last_months, ledger_figures, monthly_trend, online_shares
    from .mail import INLINE_PREFIX, Attachment
    from .rules.ecert import ecert_coverage

    policy = cached_policy()
    spec = RunSpec(**run)
    warning = calendar_warning(evaluation.get("calendar_fallback_years", []))
    engine = supervision_engine()
    today = local_now(policy).date()
    ledger = ledger_figures(engine, spec.period, today)
    coverage = ecert_coverage(engine, spec.period, policy) if "ecert" in figures else {}
    shares = online_shares(engine, spec.period, policy) if "online" in figures else {}
    months = last_months(today)
    trend = monthly_trend(engine, months)

    def unit_figures(unit_code: str) -> UnitFigures:
        return UnitFigures(
            ledger=ledger.get(unit_code or None) or LedgerFigures(),
            ecert=coverage.get(unit_code, (0, 0)) if "ecert" in figures else None,
            online=shares.get(unit_code) if "online" in figures else None,
        )

    def attachments(unit_code: str) -> list[Any]:
        points = trend.get(unit_code or None) or [(f"{y}-{m:02d}", 0, 0) for y, m in months]
        chart = Attachment(f"{INLINE_PREFIX}trend_{unit_code or 'none'}.png", trend_chart_png(points))
        return [*(attachments_for(unit_code) if attachments_for else ()), chart]

    def context_for(unit_code: str) -> DigestContext:
        supervisor = policy.supervisors[policy.units[unit_code].supervisor].name if unit_code in policy.units else "运维"
        return DigestContext(
            dag_id=dag_id, run_id=run_id, period_label=spec.period_label,
            period_text=f"{spec.period_start} 至 {spec.period_end}（不含）期间", as_of=spec.period.as_of,
            plan_items=plan_items, title=title, supervisor_name=supervisor, ui_url=airflow_io.ui_url(dag_id),
            calendar_warning=warning, headline=(*unit_figures(unit_code).headline(), *headline_for(unit_code)),
            tables=tuple(tables_for(unit_code)),
            chart_caption="近6个月问题趋势（橙色：新发现；绿色：已销号），见下图。",
        )

    ctx = RunContext(dag_id, run_id, local_now(policy))
    result = compose_unit_digests(
        engine, policy, ctx=ctx, units=spec.units, context_for_unit=context_for,
        attachments_for_unit=attachments, always_units=always_units, finding_ids=finding_ids,
    )
    notice = compose_quarantine_report(engine, policy, ctx=ctx, tables=source_tables)
    return result.queued + ([notice] if notice is not None else [])


def compose_ecert_digests(
    run: dict[str, Any], evaluation: dict[str, Any], *, dag_id: str, run_id: str, source_tables: Sequence[str]
) -> list[int]:
    """E-certificate digests, headlined by each unit's e-certificate coverage."""
    return compose_digests(
        run, evaluation, dag_id=dag_id, run_id=run_id, source_tables=source_tables,
        title="电子证照完整性核查", plan_items="16", figures=("ecert",),
    )


def compose_staff_digests(
    run: dict[str, Any], evaluation: dict[str, Any], *, dag_id: str, run_id: str, source_tables: Sequence[str]
) -> list[int]:
    """The weekly staff digest: each unit's new findings about its own people (ID numbers
    masked) under a roster summary. Every unit gets it once a week, findings or not: the
    roster is what its heads plan training and rotation with."""
    from .digest.render import SummaryTable
    from .roster import bucket_labels, roster_summary

    policy = cached_policy()
    spec = RunSpec(**run)
    min_hours = float(policy.raw["staff"]["min_training_hours_per_year"])
    rosters = roster_summary(supervision_engine(), spec.period.as_of, min_hours)

    def roster_of(unit_code: str) -> Any:
        from .roster import Roster

        return rosters.get(unit_code, Roster())

    def headline(unit_code: str) -> list[tuple[str, Any, str]]:
        roster = roster_of(unit_code)
        done = roster.hours_buckets.get(bucket_labels(min_hours)[-1], 0)
        return [("在岗人数", roster.on_post, "#1f4e79"), ("本年人均已获学时", f"{roster.average_hours:.1f}", "#2e7d32"),
                (f"已达{min_hours:g}学时", f"{done}/{roster.on_post}", "#546e7a")]

    def tables(unit_code: str) -> list[SummaryTable]:
        roster = roster_of(unit_code)
        return [
            SummaryTable("在岗人员构成（用工类型）", ("用工类型", "人数"), tuple(sorted(roster.by_type.items()))),
            SummaryTable("在岗人员构成（岗位）", ("岗位", "人数"), tuple(sorted(roster.by_post.items()))),
            SummaryTable(f"本年度培训学时分布（截至 {spec.period.as_of:%Y-%m-%d}，合格学时）", ("学时区间", "人数"),
                         tuple((label, roster.hours_buckets.get(label, 0)) for label in bucket_labels(min_hours))),
        ]

    return compose_digests(
        run, evaluation, dag_id=dag_id, run_id=run_id, source_tables=source_tables,
        title="登记人员信息核查", plan_items="21、24、27、28", headline_for=headline, tables_for=tables,
        always_units=run_units(run),
    )


def run_units(run: dict[str, Any]) -> list[str]:
    return list(run["units"]) or sorted(cached_policy().units)


def draw_quality_samples(
    run: dict[str, Any], *, dag_id: str, run_id: str, rule_codes: Sequence[str], units: Sequence[str] | None = None
) -> dict[str, Any]:
    """Draw each unit's stratified, reproducible sample of completed cases (item 32) and
    record the inspection rows; returns {unit: {population, sample, inspection_id}}."""
    from .cycles import completed_cases, cycle_seed, record_inspection, sample_size, stratified_sample

    policy = cached_policy()
    spec = RunSpec(**run)
    engine = supervision_engine()
    drawn = {}
    for unit_code in units if units is not None else run_units(run):
        started = local_now(policy)
        population = completed_cases(engine, spec.period, unit_code)
        seed = cycle_seed(dag_id, unit_code, spec.period_label)
        sample = stratified_sample(population, sample_size(len(population), policy), seed)
        inspection_id = record_inspection(
            engine, cycle=dag_id, unit_code=unit_code, period=spec.period, population=population, sample=sample,
            seed=seed, rule_codes=rule_codes, run_id=run_id, started=started, finished=local_now(policy),
        )
        drawn[unit_code] = {"population": len(population), "sample": len(sample), "inspection_id": inspection_id}
        log.info("%s %s: sampled %d of %d completed cases (seed %s)", dag_id, unit_code, len(sample), len(population), seed)
    return drawn


def draw_spot_check(run: dict[str, Any], *, dag_id: str, run_id: str, rule_codes: Sequence[str]) -> dict[str, Any]:
    """A provincial-style spot check: a seeded random half of the units (at least one) is
    drawn, then cases within each drawn unit as in every cycle. The rules themselves have
    already run on every unit."""
    import random

    from .cycles import cycle_seed

    spec = RunSpec(**run)
    candidates = run_units(run)
    rng = random.Random(cycle_seed(dag_id, "CITY", spec.period_label))
    chosen = sorted(rng.sample(candidates, max(1, math.ceil(len(candidates) / 2))))
    log.info("%s %s: units drawn for the spot check: %s", dag_id, spec.period_label, chosen)
    return draw_quality_samples(run, dag_id=dag_id, run_id=run_id, rule_codes=rule_codes, units=chosen)


def compose_quality_digests(
    run: dict[str, Any], evaluation: dict[str, Any], samples: dict[str, Any], *, dag_id: str, run_id: str,
    source_tables: Sequence[str], title: str = "月度质量评查", plan_items: str = "32",
) -> list[int]:
    """A sampling cycle's digests: each unit gets its new findings and its hand-review checklist."""
    from sqlalchemy import select

    from .digest.render import quality_checklist
    from .models import inspection_sample

    spec = RunSpec(**run)
    engine = supervision_engine()

    def checklist(unit_code: str) -> list[Any]:
        if unit_code not in samples:
            return []
        with engine.connect() as conn:
            rows = conn.execute(
                select(inspection_sample.c.ywh, inspection_sample.c.djdl)
                .where(inspection_sample.c.inspection_id == samples[unit_code]["inspection_id"])
                .order_by(inspection_sample.c.ywh)
            ).all()
        return [quality_checklist([(r.ywh, r.djdl) for r in rows], unit_code, spec.period_label)]

    def headline(unit_code: str) -> list[tuple[str, Any, str]]:
        drawn = samples.get(unit_code, {"population": 0, "sample": 0})
        return [("期内办结", drawn["population"], "#1f4e79"), ("抽查评查", drawn["sample"], "#2e7d32")]

    return compose_digests(
        run, evaluation, dag_id=dag_id, run_id=run_id, source_tables=source_tables, title=title,
        plan_items=plan_items, headline_for=headline, attachments_for=checklist,
        always_units=[u for u, d in samples.items() if d["sample"]],
        figures=[name for name, table in (("ecert", "BDC_ZS"), ("online", "DJT_DJ_SL")) if table in source_tables],
    )


def run_look_back(run: dict[str, Any], *, dag_id: str, run_id: str) -> dict[str, Any]:
    """回头看 over the findings closed in the period; returns counts and the reopened ids."""
    from .lookback import look_back

    policy = cached_policy()
    spec = RunSpec(**run)
    calendar = work_calendar(policy)
    result = look_back(
        supervision_engine(), period=spec.period, policy=policy, calendar=calendar,
        ctx=RunContext(dag_id, run_id, local_now(policy)), units=spec.units or None,
    )
    return {"verified": result.verified, "reopened": result.reopened,
            "calendar_fallback_years": sorted(calendar.fallback_years)}


def compose_look_back(run: dict[str, Any], outcome: dict[str, Any], *, dag_id: str, run_id: str,
                      source_tables: Sequence[str]) -> list[int]:
    """Each unit is told which of its closed findings the look-back reopened."""
    if not outcome["reopened"]:
        return []
    return compose_digests(
        run, outcome, dag_id=dag_id, run_id=run_id, source_tables=source_tables, title="回头看：已销号问题复发",
        plan_items="34", finding_ids=outcome["reopened"],
        headline_for=lambda unit: [("本年复核已销号问题", outcome["verified"], "#1f4e79")],
    )


CITY_SUPERVISOR = "CITY_BUREAU"  # CONTRACT §6: city-level reports go to this body's heads


def compose_city_report(
    run: dict[str, Any], evaluation: dict[str, Any], samples: dict[str, Any], *, dag_id: str, run_id: str,
    rule_codes: Sequence[str], title: str,
) -> list[int]:
    """One city report of a cycle to CITY_BUREAU's heads: every unit's line and all findings
    of the cycle's rules detected by this run (new or again)."""
    from sqlalchemy import select

    from .digest.render import DigestContext, FindingRow, UnitSummary, render_city_report
    from .models import finding
    from .outbox import OutgoingMessage, enqueue

    policy = cached_policy()
    spec = RunSpec(**run)
    engine = supervision_engine()
    with engine.connect() as conn:
        rows = conn.execute(
            select(finding).where(finding.c.last_run_id == run_id, finding.c.rule_code.in_(list(rule_codes)))
            .order_by(finding.c.id)
        ).all()
    by_unit: dict[str | None, list[FindingRow]] = {}
    for r in rows:
        by_unit.setdefault(r.unit_code, []).append(FindingRow(
            r.id, r.rule_code, r.severity, r.unit_code, r.subject_type, r.subject_id, r.period, r.detail, r.status,
            r.first_detected_at, r.due_date))
    summaries = [
        UnitSummary(code, policy.units[code].name, samples.get(code, {}).get("population", 0),
                    samples.get(code, {}).get("sample", 0), by_unit.get(code, []))
        for code in run_units(run)
    ]
    bureau = policy.supervisors[CITY_SUPERVISOR]
    context = DigestContext(
        dag_id=dag_id, run_id=run_id, period_label=spec.period_label,
        period_text=f"{spec.period_start} 至 {spec.period_end}（不含）期间", as_of=spec.period.as_of, plan_items="34",
        title=title, supervisor_name=bureau.name,
        calendar_warning=calendar_warning(evaluation.get("calendar_fallback_years", [])),
    )
    report = render_city_report(summaries, heads=bureau.heads, title=title, context=context)
    message = OutgoingMessage(
        dedup_key=f"{dag_id}|{spec.period_label}|{CITY_SUPERVISOR}|{','.join(run_units(run))}", kind="city_report",
        dag_id=dag_id, run_id=run_id, period=spec.period_label, unit_code=None,
        recipients=tuple(h.email for h in bureau.heads), subject=report.subject, html=report.html,
        attachments=report.attachments,
    )
    with engine.begin() as conn:
        outbox_id = enqueue(conn, message, local_now(policy))
    return [outbox_id] if outbox_id is not None else []


def compose_watch_lists(run: dict[str, Any], evaluation: dict[str, Any], *, dag_id: str, run_id: str) -> list[int]:
    """Daily time-limit warnings: per unit, cases overdue and cases due soon as of the run."""
    from sqlalchemy import select

    from .digest.render import DigestContext, render_watch_list
    from .models import finding
    from .outbox import OutgoingMessage, enqueue
    from .rules import RuleInput
    from .rules.cases import due_soon_cases
    from .sqlutil import Dialect

    policy = cached_policy()
    spec = RunSpec(**run)
    engine = supervision_engine()
    calendar = work_calendar(policy)
    alerts = due_soon_cases(engine, RuleInput(spec.period, policy, Dialect(engine.dialect.name), engine), calendar)
    with engine.connect() as conn:
        overdue = conn.execute(
            select(finding.c.unit_code, finding.c.subject_id, finding.c.detail)
            .where(finding.c.rule_code == "CASE_OVERDUE_OPEN", finding.c.last_run_id == run_id)
            .where(finding.c.status != "closed")
        ).all()
    overdue_by_unit: dict[str, list[dict[str, Any]]] = {}
    for row in overdue:
        detail = json.loads(row.detail)
        overdue_by_unit.setdefault(row.unit_code, []).append(
            {"ywh": row.subject_id, "djdl": detail.get("djdl"), "slsj": detail.get("slsj"), "deadline": detail.get("deadline")}
        )
    soon_by_unit: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        soon_by_unit.setdefault(alert["djjg"], []).append(alert)
    warning = calendar_warning(sorted(set(evaluation.get("calendar_fallback_years", [])) | calendar.fallback_years))
    ctx_now = local_now(policy)
    queued = []
    for unit_code in sorted(set(overdue_by_unit) | set(soon_by_unit), key=str):
        if spec.units and unit_code not in spec.units:
            continue
        unit = policy.units.get(unit_code)
        heads = unit.heads if unit else (Person("运维值班", "operations", policy.operations_email),)
        context = DigestContext(
            dag_id=dag_id, run_id=run_id, period_label=spec.period_label, period_text="", as_of=spec.period.as_of,
            plan_items="14、33", title="办件时限预警", supervisor_name="", calendar_warning=warning,
        )
        digest = render_watch_list(
            unit_code=unit_code, unit_name=unit.name if unit else f"未登记机构 {unit_code}", heads=heads,
            overdue=sorted(overdue_by_unit.get(unit_code, []), key=lambda r: str(r["ywh"])),
            due_soon=soon_by_unit.get(unit_code, []),
            due_soon_days=int(policy.raw["due_soon_working_days"]), context=context,
        )
        message = OutgoingMessage(
            dedup_key=f"{dag_id}|{spec.period_label}|{unit_code}|watch", kind="watch_list", dag_id=dag_id,
            run_id=run_id, period=spec.period_label, unit_code=unit_code, recipients=tuple(h.email for h in heads),
            subject=digest.subject, html=digest.html, attachments=digest.attachments,
        )
        with engine.begin() as conn:
            outbox_id = enqueue(conn, message, ctx_now)
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued


def send_outbox(ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Send pending mail; raises if the relay is down so Airflow retries with backoff."""
    from .outbox import send_pending

    policy = cached_policy()
    engine = supervision_engine()
    settings = airflow_io.smtp_settings()
    report = send_pending(engine, settings, now=local_now(policy), ids=ids)
    if report.failed:
        log.error("permanently refused: %s", report.failed)
    if report.failed or report.unconfirmed:
        notice = _delivery_problem_notice(engine, policy, report)
        if notice is not None:
            send_pending(engine, settings, now=local_now(policy), ids=[notice])
    if report.pending:
        raise RuntimeError(
            f"{report.pending} message(s) could not be sent (SMTP relay unavailable); they stay in the outbox "
            "and go out on the retry or the next run"
        )
    return report.as_dict()


def _delivery_problem_notice(engine: Any, policy: Policy, report: Any) -> int | None:
    """Queue one notice to operations_email about mail the relay refused for good or whose
    delivery is in doubt (a sender killed mid-send): people must act on both."""
    import hashlib
    from html import escape

    from .outbox import OutgoingMessage, enqueue

    lines = [f"<li>永久拒收（请核对收件人后重发）：{escape(text)}</li>" for text in report.failed]
    lines += [f"<li>投递状态不明（发送进程中途终止，可能已送达；核实后如需重发请执行 "
              f"<code>{escape(item.resend_command)}</code>）：{escape(item.subject)} → "
              f"{escape(', '.join(item.recipients))}</li>" for item in report.unconfirmed]
    body = "\n".join(lines)
    html = (f"<html><body><p>运维值班：以下邮件未能确认送达。</p><ul>{body}</ul>"
            "<p>bdcwatch outbox list --status failed / unconfirmed 可查看全部。</p></body></html>")
    key = hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]
    message = OutgoingMessage(
        dedup_key=f"ops|delivery|{key}", kind="ops_notice", dag_id="bdcwatch", run_id=None, period=None, unit_code=None,
        recipients=(policy.operations_email,), subject=f"【bdcwatch 运维】{len(lines)} 封邮件未能确认送达", html=html,
    )
    with engine.begin() as conn:
        return enqueue(conn, message, local_now(policy))


def escalate(*, dag_id: str, run_id: str) -> list[int]:
    """Escalate findings past their due date to the supervisors, once per month each."""
    from .escalation import escalate_overdue

    policy = cached_policy()
    now = local_now(policy)
    return escalate_overdue(supervision_engine(), policy, ctx=RunContext(dag_id, run_id, now), today=now.date(),
                            ui_url=airflow_io.ui_url(dag_id))


def verify_audit_trail() -> int:
    """``bdcwatch audit verify`` as a task: raises (the task fails and operations are told)
    when any audit entry was edited, deleted or reordered; returns the entries checked."""
    from sqlalchemy import func, select

    from .ledger import verify_chain
    from .models import finding_event

    engine = supervision_engine()
    with engine.connect() as conn:
        problems = verify_chain(conn)
        checked = conn.execute(select(func.count()).select_from(finding_event)).scalar_one()
    if problems:
        raise RuntimeError(f"audit trail tampered ({len(problems)} problem(s)): " + "; ".join(problems[:20]))
    log.info("audit trail intact: %d entries verified", checked)
    return int(checked)


def compose_six_prohibitions(run: dict[str, Any], *, dag_id: str, run_id: str) -> list[int]:
    """The monthly 六不准 report to CITY_BUREAU, a zero report when nothing was found."""
    from .mail import Attachment
    from .outbox import OutgoingMessage, enqueue
    from .six_prohibitions import monthly_counts, render_six_prohibitions

    policy = cached_policy()
    spec = RunSpec(**run)
    engine = supervision_engine()
    counts = monthly_counts(engine, run_id=run_id, since=spec.period.start_at, until=local_now(policy))
    bureau = policy.supervisors[CITY_SUPERVISOR]
    units = run_units(run)
    subject, html, workbook = render_six_prohibitions(
        counts, policy=policy, units=units, heads=bureau.heads, period_label=spec.period_label,
        period_text=f"{spec.period_start} 至 {spec.period_end}（不含）期间", dag_id=dag_id, run_id=run_id,
    )
    message = OutgoingMessage(
        dedup_key=f"six_prohibitions|{spec.period_label}|{','.join(units)}", kind="six_prohibitions", dag_id=dag_id,
        run_id=run_id, period=spec.period_label, unit_code=None, recipients=tuple(h.email for h in bureau.heads),
        subject=subject, html=html, attachments=(Attachment(f"六不准月报_{spec.period_label}.xlsx", workbook),),
    )
    with engine.begin() as conn:
        outbox_id = enqueue(conn, message, local_now(policy))
    return [outbox_id] if outbox_id is not None else []


def compose_annual_summary(run: dict[str, Any], *, dag_id: str, run_id: str) -> list[int]:
    """The year's summary: one report for CITY_BUREAU (every unit and the city), and each
    unit its own part."""
    from .annual import annual_rows, city_row, render_annual
    from .mail import Attachment
    from .outbox import OutgoingMessage, enqueue

    policy = cached_policy()
    spec = RunSpec(**run)
    engine = supervision_engine()
    units = run_units(run)
    rows = annual_rows(engine, policy, spec.period, local_now(policy).date(), units)
    year = str(spec.period.start.year)
    period_text = f"{spec.period_start} 至 {spec.period_end}（不含）"
    bureau = policy.supervisors[CITY_SUPERVISOR]
    mails = [(CITY_SUPERVISOR, bureau.name, bureau.heads, rows, city_row(rows))]
    mails += [(row.code, row.name, policy.units[row.code].heads, [row], None) for row in rows]
    queued: list[int] = []
    for key, addressee, heads, shown, city in mails:
        subject, html, workbook = render_annual(shown, heads=heads, addressee=addressee, year_label=year,
                                                period_text=period_text, dag_id=dag_id, run_id=run_id, city=city)
        message = OutgoingMessage(
            dedup_key=f"{dag_id}|{spec.period_label}|{key}", kind="annual_summary", dag_id=dag_id, run_id=run_id,
            period=spec.period_label, unit_code=None if city else key, recipients=tuple(h.email for h in heads),
            subject=subject, html=html, attachments=(Attachment(f"年度总结_{year}_{key}.xlsx", workbook),),
        )
        with engine.begin() as conn:
            outbox_id = enqueue(conn, message, local_now(policy))
        if outbox_id is not None:
            queued.append(outbox_id)
    return queued
