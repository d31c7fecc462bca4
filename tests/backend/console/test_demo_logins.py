"""`make run` prints demo logins in development (scripts/run-all.sh calls
`backend.cli demo-logins`); production never gets them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from backend.core import migrate
from backend.core.db import make_engine, make_session_factory
from backend.models import StaffUser
from backend.staff.service import authenticate_staff

ROOT = Path(__file__).resolve().parents[3]


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"APP_ENV", "DATABASE_URL"}}
    clean.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'claims.db'}", VAR_DIR=str(tmp_path / "var"), **env
    )
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def test_development_prints_an_agent_an_adjuster_and_an_admin_who_can_sign_in(
    tmp_path: Path,
) -> None:
    migrate.upgrade(f"sqlite:///{tmp_path / 'claims.db'}")
    out = cli(tmp_path, "demo-logins").stdout
    logins = re.findall(r"(agent|adjuster|admin)\s+(\S+)\s+password: (\S+)", out)
    assert {role for role, _, _ in logins} == {"agent", "adjuster", "admin"}
    assert "/console" in out
    # The same passwords at the next start (a browser that saved them still works).
    assert cli(tmp_path, "demo-logins").stdout == out
    factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'claims.db'}"))
    with factory() as session:
        for role, username, password in logins:
            user = authenticate_staff(session, username, password)
            assert user is not None and user.role == role


def test_production_never_gets_demo_logins(tmp_path: Path) -> None:
    migrate.upgrade(f"sqlite:///{tmp_path / 'claims.db'}")
    secrets = {
        "BOT_SERVICE_TOKEN": "x" * 32,
        "JWT_SECRET": "y" * 32,
        "PAYMENT_CALLBACK_SECRET": "z" * 32,
        "DOCUMENT_KEYS": "k1:" + "A" * 43 + "=",
        "RASA_TOKEN": "r" * 24,
    }
    out = cli(tmp_path, "demo-logins", APP_ENV="production", **secrets).stdout
    assert "never" in out and "password" not in out
    factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'claims.db'}"))
    with factory() as session:
        assert session.scalars(select(StaffUser)).all() == []
    assert not (tmp_path / "var" / "demo-logins.json").exists()
