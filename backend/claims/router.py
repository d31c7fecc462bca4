from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from backend.claims import checklist, decisions, payment, reporting, repository
from backend.claims.moves import Who
from backend.claims.presenter import present
from backend.claims.schemas import (
    ApproveIn,
    AttachIn,
    ClaimCheckIn,
    ClaimCheckOut,
    ClaimIn,
    ClaimListOut,
    ClaimOut,
    MarkPaidIn,
    OptionalReasonIn,
    QueuePageOut,
    QueueRowOut,
    ReasonIn,
    RejectionNoticeIn,
    RequestDocumentsIn,
)
from backend.core.clock import local_today
from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import ApiError
from backend.core.openapi import ErrorOut, error_responses
from backend.core.security import AdjusterDep, BotCaller, CallerDep
from backend.core.settings import Settings
from backend.documents.deps import DocumentStoreDep, read_upload_file
from backend.documents.service import store_document
from backend.domain.types import Actor, ClaimStatus, ClaimType

router = APIRouter(prefix="/api/v1", tags=["claims"])


def who_is(caller: CallerDep) -> Who:
    if isinstance(caller, BotCaller):
        if caller.policyholder_id is None:
            raise ApiError(403, "not_verified", "请先完成身份验证 / verify identity first")
        return Who(Actor.CUSTOMER, caller.conversation_id, caller.policyholder_id)
    actor = Actor.ADJUSTER if caller.role in ("adjuster", "admin") else Actor.AGENT
    return Who(actor, caller.username)


WhoDep = Annotated[Who, Depends(who_is)]


@router.post("/claims/check")
def check_claim(
    body: ClaimCheckIn, who: WhoDep, session: SessionDep, settings: SettingsDep
) -> ClaimCheckOut:
    policy = reporting.choose_policy(
        session,
        settings,
        who.policyholder_id,
        body.claim_type,
        body.incident_date,
        body.policy_number,
    )
    return ClaimCheckOut(ok=True, policy_number=policy.policy_number)


@router.post("/claims", status_code=201)
def create_claim(
    body: ClaimIn,
    who: WhoDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ClaimOut:
    if not idempotency_key or not idempotency_key.strip():
        raise ApiError(
            422,
            "idempotency_key_required",
            "Idempotency-Key header is required so a retried report never makes two claims",
        )
    data = reporting.NewClaim(
        claim_type=body.claim_type,
        incident_date=body.incident_date,
        location=body.location,
        description=body.description,
        claimed_amount=body.claimed_amount,
        inpatient=body.inpatient,
        policy_number=body.policy_number,
    )
    claim, created = reporting.report_claim(session, settings, who, data, idempotency_key.strip())
    if not created:
        response.status_code = 200
    return present(session, settings, claim, staff=who.policyholder_id is None)


@router.get("/claims")
def list_claims(
    who: WhoDep,
    session: SessionDep,
    settings: SettingsDep,
    status: ClaimStatus | None = None,
    claim_type: ClaimType | None = None,
    overdue: Annotated[
        bool, Query(description="only claims past or near a legal time limit")
    ] = False,
) -> ClaimListOut:
    claims = repository.list_claims(
        session,
        policyholder_id=who.policyholder_id,
        status=status,
        claim_type=claim_type,
        needs_attention_on=local_today(settings) if overdue else None,
    )
    documents = repository.documents_by_claim(session, [c.id for c in claims])
    staff = who.policyholder_id is None
    items = [
        present(
            session, settings, c, staff=staff, with_events=False, documents=documents.get(c.id, [])
        )
        for c in claims
    ]
    return ClaimListOut(items=items)


@router.get("/claims/queue")
def work_queue(
    _staff: AdjusterDep,
    session: SessionDep,
    settings: SettingsDep,
    status: ClaimStatus | None = None,
    claim_type: ClaimType | None = None,
    risk: bool | None = None,
    fast_track: bool | None = None,
    overdue: bool | None = None,
    search: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=repository.MAX_PAGE_SIZE)] = 25,
) -> QueuePageOut:
    """The adjusters' queue: claims awaiting a decision (or of one status), nearest
    legal deadline first, paged."""
    filters = repository.QueueFilters(
        status=status,
        claim_type=claim_type,
        risk=risk,
        fast_track=fast_track,
        overdue=overdue,
        search=search,
    )
    page_of = repository.work_queue(
        session, filters, today=local_today(settings), page=page, page_size=page_size
    )
    return QueuePageOut(
        rows=[
            QueueRowOut(**{**row.__dict__, "risk_codes": list(row.risk_codes)})
            for row in page_of.rows
        ],
        total=page_of.total,
        page=page_of.page,
        page_size=page_of.page_size,
    )


