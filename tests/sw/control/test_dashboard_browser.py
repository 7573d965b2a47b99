"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium against the
app served by uvicorn on loopback (model backend). A risk officer releases the card and pulls
the kill switch from the page; the page and the card's `risk_halt` register follow.

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian `chromium`, `chromium-driver`);
skipped without them unless NERVE_REQUIRE_BROWSER=1, which makes their absence a failure.
Nothing is downloaded: the driver's path is given, so Selenium Manager never runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sw.control.auth import Role
from sw.control.main import create_app
from sw.control.server import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000")


def _browser_or_skip() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    why = f"{' and '.join(missing)} missing (apt-get install chromium chromium-driver)"
    if os.environ.get("NERVE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NERVE_REQUIRE_BROWSER=1 but {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture
def browser(tmp_path):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    yield driver
    driver.quit()


def test_release_and_kill_switch_from_the_dashboard(browser, card, store, settings, tokens):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def text(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).text

    def state() -> str:
        return browser.find_element(By.ID, "state").get_attribute("data-state")

    def wait_for(condition, what: str) -> None:
        WebDriverWait(browser, 10, poll_frequency=0.05).until(
            lambda _: condition(), message=f"the page never showed {what}")

    def connect(token: str) -> None:
        field = browser.find_element(By.ID, "token")
        field.clear()
        field.send_keys(token)
        browser.find_element(By.ID, "connect").click()

    with serve_in_thread(create_app(card, store, settings)) as url:
        browser.get(f"{url}/")
        assert (state(), text("state")) == ("unknown", "UNKNOWN")    # nothing known yet

        connect(tokens[Role.RISK])
        wait_for(lambda: text("link") == "live", "the live stream")
        wait_for(lambda: text("limits_loaded") == "yes", "telemetry from the stream")
        assert (state(), text("state")) == ("halted", "HALTED")       # the card starts halted
        assert text("feed_unreliable") == "unknown"                   # the model lacks it
        assert browser.execute_script(
            "return sessionStorage.getItem('nerve-token')") == tokens[Role.RISK]

        browser.find_element(By.ID, "release").click()
        wait_for(lambda: state() == "trading", "the trading state")
        assert text("state") == "TRADING"
        assert card.device.read("risk_halt") == 0

        browser.find_element(By.ID, "halt").click()
        wait_for(lambda: state() == "halted", "the halted state")
        assert text("state") == "HALTED" and text("reasons") == "kill switch"
        assert card.device.read("risk_halt") == 1

        connect(tokens[Role.VIEWER])                  # a viewer may not release
        wait_for(lambda: text("link") == "live", "the viewer's stream")
        browser.find_element(By.ID, "release").click()
        wait_for(lambda: "403" in text("message"), "the refusal")
        assert state() == "halted" and card.device.read("risk_halt") == 1

        browser.get("about:blank")                    # close the stream before the server
