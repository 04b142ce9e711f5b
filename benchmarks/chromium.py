"""Debian's headless Chromium driven through chromedriver, as the page's tests and benchmarks run it:
no browser download, no GPU, no network of its own, a fresh profile each time.

    from chromium import start        # benchmarks/ on sys.path (a benchmark's own folder)
    driver = start("/tmp/profile")
"""

from __future__ import annotations

import os

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"  # apt-get install -y chromium chromium-driver
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1100,800")


def available() -> bool:
    """Whether Debian's chromium and chromedriver are installed."""
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def start(profile: str | os.PathLike, script_timeout: float = 120):
    """A selenium Chrome driver on Debian's headless Chromium with ``FLAGS`` and the profile
    folder ``profile``; scripts time out after ``script_timeout`` seconds."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(script_timeout)
    return driver
