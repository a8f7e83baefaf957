"""What heads (and operations) receive, as a real SMTP server (aiosmtpd) got it: one
message of each kind passes the mail-client linter, has a readable text/plain part, and
carries data from the sources safely (escaped, masked, no control characters). The linter
itself is shown to catch what yagmail's own HTML handling did (issue 11)."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from bdcwatch.mail.lint import lint_mail_html
from bdcwatch.mail.sender import SmtpSettings, send_message
from tests.mail_samples import KINDS
from tests.support import unmasked_id


def receive(smtp_server, kind: str):
    sample = KINDS[kind]()
    settings = SmtpSettings(smtp_server.host, smtp_server.port, None, None, "bdcwatch@example.org", False, False, 5)
    send_message(settings, to=["head@example.org"], subject=sample.subject, html=sample.html,
                 attachments=sample.attachments, message_id=f"<{kind}@bdcwatch>")
    (mail,) = smtp_server.received
    return sample, mail


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_of_message_passes_the_mail_client_checks(smtp_server, kind):
    sample, mail = receive(smtp_server, kind)
    html = mail.html
    assert html == sample.html  # what the template rendered is what arrived
    assert lint_mail_html(html) == []
    assert not re.search(r"</tr>\s*<br", html) and "<div><html" not in html
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert text.strip() and not re.search(r"</?(td|tr|th|div|table|br|span|a|b|p)\b", text)  # readable text, not markup
    # Data from the sources arrives safely: escaped, masked, without control characters.
    assert "<script>" not in html and not unmasked_id(html) and not unmasked_id(text)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e]", html + text)
    for name, content in mail.attachments.items():
        if name and name.endswith(".xlsx"):
            book = openpyxl.load_workbook(io.BytesIO(content))
            cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
            assert not any(c.data_type == "f" for c in cells), f"{name}: a text from data became a formula"
            assert not any(unmasked_id(str(c.value)) for c in cells if c.value is not None)


def test_the_digest_as_received_shows_the_chart_inside_the_layout(smtp_server):
    sample, mail = receive(smtp_server, "unit_digest")
    html = mail.html
    (related,) = [p for p in mail.message.walk() if p.get_content_type() == "multipart/related"]
    (image,) = [p for p in related.iter_parts() if p.get_content_maintype() == "image"]
    cid = image["Content-ID"].strip("<>")
    assert cid == "trend_YQ21@bdcwatch"
    chart = html.index(f'src="cid:{cid}"')
    assert html.index("近6个月问题趋势") < chart < html.index("本邮件由不动产登记监督系统自动发送")  # inside, before the footer
    assert re.search(rf'<img src="cid:{cid}" alt="近6个月问题趋势：2026-06 发生 7 件', html)
    assert html.count("<img") == 1 and "<br><table" not in html
    # Plain Chinese for heads: no status codes, subject types or English identifier problems.
    assert "复发待整改" in html and "不动产权证书/证明号：晋(2026)" in html and "校验位为 7，按国家标准应为 K" in html
    assert not re.search(r"\b(open|reopened|BDCQZH|YWH|ZZID|check character)\b", html.split("供运维查询")[0])
    assert "退件理由代码：代码 99（不在法定退件理由清单中）" in html and "登记大类：转移登记（200）" in html
    assert '<a href="http://airflow.example.org/bdcwatch/ui/findings/101"' in html


def test_the_linter_catches_what_clients_break_on():
    mangled = ('<div><html><body><br><table border="1"><br>  <tr><td>a</td><br><td>b</td></tr><br></table>'
               '<img src="cid:123"/></body></html></div>')
    problems = lint_mail_html(mangled)
    assert any("<br> directly inside <table>" in p for p in problems)
    assert any("<br> directly inside <tr>" in p for p in problems)
    assert any("no alt text" in p for p in problems)
    assert any("layout starts with <div>" in p for p in lint_mail_html("<html><body><div>x</div></body></html>"))
    wide = ('<html><head><style>td{color:red}</style></head><body><table width="720"><tr><td style="width:900px;'
            'background:url(http://t.example/x.gif)"><img src="http://t.example/p.png" alt="p"></td></tr></table>'
            '<div style="display:flex">x</div></body></html>')
    found = " | ".join(lint_mail_html(wide))
    for expected in ("<style> is not allowed", 'width="720"', "width:900px", "url/@import", "external resource",
                     "flex/grid"):
        assert expected in found, expected
    assert lint_mail_html('<!--[if mso]><table width="640"><tr><td><![endif]--><table width="100%"><tr><td>x</td>'
                          '</tr></table><!--[if mso]></td></tr></table><![endif]-->') == []