@router.get("/claims/{claim_number}")
def get_claim(
    claim_number: str, who: WhoDep, session: SessionDep, settings: SettingsDep
) -> ClaimOut:
    claim = repository.get_claim(session, claim_number, who)
    return present(session, settings, claim, staff=who.policyholder_id is None)


@router.post("/claims/{claim_number}/documents/{document_id}/attach")
def attach(
    claim_number: str,
    document_id: str,
    body: AttachIn,
    who: WhoDep,
    session: SessionDep,
    settings: SettingsDep,
) -> ClaimOut:
    claim = repository.get_claim(session, claim_number, who, for_update=True)
    claim = checklist.attach_document(session, settings, claim, document_id, body.item_code, who)
    return present(session, settings, claim, staff=who.policyholder_id is None)


@router.post("/claims/{claim_number}/documents", status_code=201)
async def upload_to_claim(
    claim_number: str,
    file: UploadFile,
    item_code: Annotated[str, Form(min_length=1, max_length=40)],
    who: WhoDep,
    session: SessionDep,
    settings: SettingsDep,
    store: DocumentStoreDep,
) -> ClaimOut:
    """Multipart upload of one document straight onto a checklist item."""
    data = await read_upload_file(file, settings)

    def _store_and_attach() -> ClaimOut:
        claim = repository.get_claim(session, claim_number, who, for_update=True)
        document = store_document(session, store, settings, data, who.actor_id, file.filename)
        claim = checklist.attach_document(session, settings, claim, document.id, item_code, who)
        return present(session, settings, claim, staff=who.policyholder_id is None)

    return await run_in_threadpool(_store_and_attach)


@router.post("/claims/{claim_number}/withdraw")
def withdraw(
    claim_number: str, body: ReasonIn, who: WhoDep, session: SessionDep, settings: SettingsDep
) -> ClaimOut:
    if who.actor == Actor.ADJUSTER:
        raise ApiError(
            403, "forbidden", "only the customer or a service agent may withdraw a claim"
        )
    claim = repository.get_claim(session, claim_number, who, for_update=True)
    decisions.withdraw(session, settings, claim, who, body.reason)
    return present(session, settings, claim, staff=who.policyholder_id is None)


# ------------------------------------------------------------- adjusters


class Decision:
    """An adjuster's decision on one claim, loaded under a row lock so two decisions on
    the same claim are made one after the other."""

    def __init__(
        self, claim_number: str, staff: AdjusterDep, session: SessionDep, settings: SettingsDep
    ) -> None:
        self.who = Who(Actor.ADJUSTER, staff.username)
        self.session = session
        self.settings = settings
        self.claim = repository.get_claim(session, claim_number, self.who, for_update=True)

    def result(self) -> ClaimOut:
        return present(self.session, self.settings, self.claim, staff=True)


DecisionDep = Annotated[Decision, Depends()]


@router.post("/claims/{claim_number}/approve")
def approve(body: ApproveIn, d: DecisionDep) -> ClaimOut:
    decisions.approve(d.session, d.settings, d.claim, d.who, body.amount, reason=body.reason)
    return d.result()


@router.post("/claims/{claim_number}/partially-approve")
def partially_approve(body: ApproveIn, d: DecisionDep) -> ClaimOut:
    decisions.approve(
        d.session, d.settings, d.claim, d.who, body.amount, partial=True, reason=body.reason
    )
    return d.result()


