"""The agent console at /console: sign in, the live queue, one conversation.

Pages are rendered here with Jinja2; their live parts are fragments that htmx fetches
again when the agent API's event stream (`/api/v1/handoffs/events`) says something
changed. Every change an agent makes (accept, reply, note, transfer, hand back) is a
call to the agent API with the session cookie and the page's CSRF token, so the
console changes handoffs exactly as any other tool does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.console import labels, queries
from backend.conversations import handoffs
from backend.conversations.handoffs import Followup
from backend.core.db import in_transaction
from backend.core.deps import RowId, SessionDep, SettingsDep, StateDep
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.models import Handoff
from backend.staff import service as staff_service
from backend.staff import sessions
from backend.staff.router import hashing_gate

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
CANNED_REPLIES = HERE.parents[1] / "bot" / "canned_replies.yml"
CONSOLE_ROLES = ("agent", "admin")

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")

# Scripts and styles from this app only (no inline script, no eval): an injected
# message text can never run. The event stream and the API are same-origin.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # A claim's PDF documents are shown in a frame of the claim page.
        "frame-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
# A decrypted document may be framed by our own claim page only, and runs nothing.
DOCUMENT_POLICY = "default-src 'none'; img-src 'self'; frame-ancestors 'self'; base-uri 'none'"
DOCUMENT_HEADERS = (
    (b"content-security-policy", DOCUMENT_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
)


def _is_document(path: str) -> bool:
    """/console/claims/<claim number>/documents/<document id>"""
    parts = path.split("/")
    return len(parts) == 6 and parts[1:3] == ["console", "claims"] and parts[4] == "documents"


class ConsoleHeaders:
    """Every answer under /console carries the CSP and its companions, error pages and
    redirects included; pages and fragments are never cached (they hold customer data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/console" and not path.startswith("/console/"):
            await self.app(scope, receive, send)
            return
        static = path.startswith("/console/static/")
        security = DOCUMENT_HEADERS if _is_document(path) else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in security}
                ]
                headers.extend(security)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True)
class CannedReply:
    title: str
    text: str


