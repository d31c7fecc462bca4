from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.models import Conversation, Handoff, TranscriptMessage
from backend.staff.service import upsert_staff

PASSWORDS = {"agent": "agent-password-1", "adjuster": "adjuster-password-1"}


@pytest.fixture
def staff(session: Session) -> dict[str, str]:
    """username -> password of an agent, a second agent, an adjuster and an admin."""
    logins = {
        "amy": ("agent", "amy-password-1", "Amy 客服"),
        "bob": ("agent", "bob-password-1", "Bob 客服"),
        "ada": ("adjuster", "ada-password-1", "Ada 理赔"),
        "root": ("admin", "root-password-1", "管理员"),
    }
    for username, (role, password, name) in logins.items():
        upsert_staff(session, username, password, role, name)
    session.flush()
    return {username: password for username, (_, password, _) in logins.items()}


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@pytest.fixture
def sign_in(client: TestClient, staff: dict[str, str]) -> Callable[[str], str]:
    """Sign in through the login form as a person does; returns the page's CSRF token."""

    def _sign_in(username: str) -> str:
        r = client.post(
            "/console/login",
            data={"username": username, "password": staff[username]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        page = client.get("/console")
        assert page.status_code in (200, 403), page.text
        return csrf_of(page.text)

    return _sign_in


@pytest.fixture
def handoff_factory(session: Session) -> Callable[..., Handoff]:
    counter = iter(range(1, 1000))

    def _make(
        *,
        status: str = "open",
        agent: str | None = None,
        text: str = "人呢？",
        channel: str = "web",
    ) -> Handoff:
        n = next(counter)
        conversation = Conversation(id=f"{channel}:console{n:04d}abcdef", channel=channel)
        conversation.mode = "handoff"
        session.add(conversation)
        session.flush()
        session.add(
            TranscriptMessage(
                conversation_id=conversation.id,
                direction="inbound",
                sender="customer",
                channel=channel,
                text=text,
            )
        )
        handoff = Handoff(
            conversation_id=conversation.id,
            reason="request_human",
            status=status,
            agent_username=agent,
        )
        session.add(handoff)
        session.flush()
        return handoff

    return _make
