"""Writing outbox rows: always inside the transaction of the change they announce.

The payload describes that change (amounts, dates, reasons, items) so the notice,
whenever it is delivered, tells what happened then and not the claim's state at
sending time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.domain.types import NoticeKind
from backend.models import Claim, OutboxMessage, Policy


def enqueue(session: Session, claim: Claim, kind: NoticeKind, **payload: Any) -> OutboxMessage:
    policy = session.get(Policy, claim.policy_id)
    assert policy is not None
    row = OutboxMessage(
        claim_id=claim.id,
        claim_number=claim.claim_number,
        policyholder_id=policy.policyholder_id,
        kind=kind.value,
        payload={
            "claim_number": claim.claim_number,
            "claim_type": claim.claim_type.value,
            "status": claim.status.value,
            **{key: value for key, value in payload.items() if value is not None},
        },
    )
    session.add(row)
    return row
