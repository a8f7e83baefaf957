"""Mail as heads see it, in Chromium: every kind of message fits a phone (375 px) without
sideways scrolling, and the README's pictures come from a message a real relay received.
Needs Debian's chromium (and fonts-noto-cjk); without it the tests skip and say how to
install it."""

from __future__ import annotations

import importlib.util
import shutil
import struct
import subprocess
import sys
from email import message_from_bytes, policy

import pytest

from bdcwatch.mail.sender import SmtpSettings, send_message
from tests.mail_samples import KINDS

SCRIPT = __import__("pathlib").Path(__file__).resolve().parents[2] / "scripts" / "render_digest_png.py"
pytestmark = [pytest.mark.skipif(
    shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
    reason="headless Chromium not installed (apt-get install -y chromium fonts-noto-cjk)",
), pytest.mark.xdist_group("chromium_mail")]  # one Chromium on one worker (make test's -n 2)


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("render_digest_png", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chrome(script):
    with script.browser() as launched:
        yield launched


def received(smtp_server, kind: str) -> bytes:
    sample = KINDS[kind]()
    settings = SmtpSettings(smtp_server.host, smtp_server.port, None, None, "bdcwatch@example.org", False, False, 5)
    send_message(settings, to=["head@example.org"], subject=sample.subject, html=sample.html,
                 attachments=sample.attachments)
    return smtp_server.received[-1].message.as_bytes(policy=policy.default)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_fits_a_phone_screen(script, chrome, smtp_server, kind):
    html = script.received_html(received(smtp_server, kind))
    assert "cid:" not in html  # every inline image resolved from the message itself
    assert script.too_wide(chrome, html, 375) == []


def test_the_checker_sees_an_element_wider_than_the_phone(script, chrome):
    wide = '<html><body><table width="100%"><tr><td><img src="data:," alt="x" width="720" height="10"></td></tr></table></body></html>'
    assert script.too_wide(chrome, wide, 375)


def test_readme_pictures_come_from_a_received_message(tmp_path):
    # As a person runs it (its own browser, its own relay).
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    message = message_from_bytes((tmp_path / "digest-sample.eml").read_bytes(), policy=policy.default)
    assert message.get_body(preferencelist=("plain",)) is not None  # the .eml is the relay's copy, all parts
    for name, width in (("digest-desktop.png", 800), ("digest-phone.png", 375)):
        png = (tmp_path / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] == width
        assert len(png) > 30_000  # a rendered page, not a blank one
