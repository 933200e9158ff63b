"""The web application's guards, tested as an attacker would: sessions, CSRF, redirects, headers, sizes, lockout,
and ids in URLs. (Which role may open which route is tests/integration/test_web_routes.py.)"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

import pytest

from bold import store
from bold.actions import people
from bold.governance import sessions
from bold.web.guard import SESSION_COOKIE
from bold.workspace import Workspace
from tests.web import PASSWORD, browser, people_workspace


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return people_workspace(tmp_path_factory.mktemp("web") / "ws")


def _audit(root, action):
    return [e for e in store.audit.entries(Workspace.open(root), limit=500) if e["action"] == action]


def test_sign_in_gives_a_new_session_id_and_cookie_flags(root):
    client = browser(root)
    client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")  # session fixation
    response = client.sign_in("grace")
    assert response.status_code == 303 and response.headers["location"] == "/home"
    cookie = response.headers["set-cookie"]
    token = client.cookies[SESSION_COOKIE]  # the server's cookie replaced the planted one
    assert token != "planted-by-an-attacker" and len(token) >= 40
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in the test; over TLS the cookie is Secure (below)
    # the store keeps a keyed digest of the token, never the token
    with sqlite3.connect(root / "governance.db") as db:
        digests = [r[0] for r in db.execute("select digest from sessions")]
    assert token not in digests and all(len(d) == 64 for d in digests)
    # a second sign-in in the same browser is a new session again; the first one is ended
    client.sign_in("grace")
    assert client.cookies[SESSION_COOKIE] != token
    assert sessions.resume(Workspace.open(root), token) is None


def test_cookie_is_secure_over_tls(root):
    client = browser(root, base_url="https://testserver")
    response = client.sign_in("grace")
    assert "Secure" in response.headers["set-cookie"]
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_sign_out_ends_the_session_for_good(root):
    client = browser(root, "oscar")
    token = client.cookies[SESSION_COOKIE]
    assert client.post("/sign-out").status_code == 303
    thief = browser(root)
    thief.cookies.set(SESSION_COOKIE, token, domain="testserver.local")  # a copied cookie after sign-out
    assert thief.get("/home", follow_redirects=False).status_code == 303  # to sign-in
    assert any(e["actor"] == "oscar" for e in _audit(root, "signed out"))
    assert any(e["actor"] == "oscar" for e in _audit(root, "signed in"))


def test_idle_and_deactivated_sessions_end(root):
    ws = Workspace.open(root)
    client = browser(root, "olivia")
    assert client.get("/home").status_code == 200
    old = (dt.datetime.now(dt.UTC) - sessions.IDLE - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    with sqlite3.connect(root / "governance.db") as db:  # the session was last seen longer ago than the idle limit
        db.execute("update sessions set seen_at = ? where name = 'olivia' and ended_at is null", (old,))
    assert client.get("/home", follow_redirects=False).headers["location"].startswith("/sign-in")
    assert any(e["actor"] == "olivia" and "idle" in e["details"] for e in _audit(root, "session ended"))
    # deactivating a person ends the sessions they have open
    admin = people.sign_in(ws, "adam", PASSWORD)
    people.add(ws, admin, "temp", ["analyst"], PASSWORD)
    temp = browser(root, "temp")
    assert temp.get("/home").status_code == 200
    people.deactivate(ws, admin, "temp")
    assert temp.get("/home", follow_redirects=False).status_code == 303


def test_a_form_without_its_csrf_token_is_refused(root):
    client = browser(root, "grace")
    for token in (None, "wrong-token"):
        data = {} if token is None else {"csrf": token}
        response = client.post("/sign-out", data, csrf=False)
        assert response.status_code == 403 and "did not come from this site" in response.text
    assert client.get("/home").status_code == 200  # still signed in: the forged sign-out did nothing
    # the sign-in form too: its token is bound to the browser's own random cookie
    stranger = browser(root)
    stranger.page("/sign-in")
    other = browser(root)
    other.page("/sign-in")
    response = stranger.post("/sign-in", {"name": "grace", "password": PASSWORD, "csrf": other.csrf}, csrf=False)
    assert response.status_code == 403
    # htmx sends the token as a header
    client.page("/account")
    assert client.post("/sign-out", csrf=False, headers={"x-csrf-token": client.csrf}).status_code == 303


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/%0d%0aX:y"]
)
def test_no_open_redirect_after_sign_in(root, target):
    client = browser(root)
    client.page("/sign-in")
    response = client.post("/sign-in", {"name": "grace", "password": PASSWORD, "next": target})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location
    assert "\r" not in location and "\n" not in location


def test_sign_in_returns_to_the_page_asked_for(root):
    client = browser(root)
    first = client.get("/account", follow_redirects=False)
    assert first.headers["location"] == "/sign-in?next=/account"
    client.page(first.headers["location"])
    response = client.post("/sign-in", {"name": "grace", "password": PASSWORD, "next": "/account"})
    assert response.headers["location"] == "/account"


def test_lockout_after_repeated_failures_is_audited(root):
    ws = Workspace.open(root)
    admin = people.sign_in(ws, "adam", PASSWORD)
    people.add(ws, admin, "victim", ["analyst"], PASSWORD)
    client = browser(root)
    for _ in range(people.people.DEFAULT_MAX_FAILED_SIGN_INS):
        response = client.sign_in("victim", "not-the-password")
        assert response.status_code == 403 and "sign-in failed" in response.text
    response = client.sign_in("victim")  # the right password, but locked
    assert response.status_code == 403 and "locked" in response.text
    assert SESSION_COOKIE not in client.cookies
    assert [e for e in _audit(root, "sign-in locked") if (e["actor"], e["object"]) == ("bold", "victim")]
    assert len([e for e in _audit(root, "failed sign-in") if e["actor"] == "victim"]) >= 5


def test_security_headers_on_every_kind_of_response(root):
    client = browser(root, "grace")
    for url in ("/register", "/home", "/no-such-page", "/static/style.css"):
        response = client.get(url)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/home").headers["cache-control"] == "no-store"
    page = client.get("/home").text
    assert "<script>" not in page and "<script " not in page.replace('<script src="/static/htmx.min.js" defer>', "")
    assert " style=" not in page and "onclick" not in page


def test_the_upload_size_limit(root):
    client = browser(root, "grace", max_upload_mb=1)
    big = b"x" * 1_500_000
    response = client.post("/sign-out", files={"file": ("big.csv", big)}, data={})
    assert response.status_code == 413 and "larger than this server accepts" in response.text
    # a body with no length given is counted as it arrives (here while the CSRF check reads the form)
    response = client.post(
        "/sign-out",
        content=iter([b"--x\r\n", b"a" * 600_000, b"b" * 600_000]),
        headers={"content-type": "multipart/form-data; boundary=x"},
        csrf=False,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "url",
    [
        "/register/..%2F..%2Fkeys",
        "/register/x/releases/..%2F..%2Fkeys/audit.key",
        "/register/x/releases/r1/..%2F..%2F..%2Fgovernance.db",
        "/register/%2e%2e/releases/%2e%2e/bold.toml",
    ],
)
def test_path_traversal_in_ids_is_not_found(root, url):
    response = browser(root).get(url)
    assert response.status_code == 404
    assert "audit" not in response.text.lower() or "key" not in response.text.lower()


def test_errors_are_pages_not_tracebacks(root):
    client = browser(root, "grace")
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "Traceback" not in response.text and "<h1>Not found</h1>" in response.text
    response = client.post("/sign-in", {"name": "x"})  # the sign-in form with its field missing is not a crash
    assert response.status_code in (403, 422) and "Traceback" not in response.text


def test_a_server_removes_the_uploads_a_killed_server_left(root):
    """A server killed with an upload waiting or being ingested leaves the file; the next server removes it, and
    never what a running server is working on."""
    import os

    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    dead, live = tmp / "upload-999999999-abc", tmp / f"upload-{os.getpid()}-def"
    for folder in (dead, live):
        folder.mkdir(mode=0o700)
        (folder / "prison.csv").write_text("SURNAME\nSMITH\n")
    browser(root)
    assert not dead.exists() and (live / "prison.csv").exists()
    shutil.rmtree(live)
