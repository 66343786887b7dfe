"""The pages in a real headless browser (Debian chromium driven by Playwright), screenshots kept.

Needs `apt-get install -y chromium` and `pip install playwright` (no `playwright install`:
it downloads browsers). Screenshots land in test-artifacts/serve/.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.serve.conftest import ALICE, NOW, SECRET, build_store, token

from goodwill.serve import Settings, create_app
from goodwill.store import Store

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("GOODWILL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "serve"


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        return f"no chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


_REASON = _skip_reason()
if _REASON and os.environ.get("CI"):
    pytest.fail(f"CI must run the browser tests: {_REASON}", pytrace=False)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if _REASON:
        pytest.skip(_REASON)
    import uvicorn

    from goodwill.store import open_store

    store: Store = open_store(tmp_path_factory.mktemp("browser") / "store.duckdb")
    build_store(store)
    app = create_app(store, Settings(secret=SECRET, cache_ttl_s=0, now=lambda: NOW))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        yield b
        b.close()


def _page(browser: Any, base_url: str, role: str, **kw: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1360, "height": 1000})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base_url}/login?token={token(role, **kw)}")
    page.errors = errors
    return page


def test_dashboard_draws_every_section_with_charts(browser: Any, base_url: str) -> None:
    page = _page(browser, base_url, "compliance")
    assert page.url.endswith("/dashboard")
    for name in ("broken", "promises", "silent", "loyalty", "guard", "rights"):
        assert page.locator(f"#sec-{name} h2").count() == 1, name
    page.wait_for_selector("#chart-reasons[data-drawn=true] svg", timeout=10_000)
    page.wait_for_selector("#chart-loyalty[data-drawn=true] svg", timeout=10_000)
    assert "Call Alice back" not in page.content()  # a brief detail, not a dashboard one
    page.screenshot(path=str(ARTIFACTS / "dashboard-compliance.png"), full_page=True)
    assert page.errors == []


def test_marketing_dashboard_has_no_verbatims(browser: Any, base_url: str) -> None:
    page = _page(browser, base_url, "marketing")
    page.wait_for_selector("#sec-broken")
    assert page.locator("#sec-silent").count() == 0
    assert page.locator("text=What they said").count() == 0
    page.screenshot(path=str(ARTIFACTS / "dashboard-marketing.png"), full_page=True)


def test_agent_brief(browser: Any, base_url: str) -> None:
    page = _page(browser, base_url, "agent", team="broadband")
    page.goto(f"{base_url}/customers/{ALICE}/brief")
    owed = page.locator("#owed").inner_text()
    assert "broken" in owed and "call you back" in owed
    assert "vulnerable circumstances" in page.content()
    assert page.locator("#do-not li").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "brief-agent.png"), full_page=True)
    assert page.errors == []


def test_customer_changes_a_consent_and_asks_for_erasure(browser: Any, base_url: str) -> None:
    page = _page(browser, base_url, "customer", customer_id=ALICE)
    assert page.url.endswith("/me")
    page.select_option("#consents select[name=purpose]", "marketing")
    page.select_option("#consents select[name=channel]", "email")
    page.select_option("#consents select[name=state]", "withdrawn")
    page.click("#consents button")
    page.wait_for_selector("#consents li:has-text('marketing / email: withdrawn')", timeout=10_000)
    page.select_option("#requests select[name=kind]", "erasure")
    page.click("#requests button")
    page.wait_for_selector("#requests li:has-text('erasure: received')", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "me-customer.png"), full_page=True)
    assert page.errors == []
