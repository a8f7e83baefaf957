"""Render a sample unit digest to PNG with headless Chromium, so a person can see what the
heads receive (README shows the picture).

    python scripts/render_digest_png.py [--out docs/digest-sample.png] [--from-outbox URL]

By default the digest is rendered from sample findings through the same code the DAGs use
(render_unit_digest, the headline figures and the trend chart). With ``--from-outbox`` it
takes the newest unit digest a real run queued in supervision_db (e.g. after `make demo`).
Needs Debian's chromium (and fonts-noto-cjk for the Chinese text):
    apt-get install -y chromium fonts-noto-cjk
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sample_digest() -> tuple[str, list[tuple[str, bytes]]]:
    """HTML and inline images of a digest built from sample findings."""
    from bdcwatch.config.policy import load_policy
    from bdcwatch.reports.chart import trend_chart_png
    from bdcwatch.reports.common import DigestContext, FindingRow
    from bdcwatch.reports.figures import LedgerFigures, UnitFigures
    from bdcwatch.reports.unit_digest import render_unit_digest
    from bdcwatch.rules.online import OnlineShare

    def row(i: int, rule: str, severity: str, subject: str, **detail: object) -> FindingRow:
        return FindingRow(i, rule, severity, "YQ21", "YWH", subject, None, json.dumps(detail, ensure_ascii=False),
                          "open", datetime(2026, 11, 2, 3, 5), date(2026, 11, 16))

    findings = [
        row(1, "CASE_QUEUE_JUMP", "high", "YQ21-2026-10-000311", slsj="2026-10-20 15:40:00",
            dbsj="2026-10-20 16:55:00", elapsed=0, median=3.0, overtaken_at_least=3),
        row(2, "MORTGAGE_WHILE_SEALED", "high", "YQ21-2026-10-000287", bdcdyh="140321001002GB00031F00010002",
            dbsj="2026-10-15 10:20:00", cfjg="平定县人民法院"),
        row(3, "CASE_OVERDUE", "medium", "YQ21-2026-10-000102", slsj="2026-10-09 09:12:00", deadline="2026-10-14"),
        row(4, "RETURN_UNJUSTIFIED", "medium", "TH202610000045", ywh="YQ21-2026-10-000140", thyydm=None,
            thyy="资料不全"),
        row(5, "ECERT_MISSING", "high", "晋(2026)平定县不动产权第0004512号", ywh="YQ21-2026-10-000097",
            szsj="2026-10-12 14:02:00"),
        row(6, "STAFF_RECORD_INCOMPLETE", "low", "YQ21102", zjh="140***********0371", zjh_invalid=1),
    ]
    policy = load_policy()
    unit = policy.units["YQ21"]
    figures = UnitFigures(LedgerFigures(open=9, overdue=2, closed_in_period=5), (412, 409),
                          OnlineShare(38, 101, policy_target(policy, unit.level)))
    context = DigestContext(
        dag_id="monthly_quality_check", run_id="scheduled__2026-11-01T03:00:00+08:00", period_label="2026-10",
        period_text="2026-10-01 至 2026-11-01（不含）期间", as_of=datetime(2026, 11, 1), plan_items="32",
        title="月度质量评查", supervisor_name=policy.supervisors[unit.supervisor].name,
        ui_url="http://127.0.0.1:8080/dags/monthly_quality_check", headline=tuple(figures.headline()),
        chart_caption="近6个月问题趋势（橙色：新发现；绿色：已销号），见下图。",
    )
    digest = render_unit_digest(findings, unit_code="YQ21", unit_name=unit.name, heads=unit.heads, context=context)
    chart = trend_chart_png([("2026-06", 7, 4), ("2026-07", 5, 6), ("2026-08", 9, 5), ("2026-09", 4, 8),
                             ("2026-10", 6, 5), ("2026-11", 6, 5)])
    return digest.html, [("trend.png", chart)]


def policy_target(policy, level: str):  # type: ignore[no-untyped-def]

    return policy.online_handling.targets[level]


def outbox_digest(url: str) -> tuple[str, list[tuple[str, bytes]]]:
    from sqlalchemy import select

    from bdcwatch.mail.sender import INLINE_PREFIX
    from bdcwatch.store.migrate import make_engine
    from bdcwatch.store.models import outbox, outbox_attachment

    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.kind == "unit_digest").order_by(outbox.c.id.desc())).first()
        if row is None:
            sys.exit(f"no unit digest in the outbox of {url}: run a DAG first (make demo)")
        images = [(Path(a.filename).name, a.content) for a in conn.execute(
            select(outbox_attachment).where(outbox_attachment.c.outbox_id == row.id)) if a.filename.startswith(INLINE_PREFIX)]
    return row.html, images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "digest-sample.png")
    parser.add_argument("--from-outbox", metavar="URL", help="supervision_db URL to take the newest unit digest from")
    parser.add_argument("--width", type=int, default=820)
    parser.add_argument("--height", type=int, default=1500)
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("headless Chromium is needed: apt-get install -y chromium fonts-noto-cjk")
    html, images = outbox_digest(args.from_outbox) if args.from_outbox else sample_digest()
    with tempfile.TemporaryDirectory(prefix="bdcwatch-png-") as folder:
        # As in the mail: each inline image follows the body (yagmail places it there).
        for name, content in images:
            (Path(folder) / name).write_bytes(content)
            html += f'<div style="width:720px;margin:0 auto 16px auto;background:#fff;"><img src="{name}"></div>'
        page = Path(folder) / "digest.html"
        page.write_text(html, encoding="utf-8")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={args.width},{args.height}", f"--screenshot={args.out.resolve()}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    print(f"digest rendered to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
