"""One run: what it was asked to judge (``RunSpec``), who writes and when (``RunContext``),
and everything a task works with (``Job``).

``RunSpec`` is the one typed value the tasks of a DAG run pass each other through XCom
(as JSON, ``to_xcom`` / ``from_xcom``): the period, its contract label (CONTRACT §4), the
units and the run's switches. It is built once, from the DAG's Params, by
``RunSpec.resolve``, which refuses what a retry could never fix (a bad date, an end
before the start, an unknown unit or conf key, a period that has not ended yet unless
the run is a dry run) with ``RunSpecError``.

A **dry run** (Param ``dry_run``) loads and evaluates as usual but changes nothing a
head or the ledger would see: the rules run their detection queries without the upsert
(``ledger.preview``), samples are drawn but not recorded, look-back reopens nothing, and
every mail is rendered into files in the run's log folder instead of the outbox
(``reports.dispatch``); the send task sends nothing, not even older pending mail.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, ValidationError

from bdcwatch.config.policy import Policy
from bdcwatch.dates.periods import Period
from bdcwatch.errors import RunSpecError
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.xcom import XcomModel

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bdcwatch.dates.workdays import WorkCalendar

log = logging.getLogger(__name__)


class RunSpec(XcomModel):
    """The resolved Params of an audit run (CONTRACT §2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_start: date
    period_end: date  # exclusive; rules judge as of its 00:00 local time
    units: tuple[str, ...] = ()  # DJJG codes; empty = every unit
    full_scan: bool = False
    dry_run: bool = False  # evaluate and render only: no mail, no ledger change (module docstring)

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)

    @property
    def period_label(self) -> str:
        return self.period.label

    @property
    def period_text(self) -> str:
        """The period as heads read it in a mail."""
        return f"{self.period_start.isoformat()} 至 {self.period_end.isoformat()}（不含）期间"

    def units_or_all(self, policy: Policy) -> list[str]:
        """The units the run covers: those asked for, else every unit of the policy."""
        return list(self.units) or sorted(policy.units)



    @classmethod
    def resolve(
        cls,
        params: Mapping[str, Any],
        *,
        default_period: Period,
        policy: Policy,
        conf: Mapping[str, Any] | None = None,
        known_params: Collection[str] = (),
        now: datetime | None = None,
    ) -> RunSpec:
        """Params → a validated spec, with the schedule's default period when none is given.

        ``conf`` is what the run was triggered with: a key that is not one of
        ``known_params`` is refused, naming it and the closest Param (a typo such as
        ``unit`` for ``units`` must never widen a run to every unit). ``now`` (local wall
        clock) refuses a period that ends after it, unless ``dry_run``: rules judge as of
        period_end 00:00, and a head must never be told about a period that has not
        happened.

        Raises:
            RunSpecError: an unknown conf key, half a period, a date that is not an ISO
                date, an end not after the start, a unit the policy does not know, or a
                period in the future outside a dry run.
        """
        unknown_keys = sorted(set(conf or {}) - set(known_params)) if known_params else []
        if unknown_keys:
            hints = []
            for key in unknown_keys:
                close = difflib.get_close_matches(key, list(known_params), n=1)
                # Masked: the message reaches Airflow's own task log, which no guard of ours cleans (§6).
                hints.append(repr(mask_id_numbers(str(key))[:60]) + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise RunSpecError(
                f"unknown conf key(s) {', '.join(hints)}; this DAG's Params are {', '.join(sorted(known_params))}",
                zh=f"运行参数中有未知的键 {', '.join(hints)}：本 DAG 的参数为 {', '.join(sorted(known_params))}",
            )
        start, end = params.get("period_start"), params.get("period_end")
        if bool(start) != bool(end):
            raise RunSpecError("give both period_start and period_end, or neither (for the schedule's default period)",
                               zh="period_start 与 period_end 须同时填写，或都不填（按调度的默认期间）")
        try:
            period = Period.parse(start, end) if start and end else default_period
        except ValueError as error:
            raise RunSpecError(str(error), zh=f"期间有误：{error}（period_start 须早于 period_end，日期写作 "
                                              f"2026-03-01）") from None
        # DJJG codes as the policy spells them, whatever case the operator typed; each once
        # (a code listed twice in two spellings would count its unit twice in city reports).
        spelled = {code.casefold(): code for code in policy.units}
        units = tuple(dict.fromkeys(spelled.get(str(u).strip().casefold(), str(u).strip())
                                    for u in (params.get("units") or [])))
        unknown = sorted(set(units) - set(policy.units))
        if unknown:
            shown = mask_id_numbers(str(unknown))  # an ID number typed into units must not reach the log
            raise RunSpecError(
                f"units {shown} are not in the policy ({policy.source}); known: {', '.join(sorted(policy.units))}",
                zh=f"登记机构 {shown} 不在策略中；已知机构：{', '.join(sorted(policy.units))}",
            )
        dry_run = bool(params.get("dry_run", False))
        if now is not None and period.as_of > now and not dry_run:
            raise RunSpecError(
                f"period {period.label} ends in the future: the rules would judge it as of {period.as_of:%Y-%m-%d %H:%M}, "
                f"which has not come yet (now {now:%Y-%m-%d %H:%M} {policy.timezone}), and heads would be mailed about "
                "it. Choose a period that has ended, or set dry_run to true to evaluate and render it without mailing "
                "or changing the ledger",
                zh=f"期间 {period.label} 尚未结束（规则按 {period.as_of:%Y-%m-%d %H:%M} 判断，现在是 {now:%Y-%m-%d %H:%M}），"
                   f"不能向负责人发送：请选择已结束的期间，或设 dry_run 为 true 只评估和预览",
            )
        try:
            spec = cls(period_start=period.start, period_end=period.end, units=units,
                       full_scan=bool(params.get("full_scan", False)), dry_run=dry_run)
        except ValidationError as error:
            raise RunSpecError(str(error), zh=f"运行参数有误：{error}") from None
        log.info("run covers %s (as of %s) for %s%s", spec.period_label, period.as_of, ", ".join(units) or "all units",
                 " — DRY RUN: nothing is mailed and the ledger is not changed" if dry_run else "")
        return spec


@dataclass(frozen=True)
class RunContext:
    """Who is writing and when (local wall clock): not the as-of of the rules."""

    dag_id: str
    run_id: str
    now: datetime

    @property
    def actor(self) -> str:
        return f"bdcwatch:{self.dag_id}"


@dataclass(frozen=True)
class Job:
    """What one task of a run works with: the spec, the policy, supervision_db and the
    run's identity. Built by the orchestration layer; engine code takes it instead of a
    dozen loose arguments."""

    spec: RunSpec
    policy: Policy
    engine: Engine
    ctx: RunContext
    ui_base_url: str | None = None  # the Airflow UI, for links in mail (None: no links)
    # A province's city (the home one too): links name it (?city=), so a link opens that
    # city's finding whichever city the reader's UI was last switched to.
    ui_city: str | None = None
    dry_run_dir: Path | None = None  # a dry run's mail goes here as files (the run's log folder)
    mail_from: str = "bdcwatch@localhost"  # the sender of a dry run's .eml files (smtp_default's from_email)

    @property
    def dry_run(self) -> bool:
        return self.spec.dry_run

    @property
    def period(self) -> Period:
        return self.spec.period

    @property
    def units(self) -> list[str]:
        return self.spec.units_or_all(self.policy)

    @cached_property
    def calendar(self) -> WorkCalendar:
        from bdcwatch.dates.workdays import calendar_from_policy

        return calendar_from_policy(self.policy)

    def now(self) -> datetime:
        """The local wall clock now (later than ``ctx.now`` in a long task)."""
        from bdcwatch.dates.clock import local_now

        return local_now(self.policy.timezone)
