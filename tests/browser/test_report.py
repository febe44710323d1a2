"""Reports in real headless Chromium (Debian's chromium + chromedriver, `make browser-deps`).

A valid and an invalid run: no console errors, no network request at all, the banner,
the plots decoded, the timeline drawn, and for the invalid run the banner's anomaly link
scrolls to the failing operation and its #op-N link focuses the timeline on it.
Screenshots go to the test's tmp folder (the path is printed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.report import build_report
from tests.support.browser import check_invalid, check_valid, console_errors, failing_index
from tests.support.runs import make_run

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("results")
    valid = make_run(
        root, test_name="reg-ok", stamp="20260101T100000", n_ops=600, nemesis=("partition", "clock")
    )
    invalid = make_run(root, test_name="reg-bad", stamp="20260101T110000", n_ops=600, invalid=True)
    return {"valid": build_report(valid), "invalid": build_report(invalid), "root": root}


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
    assert console_errors(browser) == []
