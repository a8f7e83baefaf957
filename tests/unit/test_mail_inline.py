"""The message as a real SMTP server (aiosmtpd) receives it: the HTML byte for byte as
rendered, a readable text/plain alternative, the chart inline under the stable Content-ID
the HTML points at, and the workbook as a file."""

from __future__ import annotations

import io
import struct

from bdcwatch.mail.mime import content_id
from bdcwatch.mail.sender import INLINE_PREFIX, Attachment, SmtpSettings, send_message
from bdcwatch.reports.chart import trend_chart_png

HTML = ('<!DOCTYPE html>\n<html><body>\n<table role="presentation">\n  <tr><td>近6个月趋势：</td></tr>\n'
        '  <tr><td><img src="cid:trend_YQ00@bdcwatch" alt="趋势图" width="600"></td></tr>\n</table>\n'
        '<p>脚注 <a href="http://ui.example.org/bdcwatch/ui/findings/7">问题 7</a></p>\n</body></html>\n')


def test_trend_chart_is_a_png_of_the_requested_size():
    png = trend_chart_png([("2026-06", 3, 1), ("2026-07", 0, 2), ("2026-08", 5, 5)], width_px=600, height_px=200)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (600, 200)


def test_html_arrives_byte_for_byte_with_text_part_and_inline_chart(smtp_server):
    settings = SmtpSettings(smtp_server.host, smtp_server.port, None, None, "bdcwatch@example.org", False, False, 5)
    png = trend_chart_png([("2026-10", 2, 1), ("2026-11", 1, 2)])
    chart = Attachment(f"{INLINE_PREFIX}trend_YQ00.png", png)
    assert chart.content_id == content_id("inline/trend_YQ00.png") == "trend_YQ00@bdcwatch"
    send_message(settings, to=["head@example.org"], subject="趋势", html=HTML,
                 attachments=[chart, Attachment("清单.xlsx", b"PK\x03\x04xlsx")], message_id="<m1@bdcwatch>")
    (mail,) = smtp_server.received
    message = mail.message
    html_part = message.get_body(preferencelist=("html",))
    assert html_part.get_payload(decode=True) == HTML.encode("utf-8")  # no <br>, no wrapping <div>
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "近6个月趋势：" in text and "[图：趋势图]" in text and "<" not in text
    assert "问题 7（http://ui.example.org/bdcwatch/ui/findings/7）" in text
    (related,) = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    images = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<trend_YQ00@bdcwatch>"
    assert images[0].get_content() == png and images[0].get_content_disposition() == "inline"
    assert mail.html.count("<img") == 1  # nothing appended after the body
    assert mail.attachments.get("清单.xlsx") == b"PK\x03\x04xlsx"
    assert message["Message-ID"] == "<m1@bdcwatch>"
    assert "不动产登记监督系统" in str(message["From"]) and "bdcwatch@example.org" in str(message["From"])


def _missing_glyph_warnings(draw) -> list[str]:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def test_charts_speak_chinese_when_a_cjk_font_is_installed():
    import pytest

    from bdcwatch.reports.chart import CHINESE, _drawing, cjk_font, score_chart_png

    if cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk; make system-packages does it)")
    with _drawing() as words:
        assert words is CHINESE
    # every glyph of the Chinese legend, axis title and unit names is drawn, none is a box
    assert _missing_glyph_warnings(lambda: trend_chart_png([("2026-10", 2, 1), ("2026-11", 1, 2)])) == []
    assert _missing_glyph_warnings(lambda: score_chart_png(
        [("YQ21", "平定县不动产登记中心", 86.43), ("YQGX", "高新区分局不动产登记窗口", None)])) == []


def test_without_a_cjk_font_the_words_would_be_boxes():
    """The reason for the fallback: the default font has no Chinese glyphs."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    def draw() -> None:
        with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
            figure = Figure()
            figure.add_subplot().set_xlabel("综合得分")
            figure.savefig(io.BytesIO(), format="png")

    assert _missing_glyph_warnings(draw)


def test_without_a_cjk_font_charts_fall_back_to_ascii_and_say_which_package(monkeypatch, caplog):
    """A worker without a CJK font: the charts draw codes and English words (no glyph is a
    box) and the log names the package to install. The font lists are matplotlib's, emptied
    of CJK families for this test; the product's lookup runs as it does on such a server."""
    import logging

    from matplotlib import font_manager

    from bdcwatch.reports import chart

    chart.cjk_font.cache_clear()
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if f.name not in chart._CJK_FAMILIES])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: [])
    try:
        with caplog.at_level(logging.WARNING, logger="bdcwatch.reports.chart"), chart._drawing() as words:
            assert words is chart.ASCII
        assert "fonts-noto-cjk" in caplog.text
        assert _missing_glyph_warnings(lambda: trend_chart_png([("2026-10", 2, 1), ("2026-11", 1, 2)])) == []
        assert _missing_glyph_warnings(lambda: chart.score_chart_png(
            [("YQ21", "平定县不动产登记中心", 86.43), ("YQGX", "高新区分局不动产登记窗口", None)])) == []
    finally:
        chart.cjk_font.cache_clear()  # the next test finds the installed fonts again
