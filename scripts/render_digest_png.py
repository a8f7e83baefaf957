"""Render mail as heads receive it, with headless Chromium: the README's pictures, and the
phone-width check of the tests.

    python scripts/render_digest_png.py                       # sample digest → docs/digest-*.png
    python scripts/render_digest_png.py --eml var/mail/X.eml  # any received message

Without ``--eml`` a sample unit digest is built through the same code the DAGs use
(render_unit_digest, the headline figures, the trend chart), **sent through a real SMTP
relay** started here (aiosmtpd) with the project's sender, and the message the relay
received is saved (``docs/digest-sample.eml``) and rendered: what the pictures show is
what yagmail delivered, not the template. The HTML part is shown as a mail client shows
it: ``cid:`` images resolved from the message's own parts, nothing fetched from outside.
Pictures are taken at a desktop width (800 px) and a phone width (375 px).

Needs Debian's chromium and fonts-noto-cjk (``apt-get install -y chromium fonts-noto-cjk``)
and Playwright (in the dev lock; it drives that chromium, no browser download).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
DESKTOP, PHONE = 800, 375


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def received_html(raw: bytes) -> str:
    """The HTML part of a received message, its ``cid:`` references replaced by the
    message's own inline parts as data: URIs (what a mail client does)."""
    message: Any = message_from_bytes(raw, policy=policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in message.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_payload(decode=True)).decode()
            html = html.replace(f"cid:{cid.strip('<>')}", f"data:{part.get_content_type()};base64,{data}")
    return str(html)