@router.post("/claims/{claim_number}/reject")
def reject(body: ReasonIn, d: DecisionDep) -> ClaimOut:
    decisions.reject(d.session, d.settings, d.claim, d.who, body.reason)
    return d.result()


@router.post("/claims/{claim_number}/rejection-notice")
def rejection_notice(body: RejectionNoticeIn, d: DecisionDep) -> ClaimOut:
    """Record that the written rejection notice was sent; stops the 3-day clock."""
    decisions.record_rejection_notice(
        d.session, d.settings, d.claim, d.who, body.channel, body.reference
    )
    return d.result()


@router.post("/claims/{claim_number}/request-documents")
def request_documents(body: RequestDocumentsIn, d: DecisionDep) -> ClaimOut:
    decisions.request_documents(d.session, d.settings, d.claim, d.who, body.items, body.reason)
    return d.result()


@router.post("/claims/{claim_number}/mark-paid")
def mark_paid(body: MarkPaidIn, d: DecisionDep) -> ClaimOut:
    payment.mark_paid(d.session, d.settings, d.claim, d.who, body.reference)
    return d.result()


@router.post("/claims/{claim_number}/close")
def close(body: OptionalReasonIn, d: DecisionDep) -> ClaimOut:
    decisions.close(d.session, d.settings, d.claim, d.who, body.reason)
    return d.result()


@router.post("/claims/{claim_number}/reopen")
def reopen(body: ReasonIn, d: DecisionDep) -> ClaimOut:
    decisions.reopen(d.session, d.settings, d.claim, d.who, body.reason)
    return d.result()


# ------------------------------------------------------------- payment system


PAYMENT_SIGNATURE_HELP = (
    "HMAC-SHA256 (hex) of `<X-Payment-Timestamp>.<raw body>` with PAYMENT_CALLBACK_SECRET; "
    "the timestamp (Unix seconds) must be within PAYMENT_CALLBACK_MAX_AGE_SECONDS of now."
)


def verify_payment_signature(
    settings: Settings, raw: bytes, timestamp: str | None, signature: str | None
) -> None:
    """The signature covers a timestamp with the body, so a captured callback is only
    good for the window; inside it, each (reference, status) is applied once anyway."""
    assert settings.payment_callback_secret is not None
    if not timestamp or not signature or not timestamp.strip().isdigit():
        raise ApiError(401, "unauthorized", "missing payment signature or timestamp")
    if abs(time.time() - int(timestamp.strip())) > settings.payment_callback_max_age_seconds:
        raise ApiError(401, "unauthorized", "stale payment callback")
    expected = hmac.new(
        settings.payment_callback_secret.get_secret_value().encode(),
        timestamp.strip().encode() + b"." + raw,
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise ApiError(401, "unauthorized", "bad payment signature")


@router.post(
    "/payments/callback",
    responses={
        **error_responses(409),
        401: {"model": ErrorOut, "description": f"`unauthorized`: {PAYMENT_SIGNATURE_HELP}"},
    },
)
async def payment_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    x_payment_signature: Annotated[str | None, Header(description=PAYMENT_SIGNATURE_HELP)] = None,
    x_payment_timestamp: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    """The payment system reports a transfer (`succeeded`, or a failure status)."""
    raw = await request.body()
    verify_payment_signature(settings, raw, x_payment_timestamp, x_payment_signature)
    try:
        body = json.loads(raw)
        claim_number = str(body["claim_number"])
        reference = str(body["reference"]).strip()
        status = str(body["status"]).strip()
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(422, "validation_error", "need claim_number, reference, status") from exc
    if not reference or not status or len(reference) > 100 or len(status) > 40:
        raise ApiError(422, "validation_error", "need claim_number, reference, status")
    # Row locks and writes are synchronous SQL: keep them off the event loop.
    return await run_in_threadpool(
        payment.apply_payment_callback, session, settings, claim_number, reference, status
    )
