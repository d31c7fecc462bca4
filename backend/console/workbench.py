"""The adjusters' workbench in the console: the queue of claims to decide
(/console/claims), one claim with its documents, clocks, timeline and conversations
(/console/claims/{claim_number}), and the decisions made from that page.

Pages are server-rendered forms; a decision is posted twice: first to show what will
happen (for an approval, the payout the backend computes), then, confirmed, to make
it. A decision calls the same claims service functions as the JSON API's routes (so
the event, the clock stamps and the customer's notice in the outbox are written the
same way); a refusal is shown in plain words and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.claims import decisions, payment, repository
from backend.claims.moves import Who
from backend.console import claim_view, labels
from backend.console.router import _login_redirect, _render, _signed_in
from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.documents import responses
from backend.documents.deps import DocumentStoreDep
from backend.documents.service import read_document
from backend.domain import payout
from backend.domain.types import Actor, ClaimStatus
from backend.models import Claim
from backend.staff import sessions

router = APIRouter(prefix="/console", include_in_schema=False)

WORKBENCH_ROLES = ("adjuster", "admin")
ACTIONS = {
    "approve": "核定赔付",
    "partially-approve": "部分赔付",
    "reject": "拒赔",
    "request-documents": "要求补充材料",
    "mark-paid": "标记已支付",
    "close": "结案",
    "reopen": "重新审核",
    "rejection-notice": "登记拒赔通知书已送达",
}
TOLD = "客户会通过通知收到这条消息。"
DONE = {
    "approve": f"已核定赔付。{TOLD}",
    "partially-approve": f"已部分赔付。{TOLD}",
    "reject": f"已拒赔。{TOLD}请在 3 日内送达拒赔通知书并在此登记。",
    "request-documents": f"已要求补充材料。{TOLD}",
    "mark-paid": f"已标记为已支付。{TOLD}",
    "close": f"已结案。{TOLD}",
    "reopen": f"已重新打开。{TOLD}",
    "rejection-notice": "已登记拒赔通知书送达，拒赔通知期限停止计时。",
}
# How the written rejection notice (Art. 24) reached the customer: RejectionNoticeIn's.
NOTICE_CHANNELS = {
    "letter": "挂号信",
    "email": "电子邮件",
    "sms": "短信",
    "wechat": "微信",
    "in_person": "当面送达",
}
REASON_MAX = 2000
PAGE_SIZE = 25


def _adjuster(
    request: Request, session: Session, settings: Settings
) -> sessions.SignedIn | Response:
    who = _signed_in(request, session, settings)
    if who is None:
        return _login_redirect(request)
    if who.role not in WORKBENCH_ROLES:
        return _render(
            request,
            settings,
            "forbidden.html",
            {"me": who, "area": "理赔审核", "allowed": "理赔员和管理员"},
            status_code=403,
        )
    return who


# ---------------------------------------------------------------- the claim page


def _claim_response(
    request: Request,
    session: Session,
    settings: Settings,
    who: sessions.SignedIn,
    claim_number: str,
    *,
    pending: PendingDecision | None = None,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    page = claim_view.claim_page(session, settings, claim_number)
    if page is None:
        return _render(
            request,
            settings,
            "not_found.html",
            {"me": who, "what": "理赔案件", "back": "/console/claims"},
            status_code=404,
        )
    return _render(
        request,
        settings,
        "claim.html",
        {
            "me": who,
            "p": page,
            "c": page.claim,
            "view": claim_view,
            "actions": ACTIONS,
            "pending": pending,
            "error": error,
            "done": DONE.get(done or ""),
            "describe_event": describe_event,
            "notice_channels": NOTICE_CHANNELS,
        },
        status_code=status_code,
    )


@router.get("/claims/{claim_number}", response_class=HTMLResponse)
def claim_page(
    claim_number: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    who = _adjuster(request, session, settings)
    if isinstance(who, Response):
        return who
    return _claim_response(request, session, settings, who, claim_number, done=done)


@router.get("/claims/{claim_number}/documents/{document_id}")
def claim_document(
    claim_number: str,
    document_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: DocumentStoreDep,
) -> Response:
    """A document of the claim, decrypted for staff, shown inline in the claim page.
    Each view is on record as the JSON API's download records it."""
    who = _adjuster(request, session, settings)
    if isinstance(who, Response):
        return who
    try:
        document, content = read_document(session, store, settings, document_id)
    except ApiError:
        return Response("文件不存在", status_code=404, media_type="text/plain; charset=utf-8")
    claim_id = session.scalar(select(Claim.id).where(Claim.claim_number == claim_number))
    if claim_id is None or document.claim_id != claim_id:
        # Only through the claim it belongs to: a guessed id on another claim is 404.
        return Response("文件不存在", status_code=404, media_type="text/plain; charset=utf-8")
    responses.record_staff_view(session, who.username, who.role, document)
    return responses.inline(document, content)


