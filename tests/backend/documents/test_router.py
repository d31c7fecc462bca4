from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.documents.deps import read_request_body
from backend.domain.types import ClaimStatus, ClaimType
from backend.models import ChannelIdentity, Claim, Document, Policy
from tests.backend.documents.conftest import (
    HEIC,
    JPEG,
    PDF,
    PNG,
    SECRET_TEXT,
    bot_headers,
    document_count,
    stored_files,
)

MEDICAL_PDF = PDF + b"% " + SECRET_TEXT + b"\n"


def upload(
    client: TestClient, headers: dict[str, str], data: bytes, **extra: str
) -> dict[str, Any]:
    response = client.post("/api/v1/documents", content=data, headers={**headers, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_bot_uploads_before_verifying_and_gets_the_original_back(
    client: TestClient, settings: Settings, session: Session
) -> None:
    headers = bot_headers(settings, "web:new-visitor")
    body = upload(client, headers, MEDICAL_PDF, **{"Content-Type": "image/jpeg"})
    assert body["media_type"] == "application/pdf"  # the bytes decide, not the header
    assert body["size"] == len(MEDICAL_PDF)
    assert body["sha256"] == hashlib.sha256(MEDICAL_PDF).hexdigest()
    assert body["document_id"].startswith("d_")

    [blob_file] = stored_files(settings)
    at_rest = blob_file.read_bytes()
    assert at_rest != MEDICAL_PDF and SECRET_TEXT not in at_rest and b"%PDF" not in at_rest

    response = client.get(f"/api/v1/documents/{body['document_id']}/content", headers=headers)
    assert response.status_code == 200
    assert response.content == MEDICAL_PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == (
        f'inline; filename="{body["document_id"]}.pdf"'
    )
    row = session.get(Document, body["document_id"])
    assert row is not None and row.uploaded_by == "web:new-visitor" and row.claim_id is None


@pytest.mark.parametrize(
    ("data", "media_type"), [(JPEG, "image/jpeg"), (PNG, "image/png"), (HEIC, "image/heic")]
)
def test_photo_types(client: TestClient, settings: Settings, data: bytes, media_type: str) -> None:
    headers = bot_headers(settings, "wechat:oPhoto")
    body = upload(client, headers, data)
    assert body["media_type"] == media_type
    response = client.get(f"/api/v1/documents/{body['document_id']}/content", headers=headers)
    assert (response.content, response.headers["content-type"]) == (data, media_type)


def test_forged_jpg_is_refused_and_nothing_is_stored(
    client: TestClient, settings: Settings, session: Session
) -> None:
    response = client.post(
        "/api/v1/documents",
        content=b"I am a text file wearing a .jpg name",
        headers={
            **bot_headers(settings, "web:abc"),
            "Content-Type": "image/jpeg",
            "X-Filename": "invoice.jpg",
        },
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unsupported_type"
    assert document_count(session) == 0 and stored_files(settings) == []


def _chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = PNG if sent == 0 else bytes(min(size, total - sent))
        sent += len(piece)
        yield piece


def test_oversize_is_413_and_nothing_is_stored(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.max_document_bytes = 4096
    headers = bot_headers(settings, "web:abc")
    declared = client.post("/api/v1/documents", content=PNG + bytes(4097), headers=headers)
    streamed = client.post("/api/v1/documents", content=_chunks(50_000), headers=headers)
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "too_large"
        assert response.json()["error"]["max_bytes"] == 4096
    assert document_count(session) == 0 and stored_files(settings) == []

    upload(client, headers, PNG + bytes(4096 - len(PNG)))  # exactly at the limit
    assert document_count(session) == 1


def test_body_reading_stops_at_the_limit(settings: Settings) -> None:
    """An endless upload is cut off just past the limit, not buffered."""
    settings.max_document_bytes = 10_000
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": bytes(1024), "more_body": True}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    with pytest.raises(ApiError) as excinfo:
        asyncio.run(read_request_body(request, settings))
    assert excinfo.value.code == "too_large"
    assert pulled == 10  # 10 KiB > 10,000 bytes


def test_an_oversize_form_is_refused_before_it_is_read_even_without_credentials(
    client: TestClient, settings: Settings
) -> None:
    """Forms are parsed before authentication runs: the body cap must come first."""
    settings.max_document_bytes = 4096
    big = PNG + bytes(200_000)
    response = client.post(
        "/api/v1/claims/CL202611250001/documents",
        files={"file": ("big.png", big, "image/png")},
        data={"item_code": "invoice"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"
    small = client.post(
        "/api/v1/claims/CL202611250001/documents",
        files={"file": ("small.png", PNG, "image/png")},
        data={"item_code": "invoice"},
    )
    assert small.status_code == 401  # within the cap: on to authentication as usual


def test_an_endless_form_without_length_is_cut_off_at_the_cap(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.max_document_bytes = 4096
    cap = settings.max_document_bytes + 64 * 1024
    pulled = 0
    sent: list[dict[str, Any]] = []
    boundary = b"xYzZy"
    head = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.png"'
        b"\r\nContent-Type: image/png\r\n\r\n" + PNG
    )

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = head if pulled == 0 else bytes(8192)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/claims/CL202611250001/documents",
        "raw_path": b"/api/v1/claims/CL202611250001/documents",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=" + boundary),
            (b"authorization", bot_headers(settings, "web:abc")["Authorization"].encode()),
            (b"x-conversation-id", b"web:abc"),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    assert cap < pulled <= cap + 8192  # stopped reading one chunk past the cap
    [start, *_] = sent
    assert start["type"] == "http.response.start" and start["status"] == 413
    assert document_count(session) == 0 and stored_files(settings) == []


@pytest.mark.parametrize(
    "name", ["../../../../etc/passwd", "%2e%2e%2f%2e%2e%2fevil.png", "..\\..\\evil.png"]
)
def test_sender_names_never_become_paths(
    client: TestClient, settings: Settings, session: Session, name: str
) -> None:
    body = upload(client, bot_headers(settings, "web:abc"), PNG, **{"X-Filename": name})
    row = session.get(Document, body["document_id"])
    assert row is not None
    [blob_file] = stored_files(settings)
    assert blob_file == settings.document_dir.resolve() / row.storage_key
    assert row.original_name in ("passwd", "evil.png")
    root = settings.document_dir.parent
    assert not [p for p in root.rglob("*") if p.name in ("passwd", "evil.png")]


def test_without_credentials_401(client: TestClient, settings: Settings, session: Session) -> None:
    document_id = upload(client, bot_headers(settings, "web:abc"), PNG)["document_id"]
    no_token = client.post("/api/v1/documents", content=PNG)
    wrong_token = client.post(
        "/api/v1/documents",
        content=PNG,
        headers={"Authorization": "Bearer nope", "X-Conversation-Id": "web:abc"},
    )
    bot_without_conversation = client.post(
        "/api/v1/documents",
        content=PNG,
        headers={"Authorization": bot_headers(settings, "web:x")["Authorization"]},
    )
    read = client.get(f"/api/v1/documents/{document_id}/content")
    for response in (no_token, wrong_token, bot_without_conversation, read):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert document_count(session) == 1 and len(stored_files(settings)) == 1


def test_another_conversations_document_is_404_like_a_missing_one(
    client: TestClient, settings: Settings
) -> None:
    document_id = upload(client, bot_headers(settings, "web:owner"), MEDICAL_PDF)["document_id"]
    other = bot_headers(settings, "web:someone-else")
    theirs = client.get(f"/api/v1/documents/{document_id}/content", headers=other)
    missing = client.get(f"/api/v1/documents/d_{'0' * 32}/content", headers=other)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert SECRET_TEXT not in theirs.content


def _claim_for(session: Session, policy_number: str) -> Claim:
    policy = session.scalars(select(Policy).where(Policy.policy_number == policy_number)).one()
    claim = Claim(
        claim_number="CL202611250001",
        policy_id=policy.id,
        claim_type=ClaimType.MEDICAL,
        status=ClaimStatus.DOCUMENTS_PENDING,
        incident_date=date(2026, 11, 20),
        location="北京",
        description="门诊",
        reported_by="web:zhang",
        reported_on=date(2026, 11, 25),
    )
    session.add(claim)
    session.flush()
    return claim


def _bind(session: Session, conversation_id: str, policy_number: str) -> None:
    policy = session.scalars(select(Policy).where(Policy.policy_number == policy_number)).one()
    session.add(
        ChannelIdentity(
            conversation_id=conversation_id,
            channel=conversation_id.split(":")[0],
            policyholder_id=policy.policyholder_id,
        )
    )
    session.flush()


def test_bound_policyholder_reads_their_claims_documents_from_any_conversation(
    client: TestClient,
    settings: Settings,
    demo: Session,
    staff_headers: dict[str, str],
) -> None:
    body = upload(client, staff_headers, JPEG)  # e.g. a scan an agent added
    claim = _claim_for(demo, "P2025000001")  # 张伟
    row = demo.get(Document, body["document_id"])
    assert row is not None and row.uploaded_by == "adjuster.docs"
    row.claim_id, row.checklist_code = claim.id, "invoice"
    _bind(demo, "wechat:oZhang", "P2025000001")
    _bind(demo, "wechat:oLi", "P2025000002")  # 李娜
    demo.commit()

    url = f"/api/v1/documents/{body['document_id']}/content"
    zhang = client.get(url, headers=bot_headers(settings, "wechat:oZhang"))
    assert (zhang.status_code, zhang.content) == (200, JPEG)
    for stranger in ("wechat:oLi", "web:unverified"):
        response = client.get(url, headers=bot_headers(settings, stranger))
        assert response.status_code == 404, stranger


def test_staff_read_any_document(
    client: TestClient, settings: Settings, staff_headers: dict[str, str]
) -> None:
    document_id = upload(client, bot_headers(settings, "sms:+8613800000001"), PNG)["document_id"]
    response = client.get(f"/api/v1/documents/{document_id}/content", headers=staff_headers)
    assert (response.status_code, response.content) == (200, PNG)


def test_tampered_blob_is_a_clear_error_over_http(client: TestClient, settings: Settings) -> None:
    headers = bot_headers(settings, "web:abc")
    document_id = upload(client, headers, MEDICAL_PDF)["document_id"]
    [blob_file] = stored_files(settings)
    blob = bytearray(blob_file.read_bytes())
    blob[-5] ^= 0x01
    blob_file.write_bytes(bytes(blob))
    response = client.get(f"/api/v1/documents/{document_id}/content", headers=headers)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "document_corrupt"
    assert b"%PDF" not in response.content


def test_store_down_is_503_and_no_row(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.document_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.document_dir.write_text("a file where the directory should be")
    response = client.post("/api/v1/documents", content=PNG, headers=bot_headers(settings, "web:a"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "document_store_unavailable"
    assert document_count(session) == 0
    assert client.get("/health").json()["checks"]["document_store"]["status"] == "down"


def test_health_reports_the_document_store(client: TestClient) -> None:
    assert client.get("/health").json()["checks"]["document_store"] == {
        "status": "ok",
        "kind": "local",
    }
