"""In a real browser: the public pages anyone reads, signing in and out, at desktop and phone width, with no
serious accessibility violation and nothing the Content-Security-Policy blocks."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Server, axe_violations, watch
from tests.web import PASSWORD, people_workspace


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with Server(people_workspace(tmp_path_factory.mktemp("browser") / "ws")) as server:
        yield server


def test_public_pages_sign_in_and_out(chromium, served, shots):
    for width, height, label in ((1280, 900, "desktop"), (375, 740, "phone")):
        context = chromium.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        blocked = watch(page)
        for url, heading in (
            ("/register", "Transparency register"),
            ("/promises", "What this platform will and won't do"),
            ("/opt-out", "Opting out"),
            ("/data", "Data the platform holds"),
        ):
            assert page.goto(served.url + url).ok
            assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")  # styled
            assert heading in page.locator("h1").inner_text()
            assert axe_violations(page) == [], url
            if label == "phone":  # nothing wider than the screen but tables, which scroll in their own box
                assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, url
            shots(page, f"{label}-{url.strip('/')}")
        page.get_by_role("link", name="Sign in").click()
        page.get_by_label("User name").fill("grace")
        page.get_by_label("Password").fill("wrong password here")
        page.get_by_role("button", name="Sign in").click()
        assert "sign-in failed" in page.locator("[role=alert]").inner_text()
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/home")
        assert "Signed in as grace" in page.locator("header").inner_text()
        nav = page.get_by_role("navigation", name="Main").inner_text()
        assert "Projects" in nav and "Audit chain" in nav and "Review queue" not in nav and "Sources" not in nav
        assert axe_violations(page) == []
        shots(page, f"{label}-home")
        # keyboard: the skip link is the first stop and takes focus to the content
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/register")
        assert "Sign in" in page.locator("header").inner_text()
        assert blocked == [], blocked  # htmx and the stylesheet load; nothing inline was blocked
        context.close()
