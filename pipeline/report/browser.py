"""The report in a real browser: Debian's headless Chromium, driven through Selenium and chromedriver.

`check_page` loads a local HTML file and returns what a reader's browser would show: the console
errors (the browser log), every network request the page made (the performance log; a
self-contained page makes none besides itself), and a full-page screenshot. Used by
`python -m pipeline report --screenshot` (make demo) and by the browser test.

Chromium runs with a fresh profile and without its background networking (updates, sync,
safe-browsing lists), so the only requests in the log are the page's own.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1")
INSTALL = "apt-get install -y chromium chromium-driver"
WIDTH, HEIGHT = 1280, 900  # a laptop screen
MAX_SHOT_HEIGHT = 30_000  # px: a taller page is cut there (Chromium's own limit is near 32k)


@dataclass
class PageCheck:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # URLs other than the page itself
    width: int = 0
    height: int = 0


def _which(names) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


def unavailable() -> str | None:
    """Why the browser check cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium; it is in the project's test extras)"
    if not _which(BROWSERS):
        return f"Chromium is not installed (as root: {INSTALL}; `make setup` does it when run as root)"
    if not _which(DRIVERS):
        return f"chromedriver is not installed (as root: {INSTALL})"
    return None


@contextmanager
def chromium(width: int = WIDTH, height: int = HEIGHT):
    """A headless Chromium with a fresh profile, logging the console and the network."""
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: no usage statistics
    from selenium import webdriver

    profile = tempfile.mkdtemp(prefix="llama-data-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = _which(BROWSERS)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=_which(DRIVERS)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _requests(performance_log: list[dict], page: str) -> list[str]:
    urls = []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url != page and not url.startswith("data:"):
                urls.append(url)
    return urls


def screenshot(driver, png: Path, width: int = WIDTH) -> tuple[int, int]:
    """The whole page, not only the window, as a PNG; returns its size in CSS pixels."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    content = size.get("cssContentSize") or size["contentSize"]
    height = min(int(content["height"]) + 1, MAX_SHOT_HEIGHT)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "fromSurface": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    Path(png).write_bytes(base64.b64decode(shot["data"]))
    return width, height


def check_page(html: Path, png: Path | None = None) -> PageCheck:
    """Load `html` in headless Chromium: its console errors, network requests and (to `png`) a screenshot."""
    page = Path(html).resolve().as_uri()
    with chromium() as driver:
        driver.get("about:blank")  # away from the start page, whose own requests are then dropped from the log
        driver.get_log("performance")
        driver.get_log("browser")
        driver.get(page)
        driver.execute_script("return document.readyState")
        result = PageCheck(
            console_errors=[f"{e['level']}: {e['message']}" for e in driver.get_log("browser")
                            if e["level"] in ("SEVERE", "ERROR")],
            requests=_requests(driver.get_log("performance"), page))
        if png is not None:
            result.width, result.height = screenshot(driver, png)
    return result


def blank_share(png: Path) -> float:
    """The share of the screenshot's pixels that are the most common colour (1.0: a blank image)."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").resize((200, max(1, 200 * image.height // max(image.width, 1))))
        colours = small.getcolors(small.width * small.height)
    return max(count for count, _ in colours) / (small.width * small.height)
