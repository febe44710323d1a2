"""Headless Chromium for the browser tests, and the checks every report page must pass.

Debian's chromium and chromedriver (`make browser-deps`); one browser per test module
(tests/browser/conftest.py), since starting one costs seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def make_driver():
    """Headless Debian Chromium through Debian's chromedriver, logging console and network."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail("Debian's chromium and chromium-driver are missing: run `make browser-deps`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM  # with both paths given, selenium-manager downloads nothing
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1300,1000",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def driver_session():
    """One Chromium per test module (starting it costs seconds)."""
    driver = make_driver()
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, page: Path) -> None:
    driver.get_log("browser")  # drain what earlier pages logged
    driver.get_log("performance")
    driver.get(page.as_uri())
    for _ in range(100):
        if driver.execute_script("return !!window.paxlabTimeline"):
            return
        time.sleep(0.05)
    raise AssertionError("the timeline script never ran")


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def check_common(driver, verdict: str) -> None:
    banner = driver.find_element("id", "verdict")
    assert banner.is_displayed() and banner.text.startswith(verdict)
    imgs = driver.execute_script(
        "return [...document.querySelectorAll('figure.plot img')]"
        ".map(i => [i.closest('figure').id, i.complete && i.naturalWidth])"
    )
    ids = {i for i, w in imgs if w and w > 100}
    assert {"latency", "throughput"} <= ids, imgs
    inked = driver.execute_script(
        """const c = document.getElementById('timeline-canvas');
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i+3] && d[i] < 200) n++;
           return [c.width, c.height, n];"""
    )
    assert inked[0] > 300 and inked[1] > 100 and inked[2] > 2000, inked
    assert driver.find_element("id", "rerun-command").text.startswith("paxlab test ")
    urls = requested_urls(driver)
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls
    assert console_errors(driver) == []


def check_valid(driver, report: Path, shot: Path) -> None:
    open_page(driver, report)
    check_common(driver, "VALID")
    assert driver.find_elements("id", "anomaly") == []
    driver.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def check_invalid(driver, report: Path, failing: int, shots: Path, name: str) -> None:
    """The banner's link scrolls to the failing op; its #op-N link focuses the timeline."""
    open_page(driver, report)
    check_common(driver, "INVALID")
    assert driver.find_element("id", "anomaly").is_displayed()
    assert driver.execute_script("return window.scrollY") == 0
    driver.find_element("id", "anomaly-link").click()
    time.sleep(0.3)
    top, bottom, height, hash_ = driver.execute_script(
        "const r = document.getElementById('anomaly-op').getBoundingClientRect();"
        "return [r.top, r.bottom, window.innerHeight, location.hash];"
    )
    assert hash_ == "#anomaly-op"
    assert 0 <= top < height and bottom > 0, (top, bottom, height)
    target = driver.find_element("id", "anomaly-op")
    assert f"#{failing}" in target.text
    driver.save_screenshot(str(shots / f"{name}-anomaly.png"))
    target.find_element("css selector", f'a[href="#op-{failing}"]').click()
    time.sleep(0.3)
    sel, tl_top = driver.execute_script(
        "return [window.paxlabTimeline.selected(),"
        " document.getElementById('timeline-root').getBoundingClientRect().top]"
    )
    assert sel == failing and abs(tl_top) < 50
    assert f"#{failing}" in driver.find_element("id", "timeline-selected").text
    # hovering the op's bar shows its value and outcome
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = driver.find_element("id", "timeline-canvas")
    pos = driver.execute_script(f"return window.paxlabTimeline.at({failing})")
    size = canvas.size
    ActionChains(driver).move_to_element_with_offset(
        canvas, int(pos["x"] - size["width"] / 2), int(pos["y"] - size["height"] / 2)
    ).perform()
    tip = driver.find_element("id", "timeline-tip")
    assert tip.is_displayed() and tip.text.startswith(f"#{failing} ") and "\n→ " in tip.text
    driver.save_screenshot(str(shots / f"{name}-timeline.png"))
    assert console_errors(driver) == []
    print(f"screenshots: {shots}")
    keep = os.environ.get("PAXLAB_SCREENSHOTS")
    if keep:  # handy when looking at the pages by hand
        for p in shots.glob("*.png"):
            shutil.copy(p, keep)


def failing_index(report: Path) -> int:
    res = json.loads((report.parent / "results.json").read_text())
    ops = [r.get("op") for r in res["checkers"].values() if isinstance(r, dict)]
    return next(op["index"] for op in ops if isinstance(op, dict))
