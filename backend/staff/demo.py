"""Demo staff logins for `make run` in development: an agent, an adjuster and an
admin, so the console can be tried at once. Never in production.

Their passwords are generated once and kept in var/demo-logins.json (readable by the
owner only), so a restart keeps them (and a browser that saved them); the accounts are
written again at each start, so a changed password in the database is put back.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from backend.staff.service import upsert_staff

DEMO_LOGINS = (
    ("demo-agent", "agent", "演示客服"),
    ("demo-adjuster", "adjuster", "演示理赔员"),
    ("demo-admin", "admin", "演示管理员"),
)


def demo_passwords(var_dir: Path) -> dict[str, str]:
    path = var_dir / "demo-logins.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name, _, _ in DEMO_LOGINS if len(stored.get(name, "")) < 10]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(12)
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return stored


def ensure_demo_logins(session: Session, var_dir: Path) -> list[tuple[str, str, str]]:
    """(username, role, password) of each demo login, created or reset."""
    passwords = demo_passwords(var_dir)
    logins = []
    for username, role, display_name in DEMO_LOGINS:
        upsert_staff(session, username, passwords[username], role, display_name)
        logins.append((username, role, passwords[username]))
    return logins
