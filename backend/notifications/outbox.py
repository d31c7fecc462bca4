"""Writing outbox rows: always inside the transaction of the change they announce."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.models import Claim, OutboxMessage, Policy


def enqueue(session: Session, claim: Claim, event: str, **payload: Any) -> OutboxMessage:
    policy = session.get(Policy, claim.policy_id)
    assert policy is not None
    row = OutboxMessage(
        claim_id=claim.id,
        claim_number=claim.claim_number,
        policyholder_id=policy.policyholder_id,
        event=event,
        payload={"status": claim.status.value, **payload},
    )
    session.add(row)
    return row
