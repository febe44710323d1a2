"""The message diagram in real headless Chromium, on a real simulated run of early-ack.

The page opens the diagram on the anomaly; clicking a slot link in the anomaly section shows
that slot's story; clicking the operation on the canvas lights up the messages that served
it (including the accepts the partition swallowed); filters and panning redraw; no console
error, no network request. Screenshots go to the test's tmp folder (the path is printed).
"""

from __future__ import annotations

import time

import pytest

from tests.support.browser import console_errors, open_page, requested_urls
from tests.support.lamport import invalid_bug_run, lamport_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def _inked(driver) -> int:
    return driver.execute_script(
        """const c = document.getElementById('lamport-canvas');
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i+3] && d[i] < 200) n++;
           return n;"""
    )


def test_early_ack_diagram_slot_story_and_the_messages_of_an_operation(browser, tmp_path):
    run = invalid_bug_run("early-ack", tmp_path / "results")
    report = run / "report.html"
    data = lamport_of(report)
    open_page(browser, report)
    lp = "return window.paxlabLamport"
    drawn, view = browser.execute_script(
        "return [window.paxlabLamport.drawn, window.paxlabLamport.view()]"
    )
    assert drawn > 0 and view == data["view"]
    assert _inked(browser) > 2000

    # the anomaly section links to a slot's story: a real click on the link
    link = browser.find_element("css selector", "#anomaly-slots a.slot-link")
    slot = int(link.get_attribute("href").rsplit("-", 1)[1])
    browser.execute_script("arguments[0].scrollIntoView()", link)
    link.click()
    time.sleep(0.3)
    story = browser.execute_script(f"{lp}.story")
    assert story["slot"] == slot and story["messages"] > 0 and story["learned"] > 0
    text = browser.find_element("id", "slot-story").text
    assert f"Slot {slot}'s story" in text and "learned chosen by" in text and "accept" in text
    assert "accepted by nobody" in text and "accepted messages from a quorum (" in text
    browser.save_screenshot(str(tmp_path / "lamport-story.png"))

    # click the first operation in question on the canvas
    from selenium.webdriver.common.action_chains import ActionChains

    browser.find_element("css selector", '[data-lp="anomaly"]').click()
    browser.find_element("id", "lp-slot").clear()
    browser.execute_script(f"{lp}.setFilter('slot', null)")
    op = data["marked"][0]
    canvas = browser.find_element("id", "lamport-canvas")
    browser.execute_script("arguments[0].scrollIntoView()", canvas)
    x, y = browser.execute_script(f"{lp}.opPosition({op})")
    size = canvas.size
    ActionChains(browser).move_to_element_with_offset(
        canvas, int(x - size["width"] / 2), int(y - size["height"] / 2)
    ).click().perform()
    time.sleep(0.2)
    lit, slots = browser.execute_script(
        "return [window.paxlabLamport.highlighted, window.paxlabLamport.slots]"
    )
    assert lit > 0 and slots, (lit, slots)
    sel = browser.find_element("id", "lamport-selected").text
    assert sel.startswith(f"op {op} ") and "messages served it" in sel
    browser.save_screenshot(str(tmp_path / "lamport-op.png"))

    # filters and panning redraw what is in view
    every = browser.execute_script(f"{lp}.setFilter('type', '')")
    accepts = browser.execute_script(f"{lp}.setFilter('type', 'accept')")
    assert 0 < accepts <= every
    before = browser.execute_script(f"{lp}.view()")
    browser.find_element("css selector", '[data-lp="right"]').click()
    after = browser.execute_script(f"{lp}.view()")
    assert after[0] > before[0]
    urls = requested_urls(browser)
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls
    assert console_errors(browser) == []
    print(f"screenshots: {tmp_path}")
