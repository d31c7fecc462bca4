"""The adjusters' workbench in the console, as an adjuster uses it through forms:
who may open it, the claim page (documents inline, clocks, flags, timeline,
conversation), decisions confirmed before they are made, refusals that change
nothing, and document views on record. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.models import (
    AuditEvent,
    Claim,
    ClaimEvent,
    Conversation,
    OutboxMessage,
    TranscriptMessage,
)
from backend.staff.service import upsert_staff
from tests.backend.claims.conftest import PDF, PNG, bot_headers, report, upload

LOGINS = {
    "amy": ("agent", "amy-password-1", "Amy 客服"),
    "ada": ("adjuster", "ada-password-1", "Ada 理赔"),
    "root": ("admin", "root-password-1", "管理员"),
}


@pytest.fixture
def staff(session: Session) -> None:
    for username, (role, password, name) in LOGINS.items():
        upsert_staff(session, username, password, role, name)
    session.flush()


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@pytest.fixture
def sign_in(client: TestClient, staff: None) -> Callable[[str], str]:
    """Sign in through the form as a person does; returns the page's CSRF token."""

    def _sign_in(username: str) -> str:
        client.cookies.clear()
        r = client.post(
            "/console/login",
            data={"username": username, "password": LOGINS[username][1]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return csrf_of(client.get("/console/figures").text)

    return _sign_in


@pytest.fixture
def customer(client: TestClient, demo: Session, settings: Settings) -> dict[str, str]:
    """A WeChat conversation verified as 张伟 (P2025000001, medical)."""
    headers = bot_headers(settings, f"wechat:o{uuid.uuid4().hex[:12]}")
    r = client.post(
        "/api/v1/identities/verify",
        headers=headers,
        json={"policy_number": "P2025000001", "id_last4": "1234"},
    )
    assert r.status_code == 200, r.text
    return headers


def reported(client: TestClient, headers: dict[str, str], amount: str = "12800.00") -> Any:
    r = report(client, headers, claimed_amount=amount, description="住院治疗肺炎，共住院六天")
    assert r.status_code == 201, r.text
    return r.json()


def complete(client: TestClient, headers: dict[str, str], claim: dict[str, Any]) -> Any:
    """Every item sent: the invoice as a PDF, the others as photos."""
    out = claim
    for i, item in enumerate(claim["missing"]):
        data = PDF + uuid.uuid4().bytes if item["code"] == "invoice" else PNG + bytes([i])
        doc = upload(client, headers, data + uuid.uuid4().bytes)
        r = client.post(
            f"/api/v1/claims/{claim['claim_number']}/documents/{doc}/attach",
            json={"item_code": item["code"]},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        out = r.json()
    return out


@pytest.fixture
def under_review(client: TestClient, customer: dict[str, str]) -> dict[str, Any]:
    claim = complete(client, customer, reported(client, customer))
    assert claim["status"] == "under_review", claim["status"]
    return dict(claim)


def decide(
    client: TestClient, csrf: str, claim_number: str, **fields: Any
) -> Any:  # httpx.Response
    return client.post(
        f"/console/claims/{claim_number}/decide",
        data={"csrf_token": csrf, **fields},
        follow_redirects=False,
    )


def notices(session: Session, claim_number: str) -> list[str]:
    return list(
        session.scalars(
            select(OutboxMessage.kind)
            .where(OutboxMessage.claim_number == claim_number)
            .order_by(OutboxMessage.id)
        )
    )


def status_of(session: Session, claim_number: str) -> str:
    session.expire_all()
    claim = session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()
    return claim.status.value


# ---------------------------------------------------------------- who may


# ---------------------------------------------------------------- the claim page


def test_the_claim_page_shows_facts_documents_clocks_flags_and_the_conversation(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    customer: dict[str, str],
    session: Session,
) -> None:
    sign_in("ada")
    number = under_review["claim_number"]
    # The customer said something in the conversation the claim came from.
    conversation_id = customer["X-Conversation-Id"]
    if session.get(Conversation, conversation_id) is None:
        session.add(Conversation(id=conversation_id, channel="wechat"))
    session.add(
        TranscriptMessage(
            conversation_id=conversation_id,
            direction="inbound",
            sender="customer",
            channel="wechat",
            text="<b>请尽快处理</b>",
        )
    )
    session.flush()
    html = client.get(f"/console/claims/{number}").text
    assert number in html and "审核中" in html and "张伟" in html and "P2025000001" in html
    assert "住院治疗肺炎" in html and "¥" not in html and "12,800.00元" in html
    # Each received document inline: photos as images, the PDF invoice in a frame.
    for entry in under_review["checklist"]:
        assert entry["name"] in html
        for document_id in entry["document_ids"]:
            url = f"/console/claims/{number}/documents/{document_id}"
            tag = "iframe" if entry["code"] == "invoice" else "img"
            assert f'<{tag} src="{url}"' in html, (tag, url)
    # The legal clock: documents complete today, decision due in 30 days.
    assert "核定期限" in html and "剩 30 天" in html
    # The timeline says who did what.
    assert "收到材料" in html and "状态 → 审核中" in html
    # The conversation, shown as text.
    assert "&lt;b&gt;请尽快处理&lt;/b&gt;" in html and "<b>请尽快处理" not in html
    assert f"wechat:…{conversation_id[-6:]}" in html
    # Decisions offered for a claim under review.
    for words in ("核定赔付", "部分赔付", "拒赔", "要求补充材料"):
        assert words in html
    assert "标记已支付" not in html


def test_an_unknown_claim_is_404(client: TestClient, sign_in: Callable[[str], str]) -> None:
    sign_in("ada")
    r = client.get("/console/claims/CL000000000000")
    assert r.status_code == 404 and "找不到这个理赔案件" in r.text


def test_viewing_a_document_decrypts_it_and_puts_the_view_on_record(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    sign_in("ada")
    number = under_review["claim_number"]
    invoice = next(e for e in under_review["checklist"] if e["code"] == "invoice")
    [document_id] = invoice["document_ids"]
    r = client.get(f"/console/claims/{number}/documents/{document_id}")
    assert r.status_code == 200
    assert r.content.startswith(PDF) and r.headers["content-type"] == "application/pdf"
    # Framed by our own page only; never cached.
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert "no-store" in r.headers["cache-control"]
    [event] = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "document_viewed", AuditEvent.subject == document_id
        )
    ).all()
    assert event.actor_id == "ada" and event.data["role"] == "adjuster"
    # Through another claim's address, or unknown: 404, and nothing on record.
    other = client.get(f"/console/claims/CL000000000000/documents/{document_id}")
    assert other.status_code == 404
    assert client.get(f"/console/claims/{number}/documents/nope").status_code == 404
    count = session.scalars(select(AuditEvent).where(AuditEvent.subject == document_id)).all()
    assert len(count) == 1


def test_an_agent_cannot_view_a_document_through_the_workbench(
    client: TestClient, sign_in: Callable[[str], str], under_review: dict[str, Any]
) -> None:
    sign_in("amy")
    number = under_review["claim_number"]
    document_id = under_review["checklist"][0]["document_ids"][0]
    r = client.get(f"/console/claims/{number}/documents/{document_id}")
    assert r.status_code == 403 and not r.content.startswith(PNG)


# ---------------------------------------------------------------- decisions


def test_approving_shows_the_payout_first_then_approves_and_tells_the_customer(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    csrf = sign_in("ada")
    number = under_review["claim_number"]
    preview = decide(client, csrf, number, action="approve", amount="10000")
    assert preview.status_code == 200
    assert "确认核定赔付" in preview.text
    # 张伟: no deductible, 100 %, 50,000 limit -> the payout is the approved amount.
    assert re.search(r'id="payout">10,000.00元<', preview.text)
    assert status_of(session, number) == "under_review"  # nothing happened yet
    assert "approved" not in notices(session, number)

    done = decide(client, csrf, number, action="approve", amount="10000", confirmed="1")
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/claims/{number}?done=approve"
    page = client.get(done.headers["location"]).text
    assert "已核定赔付" in page and "已核定赔付。客户会通过通知收到这条消息" in page
    assert status_of(session, number) == "approved"
    assert notices(session, number)[-1] == "approved"
    event = session.scalars(
        select(ClaimEvent).where(ClaimEvent.kind == "status_changed").order_by(ClaimEvent.id.desc())
    ).first()
    assert event is not None and event.actor_id == "ada" and event.data["payout"] == "10000.00"
    # Approved: now it can be marked paid, no longer decided again.
    assert "标记已支付" in page and "计算赔付金额" not in page


def test_a_refused_decision_shows_why_and_changes_nothing(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    csrf = sign_in("ada")
    number = under_review["claim_number"]
    before = notices(session, number)
    # Marking paid a claim not yet approved: the state machine refuses.
    r = decide(client, csrf, number, action="mark-paid", reference="TX-1", confirmed="1")
    assert r.status_code == 409
    assert "没有执行" in r.text and "案件现在是「审核中」，不能标记已支付" in r.text
    assert status_of(session, number) == "under_review"
    assert notices(session, number) == before
    # An amount above the claimed one: refused before anything is asked.
    over = decide(client, csrf, number, action="approve", amount="99999")
    assert (
        over.status_code == 422
        and "超过了申请金额" in over.text
        and "确认核定赔付" not in over.text
    )
    # A rejection needs its reason; a bad amount is told as such.
    assert "拒赔需要填写理由" in decide(client, csrf, number, action="reject", reason=" ").text
    assert "请填写核定金额" in decide(client, csrf, number, action="approve", amount="abc").text
    assert status_of(session, number) == "under_review"
    assert notices(session, number) == before


def test_a_decision_without_the_pages_csrf_token_is_refused(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    csrf = sign_in("ada")
    number = under_review["claim_number"]
    for token in ("", csrf[:-2] + "xx"):
        r = decide(client, token, number, action="reject", reason="不在保障范围", confirmed="1")
        assert r.status_code == 403 and "页面已过期" in r.text
    assert status_of(session, number) == "under_review"


def test_a_decision_after_the_session_ended_leads_back_to_the_claim_after_signing_in(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    csrf = sign_in("ada")
    number = under_review["claim_number"]
    client.cookies.clear()
    r = decide(client, csrf, number, action="reject", reason="不在保障范围", confirmed="1")
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/login?next=%2Fconsole%2Fclaims%2F{number}"
    assert status_of(session, number) == "under_review"


def test_reject_close_reopen_and_request_documents_from_the_page(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    csrf = sign_in("ada")
    number = under_review["claim_number"]
    asked = decide(
        client,
        csrf,
        number,
        action="request-documents",
        items=["diagnosis_certificate"],
        reason="诊断证明不清晰",
    )
    assert "确认要求补充材料" in asked.text and "诊断证明" in asked.text
    r = decide(
        client,
        csrf,
        number,
        action="request-documents",
        items=["diagnosis_certificate"],
        reason="诊断证明不清晰",
        confirmed="1",
    )
    assert r.status_code == 303
    assert status_of(session, number) == "documents_pending"
    assert notices(session, number)[-1] == "documents_requested"
    page = client.get(f"/console/claims/{number}").text
    assert "已要求补充：诊断证明不清晰" in page

    # Sent again by the customer... here the adjuster rejects after review instead:
    # documents pending cannot be rejected, and the page says so.
    r = decide(client, csrf, number, action="reject", reason="既往症", confirmed="1")
    assert r.status_code == 409 and "案件现在是「待补材料」，不能拒赔" in r.text
    assert status_of(session, number) == "documents_pending"


def test_a_rejection_then_its_written_notice_stops_the_three_day_clock(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    csrf = sign_in("ada")
    number = under_review["claim_number"]
    r = decide(client, csrf, number, action="reject", reason="既往症不在保障范围", confirmed="1")
    assert r.status_code == 303
    assert notices(session, number)[-1] == "rejected"
    page = client.get(f"/console/claims/{number}").text
    assert "拒赔通知期限" in page and "剩 3 天" in page and "拒赔通知书已送达" in page
    missing = decide(client, csrf, number, action="rejection-notice")
    assert missing.status_code == 422 and "请选择拒赔通知书的送达方式" in missing.text
    asked = decide(
        client, csrf, number, action="rejection-notice", channel="letter", reference="EMS1"
    )
    assert "确认登记拒赔通知书已送达" in asked.text and "挂号信" in asked.text
    done = decide(
        client, csrf, number, action="rejection-notice", channel="letter", reference="EMS1",
        confirmed="1",
    )  # fmt: skip
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "已登记拒赔通知书送达，拒赔通知期限停止计时" in page
    assert "拒赔通知已送达" in page  # the timeline
    assert "拒赔通知书已送达</summary>" not in page  # nothing left to record
    assert "剩 3 天" not in page and "完成" in page
    # Only once: the form is gone, and a second post is refused in words.
    again = decide(client, csrf, number, action="rejection-notice", channel="sms", confirmed="1")
    assert again.status_code == 409 and "拒赔通知已登记过" in again.text


def test_paid_then_closed_then_reopened(
    client: TestClient,
    sign_in: Callable[[str], str],
    under_review: dict[str, Any],
    session: Session,
) -> None:
    csrf = sign_in("ada")
    number = under_review["claim_number"]
    steps: list[dict[str, Any]] = [
        {"action": "partially-approve", "amount": "8000", "reason": "部分费用为自费药"},
        {"action": "mark-paid", "reference": "TX-20261202-1"},
        {"action": "close"},
        {"action": "reopen", "reason": "客户补充了新的发票"},
    ]
    for step in steps:
        r = decide(client, csrf, number, confirmed="1", **step)
        assert r.status_code == 303, r.text
    assert status_of(session, number) == "reopened"
    assert notices(session, number)[-4:] == ["partially_approved", "paid", "closed", "reopened"]
    page = client.get(f"/console/claims/{number}").text
    assert "客户补充了新的发票" in page and "部分费用为自费药" in page
