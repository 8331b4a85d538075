"""Browser tests: a real ``edgechat up`` (module-scoped) and headless Debian
Chromium driven by Playwright.  Never ``playwright install``: no downloads here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.support.edge import ChatClient, Edge, running_edge

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The seeding clients send hundreds of messages at once.
FAST = {"rate": {"per_second": 1000, "burst": 1000}}
TIMEOUT_MS = 30_000  # generous: these machines are shared and sometimes very busy

# Runs in every page before the app: counts CSP violations (an injected
# handler or script would be one) so tests can assert there were none.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""

sync_api = pytest.importorskip("playwright.sync_api")


def pytest_collection_modifyitems(config, items):
    why = None
    if not CHROMIUM.exists():
        why = "chromium is not installed (make test installs it)"
    elif not (DIST / "index.html").exists():
        why = "the web app is not built (make web-build)"
    if why:
        for item in items:
            if "browser" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Edge]:
    with running_edge(tmp_path_factory.mktemp("web") / "data", FAST) as e:
        yield e


# Per module, not per session: while Playwright's sync API runs, the main
# thread has a running event loop, and other tests' asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """One browser tab running the app, with what it saw that it shouldn't."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def banner(self, status: str, timeout_ms: int = TIMEOUT_MS) -> None:
        self.page.wait_for_selector(f'#banner[data-status="{status}"]', timeout=timeout_ms)

    def send(self, text: str) -> None:
        self.page.fill("#text", text)
        self.page.press("#text", "Enter")

    def messages(self) -> list[dict[str, Any]]:
        return self.page.eval_on_selector_all(
            "#messages > li",
            """items => items.map(li => ({
                id: li.dataset.id, seq: li.dataset.seq ? Number(li.dataset.seq) : null,
                state: li.dataset.state, text: li.querySelector('.text').textContent,
                nick: li.querySelector('.nick').textContent, sender: li.dataset.sender }))""",
        )

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages()]

    def wait_texts(self, *texts: str, state: str | None = None, timeout_ms: int = TIMEOUT_MS) -> None:
        """Wait until each text is on screen (in that state, if given)."""
        self.page.wait_for_function(
            """([texts, state]) => texts.every(t => [...document.querySelectorAll('#messages > li')]
                .some(li => li.querySelector('.text').textContent === t
                            && (!state || li.dataset.state === state)))""",
            arg=[list(texts), state],
            timeout=timeout_ms,
        )

    def wait_count(self, count: int, timeout_ms: int = TIMEOUT_MS) -> None:
        self.page.wait_for_function(
            "n => document.querySelectorAll('#messages > li').length >= n", arg=count, timeout=timeout_ms
        )

    def client_id(self) -> str:
        return str(self.page.evaluate("JSON.parse(sessionStorage.getItem('edgechat.session')).clientId"))

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def room_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def open_tab(browser, edge) -> Iterator[Callable[..., Tab]]:
    """open_tab(nick, room) -> a Tab in its own browser context (its own
    device: own localStorage), signed in and connected."""
    contexts: list[Any] = []
    tabs: list[Tab] = []

    def make(nick: str, room: str, *, viewport: dict[str, int] | None = None) -> Tab:
        context = browser.new_context(viewport=viewport or {"width": 1100, "height": 720})
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(WATCH_CSP)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page)
        page.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: tab.errors.append(str(e)))
        tabs.append(tab)
        page.goto(f"http://127.0.0.1:{edge.http_port}/#/room/{room}")
        page.fill("#nick-input", nick)
        page.click("#nick-save")
        tab.banner("connected")
        page.wait_for_selector(f'#members li[data-client-id="{tab.client_id()}"]', state="attached")
        return tab

    yield make
    try:
        for tab in tabs:
            assert tab.dialogs == [], f"a dialog fired: {tab.dialogs}"
            assert tab.errors == [], f"uncaught errors in the page: {tab.errors}"
            assert tab.page.evaluate("window.__cspViolations") == []
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def paho(edge) -> Iterator[Callable[..., ChatClient]]:
    """paho(nick, room) -> a signed-in MQTT client in the room."""
    clients: list[ChatClient] = []

    def make(nick: str, room: str) -> ChatClient:
        creds = edge.credentials(nick)
        client = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert client.connect() == 0
        client.subscribe(f"chat/in/{client.client_id}", f"chat/pub/{room}")
        clients.append(client)
        assert client.request({"type": "hello", "nick": nick}, "welcome", 30)["type"] == "welcome"
        assert client.request({"type": "join", "room": room}, "joined", 30)["type"] == "joined"
        return client

    yield make
    for c in clients:
        c.close()


def message_events(client: ChatClient, room: str) -> list[dict[str, Any]]:
    return client.events(f"chat/pub/{room}", "message")