# ---------------------------------------------------------------- decisions


@dataclass(frozen=True)
class PendingDecision:
    """A decision read from the form and checked, waiting for the adjuster's yes."""

    action: str
    amount: Decimal | None = None
    reason: str | None = None
    items: tuple[str, ...] = ()
    reference: str | None = None
    channel: str | None = None  # of a rejection notice
    breakdown: payout.PayoutBreakdown | None = None

    @property
    def title(self) -> str:
        return ACTIONS[self.action]

    def fields(self) -> list[tuple[str, str]]:
        """The hidden fields the confirming form posts again."""
        out: list[tuple[str, str]] = [("action", self.action)]
        if self.amount is not None:
            out.append(("amount", str(self.amount)))
        if self.reason:
            out.append(("reason", self.reason))
        out.extend(("items", item) for item in self.items)
        if self.reference:
            out.append(("reference", self.reference))
        if self.channel:
            out.append(("channel", self.channel))
        return out


class Refused(Exception):
    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _amount(raw: str) -> Decimal:
    try:
        amount = Decimal(raw.strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise Refused("请填写核定金额（元），例如 2800 或 2800.50。") from None
    if not amount.is_finite() or amount <= 0:
        raise Refused("核定金额必须大于零。")
    if amount != amount.quantize(Decimal("0.01")) or amount >= Decimal("1e12"):
        raise Refused("核定金额最多两位小数（精确到分）。")
    return amount


def _read(
    action: str, amount: str, reason: str, items: list[str], reference: str, channel: str = ""
) -> PendingDecision:
    """The form's fields checked as the API's bodies check them, in plain words."""
    if action not in ACTIONS:
        raise Refused("不认识这个操作，请刷新页面后重试。", 400)
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise Refused(f"理由最多 {REASON_MAX} 字。")
    if action in ("approve", "partially-approve"):
        if action == "partially-approve" and not reason:
            raise Refused("部分赔付需要填写理由，客户会收到这条理由。")
        return PendingDecision(action, amount=_amount(amount), reason=reason or None)
    if action in ("reject", "reopen") and not reason:
        raise Refused(f"{ACTIONS[action]}需要填写理由。")
    if action == "request-documents":
        if not items:
            raise Refused("请勾选需要客户补充的材料。")
        if not reason:
            raise Refused("要求补充材料需要填写理由，客户会收到这条理由。")
        return PendingDecision(action, reason=reason, items=tuple(dict.fromkeys(items)))
    if action in ("mark-paid", "rejection-notice"):
        reference = reference.strip()
        if len(reference) > 100:
            raise Refused("单号最多 100 个字符。")
        if action == "mark-paid":
            return PendingDecision(action, reference=reference or None)
        if channel not in NOTICE_CHANNELS:
            raise Refused("请选择拒赔通知书的送达方式。")
        return PendingDecision(action, reference=reference or None, channel=channel)
    return PendingDecision(action, reason=reason or None)


def _preview(session: Session, claim: Claim, decision: PendingDecision) -> PendingDecision:
    """For an approval, the payout the backend will compute for this amount."""
    if decision.amount is None:
        return decision
    if claim.claimed_amount is not None and decision.amount > claim.claimed_amount:
        raise Refused(
            f"核定金额 {payout.format_yuan(decision.amount)} 超过了申请金额 "
            f"{payout.format_yuan(claim.claimed_amount)}。"
        )
    breakdown = decisions.payout_for(session, claim, decision.amount)
    return PendingDecision(**{**decision.__dict__, "breakdown": breakdown})


def _apply(
    session: Session, settings: Settings, claim: Claim, who: Who, d: PendingDecision
) -> None:
    """The same service calls as the JSON API's decision routes."""
    if d.action == "approve":
        assert d.amount is not None
        decisions.approve(session, settings, claim, who, d.amount, reason=d.reason)
    elif d.action == "partially-approve":
        assert d.amount is not None
        decisions.approve(session, settings, claim, who, d.amount, partial=True, reason=d.reason)
    elif d.action == "reject":
        decisions.reject(session, settings, claim, who, d.reason or "")
    elif d.action == "request-documents":
        decisions.request_documents(session, settings, claim, who, list(d.items), d.reason or "")
    elif d.action == "mark-paid":
        payment.mark_paid(session, settings, claim, who, d.reference)
    elif d.action == "close":
        decisions.close(session, settings, claim, who, d.reason)
    elif d.action == "reopen":
        decisions.reopen(session, settings, claim, who, d.reason or "")
    elif d.action == "rejection-notice":
        decisions.record_rejection_notice(
            session, settings, claim, who, d.channel or "", d.reference
        )


def refusal_in_words(error: ApiError, action: str) -> str:
    """The backend's refusal as an adjuster reads it: its Chinese part, and for the
    codes whose message is English (the state machine's), words of our own."""
    status = error.extra.get("status")
    now = labels.label(labels.CLAIM_STATUSES, str(status)) if status else ""
    doing = ACTIONS.get(action, "这样处理")
    if error.code == "illegal_transition":
        return f"案件现在是「{now}」，不能{doing}。请刷新页面查看案件的最新状态。"
    if error.code == "actor_not_allowed":
        return f"理赔员不能对「{now}」的案件{doing}。"
    if error.code == "reason_required":
        return f"{doing}需要填写理由。"
    message = error.message.split(" / ")[0].strip()
    if message and any("\u4e00" <= ch <= "\u9fff" for ch in message):
        return message if message.endswith(("。", "！", "？")) else message + "。"
    return f"操作没有成功（{error.code}）。"


@router.post("/claims/{claim_number}/decide", response_class=HTMLResponse)
def decide(
    claim_number: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    action: Annotated[str, Form(max_length=40)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=REASON_MAX + 100)] = "",
    items: Annotated[list[str] | None, Form(max_length=40)] = None,
    reference: Annotated[str, Form(max_length=200)] = "",
    channel: Annotated[str, Form(max_length=20)] = "",
    confirmed: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    if _signed_in(request, session, settings, activity=False) is None:
        # Signed out meanwhile: after signing in, back to the claim (not to this POST).
        back = urlencode({"next": f"/console/claims/{claim_number}"})
        return RedirectResponse(f"/console/login?{back}", status_code=303)
    who = _adjuster(request, session, settings)
    if isinstance(who, Response):
        return who
    if not sessions.csrf_ok(who, csrf_token):
        return _render(request, settings, "forbidden.html", {"me": who, "csrf": True}, 403)
    actor = Who(Actor.ADJUSTER, who.username)

    def again(error: str, status_code: int, pending: PendingDecision | None = None) -> Response:
        return _claim_response(
            request,
            session,
            settings,
            who,
            claim_number,
            pending=pending,
            error=error,
            status_code=status_code,
        )

    try:
        claim = repository.get_claim(session, claim_number, actor, for_update=True)
    except ApiError:
        return _claim_response(request, session, settings, who, claim_number)
    try:
        decision = _preview(
            session, claim, _read(action, amount, reason, items or [], reference, channel)
        )
    except Refused as refused:
        return again(refused.message, refused.status_code)
    except ApiError as error:
        return again(refusal_in_words(error, action), error.status_code)
    if confirmed != "1":
        return _claim_response(request, session, settings, who, claim_number, pending=decision)

    # A refusal must change nothing: the decision runs in a savepoint undone on refusal.
    savepoint = session.begin_nested()
    try:
        _apply(session, settings, claim, actor, decision)
    except ApiError as error:
        savepoint.rollback()
        session.expire_all()
        return again(refusal_in_words(error, action), error.status_code)
    savepoint.commit()
    target = f"/console/claims/{claim_number}?{urlencode({'done': action})}"
    return RedirectResponse(target, status_code=303)


def now() -> datetime:
    return datetime.now(UTC)


def describe_event(event: Any) -> str:
    """One line of the timeline in words: what happened (the reason is shown apart)."""
    data = event.data or {}
    if event.kind == "status_changed":
        to = labels.label(labels.CLAIM_STATUSES, _value(event.to_status))
        text = f"状态 → {to}"
        if data.get("payout"):
            text += f"（核定 {_money(data.get('approved_amount'))}，赔付 {_money(data['payout'])}）"
        if data.get("items"):
            text += f"（材料：{'、'.join(map(str, data['items']))}）"
        if data.get("reference"):
            text += f"（流水号 {data['reference']}）"
        return text
    return labels.label(labels.EVENTS, event.kind) + _event_detail(data)


def _event_detail(data: dict[str, Any]) -> str:
    if data.get("items"):
        return f"（{'、'.join(map(str, data['items']))}）"
    if data.get("code"):
        return f"（{labels.label(labels.RISKS, str(data['code']))}）"
    if data.get("item_code"):
        return f"（{data['item_code']}）"
    return ""


def _value(status: ClaimStatus | str | None) -> str:
    return status.value if isinstance(status, ClaimStatus) else str(status or "")


def _money(raw: object) -> str:
    try:
        return payout.format_yuan(Decimal(str(raw)))
    except (InvalidOperation, ValueError):
        return str(raw)
