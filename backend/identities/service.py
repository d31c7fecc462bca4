"""Binding a conversation to a policyholder after they prove who they are."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.audit import service as audit
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.models import ChannelIdentity, Policy, Policyholder, VerificationAttempt
from channels.redact import mask_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verified:
    policyholder: Policyholder
    policies: list[Policy]


def _channel(conversation_id: str) -> str:
    return conversation_id.split(":", 1)[0]


def _lock_remaining(session: Session, settings: Settings, conversation_id: str) -> int:
    """Seconds left on a lock-out, or 0. Five failures within the window lock the
    conversation for `verify_lock_minutes` from the fifth failure."""
    now = datetime.now(UTC)
    since = now - timedelta(minutes=settings.verify_window_minutes + settings.verify_lock_minutes)
    failures = session.scalars(
        select(VerificationAttempt.created_at)
        .where(
            VerificationAttempt.conversation_id == conversation_id,
            VerificationAttempt.created_at >= since,
            VerificationAttempt.succeeded.is_(False),
        )
        .order_by(VerificationAttempt.created_at)
    ).all()
    window = timedelta(minutes=settings.verify_window_minutes)
    needed = settings.verify_max_failures
    for i in range(len(failures) - needed + 1):
        first, last = failures[i], failures[i + needed - 1]
        if last - first <= window:
            unlock = last + timedelta(minutes=settings.verify_lock_minutes)
            if unlock > now:
                return int((unlock - now).total_seconds()) + 1
    return 0


def _recent_failures(session: Session, settings: Settings, conversation_id: str) -> int:
    since = datetime.now(UTC) - timedelta(minutes=settings.verify_window_minutes)
    return (
        session.scalar(
            select(func.count())
            .select_from(VerificationAttempt)
            .where(
                VerificationAttempt.conversation_id == conversation_id,
                VerificationAttempt.created_at >= since,
                VerificationAttempt.succeeded.is_(False),
            )
        )
        or 0
    )


def _policy_lock_remaining(session: Session, settings: Settings, policy_number: str) -> int:
    """Seconds left on a policy's lock-out, or 0. Guesses spread over many
    conversations (each under its own limit) still count against the policy they aim
    at: `verify_policy_max_failures` in `verify_policy_window_minutes` lock it for the
    rest of that window after the last of them."""
    now = datetime.now(UTC)
    window = timedelta(minutes=settings.verify_policy_window_minutes)
    failures = session.scalars(
        select(VerificationAttempt.created_at)
        .where(
            VerificationAttempt.policy_number == policy_number,
            VerificationAttempt.created_at >= now - window,
            VerificationAttempt.succeeded.is_(False),
        )
        .order_by(VerificationAttempt.created_at.desc())
    ).all()
    needed = settings.verify_policy_max_failures
    if len(failures) < needed:
        return 0
    # Locked until enough failures have aged out that fewer than `needed` remain.
    releasing = failures[needed - 1]
    return max(1, int((releasing + window - now).total_seconds()) + 1)


def _locked(seconds: int) -> ApiError:
    return ApiError(
        423,
        "locked",
        "验证失败次数过多，请稍后再试 / too many failed attempts, try again later",
        retry_after_seconds=seconds,
    )


def verify(
    session: Session,
    settings: Settings,
    conversation_id: str,
    policy_number: str,
    id_last4: str | None,
    name: str | None,
) -> Verified:
    locked_for = _lock_remaining(session, settings, conversation_id)
    if locked_for:
        raise _locked(locked_for)
    policy_number = policy_number.strip().upper()
    locked_for = _policy_lock_remaining(session, settings, policy_number)
    if locked_for:
        raise _locked(locked_for)
    policy = session.scalars(
        select(Policy)
        .where(Policy.policy_number == policy_number)
        .options(selectinload(Policy.policyholder))
    ).one_or_none()
    ok = False
    if policy is not None:
        holder = policy.policyholder
        if id_last4:
            ok = hmac.compare_digest(holder.id_last4.encode(), id_last4.strip().upper().encode())
        elif _channel(conversation_id) == "sms":
            # The SMS sender's number is the second factor when it is the holder's own.
            ok = conversation_id.removeprefix("sms:") == holder.phone
        if ok and name and name.strip() != holder.name:
            ok = False
    session.add(
        VerificationAttempt(
            conversation_id=conversation_id, policy_number=policy_number, succeeded=ok
        )
    )
    session.flush()
    if not ok or policy is None:
        policy_locked_for = _policy_lock_remaining(session, settings, policy_number)
        if policy_locked_for:
            # Staff hear of it: a policy under attack may also mean a customer locked out.
            logger.warning(
                "identity verification locked for policy %s after repeated failures (last from %s)",
                policy_number,
                mask_id(conversation_id),
            )
            audit.record(
                session,
                conversation_id,
                audit.VERIFICATION_LOCKED,
                policy_number,
                locked_seconds=policy_locked_for,
            )
            raise _locked(policy_locked_for)
        failures = _recent_failures(session, settings, conversation_id)
        left = max(0, settings.verify_max_failures - failures)
        if left == 0:
            raise ApiError(
                423,
                "locked",
                "验证失败次数过多，请稍后再试 / too many failed attempts, try again later",
                retry_after_seconds=settings.verify_lock_minutes * 60,
            )
        # One message whatever was wrong, so the check cannot be used to probe policies.
        raise ApiError(
            422,
            "verification_failed",
            "保单号或身份证后四位不正确 / policy number or ID digits do not match",
            attempts_left=left,
        )
    holder = policy.policyholder
    identity = session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.conversation_id == conversation_id)
    ).one_or_none()
    if identity is None:
        session.add(
            ChannelIdentity(
                conversation_id=conversation_id,
                channel=_channel(conversation_id),
                policyholder_id=holder.id,
            )
        )
    else:
        identity.policyholder_id = holder.id
        identity.verified_at = datetime.now(UTC)
    session.flush()
    return Verified(holder, policies_of(session, holder.id))


def policies_of(session: Session, policyholder_id: int) -> list[Policy]:
    return list(
        session.scalars(
            select(Policy)
            .where(Policy.policyholder_id == policyholder_id)
            .options(selectinload(Policy.coverages))
            .order_by(Policy.policy_number)
        ).all()
    )


def binding_expired(settings: Settings, identity: ChannelIdentity, now: datetime) -> bool:
    """A binding lasts `binding_days_<channel>` from the last verification; after that
    the conversation shows no claim data until the person verifies again."""
    days = settings.binding_days.get(identity.channel, min(settings.binding_days.values()))
    return identity.verified_at + timedelta(days=days) < now


def masked_phone(phone: str) -> str:
    return phone[:6] + "****" + phone[-4:] if len(phone) > 10 else "****"
