"""Inline images through yagmail to a real SMTP server: the chart travels in the body (a
related image part with a Content-ID the HTML points at), the workbook as a file."""

from __future__ import annotations

import struct

from bdcwatch.mail.sender import INLINE_PREFIX, Attachment, SmtpSettings, send_message
from bdcwatch.reports.chart import trend_chart_png


def test_trend_chart_is_a_png_of_the_requested_size():
    png = trend_chart_png([("2026-06", 3, 1), ("2026-07", 0, 2), ("2026-08", 5, 5)], width_px=600, height_px=200)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (600, 200)


def test_inline_image_and_file_attachment(smtp_server):
    settings = SmtpSettings(smtp_server.host, smtp_server.port, None, None, "bdcwatch@example.org", False, False, 5)
    png = trend_chart_png([("2026-10", 2, 1), ("2026-11", 1, 2)])
    send_message(
        settings, to=["head@example.org"], subject="趋势", html="<html><body><p>近6个月趋势：</p></body></html>",
        attachments=[Attachment(f"{INLINE_PREFIX}trend_YQ00.png", png), Attachment("list.xlsx", b"PK\x03\x04xlsx")],
    )
    (mail,) = smtp_server.received
    images = [part for part in mail.message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1
    (image,) = images
    content_id = image["Content-ID"].strip("<>")
    assert image.get_content() == png
    assert f"cid:{content_id}" in mail.html and "近6个月趋势" in mail.html
    assert mail.html.index("近6个月趋势") < mail.html.index(f"cid:{content_id}")  # the picture follows its caption
    assert mail.attachments.get("list.xlsx") == b"PK\x03\x04xlsx"
    assert "trend_YQ00.png" not in {name for name in mail.attachments if name}
