"""An operator re-sends failed notices after fixing their cause (a template id, say)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.demo import load_demo_data
from backend.models import OutboxMessage, Policyholder
from tests.backend.documents.conftest import operator_env, run_python


def test_resend_failed_notices_puts_them_back_in_the_queue(tmp_path: Path) -> None:
    env = operator_env(tmp_path)
    url = env["DATABASE_URL"]
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        load_demo_data(session, datetime.now(UTC).date())
        holder = session.scalars(select(Policyholder)).first()
        assert holder is not None
        for status in ("failed", "failed", "delivered"):
            session.add(
                OutboxMessage(
                    policyholder_id=holder.id,
                    kind="approved",
                    payload={},
                    status=status,
                    attempts=8,
                    last_error="wechat_template:40037",
                )
            )
    done = run_python(env, "-m", "backend.cli", "resend-failed-notices")
    assert done.returncode == 0, done.stderr
    assert "2 failed notice(s) queued again" in done.stdout
    with transaction(factory) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(r.status, r.attempts) for r in rows] == [
            ("pending", 0),
            ("pending", 0),
            ("delivered", 8),
        ]
    engine.dispose()
