"""Browser tests: the web application served by a real server (uvicorn, on a free port of this machine) and driven
by Playwright in Debian's Chromium. Screenshots of each step are kept in ``test-artifacts/browser/``.

Where no Chromium can be started the tests are skipped with the reason; ``.ci/run`` installs it (Debian's
``chromium`` package), so in CI they always run.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("BOLD_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")) / "browser"
CHROMIUM_FLAGS = [  # as the machine's notes say: no sandbox as root, and no calls to Google's hosts
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("BOLD_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium():
    """A running headless Chromium (one per test process)."""
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium on this machine: install Debian's chromium package (.ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[dev]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
    except Exception as exc:  # a Chromium that cannot start here: say why, once
        playwright.stop()
        pytest.skip(f"Chromium at {path} does not start: {str(exc).splitlines()[0]}")
    yield browser
    browser.close()
    playwright.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``bold serve`` on a workspace, in a thread of the test process."""

    def __init__(self, root: Path):
        import uvicorn

        from bold.web.app import create_app

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(root), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def shots(request):
    """``shot(page, name)`` keeps a full-page screenshot of the step as a test artefact."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    count = iter(range(1, 1000))

    def shot(page, name: str) -> Path:
        path = folder / f"{next(count):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot


def watch(page) -> list[str]:
    """What the browser refuses on the page (the Content-Security-Policy) or cannot load (a stylesheet, a script,
    an icon), collected as the page is used; a page itself answering 4xx (a refused form) is not counted."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Refused" in m.text else None)

    def loaded(response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{response.status} {response.url}")

    page.on("response", loaded)
    return problems


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """The accessibility violations axe-core finds on the page (WCAG 2.0-2.2 A and AA rules) of those impacts."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
    results = Axe().run(page, options=options).response
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(n['target'][0] for n in v['nodes'][:3])}"
        for v in results["violations"]
        if v["impact"] in impacts
    ]