@lru_cache(maxsize=1)
def canned_replies(path: Path = CANNED_REPLIES) -> tuple[CannedReply, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(
        # Lines of a YAML block are joined without spaces: the texts are Chinese.
        CannedReply(
            str(item["title"]), "".join(line.strip() for line in str(item["text"]).splitlines())
        )
        for item in data.get("replies", [])
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _signed_in(
    request: Request, session: SessionDep, settings: Settings, *, activity: bool = True
) -> sessions.SignedIn | None:
    return sessions.resume(
        session, settings, request.cookies.get(sessions.COOKIE), _now(), activity=activity
    )


def _render(
    request: Request,
    settings: Settings,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    zone = ZoneInfo(settings.timezone)
    return templates.TemplateResponse(
        request,
        name,
        {"labels": labels, "zone": zone, "now": _now(), **context},
        status_code=status_code,
    )


def _login_redirect(request: Request) -> RedirectResponse:
    """To sign in, and back to this page afterwards."""
    here = request.url.path
    target = (
        "/console/login" if here == "/console" else f"/console/login?{urlencode({'next': here})}"
    )
    return RedirectResponse(target, status_code=303)


def _fragment_refused(status_code: int = 401) -> Response:
    # htmx follows HX-Redirect whatever the status: an expired session lands on sign-in.
    return Response(status_code=status_code, headers={"HX-Redirect": "/console/login"})


def _forbidden(request: Request, settings: Settings, who: sessions.SignedIn) -> HTMLResponse:
    return _render(request, settings, "forbidden.html", {"me": who}, status_code=403)


def _safe_next(value: str | None) -> str:
    """Only a console path of this site (no open redirect to another host)."""
    if not value or not value.startswith("/console") or value.startswith("//"):
        return "/console"
    parts = urlsplit(value)
    return "/console" if parts.scheme or parts.netloc else value


def _cross_site(request: Request, settings: Settings) -> bool:
    """A sign-in posted from another site's page (login CSRF): the browser says so.
    Our own origin is the Host asked for, or PUBLIC_BASE_URL's (behind a proxy)."""
    if request.headers.get("sec-fetch-site") in {"cross-site", "same-site"}:
        return True
    origin = request.headers.get("origin")
    if origin and origin != "null":
        ours = {request.headers.get("host", ""), urlsplit(settings.public_base_url).netloc}
        return urlsplit(origin).netloc not in ours
    return False


# ---------------------------------------------------------------- sign in / out


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, session: SessionDep, settings: SettingsDep, next: str = "/console"
) -> Response:
    if _signed_in(request, session, settings) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _render(
        request, settings, "login.html", {"error": None, "username": "", "next": _safe_next(next)}
    )


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=60)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=300)] = "/console",
) -> Response:
    """The same checks and lock-outs as POST /api/v1/staff/login; on success a new
    session (a fresh id every time, so a planted cookie is never promoted)."""
    if _cross_site(request, settings):
        return _render(
            request,
            settings,
            "login.html",
            {"error": "请从本站登录页登录。", "username": ""},
            status_code=403,
        )
    if not username or not password:
        return _render(
            request,
            settings,
            "login.html",
            {"error": "请输入用户名和密码。", "username": username},
            status_code=422,
        )
    source = request.client.host if request.client else "unknown"
    gate = hashing_gate(request, settings.login_hash_concurrency)
    try:
        await asyncio.wait_for(gate.acquire(), timeout=settings.login_queue_seconds)
    except TimeoutError:
        return _render(
            request,
            settings,
            "login.html",
            {"error": "登录繁忙，请稍后再试。", "username": username},
            status_code=429,
        )

    def _check() -> tuple[str, str] | ApiError:
        try:
            user = staff_service.login(session, settings, username, password, source)
        except ApiError as refused:
            session.commit()  # the failed attempt counts towards the lock-out
            return refused
        sessions.end(session, request.cookies.get(sessions.COOKIE))
        sessions.end_all_expired(session, settings, _now())
        return sessions.start(session, settings, user, _now())

    try:
        outcome = await run_in_threadpool(_check)
    finally:
        gate.release()
    if isinstance(outcome, ApiError):
        message = outcome.message.split(" / ")[0]
        headers = {}
        retry = outcome.extra.get("retry_after_seconds")
        if isinstance(retry, int):
            headers["Retry-After"] = str(retry)
        page = _render(
            request,
            settings,
            "login.html",
            {"error": message, "username": username, "next": _safe_next(next)},
            status_code=outcome.status_code,
        )
        page.headers.update(headers)
        return page
    token, _csrf = outcome
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(sessions.COOKIE, token, **sessions.cookie_attributes(settings))  # type: ignore[arg-type]
    return response


