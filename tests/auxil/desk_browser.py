"""Headless Debian Chromium for the desk's browser test, driven by Selenium without downloads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 10  # for any one thing the page should show
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"  # kept by the run, not committed
# Records each notification the page shows, then shows it as the browser would.
RECORD_NOTIFICATIONS = """
const Real = window.Notification;
window.shownNotifications = [];
window.Notification = class extends Real {
  constructor(title, options) { super(title, options); window.shownNotifications.push(title); }
};
"""


def require_chromium() -> None:
    """Skip with a reason when the browser is missing, except under CI where it must run."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    message = f"headless browser test needs {CHROMIUM} and {CHROMEDRIVER} (tests/setup_machine.sh installs them)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def chromium(profile_dir: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def close(driver: webdriver.Chrome, profile_dir: Path) -> None:
    driver.quit()
    shutil.rmtree(profile_dir, ignore_errors=True)


def waiting(driver: webdriver.Chrome) -> WebDriverWait:
    """A wait that looks again when the page re-rendered what it was reading (the queue does on each event)."""
    return WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,))


def sign_in(driver: webdriver.Chrome, base: str, name: str, password: str) -> WebDriverWait:
    """Open the desk, sign in on the page it redirects to, and return a wait for what follows."""
    wait = waiting(driver)
    driver.get(base + "/")
    wait.until(ec.presence_of_element_located((By.ID, "login-form")))
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    return wait


def allow_notifications(driver: webdriver.Chrome, base: str) -> None:
    """The desk's origin may show notifications, as if the agent had said yes (before signing in)."""
    driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": base, "permissions": ["notifications"]})


def notified(driver: webdriver.Chrome) -> list[str]:
    """Titles of the notifications shown since ``RECORD_NOTIFICATIONS`` ran on the page."""
    return list(driver.execute_script("return window.shownNotifications"))


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save what the page shows now under ``var/screenshots`` for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
