"""The README's digest picture comes from a script; it must keep working. Needs Debian's
chromium; without it the test skips and says how to install it."""

from __future__ import annotations

import importlib.util
import shutil
import struct
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "render_digest_png.py"


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="headless Chromium not installed (apt-get install -y chromium fonts-noto-cjk)")
def test_sample_digest_renders_to_png(tmp_path):
    spec = importlib.util.spec_from_file_location("render_digest_png", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    html, images = module.sample_digest()
    assert "平定县不动产登记中心" in html and "网办率 / 目标" in html and "本期已销号" in html
    assert [name for name, _ in images] == ["trend.png"]
    out = tmp_path / "digest.png"
    assert module.main(["--out", str(out), "--width", "820", "--height", "900"]) == 0
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (820, 900)
    assert len(png) > 30_000  # a rendered page, not a blank one
