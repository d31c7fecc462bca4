from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.staff.service import upsert_staff


def local_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def days_ago(n: int) -> date:
    return local_today() - timedelta(days=n)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def payment_headers(settings: Settings, body: bytes, *, at: float | None = None) -> dict[str, str]:
    """Signed as the payment system signs: HMAC-SHA256 of `<timestamp>.<body>`."""
    assert settings.payment_callback_secret is not None
    timestamp = str(int(time.time() if at is None else at))
    signature = hmac.new(
        settings.payment_callback_secret.get_secret_value().encode(),
        timestamp.encode() + b"." + body,
        hashlib.sha256,
    ).hexdigest()
    return {"X-Payment-Timestamp": timestamp, "X-Payment-Signature": signature}


def bot_headers(settings: Settings, conversation_id: str) -> dict[str, str]:
    assert settings.bot_service_token is not None
    return {
        "Authorization": f"Bearer {settings.bot_service_token.get_secret_value()}",
        "X-Conversation-Id": conversation_id,
    }


@pytest.fixture
def bot(client: TestClient, settings: Settings) -> Callable[[str], dict[str, str]]:
    return lambda conversation_id: bot_headers(settings, conversation_id)


@pytest.fixture
def zhang(client: TestClient, demo: Session, settings: Settings) -> dict[str, str]:
    """A web conversation verified as 张伟 (P2025000001, medical)."""
    headers = bot_headers(settings, f"web:{uuid.uuid4().hex[:12]}")
    r = client.post(
        "/api/v1/identities/verify",
        headers=headers,
        json={"policy_number": "P2025000001", "id_last4": "1234"},
    )
    assert r.status_code == 200, r.text
    return headers


@pytest.fixture
def li(client: TestClient, demo: Session, settings: Settings) -> dict[str, str]:
    headers = bot_headers(settings, f"wechat:o{uuid.uuid4().hex[:12]}")
    r = client.post(
        "/api/v1/identities/verify",
        headers=headers,
        json={"policy_number": "P2025000002", "id_last4": "5678"},
    )
    assert r.status_code == 200, r.text
    return headers


@pytest.fixture
def adjuster(client: TestClient, demo: Session) -> dict[str, str]:
    upsert_staff(demo, "adj1", "correct horse battery", "adjuster", "审核员一")
    demo.commit()
    r = client.post(
        "/api/v1/staff/login", json={"username": "adj1", "password": "correct horse battery"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def agent(client: TestClient, demo: Session) -> dict[str, str]:
    upsert_staff(demo, "agent1", "another long pass", "agent", "客服一")
    demo.commit()
    r = client.post(
        "/api/v1/staff/login", json={"username": "agent1", "password": "another long pass"}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def report(client: TestClient, headers: dict[str, str], **overrides: Any) -> Any:
    body = {
        "claim_type": "medical",
        "incident_date": days_ago(1).isoformat(),
        "location": "北京协和医院",
        "description": "急诊发烧",
        "claimed_amount": "2800.00",
    }
    body.update(overrides)
    key = overrides.pop("key", None) or str(uuid.uuid4())
    body.pop("key", None)
    return client.post("/api/v1/claims", json=body, headers={**headers, "Idempotency-Key": key})


def upload(client: TestClient, headers: dict[str, str], data: bytes) -> str:
    r = client.post("/api/v1/documents", content=data, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["document_id"])


def attach_all(
    client: TestClient, headers: dict[str, str], claim: dict[str, Any]
) -> dict[str, Any]:
    out = claim
    for i, item in enumerate(claim["missing"]):
        doc = upload(client, headers, PNG + item["code"].encode() + bytes([i]) + uuid.uuid4().bytes)
        r = client.post(
            f"/api/v1/claims/{claim['claim_number']}/documents/{doc}/attach",
            json={"item_code": item["code"]},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        out = r.json()
    return out
