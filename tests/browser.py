"""A real headless Chromium for the tests, driven through chromedriver's W3C WebDriver HTTP API with httpx.

No extra Python package is needed. The network is cut off: any host but 127.0.0.1 fails to resolve, so a page
that still loads something from a CDN fails its test. Import the `browser` fixture into a test module to use it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, require

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    # Any host but the local servers is unreachable: a CDN link left in the HTML would fail to load.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1400,1800",
]
# W3C WebDriver's key for an element reference in a script's result or arguments.
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"


@dataclass
class WebDriver:
    """Just enough of the W3C WebDriver protocol: open a page, type, click, run a script, take a screenshot."""

    http: httpx.Client
    session: str

    def _command(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"/session/{self.session}{path}", json=payload)
        response.raise_for_status()
        return response.json()["value"]

    def open(self, url: str) -> None:
        self._command("POST", "/url", {"url": url})

    def execute(self, script: str, *args: Any) -> Any:
        return self._command("POST", "/execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script: str, *args: Any) -> Any:
        """Run a script whose last argument is the callback it calls with its result."""
        return self._command("POST", "/execute/async", {"script": script, "args": list(args)})

    def find(self, css: str) -> str:
        found = self._command("POST", "/element", {"using": "css selector", "value": css})
        assert isinstance(found, dict) and ELEMENT_KEY in found, f"no element {css!r}: {found}"
        return found[ELEMENT_KEY]

    def type(self, css: str, text: str) -> None:
        self._command("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self._command("POST", f"/element/{self.find(css)}/click", {})

    def wait_for(self, script: str, timeout: float = 30.0) -> Any:
        """Poll a script until it returns something truthy (a page still loading or rendering), and return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.execute(script)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for: {script}"
            time.sleep(0.2)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self._command("GET", "/screenshot")))
        return path


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    require(
        bool(CHROMIUM and CHROMEDRIVER),
        "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
    )
    assert CHROMEDRIVER is not None  # `require` skipped the test otherwise
    port = free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if http.get("/status").json()["value"]["ready"]:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.2)
        options = {"binary": CHROMIUM, "args": CHROMIUM_FLAGS}
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
        created = http.post("/session", json={"capabilities": capabilities})
        created.raise_for_status()
        session = created.json()["value"]["sessionId"]
        yield WebDriver(http, session)
        http.delete(f"/session/{session}")
    finally:
        http.close()
        driver.terminate()
        driver.wait(timeout=20)
