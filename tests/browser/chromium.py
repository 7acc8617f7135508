"""Find or install a headless Chromium and its driver, and start a session.

Debian's ``chromium`` and ``chromium-driver`` packages come together, so their
versions match. When ``/usr/bin/chromium`` or ``/usr/bin/chromedriver`` is
missing they are installed with apt-get (as root, ``apt-get update`` first when
the install fails for lack of package lists). Nothing here ever lets Selenium
fetch a browser or a driver of its own: there is no way to one on these
machines, so the driver's path is always given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
INSTALL_TIMEOUT_S = 900

# Required on these machines: no sandbox (root, no user namespaces), no GPU,
# nothing fetched in the background that would stall or fail without a network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


class BrowserUnavailable(RuntimeError):
    """No Chromium and driver, and installing them failed (with apt-get's output)."""


@dataclass(frozen=True)
class Browser:
    chromium: Path
    chromedriver: Path


def _present() -> bool:
    return all(os.access(p, os.X_OK) for p in (CHROMIUM, CHROMEDRIVER))


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )


def find_browser() -> Browser:
    """The Chromium and chromedriver to use, installing Debian's packages if needed."""
    if not _present():
        if shutil.which("apt-get") is None:
            raise BrowserUnavailable(
                f"{CHROMIUM} / {CHROMEDRIVER} are missing and there is no apt-get to install "
                f"{' '.join(PACKAGES)}"
            )
        if os.geteuid() != 0:
            raise BrowserUnavailable(
                f"{CHROMIUM} / {CHROMEDRIVER} are missing; install them as root: "
                f"apt-get install {' '.join(PACKAGES)}"
            )
        result = _apt("install", "-y", *PACKAGES)
        if result.returncode != 0:
            update = _apt("update")
            result = _apt("install", "-y", *PACKAGES)
            if result.returncode != 0:
                raise BrowserUnavailable(
                    f"apt-get install {' '.join(PACKAGES)} failed "
                    f"(exit {result.returncode}):\n{update.stderr[-2000:]}\n"
                    f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
                )
        if not _present():
            raise BrowserUnavailable(
                f"installed {' '.join(PACKAGES)} but {CHROMIUM} / {CHROMEDRIVER} are missing"
            )
    return Browser(CHROMIUM, CHROMEDRIVER)


def start_driver(browser: Browser, profile_dir: Path, log_path: Path) -> Any:
    """A Selenium Chrome session on ``browser`` with a fresh profile in ``profile_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(browser.chromium)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument("--window-size=1400,900")
    # The page's console, for failure messages.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(browser.chromedriver), log_output=str(log_path))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver
