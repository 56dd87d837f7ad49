"""The report in a real browser: Debian's headless Chromium through Selenium loads report.html with no
console error and no network request, and its full-page screenshot is not blank. Skipped, saying
why, where Chromium, chromedriver or Selenium is missing (`make setup` installs them as root)."""
from __future__ import annotations

import contextlib
import io
import shutil

import pytest

from pipeline import cli
from pipeline.report import browser

pytestmark = pytest.mark.skipif(bool(browser.unavailable()), reason=f"browser test: {browser.unavailable()}")


def test_the_report_loads_cleanly_and_its_screenshot_is_not_blank(tiny_run, fake_train_run, tmp_path):
    out, _ = tiny_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = cli.main(["report", "--output", str(copy), "--train", str(fake_train_run), "--screenshot"])
    assert rc == 0, printed.getvalue()
    assert f"screenshot: {copy / 'report.png'}" in printed.getvalue()
    result = browser.check_page(copy / "report.html", tmp_path / "shot.png")
    assert result.console_errors == []
    assert result.requests == []
    assert result.width == browser.WIDTH and result.height > 3 * browser.HEIGHT  # the whole page, not the window
    assert browser.blank_share(tmp_path / "shot.png") < 0.9
    assert (copy / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_check_sees_errors_and_requests(tmp_path):
    """The check is not blind: a script error and a fetched image are reported."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><img src="http://192.0.2.1/pixel.png">'
                    "<script>undefinedFunction()</script></body></html>")
    result = browser.check_page(page, tmp_path / "bad.png")
    assert any("undefinedFunction" in e for e in result.console_errors)
    assert "http://192.0.2.1/pixel.png" in result.requests
    assert browser.blank_share(tmp_path / "bad.png") > 0.95  # an almost empty page reads as blank
