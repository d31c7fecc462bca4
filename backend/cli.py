"""Operator commands: `python -m backend.cli COMMAND` (migrate, demo-data, demo-logins,
create-staff, sweep-blobs, reencrypt-documents, rasa-token, bot-token, rasa-stores); `--help`
lists them."""

from __future__ import annotations

import argparse
import getpass
import shlex
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from backend.composition import open_database, wake_workers
from backend.core import migrate
from backend.core.db import make_engine, transaction
from backend.core.settings import Settings, get_settings
from backend.demo import load_demo_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backend.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("demo-data", help="load demo policies into an empty database")
    staff = sub.add_parser("create-staff", help="create or update a staff login")
    staff.add_argument("username")
    staff.add_argument("--role", choices=["adjuster", "agent", "admin"], required=True)
    staff.add_argument("--name", default=None)
    staff.add_argument("--password-stdin", action="store_true")
    sub.add_parser(
        "demo-logins",
        help="development only: create the demo agent, adjuster and admin and print their "
        "passwords (make run does this)",
    )
    sweep = sub.add_parser(
        "sweep-blobs", help="delete stored blobs no document points to (crash leftovers)"
    )
    sweep.add_argument(
        "--older-than-hours",
        type=float,
        default=24.0,
        help="only blobs written at least this long ago (default 24; uploads in flight "
        "are younger)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    sub.add_parser(
        "reencrypt-documents",
        help="re-encrypt documents still under an older DOCUMENT_KEYS key with the first one",
    )
    resend = sub.add_parser(
        "resend-failed-notices",
        help="put failed notices back in the queue (after fixing, say, a template id)",
    )
    resend.add_argument("--claim", default=None, help="only this claim number")
    resend.add_argument(
        "--since-hours", type=float, default=72.0, help="only notices written this recently"
    )
    sub.add_parser(
        "rasa-token", help="print the token Rasa's HTTP API must be started with (--auth-token)"
    )
    sub.add_parser(
        "bot-token",
        help="print the action server's bearer token (BACKEND_BOT_TOKEN in the bot env)",
    )
    sub.add_parser(
        "rasa-stores",
        help="print shell exports for bot/endpoints-scaled.yml (Rasa's stores in REDIS_URL)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()

    if args.command == "migrate":
        _wait_for_database(settings.database_url)
        migrate.upgrade(settings.database_url)
        print("database schema is up to date")
        return 0

    if args.command == "rasa-token":
        assert settings.rasa_token is not None  # set, or generated in development
        print(settings.rasa_token.get_secret_value())
        return 0

    if args.command == "bot-token":
        assert settings.bot_service_token is not None  # set, or generated in development
        print(settings.bot_service_token.get_secret_value())
        return 0

    if args.command == "rasa-stores":
        from backend.conversations.rasa import rasa_store_env

        try:
            exports = rasa_store_env(settings)
        except ValueError as exc:
            print(f"rasa-stores: {exc}", file=sys.stderr)
            return 2
        for name, value in exports.items():
            print(f"export {name}={shlex.quote(value)}")
        return 0

    if args.command == "demo-logins" and settings.app_env == "production":
        print("demo logins are never created in production (APP_ENV=production)")
        return 0

    _engine, factory = open_database(settings)
    if args.command == "demo-data":
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        with transaction(factory) as session:
            loaded = load_demo_data(session, today)
        print("demo data loaded" if loaded else "database already has data; demo data not loaded")
        return 0
    if args.command == "create-staff":
        from backend.staff.service import upsert_staff

        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
        with transaction(factory) as session:
            upsert_staff(session, args.username, password, args.role, args.name or args.username)
        print(f"staff user {args.username} ({args.role}) saved")
        return 0
    if args.command == "demo-logins":
        from backend.staff.demo import ensure_demo_logins

        with transaction(factory) as session:
            logins = ensure_demo_logins(session, settings.var_dir)
        base = settings.public_base_url.rstrip("/")
        print(f"==> demo logins for the console ({base}/console), development only:")
        for username, role, password in logins:
            print(f"    {role:<9} {username:<14} password: {password}")
        return 0
    if args.command == "reencrypt-documents":
        return _reencrypt(settings, factory)
    if args.command == "resend-failed-notices":
        from backend.notifications.service import requeue_failed

        with transaction(factory) as session:
            count = requeue_failed(session, claim_number=args.claim, since_hours=args.since_hours)
        wake_workers(settings)
        print(f"{count} failed notice(s) queued again; the worker delivers them now")
        return 0
    if args.command == "sweep-blobs":
        return _sweep_blobs(settings, factory, args.older_than_hours, args.dry_run)
    return 2


def _sweep_blobs(
    settings: Settings, factory: sessionmaker[Session], hours: float, dry_run: bool
) -> int:
    from backend.documents.storage import make_document_store
    from backend.documents.sweep import SweepReport, sweep_orphan_blobs

    if hours < 0:
        print("--older-than-hours must not be negative", file=sys.stderr)
        return 2
    store = make_document_store(settings)
    verb = "would delete" if dry_run else "deleted"

    def progress(report: SweepReport) -> None:
        print(f"  checked {report.checked} blobs, {report.orphans} orphans", flush=True)

    print(f"sweeping {store.kind} document store: blobs older than {hours:g} h with no document")
    with factory() as session:
        report = sweep_orphan_blobs(
            session, store, grace=timedelta(hours=hours), dry_run=dry_run, progress=progress
        )
    print(f"checked {report.checked} blobs; {verb} {report.orphans} orphaned")
    return 0


def _reencrypt(settings: Settings, factory: sessionmaker[Session]) -> int:
    from backend.documents.crypto import KeyRing
    from backend.documents.rotation import RotationReport, reencrypt_documents
    from backend.documents.storage import make_document_store

    active = KeyRing.from_settings(settings).active_kid

    def progress(report: RotationReport) -> None:
        print(f"  {report.reencrypted} of {report.to_do} re-encrypted", flush=True)

    print(f"re-encrypting documents with key {active!r} (the first in DOCUMENT_KEYS)")
    report = reencrypt_documents(
        factory, make_document_store(settings), settings, progress=progress
    )
    for document_id, why in report.failed:
        print(f"  NOT re-encrypted {document_id}: {why}", file=sys.stderr)
    print(
        f"done: {report.reencrypted} re-encrypted, {len(report.failed)} could not be; "
        + (
            "older keys may now leave DOCUMENT_KEYS"
            if not report.failed
            else "keep the older keys until those are resolved"
        )
    )
    return 1 if report.failed else 0


def _wait_for_database(url: str, seconds: float = 10.0) -> None:
    engine = make_engine(url)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"cannot reach the database ({type(exc).__name__}): {exc}"
                ) from exc
            time.sleep(0.5)
        finally:
            engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