@contextmanager
def browser() -> Iterator[Any]:
    """Playwright's Chromium, launched from Debian's binary with networking off."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise SystemExit("headless Chromium is needed: apt-get install -y chromium fonts-noto-cjk")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def open_page(chrome: Any, html: str, width: int) -> Any:
    page = chrome.new_page(viewport={"width": width, "height": 800}, java_script_enabled=True)
    page.route("**/*", lambda route: route.abort())  # a mail loads nothing from outside
    page.set_content(html, wait_until="load")
    return page


def too_wide(chrome: Any, html: str, width: int = PHONE) -> list[str]:
    """Elements wider than the viewport (or sticking out of it) at ``width`` px: empty
    when the mail fits a phone without scrolling sideways."""
    page = open_page(chrome, html, width)
    try:
        return list(page.evaluate("""() => {
            const limit = document.documentElement.clientWidth + 0.5, found = [];
            if (document.documentElement.scrollWidth > limit) found.push(`page scrolls to ${document.documentElement.scrollWidth}px`);
            for (const el of document.body.querySelectorAll('*')) {
                const box = el.getBoundingClientRect();
                if (box.width > limit || box.right > limit || box.left < -0.5)
                    found.push(`${el.tagName.toLowerCase()} ${Math.round(box.left)}..${Math.round(box.right)}px: ${(el.textContent || el.getAttribute('alt') || '').trim().slice(0, 40)}`);
            }
            return found;
        }"""))
    finally:
        page.close()


def screenshot(chrome: Any, html: str, width: int, out: Path) -> None:
    page = open_page(chrome, html, width)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
    finally:
        page.close()


def sample_digest() -> tuple[str, str, list[Any]]:
    """Subject, HTML and attachments of a digest built from sample findings."""
    from bdcwatch.config.policy import load_policy
    from bdcwatch.ledger.findings import FindingRow
    from bdcwatch.mail.sender import INLINE_PREFIX, Attachment
    from bdcwatch.reports.chart import chart_alt, trend_chart_png
    from bdcwatch.reports.common import Chart, CodeBook, DigestContext
    from bdcwatch.reports.figures import LedgerFigures, UnitFigures
    from bdcwatch.reports.unit_digest import render_unit_digest
    from bdcwatch.rules.online import OnlineShare

    def row(i: int, rule: str, severity: str, subject_type: str, subject: str, **detail: object) -> FindingRow:
        return FindingRow(i, rule, severity, "YQ21", subject_type, subject, None, json.dumps(detail, ensure_ascii=False),
                          "open", datetime(2026, 11, 2, 3, 5), date(2026, 11, 16))

    findings = [
        row(1041, "CASE_QUEUE_JUMP", "high", "YWH", "YQ21-2026-10-000311", slsj="2026-10-20 15:40:00",
            dbsj="2026-10-20 16:55:00", elapsed=0, median=3.0, overtaken_at_least=3, limit_class="200"),
        row(1042, "MORTGAGE_WHILE_SEALED", "high", "YWH", "YQ21-2026-10-000287", bdcdyh="140321001002GB00031F00010002",
            dbsj="2026-10-15 10:20:00", cfjg="平定县人民法院"),
        row(1043, "CASE_OVERDUE", "medium", "YWH", "YQ21-2026-10-000102", slsj="2026-10-09 09:12:00",
            jssj="2026-10-16 17:30:00", deadline="2026-10-14", djdl="200", gqts=0),
        row(1044, "RETURN_UNJUSTIFIED", "medium", "BDC_BYSL.ID", "TH202610000045", ywh="YQ21-2026-10-000140",
            thsj="2026-10-11 10:05:00", thyydm=None, thyy="资料不全"),
        row(1045, "ECERT_MISSING", "high", "BDCQZH", "晋(2026)平定县不动产权第0004512号", ywh="YQ21-2026-10-000097",
            szsj="2026-10-12 14:02:00"),
        row(1046, "ECERT_BAD_ID", "low", "ZZID", "ZZ-2026-000771",
            zzbs="1.2.156.3005.2.11100000MB03271699022.140321.000004512.001.7", problem="check character 7 should be K"),
    ]
    policy = load_policy()
    unit = policy.units["YQ21"]
    figures = UnitFigures(LedgerFigures(open=9, overdue=2, closed_in_period=5), (412, 409),
                          OnlineShare(38, 101, policy.online_handling.targets[unit.level]))
    points = [("2026-06", 7, 4), ("2026-07", 5, 6), ("2026-08", 9, 5), ("2026-09", 4, 8), ("2026-10", 6, 5),
              ("2026-11", 0, 5)]
    chart = Attachment(f"{INLINE_PREFIX}trend_YQ21.png", trend_chart_png(points))
    context = DigestContext(
        dag_id="monthly_quality_check", run_id="scheduled__2026-11-01T03:00:00+08:00", period_label="2026-10",
        period_text="2026-10-01 至 2026-11-01（不含）期间", as_of=datetime(2026, 11, 1), plan_items="32",
        title="月度质量评查", supervisor_name=policy.supervisors[unit.supervisor].name,
        ui_base_url="http://127.0.0.1:8080", headline=tuple(figures.headline()),
        chart=Chart(chart.content_id, chart_alt(points), "近6个月问题趋势（橙色：当月发生的问题，按问题发生时间统计；绿色：当月销号）"),
        codes=CodeBook.from_policy(policy),
    )
    digest = render_unit_digest(findings, unit_code="YQ21", unit_name=unit.name, heads=unit.heads, context=context)
    return digest.subject, digest.html, [*digest.attachments, chart]


def send_through_relay(subject: str, html: str, attachments: list[Any]) -> bytes:
    """Send with the project's sender through a local aiosmtpd relay; the bytes it received."""
    import socket

    from aiosmtpd.controller import Controller

    from bdcwatch.mail.sender import SmtpSettings, send_message

    received: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
            received.append(envelope.original_content or envelope.content)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = SmtpSettings("127.0.0.1", port, None, None, "bdcwatch@example.org", False, False, 10)
        send_message(settings, to=["head.yq21@example.org"], subject=subject, html=html, attachments=attachments,
                     message_id="<digest-sample@bdcwatch>")
    finally:
        controller.stop()
    return received[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--eml", type=Path, help="a received message to render (default: send a sample digest)")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for digest-desktop.png and digest-phone.png")
    args = parser.parse_args(argv)
    if args.eml:
        raw = args.eml.read_bytes()
    else:
        raw = send_through_relay(*sample_digest())
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "digest-sample.eml").write_bytes(raw)
    html = received_html(raw)
    with browser() as chrome:
        screenshot(chrome, html, DESKTOP, args.out / "digest-desktop.png")
        screenshot(chrome, html, PHONE, args.out / "digest-phone.png")
        wide = too_wide(chrome, html, PHONE)
    print(f"rendered to {args.out / 'digest-desktop.png'} and {args.out / 'digest-phone.png'}")
    if wide:
        print("wider than a phone:\n  " + "\n  ".join(wide), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