@router.post("/logout")
async def logout(
    request: Request,
    state: StateDep,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """End the session and put the agent's active handoffs back in the queue (each
    released as by the idle limit: a step on the handoff, and the consoles are told)."""
    settings = state.settings
    token = request.cookies.get(sessions.COOKIE)

    def work(session: Session) -> tuple[sessions.SignedIn | None, bool, list[Followup]]:
        who = sessions.resume(session, settings, token, _now(), activity=True)
        if who is None:
            return None, True, []
        if not sessions.csrf_ok(who, csrf_token):
            return who, False, []
        sessions.end(session, token)
        mine = session.scalars(
            select(Handoff)
            .where(Handoff.agent_username == who.username, Handoff.status == "active")
            .with_for_update()
        ).all()
        return who, True, [handoffs.release_agent(session, h, "logout") for h in mine]

    who, allowed, released = await in_transaction(state.session_factory, work)
    if not allowed:
        return _render(request, settings, "forbidden.html", {"me": who, "csrf": True}, 403)
    for followup in released:
        await state.handoffs.follow_up(followup)
    response = RedirectResponse("/console/login", status_code=303)
    attributes = sessions.cookie_attributes(settings)
    response.delete_cookie(
        sessions.COOKIE,
        path="/",
        secure=bool(attributes["secure"]),
        httponly=True,
        samesite="strict",
    )
    return response


# ---------------------------------------------------------------- pages


@router.get("", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    who = _signed_in(request, session, settings)
    if who is None:
        return _login_redirect(request)
    if who.role == "adjuster":
        return RedirectResponse("/console/claims", status_code=303)  # their workbench
    if who.role not in CONSOLE_ROLES:
        return _forbidden(request, settings, who)
    now = _now()
    return _render(
        request,
        settings,
        "queue.html",
        {
            "me": who,
            "items": queries.queue(session, settings, now),
            "closed": queries.recently_closed(session, settings, now),
        },
    )


@router.get("/handoffs/{handoff_id}", response_class=HTMLResponse)
def handoff_page(
    handoff_id: RowId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    who = _signed_in(request, session, settings)
    if who is None:
        return _login_redirect(request)
    if who.role not in CONSOLE_ROLES:
        return _forbidden(request, settings, who)
    now = _now()
    view = queries.handoff(session, settings, handoff_id, now)
    if view is None:
        return _render(request, settings, "not_found.html", {"me": who}, status_code=404)
    return _render(
        request,
        settings,
        "handoff.html",
        {
            "me": who,
            "h": view.item,
            "lines": queries.transcript(session, view.item.conversation_id),
            "claims": queries.customer_claims(session, settings, view.item.conversation_id, now),
            "agents": [
                a for a in queries.agents(session) if a[0] not in {view.item.agent, who.username}
            ],
            "canned": canned_replies(),
            "notes": queries.notes(session, handoff_id),
        },
    )


# ---------------------------------------------------------------- live fragments
# Fetched again by htmx on every event of the stream (X-Console-Refresh: 1): a page
# left open refreshes itself, which does not count as the agent being active.


def _fragment_caller(
    request: Request, session: SessionDep, settings: Settings
) -> sessions.SignedIn | Response:
    who = _signed_in(
        request, session, settings, activity=request.headers.get("X-Console-Refresh") != "1"
    )
    if who is None:
        return _fragment_refused()
    if who.role not in CONSOLE_ROLES:
        return _fragment_refused(403)
    return who


@router.get("/fragments/queue", response_class=HTMLResponse)
def queue_fragment(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    who = _fragment_caller(request, session, settings)
    if isinstance(who, Response):
        return who
    now = _now()
    return _render(
        request,
        settings,
        "_queue.html",
        {
            "me": who,
            "items": queries.queue(session, settings, now),
            "closed": queries.recently_closed(session, settings, now),
        },
    )


@router.get("/fragments/handoffs/{handoff_id}", response_class=HTMLResponse)
def handoff_fragment(
    handoff_id: RowId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The parts of a conversation page that change: its state (and so the actions
    offered) and the transcript. The reply box is left alone while the agent types."""
    who = _fragment_caller(request, session, settings)
    if isinstance(who, Response):
        return who
    now = _now()
    view = queries.handoff(session, settings, handoff_id, now)
    if view is None:
        return Response(status_code=404)
    return _render(
        request,
        settings,
        "_live.html",
        {
            "me": who,
            "h": view.item,
            "lines": queries.transcript(session, view.item.conversation_id),
        },
    )


@router.get("/fragments/handoffs/{handoff_id}/notes", response_class=HTMLResponse)
def notes_fragment(
    handoff_id: RowId, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    who = _fragment_caller(request, session, settings)
    if isinstance(who, Response):
        return who
    return _render(
        request, settings, "_notes.html", {"me": who, "notes": queries.notes(session, handoff_id)}
    )
