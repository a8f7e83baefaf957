"""Rendering the pages: the Jinja2 environment (templates shipped in the package,
autoescaped), links relative to where the app is mounted, and the small inline SVG trend
lines of the KPI page (numbers only, drawn on the server: no chart library, no CDN)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bdcwatch import safe_text
from bdcwatch.standards.masking import mask_id_numbers
from bdcwatch.web import deps, labels


def base_path(request: Request) -> str:
    """Where the app is mounted, e.g. ``/bdcwatch`` (or ``/airflow/bdcwatch`` under an
    ``[api] base_url`` with a path)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def airflow_path(request: Request) -> str:
    """The Airflow UI's own root path (for its login page)."""
    base = base_path(request)
    return base[: -len("/bdcwatch")] if base.endswith("/bdcwatch") else ""


def with_query(path: str, query: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode(shown)}" if shown else path


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 28, top: float | None = 100.0,
              target: float | None = None) -> Markup:
    """An inline SVG line of ``values`` (None = no data: a gap), scaled to 0..``top``
    (else to the largest value), with an optional dashed target line. Only numbers
    reach the markup."""
    known = [v for v in values if v is not None]
    ceiling = top if top is not None else max([*known, 1.0])
    step = width / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return round(height - 2 - (height - 4) * min(max(value / ceiling, 0.0), 1.0), 1)

    points = " ".join(f"{round(i * step, 1)},{y(v)}" for i, v in enumerate(values) if v is not None)
    dots = "".join(f'<circle cx="{round(i * step, 1)}" cy="{y(v)}" r="2"/>' for i, v in enumerate(values)
                   if v is not None)
    goal = (f'<line class="target" x1="0" x2="{width}" y1="{y(target)}" y2="{y(target)}"/>'
            if target is not None else "")
    line = f'<polyline points="{points}"/>' if len(known) > 1 else ""
    return Markup(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                  f'role="img" aria-hidden="true">{goal}{line}{dots}</svg>')


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` of a page: control and bidi characters dropped (U+202E made a
    complaint's 内容 read backwards; ``safe_text.typed``) before autoescaping. Not masked
    here: a value may be a link or a form's address (a case's verdict form posts to its
    YWH); the templates mask what they show (``mask``, ``detail_pairs``). The templates'
    own Markup, numbers and dates pass."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return safe_text.typed(value)
    return value


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("bdcwatch.web", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True, finalize=_finalize)
    env.globals.update(
        status_text=labels.status_text, severity_text=labels.severity_text, djdl_text=labels.djdl_text,
        subject_type_text=labels.subject_type_text, detail_pairs=labels.detail_pairs, cycle_text=labels.cycle_text,
        FIELD=labels.FIELD_TEXT,
        STATUS_TEXT=labels.STATUS_TEXT, SEVERITY_TEXT=labels.SEVERITY_TEXT, OUTBOX_TEXT=labels.OUTBOX_TEXT,
        with_query=with_query, sparkline=sparkline, percent=percent, mask=mask_id_numbers,
    )
    env.filters["dt"] = lambda value: "" if value is None else f"{value:%Y-%m-%d %H:%M}"
    return env


def render(request: Request, template: str, **context: Any) -> str:
    """A page of the app: ``template`` with the links' base, the city's units and the
    rules' titles, the city shown and the province's cities the user may read (for the
    picker; ``context["user"]``, an ``auth.Operator``)."""
    from bdcwatch import rules

    policy = deps.policy()
    readable = getattr(context.get("user"), "cities", ())
    return environment().get_template(template).render(
        base=base_path(request), airflow=airflow_path(request),
        units={code: unit.name for code, unit in sorted(policy.units.items())},
        rule_title=rules.title, city=deps.city(), cities=[c for c in deps.cities() if c.code in readable],
        here=page_path(request), **context,
    )


def page_path(request: Request) -> str:
    """The page's path below the app with its query, without ``city`` (where the city
    picker comes back to: the same page of the city chosen)."""
    path = request.url.path[len(base_path(request)):] or "/ui/"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "city"]
    return f"{path}?{urlencode(query)}" if query else path
