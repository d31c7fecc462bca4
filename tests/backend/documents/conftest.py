"""Samples of each accepted type (just enough real header to be recognised), caller
headers, and an S3-compatible server (moto) on loopback for the S3 store."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.models import Document
from backend.staff.service import upsert_staff


def _png_1x1() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte + one red pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = _png_1x1()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\xff\xd9"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
# An iPhone photo starts with an `ftyp` box: size 24, major brand heic, compatible mif1 heic.
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00\x00\x00\x08free"
AMR = b"#!AMR\n" + b"\x3c" + bytes(31)

# Marks the body of a sample so a test can look for it in the stored blob.
SECRET_TEXT = "患者张伟 诊断证明 身份证 110101199001011234".encode()


ROOT = Path(__file__).resolve().parents[3]


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in the repository, as an operator runs the app's commands."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def operator_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an operator command against a fresh embedded set-up."""
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'claims.db'}",
        "VAR_DIR": str(tmp_path / "var"),
        "DOCUMENT_DIR": str(tmp_path / "documents"),
        "DOCUMENT_STORE": "local",
        **extra,
    }


def random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def bot_headers(settings: Settings, conversation_id: str) -> dict[str, str]:
    assert settings.bot_service_token is not None
    return {
        "Authorization": f"Bearer {settings.bot_service_token.get_secret_value()}",
        "X-Conversation-Id": conversation_id,
    }


def stored_files(settings: Settings) -> list[Path]:
    root = settings.document_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def document_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Document)) or 0


@pytest.fixture
def staff_headers(client: TestClient, session: Session) -> dict[str, str]:
    upsert_staff(session, "adjuster.docs", "a long enough password", "adjuster", "审核员")
    session.commit()
    response = client.post(
        "/api/v1/staff/login",
        json={"username": "adjuster.docs", "password": "a long enough password"},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str, tmp_path: Path) -> Settings:
    """Settings for the S3 store against moto, with a fresh bucket (no database needed)."""
    bucket = f"docs-{uuid.uuid4().hex}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return Settings(
        var_dir=tmp_path / "var",
        document_store="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key_id=SecretStr("testing"),
        s3_secret_access_key=SecretStr("testing"),
        s3_region="us-east-1",
    )
