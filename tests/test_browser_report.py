"""Reports in real headless Chromium (Debian's chromium + chromedriver, `make browser-deps`).

A valid and an invalid run: no console errors, no network request at all, the banner,
the plots decoded, the timeline drawn, and for the invalid run the banner's anomaly link
scrolls to the failing operation and its #op-N link focuses the timeline on it.
Screenshots go to the test's tmp folder (the path is printed).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from test_report_fixtures import make_run

from controller.report import build_report

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

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


browser = pytest.fixture(scope="module", name="browser")(driver_session)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("results")
    valid = make_run(
        root, test_name="reg-ok", stamp="20260101T100000", n_ops=600, nemesis=("partition", "clock")
    )
    invalid = make_run(root, test_name="reg-bad", stamp="20260101T110000", n_ops=600, invalid=True)
    return {"valid": build_report(valid), "invalid": build_report(invalid), "root": root}


def _open(driver, page: Path) -> None:
    driver.get_log("browser")  # drain what earlier pages logged
    driver.get_log("performance")
    driver.get(page.as_uri())
    for _ in range(100):
        if driver.execute_script("return !!window.paxlabTimeline"):
            return
        time.sleep(0.05)
    raise AssertionError("the timeline script never ran")


def _console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def _check_common(driver, verdict: str) -> None:
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
    urls = _requested_urls(driver)
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls
    assert _console_errors(driver) == []


def check_valid(driver, report: Path, shot: Path) -> None:
    _open(driver, report)
    _check_common(driver, "VALID")
    assert driver.find_elements("id", "anomaly") == []
    driver.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def check_invalid(driver, report: Path, failing: int, shots: Path, name: str) -> None:
    """The banner's link scrolls to the failing op; its #op-N link focuses the timeline."""
    _open(driver, report)
    _check_common(driver, "INVALID")
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
    assert _console_errors(driver) == []
    print(f"screenshots: {shots}")
    keep = os.environ.get("PAXLAB_SCREENSHOTS")
    if keep:  # handy when looking at the pages by hand
        for p in shots.glob("*.png"):
            shutil.copy(p, keep)


def failing_index(report: Path) -> int:
    res = json.loads((report.parent / "results.json").read_text())
    ops = [r.get("op") for r in res["checkers"].values() if isinstance(r, dict)]
    return next(op["index"] for op in ops if isinstance(op, dict))


def test_valid_report_in_chromium(browser, reports, tmp_path):
    check_valid(browser, reports["valid"], tmp_path / "report-valid.png")


def test_invalid_report_anomaly_link_scrolls_to_failing_op(browser, reports, tmp_path):
    check_invalid(
        browser, reports["invalid"], failing_index(reports["invalid"]), tmp_path, "fixture"
    )


def test_index_sorts_and_filters_in_chromium(browser, reports, tmp_path):
    index = reports["root"] / "index.html"
    browser.get_log("browser")
    browser.get(index.as_uri())
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert len(rows) == 2 and "reg-bad" in rows[0].text  # newest first
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "f-verdict")).select_by_value("valid")
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert len(rows) == 1 and "reg-ok" in rows[0].text
    Select(browser.find_element("id", "f-verdict")).select_by_value("")
    Select(browser.find_element("id", "f-nemesis")).select_by_value("partition")
    assert len(browser.find_elements("css selector", "#runs tbody tr")) == 2
    Select(browser.find_element("id", "f-nemesis")).select_by_value("clock")  # in a combination
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert len(rows) == 1 and "reg-ok" in rows[0].text
    Select(browser.find_element("id", "f-nemesis")).select_by_value("")
    browser.find_element("css selector", 'th[data-key="test"]').click()
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert "reg-bad" in rows[0].text and "reg-ok" in rows[1].text
    browser.find_element("css selector", 'th[data-key="test"]').click()
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert "reg-ok" in rows[0].text
    browser.save_screenshot(str(tmp_path / "index.png"))
    assert _console_errors(browser) == []
