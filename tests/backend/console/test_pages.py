"""What an agent sees on the console's pages (the browser test drives them live)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import ChannelIdentity, Handoff, Policyholder


def test_the_queue_shows_who_waits_why_and_since_when(
    client: TestClient,
    sign_in: Callable[[str], str],
    handoff_factory: Callable[..., Handoff],
) -> None:
    sign_in("amy")
    waiting = handoff_factory(text="我要找人工客服")
    handoff_factory(status="active", agent="amy", text="好的谢谢")
    handoff_factory(status="active", agent="bob", text="还在吗")
    page = client.get("/console")
    assert page.status_code == 200
    html = page.text
    assert "等待接入" in html and "处理中" in html
    assert f'href="/console/handoffs/{waiting.id}"' in html
    assert "客户要求人工" in html  # the reason, in words
    assert "我要找人工客服" in html  # the last message
    assert 'data-since="' in html  # waiting time, ticking in the page
    assert "<strong>我</strong>" in html and "bob" in html
    # The page listens to the agent API's event stream and refreshes the list.
    assert 'sse-connect="/api/v1/handoffs/events"' in html
    assert 'hx-get="/console/fragments/queue"' in html
    assert "/console/static/vendor/htmx-2.0.11.min.js" in html

    fragment = client.get("/console/fragments/queue", headers={"X-Console-Refresh": "1"})
    assert fragment.status_code == 200
    assert "我要找人工客服" in fragment.text and "<html" not in fragment.text


def test_an_empty_queue_says_so(client: TestClient, sign_in: Callable[[str], str]) -> None:
    sign_in("amy")
    assert "暂时没有等待的客户" in client.get("/console").text


def test_a_conversation_shows_its_transcript_the_customer_and_canned_replies(
    client: TestClient,
    sign_in: Callable[[str], str],
    handoff_factory: Callable[..., Handoff],
    demo: Session,
) -> None:
    sign_in("amy")
    handoff = handoff_factory(text="<script>alert(1)</script>我的理赔到哪了")
    holder = demo.scalars(select(Policyholder).where(Policyholder.name == "张伟")).first()
    assert holder is not None
    demo.add(
        ChannelIdentity(
            conversation_id=handoff.conversation_id,
            channel="web",
            policyholder_id=holder.id,
            verified_at=datetime.now(UTC),
        )
    )
    demo.flush()
    page = client.get(f"/console/handoffs/{handoff.id}")
    assert page.status_code == 200
    html = page.text
    assert "张伟" in html
    # The customer's words are shown as text, never run.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;我的理赔到哪了" in html
    assert "<script>alert(1)" not in html
    assert "接入对话" in html  # open: the agent can accept
    assert "如何上传材料" in html and "理赔时效（核定与赔付）" in html  # canned replies
    assert "客户的理赔" in html and "这位客户还没有理赔" in html
    assert "Bob 客服（bob）" in html  # transfer to another agent
    assert "Amy 客服（amy）" not in html  # not to oneself
    live = client.get(f"/console/fragments/handoffs/{handoff.id}")
    assert live.status_code == 200 and "我的理赔到哪了" in live.text


def test_an_unverified_customer_shows_no_claims(
    client: TestClient, sign_in: Callable[[str], str], handoff_factory: Callable[..., Handoff]
) -> None:
    sign_in("amy")
    handoff = handoff_factory()
    html = client.get(f"/console/handoffs/{handoff.id}").text
    assert "客户尚未验证身份" in html


def test_an_unknown_conversation_is_404(client: TestClient, sign_in: Callable[[str], str]) -> None:
    sign_in("amy")
    r = client.get("/console/handoffs/999999")
    assert r.status_code == 404
    assert "找不到这个对话" in r.text
    assert client.get("/console/fragments/handoffs/999999").status_code == 404


def test_a_call_back_is_marked_in_the_queue(
    client: TestClient,
    sign_in: Callable[[str], str],
    handoff_factory: Callable[..., Handoff],
    session: Session,
) -> None:
    sign_in("amy")
    promised = handoff_factory(text="晚上十一点还有人吗")
    promised.callback = True
    session.flush()
    html = client.get("/console").text
    assert "待回电" in html


def test_notes_are_shown_to_staff_on_the_conversation(
    client: TestClient,
    sign_in: Callable[[str], str],
    handoff_factory: Callable[..., Handoff],
) -> None:
    csrf = sign_in("amy")
    handoff = handoff_factory()
    assert "还没有备注" in client.get(f"/console/handoffs/{handoff.id}").text
    r = client.post(
        f"/api/v1/handoffs/{handoff.id}/notes",
        json={"text": "客户情绪激动，先安抚"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    assert "客户情绪激动，先安抚" in client.get(f"/console/handoffs/{handoff.id}").text
    fragment = client.get(f"/console/fragments/handoffs/{handoff.id}/notes")
    assert "客户情绪激动，先安抚" in fragment.text
    assert "amy" in fragment.text  # who wrote it
