"""Console sign-in: the session cookie, its CSRF token, its end (logout, idle, a
working day, a disabled account), and the JSON API accepting it beside bearer tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.main import create_app
from backend.models import Handoff, StaffSession, StaffUser
from backend.staff import sessions

COOKIE = sessions.COOKIE


def set_cookie_header(response_headers: list[tuple[str, str]]) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for name, value in response_headers:
        if name.lower() == "set-cookie":
            jar.load(value)
    return jar


def login(client: TestClient, username: str, password: str, **headers: str) -> object:
    return client.post(
        "/console/login",
        data={"username": username, "password": password},
        headers=headers,
        follow_redirects=False,
    )


def test_without_a_session_the_console_sends_you_to_sign_in(client: TestClient) -> None:
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    page = client.get("/console/login")
    assert page.status_code == 200
    assert "登录坐席工作台" in page.text
    assert 'name="password"' in page.text


def test_signing_in_sets_an_httponly_strict_session_cookie(
    client: TestClient, staff: dict[str, str], session: Session
) -> None:
    r = client.post(
        "/console/login",
        data={"username": "amy", "password": staff["amy"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/console"
    cookie = set_cookie_header(r.headers.multi_items())[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # served over plain http here
    assert int(cookie["max-age"]) == 10 * 3600  # a working day
    # The database keeps a hash of the token, never the token.
    stored = session.scalars(select(StaffSession).where(StaffSession.username == "amy")).one()
    assert stored.token_hash != cookie.value and len(stored.token_hash) == 64

    page = client.get("/console")
    assert page.status_code == 200
    assert "Amy 客服" in page.text and "退出登录" in page.text


def test_the_cookie_is_secure_when_the_site_is_served_over_tls(
    settings: Settings, session_factory: object, staff: dict[str, str]
) -> None:
    tls = settings.model_copy(update={"public_base_url": "https://claims.example.com"})
    app = create_app(tls)
    with TestClient(app, base_url="https://testserver") as client:
        app.state.claims.session_factory = session_factory
        r = login(client, "amy", staff["amy"])
        assert r.status_code == 303  # type: ignore[attr-defined]
        cookie = set_cookie_header(r.headers.multi_items())[COOKIE]  # type: ignore[attr-defined]
        assert cookie["secure"] is True


def test_a_wrong_password_is_refused_on_the_page_and_counts_towards_the_lock_out(
    client: TestClient, staff: dict[str, str]
) -> None:
    for _ in range(5):
        r = client.post("/console/login", data={"username": "amy", "password": "wrong-password"})
        assert r.status_code == 401
        assert "用户名或密码错误" in r.text
        assert COOKIE not in r.cookies
    # The sixth try is refused before the password is looked at, even the right one.
    r = client.post("/console/login", data={"username": "amy", "password": staff["amy"]})
    assert r.status_code == 423
    assert "账号已暂时锁定" in r.text
    assert int(r.headers["Retry-After"]) > 0
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_sign_in_posted_from_another_site_is_refused(
    client: TestClient, staff: dict[str, str]
) -> None:
    r = client.post(
        "/console/login",
        data={"username": "amy", "password": staff["amy"]},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert COOKIE not in r.cookies


def test_the_json_api_accepts_the_session_cookie(
    client: TestClient, sign_in: Callable[[str], str]
) -> None:
    sign_in("amy")
    r = client.get("/api/v1/stats")
    assert r.status_code == 200, r.text


def test_a_state_change_by_cookie_needs_the_csrf_token(
    client: TestClient, sign_in: Callable[[str], str]
) -> None:
    csrf = sign_in("ada")  # an adjuster: the decision routes are hers
    url = "/api/v1/claims/CL000000000000/reject"
    body = {"reason": "不在保险责任范围内"}
    refused = client.post(url, json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    wrong = client.post(url, json=body, headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    assert wrong.status_code == 403
    # With the token the request gets past authentication (the claim does not exist).
    passed = client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert passed.status_code == 404, passed.text


def test_a_bearer_token_still_works_and_needs_no_csrf_token(
    client: TestClient, staff: dict[str, str]
) -> None:
    token = client.post(
        "/api/v1/staff/login", json={"username": "ada", "password": staff["ada"]}
    ).json()["access_token"]
    r = client.post(
        "/api/v1/claims/CL000000000000/reject",
        json={"reason": "不在保险责任范围内"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 404


def test_an_unknown_cookie_is_401_and_other_roles_are_403(
    client: TestClient, sign_in: Callable[[str], str]
) -> None:
    client.cookies.set(COOKIE, "not-a-session")
    assert client.get("/api/v1/stats").status_code == 401
    client.cookies.clear()
    csrf = sign_in("amy")  # an agent may not decide claims
    r = client.post(
        "/api/v1/claims/CL000000000000/reject",
        json={"reason": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"


def test_an_adjuster_signed_in_lands_on_her_workbench_not_the_agents_queue(
    client: TestClient, sign_in: Callable[[str], str], handoff_factory: Callable[..., Handoff]
) -> None:
    sign_in("ada")
    landing = client.get("/console", follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == "/console/claims"
    handoff = handoff_factory()
    page = client.get(f"/console/handoffs/{handoff.id}")
    assert page.status_code == 403
    assert "只对客服和管理员开放" in page.text
    assert client.get("/console/fragments/queue").status_code == 403


def _age(session: Session, username: str, **changes: datetime) -> None:
    session.execute(update(StaffSession).where(StaffSession.username == username).values(**changes))
    session.flush()


def test_a_session_left_idle_ends(
    client: TestClient, sign_in: Callable[[str], str], session: Session, settings: Settings
) -> None:
    sign_in("amy")
    idle = timedelta(minutes=settings.staff_session_idle_minutes)
    _age(session, "amy", last_seen_at=datetime.now(UTC) - idle - timedelta(seconds=5))
    assert client.get("/api/v1/stats").status_code == 401
    r = client.get("/console", follow_redirects=False)
    assert r.headers["location"] == "/console/login"
    # A live page refreshing itself learns it too, and is sent to sign in.
    fragment = client.get("/console/fragments/queue", headers={"X-Console-Refresh": "1"})
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"] == "/console/login"


def test_a_page_refreshing_itself_does_not_keep_the_session_alive(
    client: TestClient, sign_in: Callable[[str], str], session: Session
) -> None:
    sign_in("amy")
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    _age(session, "amy", last_seen_at=long_ago)
    client.get("/console/fragments/queue", headers={"X-Console-Refresh": "1"})
    client.get("/api/v1/stats", headers={"X-Console-Refresh": "1"})
    stored = session.scalars(select(StaffSession).where(StaffSession.username == "amy")).one()
    session.refresh(stored)
    assert stored.last_seen_at == long_ago
    client.get("/console")  # the agent opens a page: that is activity
    session.refresh(stored)
    assert stored.last_seen_at > long_ago


def test_a_session_ends_after_a_working_day_however_active(
    client: TestClient, sign_in: Callable[[str], str], session: Session
) -> None:
    sign_in("amy")
    _age(session, "amy", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/stats").status_code == 401


def test_a_disabled_account_loses_its_session(
    client: TestClient, sign_in: Callable[[str], str], session: Session
) -> None:
    sign_in("amy")
    session.execute(update(StaffUser).where(StaffUser.username == "amy").values(active=False))
    session.flush()
    assert client.get("/api/v1/stats").status_code == 401


def test_logout_ends_the_session_and_puts_the_agents_conversations_back_in_the_queue(
    client: TestClient,
    staff: dict[str, str],
    sign_in: Callable[[str], str],
    session: Session,
    handoff_factory: Callable[..., Handoff],
) -> None:
    csrf = sign_in("amy")
    hers = handoff_factory(status="active", agent="amy")
    bobs = handoff_factory(status="active", agent="bob")
    old_cookie = client.cookies[COOKIE]

    r = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    session.expire_all()
    assert (hers.status, hers.agent_username) == ("open", None)
    assert (bobs.status, bobs.agent_username) == ("active", "bob")
    # Staff see why it is back in the queue.
    token = client.post(
        "/api/v1/staff/login", json={"username": "root", "password": staff["root"]}
    ).json()["access_token"]
    detail = client.get(
        f"/api/v1/handoffs/{hers.id}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert detail["status"] == "open" and detail["agent"] is None
    assert any(s["kind"] == "released" and "logout" in (s["text"] or "") for s in detail["steps"])
    # The cookie is gone from the browser, and a copy of it opens nothing.
    assert COOKIE not in client.cookies
    client.cookies.set(COOKIE, old_cookie)
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/stats").status_code == 401


def test_logout_without_the_csrf_token_changes_nothing(
    client: TestClient,
    sign_in: Callable[[str], str],
    session: Session,
    handoff_factory: Callable[..., Handoff],
) -> None:
    sign_in("amy")
    hers = handoff_factory(status="active", agent="amy")
    r = client.post("/console/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    session.expire_all()
    assert hers.status == "active"
    assert client.get("/console").status_code == 200


def test_signing_in_again_starts_a_new_session_and_keeps_the_conversations(
    client: TestClient,
    sign_in: Callable[[str], str],
    session: Session,
    handoff_factory: Callable[..., Handoff],
) -> None:
    sign_in("amy")
    first = client.cookies[COOKIE]
    hers = handoff_factory(status="active", agent="amy")
    sign_in("amy")
    assert client.cookies[COOKIE] != first
    session.expire_all()
    assert hers.status == "active"
    client.cookies.set(COOKIE, first)
    assert client.get("/api/v1/stats").status_code == 401


def test_console_pages_carry_a_content_security_policy(
    client: TestClient, sign_in: Callable[[str], str]
) -> None:
    for response in (client.get("/console/login"), client.get("/console", follow_redirects=False)):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["Cache-Control"] == "no-store"
    sign_in("amy")
    page = client.get("/console")
    assert "Content-Security-Policy" in page.headers
    assert "<script>" not in page.text  # nothing inline for the policy to allow


def test_the_vendored_libraries_are_served_with_their_licences(client: TestClient) -> None:
    for name in ("htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js", "console.js"):
        path = f"/console/static/{'vendor/' if name.startswith('htmx') else ''}{name}"
        r = client.get(path)
        assert r.status_code == 200, path
        assert "javascript" in r.headers["content-type"]
    vendor = Path("backend/console/static/vendor")
    assert (vendor / "LICENSE.htmx.org").exists() and (vendor / "LICENSE.htmx-ext-sse").exists()


def test_the_agents_api_works_from_the_console_for_agents_only(
    client: TestClient,
    sign_in: Callable[[str], str],
    handoff_factory: Callable[..., Handoff],
) -> None:
    waiting = handoff_factory()
    assert client.get("/api/v1/handoffs").status_code == 401  # nobody
    csrf = sign_in("amy")
    listed = client.get("/api/v1/handoffs")
    assert listed.status_code == 200
    assert waiting.id in [item["id"] for item in listed.json()["items"]]
    assert client.post(f"/api/v1/handoffs/{waiting.id}/accept").status_code == 403  # no token
    accepted = client.post(f"/api/v1/handoffs/{waiting.id}/accept", headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["agent"] == "amy"
    client.cookies.clear()
    sign_in("ada")  # an adjuster
    assert client.get("/api/v1/handoffs").status_code == 403


def test_a_link_to_a_conversation_leads_there_after_signing_in_and_nowhere_else(
    client: TestClient, staff: dict[str, str], handoff_factory: Callable[..., Handoff]
) -> None:
    handoff = handoff_factory()
    r = client.get(f"/console/handoffs/{handoff.id}", follow_redirects=False)
    assert r.headers["location"] == f"/console/login?next=%2Fconsole%2Fhandoffs%2F{handoff.id}"
    form = client.get(r.headers["location"]).text
    assert f'name="next" value="/console/handoffs/{handoff.id}"' in form
    signed = client.post(
        "/console/login",
        data={
            "username": "amy",
            "password": staff["amy"],
            "next": f"/console/handoffs/{handoff.id}",
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == f"/console/handoffs/{handoff.id}"
    client.cookies.clear()
    elsewhere = client.post(
        "/console/login",
        data={"username": "amy", "password": staff["amy"], "next": "//evil.example/console"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/console"


def test_behind_a_proxy_our_public_origin_may_sign_in(
    client: TestClient, staff: dict[str, str], settings: Settings
) -> None:
    r = client.post(
        "/console/login",
        data={"username": "amy", "password": staff["amy"]},
        headers={"Origin": settings.public_base_url, "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert r.status_code == 303
