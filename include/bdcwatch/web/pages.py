"""The HTML pages (``/bdcwatch/ui/...``), shown in the Airflow UI's frame behind 问题台账:

    /ui/                 the ledger: filters, server-side paging, XLSX export
    /ui/findings/{id}    a finding: detail in Chinese labels, history, escalations, status form
    /ui/kpis?period=     unit KPIs of a month with six-month trends
    /ui/quarantine       source rows held by the quality gate, by table and reason; the upload of
                         a complaints export (its rows naming no known unit are held here)
    /ui/samples          the inspection samples per unit, a verdict per case (CONTRACT §8) and the
                         upload of the filled checklist
    /ui/duties?year=     yearly duties (items 3, 4, 11, 30): standing per unit, evidence, its form
    /ui/outbox           mail not delivered: pending, unconfirmed, failed; resend with a note
    /ui/city?code=&next= a province's city picker: the city in a cookie, back to the page

Server-rendered with Jinja2 (autoescaped: a ``<script>`` in a holder name is text); the
one script (``static/bdcwatch.js``) only posts the forms as JSON (uploads as multipart)
with the CSRF header.
Links are built from the request's root path, so the pages work under any Airflow
``[api] base_url``; the digest links to ``{base_url}/bdcwatch/ui/findings/{id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from bdcwatch import rules
from bdcwatch.dates.periods import previous_period
from bdcwatch.ledger.query import FindingFilter, find_findings, finding_detail
from bdcwatch.ledger.verdicts import VERDICTS, sample_cases
from bdcwatch.reports.kpis import kpi_trend, month_period
from bdcwatch.web import deps, reads
from bdcwatch.web.api import finding_filter
from bdcwatch.web.auth import Operator, Reader, Supervision
from bdcwatch.web.labels import next_statuses
from bdcwatch.web.render import base_path, render

router = APIRouter(prefix="/ui")
PAGE_SIZE = 50


def _page(request: Request, user: Operator, template: str, tab: str, **context: Any) -> HTMLResponse:
    page = HTMLResponse(render(request, template, user=user, tab=tab, **context))
    shown = deps.city()
    if shown is not None and deps.city_named_in_address():  # a link naming the city switches the picker too
        deps.remember_city(page, request, shown.code)
    return page


@router.get("/", response_class=HTMLResponse)
def ledger(request: Request, user: Reader, engine: Supervision,
           flt: Annotated[FindingFilter, Depends(finding_filter)],
           page: deps.PageNumber = 1) -> HTMLResponse:
    with engine.connect() as conn:
        found = find_findings(conn, flt, today=deps.today(), page=page, page_size=PAGE_SIZE)
        if found.total and page > found.pages:  # a link to a page past the end (the ledger shrank): the last one
            found = find_findings(conn, flt, today=deps.today(), page=found.pages, page_size=PAGE_SIZE)
    return _page(request, user, "ledger.html.j2", "ledger", flt=flt, found=found,
                 rules=sorted(rules.all_rules()), query=flt.as_query())


@router.get("/city")
def choose_city(request: Request, user: Reader, code: str,
                next_page: Annotated[str, Query(alias="next")] = "/ui/") -> RedirectResponse:
    """The city picker (a province, ``web.deps``): remembers the city in a cookie for this
    app's pages and goes back to ``next``, a page of this app (anything else: the ledger,
    so the picker cannot send anyone elsewhere)."""
    chosen = next((c for c in deps.cities() if c.code == code), None)
    if chosen is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有城市 {code}（no city {code!r}）")
    if chosen.code not in user.cities:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"没有查看{chosen.name}（{chosen.code}）问题台账的权限"
                                                       f"（no right to read the ledger of city {chosen.code}）")
    target = next_page if next_page.startswith("/ui/") and "\\" not in next_page else "/ui/"
    answer = RedirectResponse(f"{base_path(request)}{target}", status_code=status.HTTP_303_SEE_OTHER)
    deps.remember_city(answer, request, chosen.code)
    return answer


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(request: Request, finding_id: deps.RowId, user: Reader, engine: Supervision) -> HTMLResponse:
    with engine.connect() as conn:
        found = finding_detail(conn, finding_id, today=deps.today())
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"问题编号 {finding_id} 不存在（no such finding）")
    policy = deps.policy()
    supervisors = {code: s.name for code, s in policy.supervisors.items()}
    return _page(request, user, "finding.html.j2", "ledger", found=found, item=found.item,
                 choices=next_statuses(found.item.status), supervisors=supervisors)


@router.get("/kpis", response_class=HTMLResponse)
def kpis_page(request: Request, user: Reader, engine: Supervision, period: str | None = None) -> HTMLResponse:
    try:
        month = month_period(period) if period else previous_period("month", deps.today())
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"期间格式应为 YYYY-MM：{error}") from None
    trend = kpi_trend(engine, deps.policy(), month, deps.now())
    current = {code: months[-1] for code, months in trend.items()}
    return _page(request, user, "kpis.html.j2", "kpis", period=month.label, trend=trend, current=current)


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, user: Reader, engine: Supervision, table: str | None = None,
                    column: str | None = None, page: deps.PageNumber = 1) -> HTMLResponse:
    with engine.connect() as conn:
        groups = reads.quarantine_groups(conn)
        total, entries = reads.quarantine_entries(conn, table=table or None, column=column or None, page=page)
        pages = max(1, -(-total // reads.QUARANTINE_PAGE))
        if page > pages:  # past the end: the last page
            page = pages
            total, entries = reads.quarantine_entries(conn, table=table or None, column=column or None, page=page)
    return _page(request, user, "quarantine.html.j2", "quarantine", groups=groups, entries=entries, total=total,
                 page=page, pages=pages, table=table or "", column=column or "")


@router.get("/samples", response_class=HTMLResponse)
def samples_page(request: Request, user: Reader, engine: Supervision, period: str | None = None,
                 unit: str | None = None, inspection: deps.OptionalRowId = None) -> HTMLResponse:
    with engine.connect() as conn:
        periods = reads.inspection_periods(conn)
        chosen = period if period is not None else (periods[0] if periods else "")
        rows = reads.inspections(conn, period=chosen or None, unit=unit or None)
        selected = next((r for r in rows if r.id == inspection), None)
        cases = sample_cases(conn, selected.id) if selected is not None else []
    return _page(request, user, "samples.html.j2", "samples", periods=periods, period=chosen, unit=unit or "",
                 inspections=rows, selected=selected, cases=cases, verdicts=VERDICTS, today=deps.today())


@router.get("/duties", response_class=HTMLResponse)
def duties_page(request: Request, user: Reader, engine: Supervision, year: deps.Year = None,
                unit: str | None = None) -> HTMLResponse:
    """Each unit's standing on each yearly duty, the evidence recorded, the evidence form."""
    from bdcwatch.ledger.duties import duty_status, list_evidence

    policy, today = deps.policy(), deps.today()
    chosen = year or today.year
    statuses = duty_status(engine, policy, year=chosen, as_of_day=today, units=[unit] if unit else None)
    with engine.connect() as conn:
        evidence = list_evidence(conn, unit_code=unit or None, year=chosen)
    names = {d.code: d.name for d in policy.duties.items}
    return _page(request, user, "duties.html.j2", "duties", year=chosen, unit=unit or "", statuses=statuses,
                 evidence=evidence, duties=policy.duties.items, duty_names=names, today=today,
                 years=list(range(today.year, today.year - 5, -1)))


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, user: Reader, engine: Supervision) -> HTMLResponse:
    with engine.connect() as conn:
        messages = reads.outbox_messages(conn)
        counts = reads.outbox_counts(conn)
        sent = reads.recently_sent(conn)
    return _page(request, user, "outbox.html.j2", "outbox", messages=messages, counts=counts, sent=sent)
