"""Who may act, and how often (issue 11): identity guesses spread over conversations,
bindings that expire, staff login brute force, tokens without expiry, and the audit of
document views. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.models import ChannelIdentity, LoginAttempt
from backend.staff.service import upsert_staff
from tests.backend.claims.conftest import PNG, bot_headers, report, upload


def _verify(client: TestClient, headers: dict[str, str], **body: str) -> Any:
    return client.post("/api/v1/identities/verify", headers=headers, json=body)


def _bound(session: Session, conversation_id: str) -> bool:
    session.expire_all()
    return (
        session.scalar(
            select(func.count())
            .select_from(ChannelIdentity)
            .where(ChannelIdentity.conversation_id == conversation_id)
        )
        or 0
    ) > 0


# -- 4. guesses spread over many conversations ---------------------------------------------


def test_guesses_over_many_conversations_lock_the_policy_and_staff_are_told(
    client: TestClient, demo: Session, settings: Settings, adjuster: dict[str, str]
) -> None:
    statuses = []
    for i in range(settings.verify_policy_max_failures):
        # A new conversation every two guesses: each stays under its own limit of five.
        h = bot_headers(settings, f"web:attacker{i // 2:04d}xx")
        statuses.append(
            _verify(client, h, policy_number="P2025000001", id_last4=f"{i:04d}").status_code
        )
    assert statuses[:-1] == [422] * (settings.verify_policy_max_failures - 1)
    assert statuses[-1] == 423

    # The right digits from a fresh conversation are refused too, and nothing is bound.
    fresh = f"web:{uuid.uuid4().hex[:12]}"
    r = _verify(client, bot_headers(settings, fresh), policy_number="P2025000001", id_last4="1234")
    assert r.status_code == 423
    assert r.json()["error"]["code"] == "locked"
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    assert not _bound(demo, fresh)
    assert (
        client.get("/api/v1/me", headers=bot_headers(settings, fresh)).json()["verified"] is False
    )

    # Other policies are not affected.
    other = bot_headers(settings, f"web:{uuid.uuid4().hex[:12]}")
    assert _verify(client, other, policy_number="P2025000002", id_last4="5678").status_code == 200

    # Staff see the lock-out.
    events = client.get(
        "/api/v1/audit-events", params={"action": "verification_locked"}, headers=adjuster
    ).json()["items"]
    assert [e["subject"] for e in events] == ["P2025000001"]
    # Customers (the bot) cannot read the audit trail.
    assert client.get("/api/v1/audit-events", headers=other).status_code == 403


# -- 5. bindings expire ----------------------------------------------------------------------


def _age_binding(session: Session, conversation_id: str, days: float) -> None:
    session.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.conversation_id == conversation_id)
        .values(verified_at=datetime.now(UTC) - timedelta(days=days))
    )
    session.commit()


def test_an_expired_web_binding_shows_no_claim_data_until_verified_again(
    client: TestClient, demo: Session, settings: Settings
) -> None:
    conversation = f"web:{uuid.uuid4().hex[:12]}"
    h = bot_headers(settings, conversation)
    assert _verify(client, h, policy_number="P2025000001", id_last4="1234").status_code == 200
    claim = report(client, h).json()
    _age_binding(demo, conversation, days=settings.binding_days_web + 0.1)

    assert client.get("/api/v1/claims", headers=h).status_code == 403
    r = client.get(f"/api/v1/claims/{claim['claim_number']}", headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_verified"
    assert client.get("/api/v1/me", headers=h).json() == {
        "verified": False,
        "policyholder": None,
        "policies": [],
    }

    assert _verify(client, h, policy_number="P2025000001", id_last4="1234").status_code == 200
    assert client.get(f"/api/v1/claims/{claim['claim_number']}", headers=h).status_code == 200


def test_a_wechat_binding_lasts_longer_than_a_web_one(
    client: TestClient, demo: Session, settings: Settings
) -> None:
    conversation = f"wechat:o{uuid.uuid4().hex[:12]}"
    h = bot_headers(settings, conversation)
    assert _verify(client, h, policy_number="P2025000002", id_last4="5678").status_code == 200
    _age_binding(demo, conversation, days=30)
    assert client.get("/api/v1/me", headers=h).json()["verified"] is True
    _age_binding(demo, conversation, days=settings.binding_days_wechat + 1)
    assert client.get("/api/v1/me", headers=h).json()["verified"] is False


# -- 7. staff login brute force ---------------------------------------------------------------


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/v1/staff/login", json={"username": username, "password": password})


def _attempts(session: Session, username: str) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.username == username)
        )
        or 0
    )


def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(
    client: TestClient, demo: Session, settings: Settings
) -> None:
    upsert_staff(demo, "adj.brute", "the right password", "adjuster", "审核员")
    demo.commit()
    for _ in range(settings.login_max_failures_per_account):
        assert _login(client, "adj.brute", "guess-password").status_code == 401
    right = _login(client, "adj.brute", "the right password")
    assert right.status_code == 423
    assert "access_token" not in right.json()
    assert 0 < int(right.headers["Retry-After"]) <= settings.login_window_minutes * 60
    # Refused before hashing: the attempt in the lock is not even counted again.
    assert _attempts(demo, "adj.brute") == settings.login_max_failures_per_account


def test_one_source_guessing_many_accounts_is_slowed_down(
    client: TestClient, demo: Session, settings: Settings
) -> None:
    upsert_staff(demo, "agent.real", "another right password", "agent", "客服")
    demo.commit()
    for i in range(settings.login_max_failures_per_source):
        assert _login(client, f"nobody{i}", "guess-password").status_code == 401
    r = _login(client, "agent.real", "another right password")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "access_token" not in r.json()


# -- 11. tokens, headers, development secrets ---------------------------------------------------


@pytest.mark.parametrize("missing", ["exp", "iat"])
def test_a_staff_token_without_exp_or_iat_is_refused(
    client: TestClient, adjuster: dict[str, str], settings: Settings, missing: str
) -> None:
    assert settings.jwt_secret is not None
    claims = {"sub": "adj1", "role": "adjuster", "iat": 1_700_000_000, "exp": 4_102_444_800}
    del claims[missing]
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), "HS256")
    r = client.get("/api/v1/claims", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_a_405_names_the_allowed_methods(client: TestClient) -> None:
    r = client.delete("/api/v1/staff/login")
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_production_refuses_the_old_fixed_bot_token(tmp_path: Path) -> None:
    secrets = {
        "jwt_secret": SecretStr("j" * 40),
        "payment_callback_secret": SecretStr("p" * 40),
        "document_keys": SecretStr("k1:" + "A" * 44),
        "rasa_token": SecretStr("r" * 30),
    }
    with pytest.raises(ValidationError, match="BOT_SERVICE_TOKEN"):
        Settings(
            app_env="production",
            var_dir=tmp_path,
            bot_service_token=SecretStr("dev-bot-token"),
            **secrets,  # type: ignore[arg-type]
        )


def test_development_replaces_the_old_fixed_bot_token(tmp_path: Path) -> None:
    (tmp_path / "dev-secrets.json").write_text(json.dumps({"bot_service_token": "dev-bot-token"}))
    settings = Settings(var_dir=tmp_path)
    assert settings.bot_service_token is not None
    token = settings.bot_service_token.get_secret_value()
    assert token != "dev-bot-token" and len(token) >= 32
    assert json.loads((tmp_path / "dev-secrets.json").read_text())["bot_service_token"] == token


# -- also: every staff view of a document is on record -----------------------------------------


def test_staff_views_of_a_document_are_audited(
    client: TestClient, zhang: dict[str, str], adjuster: dict[str, str]
) -> None:
    document_id = upload(client, zhang, PNG + uuid.uuid4().bytes)
    assert client.get(f"/api/v1/documents/{document_id}/content", headers=zhang).status_code == 200
    for _ in range(2):
        r = client.get(f"/api/v1/documents/{document_id}/content", headers=adjuster)
        assert r.status_code == 200
    events = client.get(
        "/api/v1/audit-events", params={"subject": document_id}, headers=adjuster
    ).json()["items"]
    assert [(e["actor_id"], e["action"]) for e in events] == [("adj1", "document_viewed")] * 2
    assert all(e["created_at"] for e in events)
