"""Browser fixtures: one live server and one Chromium per run, a fresh context per test.

Every page a test opens is watched: a Content-Security-Policy violation or an
uncaught script error fails the test, since either means something a person
should see is broken. When a test fails, a screenshot of each of its pages is
saved under test-artifacts/browser/.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.live_server import CHROMIUM, CHROMIUM_ARGS, ROOT, LiveServer

ARTIFACTS = ROOT / "test-artifacts" / "browser"
# Chromium reports these for pages the test meant to open (a 404 page, for one).
_EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of (403|404|422|429)")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("browser-instance"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class ConsoleLog:
    """What the pages of one test said on the console, and the problems among it."""

    def __init__(self):
        self.messages: list[str] = []
        self.problems: list[str] = []

    def watch(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught error: {error}"))

    def _on_console(self, message) -> None:
        text = f"[{message.type}] {message.text}"
        self.messages.append(text)
        if message.type == "error" and not _EXPECTED_CONSOLE.search(message.text):
            self.problems.append(text)
        elif "Content Security Policy" in message.text:
            self.problems.append(text)


@pytest.fixture
def console():
    return ConsoleLog()


@pytest.fixture
def new_page(browser, live_server, console, request):
    """``new_page()`` opens a page in a new context (no shared cookies); closed after the test."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        console.watch(page)
        return page

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for index, context in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for number, page in enumerate(context.pages):
                name = f"{request.node.name}-{index}-{number}.png"
                try:
                    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
                except Exception:  # noqa: BLE001  (a screenshot must not hide the failure)
                    pass
        context.close()
    assert not console.problems, "browser console reported problems:\n" + "\n".join(console.problems)


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report

