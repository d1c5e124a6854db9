"""Pipeline test helpers: a headless Chromium driven over the DevTools protocol (pipe transport).

The report test opens the real page in Debian's chromium, waits for `load`, collects console
errors, exceptions and failed loads, measures every <img>, and takes a screenshot. The DevTools
protocol runs over `--remote-debugging-pipe` (fd 3 in, fd 4 out, NUL-terminated JSON), so no
websocket library is needed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
    "--allow-file-access-from-files",
]
IMAGES_JS = """JSON.stringify(Array.from(document.images).map(img => {
  const box = img.getBoundingClientRect();
  return {src: img.getAttribute('src'), complete: img.complete, natural_width: img.naturalWidth,
          natural_height: img.naturalHeight, width: box.width, height: box.height};
}))"""


def find_chromium() -> str | None:
    """Debian's chromium binary, if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if path:
            return path
    return None


@dataclass
class PageCheck:
    """What the browser saw on one page."""

    images: list[dict]
    errors: list[str] = field(default_factory=list)
    title: str = ""
    text: str = ""
    screenshot: Path | None = None


class DevToolsPipe:
    """A minimal DevTools-protocol client over Chromium's --remote-debugging-pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        script = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply (events seen meanwhile are kept)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout=30)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        """Wait for one event by name (it may already have arrived)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    self.events.append({**event, "method": f"seen:{method}"})
                    return event
            self.events.append(self._read(timeout=max(0.1, deadline - time.monotonic())))

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive within `seconds` (late console or log entries)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(self._read(timeout=left))
            except TimeoutError:
                return

    def _read(self, timeout: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_chrome], [], [], timeout)
            if not ready:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def _errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among the collected events."""
    errors = []
    for event in events:
        method, params = event.get("method", ""), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(arg.get("value", arg)) for arg in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
    return errors


def check_page(binary: str, page: Path, workdir: Path, width: int = 1280) -> PageCheck:
    """Open `page` in headless Chromium and report images, errors, title and a screenshot."""
    browser = DevToolsPipe(binary, workdir / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.send(f"{domain}.enable", session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired")

        def evaluate(expression: str) -> str:
            result = browser.send(
                "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
            )
            return result["result"]["value"]

        images = json.loads(evaluate(IMAGES_JS))
        size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": width, "height": min(size["height"], 16000), "scale": 1}
        shot = browser.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            session=session,
        )
        screenshot = workdir / "report.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        check = PageCheck(images, title=evaluate("document.title"), screenshot=screenshot)
        check.text = evaluate("document.body.innerText")
        browser.drain(0.5)  # late console/log events
        check.errors = _errors(browser.events)
        return check
    finally:
        browser.close()


@pytest.fixture
def chromium() -> str:
    """Path of the chromium binary. Missing, the test skips only with the reason `make browser`
    gave for not installing it (XSTAGE_NO_BROWSER, set by `make test`); otherwise it fails."""
    binary = find_chromium()
    if binary:
        return binary
    reason = os.environ.get("XSTAGE_NO_BROWSER", "").strip()
    if reason:
        pytest.skip(f"no browser: {reason}")
    pytest.fail("chromium not found: `make browser` installs it (`make test` does)")


@pytest.fixture
def open_in_chromium(chromium: str, tmp_path: Path):
    """Open a page in headless Chromium: returns a PageCheck (images, errors, screenshot)."""

    def _open(page: Path) -> PageCheck:
        workdir = tmp_path / "chromium"
        workdir.mkdir(exist_ok=True)
        return check_page(chromium, page, workdir)

    return _open


MINI_MIXTURES = [
    "demo_minimal_65_25_10",
    "demo_edu_45_35_20",
    "demo_quality_25_45_30",
    "demo_minimal_25_45_30",
]


@pytest.fixture
def mini_study(tmp_path: Path) -> Path:
    """The demo study shrunk to seconds per step: same shape (tiny scale, 4 mixtures, 3 benchmarks)."""
    import yaml

    from xstage.config import config_dir

    data = yaml.safe_load((config_dir() / "studies" / "demo.yaml").read_text())
    data |= {
        "id": "mini",
        "scales": ["tiny"],
        "mixtures": MINI_MIXTURES,
        "benchmarks": ["copa", "rte", "cb"],
        "items_per_benchmark": 12,
        "items_per_benchmark_overrides": {"copa": 16},
        "max_chat_examples": 32,
        "tokenizer": {"vocab_size": 512, "max_docs": 40},
        "recipes": {
            "tiny": {
                "pretrain": "demo_pretrain_tiny",
                "sft": "demo_sft_tiny",
                "pretrain_overrides": {"train_tokens": 6144, "checkpoint_every": 0},
                "sft_overrides": {"max_examples": 16},
            }
        },
    }
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
