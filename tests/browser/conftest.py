"""A real headless Chromium driving the lineage page of a real worker.

``browser`` finds Debian's ``chromium`` and ``chromium-driver`` or installs them
(``tests/browser/chromium.py``); it fails, never skips, when that is impossible.
``page`` is one Selenium session for the module with a fresh profile, wrapped
in :class:`Page`. The worker and its services come from the integration
fixtures (``stack``: the session's broker and Redis, this test's topics, key
prefix and worker process).

Screenshots go to ``$LINEAGE_UI_ARTEFACTS`` when set, else to the test's
``tmp_path``; their paths are printed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.browser.chromium import Browser, BrowserUnavailable, find_browser, start_driver
from tests.integration.conftest import Stack, stack

__all__ = ["Page", "Stack", "stack"]

T = TypeVar("T")
DESKTOP = (1400, 900)
PHONE = (390, 844)
_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``integration`` (it needs a worker, a broker
    and Redis) and ``browser`` (it needs Chromium), before ``-m`` deselects."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Browser:
    try:
        return find_browser()
    except BrowserUnavailable as exc:
        error = str(exc)
    pytest.fail(f"no headless Chromium: {error}", pytrace=False)


class Page:
    """The Selenium session, with the waits and reads the tests share."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Emulate a window of exactly this CSS size (a phone's when ``mobile``)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def open(self, url: str) -> None:
        self.driver.get("about:blank")  # a hash-only change would not reload
        self.driver.get(url)
        self.wait(lambda: self.js("return document.readyState") == "complete")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, predicate: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
        """Poll ``predicate`` until truthy; fail with the page's notes and console."""
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as exc:  # not there yet
                last = exc
            time.sleep(0.1)
        notes = self.js("return document.getElementById('notes')?.textContent")
        console = [e.get("message") for e in self.driver.get_log("browser")]
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what or predicate}; last error: "
            f"{last!r}; notes: {notes!r}; console: {console}"
        )

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def css_all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def wait_ready(self, focus_key: str, timeout: float = 30.0) -> None:
        """Wait until the graph around ``focus_key`` (namespace NUL name) is drawn."""
        self.wait(
            lambda: self.js(
                "return document.body.dataset.state === 'ready' && "
                "document.getElementById('graph').dataset.focus === arguments[0]",
                focus_key,
            ),
            timeout,
            f"the graph around {focus_key!r}",
        )

    def drawn_nodes(self) -> list[dict[str, Any]]:
        """Each drawn dataset: namespace, name, distance, x, side label, type, fill."""
        return list(
            self.js(
                """
                return [...document.querySelectorAll('#graph .node')].map((n) => ({
                  namespace: n.dataset.namespace,
                  name: n.dataset.name,
                  distance: Number(n.dataset.distance),
                  x: n.transform.baseVal[0].matrix.e,
                  badge: n.querySelector('.badge-text').textContent,
                  type: n.dataset.type,
                  sub: n.querySelector('.sub').textContent,
                  fill: getComputedStyle(n.querySelector('.box')).fill,
                  focus: n.classList.contains('focus'),
                }));
                """
            )
        )

    def click_edge(self, selector: str) -> None:
        """A real pointer click on the middle of an edge's curve.

        WebDriver's element click refuses a horizontal edge (its box has no
        height: strokes are not part of it), so the click goes to a point."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        x, y = self.js(
            """
            const path = document.querySelector(arguments[0]).querySelector('.edge-hit');
            const p = path.getPointAtLength(path.getTotalLength() / 2);
            const host = document.getElementById('graph');
            const r0 = host.getBoundingClientRect();
            const box0 = path.ownerSVGElement.getBoundingClientRect();
            host.scrollLeft += box0.left + p.x - r0.left - host.clientWidth / 2;
            host.scrollTop += box0.top + p.y - r0.top - host.clientHeight / 2;
            const box = path.ownerSVGElement.getBoundingClientRect();
            return [Math.round(box.left + p.x), Math.round(box.top + p.y)];
            """,
            selector,
        )
        actions = ActionChains(self.driver)
        builder = ActionBuilder(self.driver)
        builder.pointer_action.move_to_location(x, y).click()
        actions.w3c_actions = builder
        actions.perform()

    def drawn_edges(self) -> set[tuple[str, str, str, str]]:
        rows = self.js(
            """
            return [...document.querySelectorAll('#graph .edge')].map((e) => [
              e.dataset.sourceNamespace, e.dataset.sourceName,
              e.dataset.targetNamespace, e.dataset.targetName]);
            """
        )
        return {tuple(r) for r in rows}

    def details(self) -> dict[str, str]:
        """The details panel: its kind (node or edge) and each field's text."""
        return dict(
            self.js(
                """
                const host = document.getElementById('details');
                const out = {kind: host.querySelector('h2')?.dataset.kind || ''};
                for (const dd of host.querySelectorAll('dd')) out[dd.dataset.field] = dd.innerText;
                return out;
                """
            )
        )

    def focus_in_view(self) -> bool:
        """The focus dataset lies inside the graph's visible box (it was scrolled to)."""
        return bool(
            self.js(
                """
                const box = document.getElementById('graph').getBoundingClientRect();
                const r = document.querySelector('#graph .node.focus').getBoundingClientRect();
                return r.left >= box.left && r.right <= box.right &&
                  r.top >= box.top && r.bottom <= box.bottom;
                """
            )
        )

    def no_horizontal_overflow(self) -> bool:
        return bool(self.js("return document.scrollingElement.scrollWidth <= window.innerWidth"))

    def screenshot(self, directory: Path, name: str) -> Path:
        path = directory / name
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path


@pytest.fixture(scope="module")
def page(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    workdir = tmp_path_factory.mktemp("chromium")
    driver = start_driver(browser, workdir / "profile", workdir / "chromedriver.log")
    try:
        yield Page(driver)
    finally:
        driver.quit()


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """Where this test's screenshots go."""
    configured = os.environ.get("LINEAGE_UI_ARTEFACTS")
    directory = Path(configured) if configured else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
