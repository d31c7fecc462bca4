from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import ApiError
from backend.core.security import BotDep
from backend.identities import service
from backend.models import Policy, Policyholder

router = APIRouter(prefix="/api/v1", tags=["identities"])


class VerifyIn(BaseModel):
    policy_number: str = Field(pattern=r"^[Pp]\d{10}$", examples=["P2025000001"])
    id_last4: str | None = Field(default=None, pattern=r"^\d{3}[\dXx]$")
    name: str | None = Field(default=None, max_length=100)


class CoverageOut(BaseModel):
    claim_type: str
    limit: Decimal
    deductible: Decimal
    ratio: Decimal


class PolicyOut(BaseModel):
    policy_number: str
    start_date: date
    end_date: date
    coverages: list[CoverageOut]


class HolderOut(BaseModel):
    name: str
    masked_phone: str


class MeOut(BaseModel):
    verified: bool
    policyholder: HolderOut | None = None
    policies: list[PolicyOut] = []


def _me(holder: Policyholder, policies: list[Policy]) -> MeOut:
    return MeOut(
        verified=True,
        policyholder=HolderOut(name=holder.name, masked_phone=service.masked_phone(holder.phone)),
        policies=[
            PolicyOut(
                policy_number=p.policy_number,
                start_date=p.start_date,
                end_date=p.end_date,
                coverages=[
                    CoverageOut(
                        claim_type=c.claim_type.value,
                        limit=c.limit,
                        deductible=c.deductible,
                        ratio=c.ratio,
                    )
                    for c in p.coverages
                ],
            )
            for p in policies
        ],
    )


@router.post("/identities/verify")
def verify(body: VerifyIn, caller: BotDep, session: SessionDep, settings: SettingsDep) -> MeOut:
    try:
        result = service.verify(
            session, settings, caller.conversation_id, body.policy_number, body.id_last4, body.name
        )
    except ApiError:
        # A failed attempt must be kept (it counts towards the lock-out) even though
        # the request fails; the rollback that follows then has nothing to undo.
        session.commit()
        raise
    return _me(result.policyholder, result.policies)


@router.get("/me")
def me(caller: BotDep, session: SessionDep) -> MeOut:
    if caller.policyholder_id is None:
        return MeOut(verified=False)
    holder = session.get(Policyholder, caller.policyholder_id)
    assert holder is not None
    return _me(holder, service.policies_of(session, holder.id))
