"""The notifications worker end to end on its own side: outbox rows in a real database
in, messages at the fake WeChat and Twilio APIs out, and the outcome recorded on the
outbox row and the claim.

Each test has a fresh migrated database (SQLite file; PostgreSQL for the tests where
workers run at once) with the demo policies, and builds the worker as production does
(`open_services(Settings(...))`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.claims.decisions import approve, reject
from backend.claims.payment import mark_paid
from backend.core.db import transaction
from backend.domain.types import ClaimStatus, NoticeKind
from backend.models import ChannelIdentity, Claim, OutboxMessage
from backend.notifications.outbox import enqueue
from channels.messages import OutboundMessage
from tests.backend.notifications.conftest import (
    ADJUSTER,
    LI,
    LI_PHONE,
    PUBLIC_BASE_URL,
    SHANGHAI,
    ZHANG,
    ZHANG_PHONE,
    World,
    drain,
    new_openid,
)

pytestmark = pytest.mark.anyio

APPROVED = {
    "approved_amount": "2800.00",
    "payout_amount": "2800.00",
    "payment_due": "2026-12-12",
}


def notice(world: World, claim_number: str, kind: str, **payload: Any) -> int:
    """The outbox row a change of `claim_number` writes (in its own transaction)."""
    with transaction(world.sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()
        row = enqueue(session, claim, NoticeKind(kind), **payload)
        session.flush()
        return row.id


def under_review(world: World, claim_number: str) -> None:
    with transaction(world.sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()
        claim.status = ClaimStatus.UNDER_REVIEW


def wechat_customer(world: World, *, last_message_ago: timedelta | None) -> str:
    openid = new_openid()
    world.bind(ZHANG, f"wechat:{openid}", last_message_ago=last_message_ago)
    return openid


# -- WeChat: customer-service message, template, SMS ------------------------------------


async def test_inside_the_window_the_notice_is_a_customer_service_message(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(hours=3))
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        assert await drain(worker) == 1

    texts = world.texts_to(openid)
    assert len(texts) == 1
    assert number in texts[0] and "审核通过" in texts[0] and "¥2,800.00" in texts[0]
    assert "2026年12月12日" in texts[0]
    assert world.wechat.template_messages == [] and world.twilio.messages == []
    row = world.row(outbox_id)
    assert row.status == "delivered"
    assert row.route == "wechat_customer_service"
    assert row.conversation_id == f"wechat:{openid}"
    assert row.attempts == 1 and row.delivered_at is not None and row.last_error is None


@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_window_refusal_falls_back_to_a_template_message(world: World, errcode: int) -> None:
    # Our clock says the window is open, WeChat says no (closed, or quota used up).
    openid = wechat_customer(world, last_message_ago=timedelta(hours=3))
    if errcode == 45015:
        world.wechat.close_window(openid)
    else:
        world.wechat.exhaust_quota(openid)
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)

    assert world.texts_to(openid) == []
    assert len(world.wechat.calls_to("/cgi-bin/message/custom/send")) == 1  # tried first
    [template] = world.templates_to(openid)
    assert template["template_id"] == "tmpl-1"
    assert template["client_msg_id"] == f"notice-{outbox_id}"
    assert template["data"]["character_string1"] == {"value": number}
    assert template["data"]["thing2"] == {"value": "审核通过"}
    assert template["data"]["amount3"] == {"value": "2,800.00元"}
    assert world.twilio.messages == []
    row = world.row(outbox_id)
    assert (row.status, row.route) == ("sent", "wechat_template")
    assert row.platform_message_id == str(template["msgid"])


async def test_window_closed_goes_straight_to_a_template_message(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(days=3))
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)

    assert world.wechat.calls_to("/cgi-bin/message/custom/send") == []
    [template] = world.templates_to(openid)
    assert template["client_msg_id"] == f"notice-{outbox_id}"
    assert world.row(outbox_id).status == "sent"


@pytest.mark.parametrize(
    "last_message_ago", [timedelta(hours=1), None], ids=["window-open", "window-closed"]
)
async def test_not_following_43004_goes_by_sms_to_the_phone_on_file(
    world: World, last_message_ago: timedelta | None
) -> None:
    openid = wechat_customer(world, last_message_ago=last_message_ago)
    world.wechat.not_following(openid)
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)

    assert world.texts_to(openid) == [] and world.templates_to(openid) == []
    [sms] = world.twilio.messages
    assert sms["to"] == ZHANG_PHONE
    assert number in sms["body"] and "审核通过" in sms["body"]
    assert sms["status_callback"] == f"{PUBLIC_BASE_URL}/channels/twilio/status"
    row = world.row(outbox_id)
    assert (row.status, row.route, row.conversation_id) == ("sent", "sms", f"sms:{ZHANG_PHONE}")
    assert row.platform_message_id == sms["sid"]


async def test_a_kind_without_a_template_goes_by_sms_outside_the_window(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=None)
    number = world.file_claim()
    outbox_id = notice(world, number, "withdrawn")  # no template configured for it

    async with world.worker() as worker:
        await drain(worker)

    assert world.templates_to(openid) == []
    assert [number in body and "已撤销" in body for body in world.sms_to(ZHANG_PHONE)] == [True]
    assert world.row(outbox_id).route == "sms"


async def test_the_chosen_channel_sms_goes_first(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(minutes=5))
    world.set_holder(ZHANG, notice_channel="sms")
    number = world.file_claim()
    notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)

    assert world.texts_to(openid) == []
    assert len(world.sms_to(ZHANG_PHONE)) == 1


async def test_a_customer_who_stopped_notices_gets_nothing(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(minutes=5))
    world.set_holder(ZHANG, notices_paused=True)
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)

    assert world.texts_to(openid) == [] and world.twilio.messages == []
    assert world.row(outbox_id).status == "suppressed"


# -- opt-out ----------------------------------------------------------------------------


async def test_stopped_sms_number_gets_nothing_and_the_notice_fails_visibly(
    world: World,
) -> None:
    # 李娜 has no WeChat binding; her number texted STOP.
    world.stopped_sms(LI_PHONE)
    number = world.file_claim(LI)
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)

    assert world.twilio.requests == 0
    row = world.row(outbox_id)
    assert row.status == "failed"
    assert row.last_error
    [event] = world.events(number, "notice_failed")
    assert event.reason == row.last_error
    assert event.data["outbox_id"] == outbox_id and event.data["notice"] == "approved"

    async with world.worker() as worker:  # not retried
        assert await drain(worker) == 0
    assert world.twilio.requests == 0


async def test_twilio_21610_marks_the_number_opted_out_and_is_not_retried(world: World) -> None:
    world.twilio.opt_out(LI_PHONE)  # STOP reached Twilio but not us yet
    number = world.file_claim(LI)
    first = notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)
        assert world.twilio.requests == 1
        assert world.row(first).status == "failed"
        assert "21610" in (world.row(first).last_error or "")
        conversation = world.conversation(f"sms:{LI_PHONE}")
        assert conversation is not None and conversation.opted_out

        second = notice(world, number, "paid", payout_amount="2800.00")
        await drain(worker)
    assert world.twilio.requests == 1  # the next notice does not even try
    assert world.row(second).status == "failed"
    assert len(world.events(number, "notice_failed")) == 2


# -- quiet hours ------------------------------------------------------------------------


async def test_quiet_hours_hold_an_sms_notice_until_they_end(world: World) -> None:
    now = datetime.now(SHANGHAI)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    quiet = f"{start:%H:%M}-{end:%H:%M}"  # may run over midnight
    number = world.file_claim(LI)
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker(sms_quiet_hours=quiet) as worker:
        assert await drain(worker) == 1
        assert world.twilio.messages == []
        row = world.row(outbox_id)
        assert row.status == "pending"
        assert row.attempts == 0  # waiting is not a failed attempt
        assert row.next_attempt_at == end.replace(second=0, microsecond=0).astimezone(UTC)
        assert await drain(worker) == 0  # not due before then


async def test_whole_day_quiet_hours_hold_a_notice_but_not_a_bot_reply(world: World) -> None:
    number = world.file_claim(LI)
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker(sms_quiet_hours="00:00-24:00") as worker:
        await drain(worker)
        assert world.twilio.messages == []
        row = world.row(outbox_id)
        assert row.status == "pending"
        assert row.next_attempt_at > datetime.now(UTC)

        # The customer's own question is answered at once.
        outcomes = await worker.services.outbound.send_text(
            f"sms:{LI_PHONE}", [OutboundMessage(text="您的理赔正在审核中。")], sender="bot"
        )
    assert [o.status for o in outcomes] == ["queued"]
    assert world.sms_to(LI_PHONE) == ["您的理赔正在审核中。"]


async def test_quiet_hours_do_not_hold_a_wechat_notice(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(hours=1))
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker(sms_quiet_hours="00:00-24:00") as worker:
        await drain(worker)

    assert len(world.texts_to(openid)) == 1
    assert world.row(outbox_id).status == "delivered"


# -- transient failures: back off, then stop ---------------------------------------------


async def test_wechat_5xx_is_retried_with_backoff_and_delivered_once(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(hours=1))
    world.wechat.fail_http(502, 2, "/cgi-bin/message/custom/send")
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)
    base = 0.2

    async with world.worker(notice_retry_base_seconds=base, notice_max_attempts=5) as worker:
        delays = []
        for attempt in (1, 2):
            before = datetime.now(UTC)
            assert await worker.run_once() == 1
            after = datetime.now(UTC)
            row = world.row(outbox_id)
            assert (row.status, row.attempts) == ("pending", attempt)
            assert "transport" in (row.last_error or "")
            # Exponential with jitter: base·2^(n-1) times 0.5–1.0.
            high = base * 2 ** (attempt - 1)
            assert before + timedelta(seconds=high / 2) <= row.next_attempt_at
            assert row.next_attempt_at <= after + timedelta(seconds=high)
            delays.append(row.next_attempt_at)
            assert await worker.run_once() == 0  # not due yet
            await asyncio.sleep((row.next_attempt_at - datetime.now(UTC)).total_seconds() + 0.05)
        assert world.texts_to(openid) == []
        assert await worker.run_once() == 1

    assert len(world.texts_to(openid)) == 1
    row = world.row(outbox_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)


async def test_retries_stop_after_max_attempts_and_the_notice_fails(world: World) -> None:
    world.twilio.fail_http(500, 100)
    number = world.file_claim(LI)
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker(notice_retry_base_seconds=0.02, notice_max_attempts=3) as worker:
        for _ in range(20):
            await drain(worker)
            if world.row(outbox_id).status != "pending":
                break
            await asyncio.sleep(0.05)

    row = world.row(outbox_id)
    assert row.status == "failed"
    assert row.attempts == 3
    assert world.twilio.requests == 3
    assert "gave up after 3 attempts" in (row.last_error or "")
    [event] = world.events(number, "notice_failed")
    assert event.reason == row.last_error
    assert world.twilio.messages == []


async def test_twilio_500_once_then_delivered(world: World) -> None:
    world.twilio.fail_http(500, 1)
    number = world.file_claim(LI)
    outbox_id = notice(world, number, "approved", **APPROVED)

    async with world.worker(notice_retry_base_seconds=0.05) as worker:
        await drain(worker)
        assert world.row(outbox_id).status == "pending"
        assert "sms:transport" in (world.row(outbox_id).last_error or "")
        await asyncio.sleep(0.1)
        await drain(worker)

    assert len(world.sms_to(LI_PHONE)) == 1
    assert world.row(outbox_id).status == "sent"


# -- a late notice tells its own change ---------------------------------------------------


@pytest.mark.parametrize("window", [True, False], ids=["customer-service", "template"])
async def test_a_late_approval_notice_still_says_approved_after_the_claim_was_paid(
    world: World, window: bool
) -> None:
    openid = wechat_customer(
        world, last_message_ago=timedelta(hours=1) if window else timedelta(days=4)
    )
    number = world.file_claim()
    under_review(world, number)
    settings = world.settings()
    with transaction(world.sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == number)).one()
        approve(session, settings, claim, ADJUSTER, Decimal("2800.00"))
    with transaction(world.sessions) as session:  # paid before the worker came round
        claim = session.scalars(select(Claim).where(Claim.claim_number == number)).one()
        mark_paid(session, settings, claim, ADJUSTER, "TX-1")

    async with world.worker() as worker:
        assert await drain(worker) == 2

    assert world.claim(number).status == ClaimStatus.PAID
    if window:
        approved, paid = world.texts_to(openid)
        assert "审核通过" in approved and "¥2,800.00" in approved and "已支付" not in approved
        assert "已支付" in paid
    else:
        approved_t, paid_t = world.templates_to(openid)
        assert approved_t["template_id"] == "tmpl-1"
        assert approved_t["data"]["thing2"]["value"] == "审核通过"
        assert paid_t["data"]["thing2"]["value"] == "赔款已支付"


# -- the rejection notice is recorded when the customer has it ----------------------------


def rejected_claim(world: World, reason: str = "不在保障范围内") -> str:
    number = world.file_claim()
    under_review(world, number)
    with transaction(world.sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == number)).one()
        reject(session, world.settings(), claim, ADJUSTER, reason)
    return number


async def test_rejection_by_customer_service_message_is_recorded_at_once(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(hours=2))
    number = rejected_claim(world)
    assert world.claim(number).rejection_notified_at is None
    assert world.claim(number).next_due_clock == "rejection_notice"  # the stored clock

    async with world.worker() as worker:
        await drain(worker)

    [text] = world.texts_to(openid)
    assert "拒赔通知" in text and "不在保障范围内" in text
    assert world.claim(number).rejection_notified_at is not None
    # The stored clock stopped with it: no longer due in the adjusters' queue.
    notified = world.claim(number)
    assert notified.rejection_notified_on is not None
    assert (notified.next_due_on, notified.next_due_clock) == (None, None)
    [event] = world.events(number, "rejection_notice_sent")
    assert event.data["channel"] == "wechat_customer_service"


async def test_rejection_by_template_is_recorded_only_when_wechat_reports_it_delivered(
    world: World,
) -> None:
    openid = wechat_customer(world, last_message_ago=None)
    number = rejected_claim(world)

    async with world.worker() as worker:
        await drain(worker)
        [template] = world.templates_to(openid)
        assert template["template_id"] == "tmpl-rejected"
        [row] = [r for r in world.outbox(number) if r.kind == "rejected"]
        assert row.status == "sent"
        assert world.claim(number).rejection_notified_at is None
        assert world.events(number, "rejection_notice_sent") == []

        # TEMPLATESENDJOBFINISH with Status "success" (twice: WeChat retries callbacks).
        msgid = str(template["msgid"])
        await worker.services.gateway.record_delivery_status(msgid, "delivered", None)
        await worker.services.gateway.record_delivery_status(msgid, "delivered", None)

    assert world.row(row.id).status == "delivered"
    assert world.claim(number).rejection_notified_at is not None
    assert world.claim(number).next_due_clock is None
    [event] = world.events(number, "rejection_notice_sent")
    assert event.data == {"channel": "wechat_template", "reference": msgid}


async def test_template_fields_are_one_line_of_at_most_20_characters(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=None)
    reason = "经核查，本次就诊属于保单约定的等待期内发生的疾病，\n依据条款第五条不予赔付"
    number = rejected_claim(world, reason)

    async with world.worker() as worker:
        await drain(worker)

    [template] = world.templates_to(openid)
    values = [field["value"] for field in template["data"].values()]
    assert all(len(value) <= 20 and "\n" not in value for value in values), values
    assert template["data"]["character_string1"]["value"] == number
    assert template["data"]["thing3"]["value"].startswith("经核查，本次就诊")


async def test_rejection_template_that_fails_is_not_recorded_as_sent(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=None)
    number = rejected_claim(world)

    async with world.worker() as worker:
        await drain(worker)
        [template] = world.templates_to(openid)
        await worker.services.gateway.record_delivery_status(
            str(template["msgid"]), "failed", "user_block"
        )

    [row] = [r for r in world.outbox(number) if r.kind == "rejected"]
    assert row.status == "failed"
    assert world.claim(number).rejection_notified_at is None
    assert len(world.events(number, "notice_failed")) == 1


async def test_rejection_by_sms_is_recorded_on_the_delivered_status_callback(
    world: World,
) -> None:
    number = rejected_claim(world)  # 张伟 has no WeChat binding here: SMS

    async with world.worker() as worker:
        await drain(worker)
        [sms] = world.twilio.messages
        assert world.claim(number).rejection_notified_at is None
        await worker.services.gateway.record_delivery_status(sms["sid"], "sent", None)
        assert world.claim(number).rejection_notified_at is None
        await worker.services.gateway.record_delivery_status(sms["sid"], "delivered", None)

    assert world.claim(number).rejection_notified_at is not None
    [event] = world.events(number, "rejection_notice_sent")
    assert event.data == {"channel": "sms", "reference": sms["sid"]}


# -- several workers, and a worker that dies ---------------------------------------------


@pytest.mark.postgres
async def test_two_workers_deliver_1000_notices_each_exactly_once_and_in_order(
    pg_world: World,
) -> None:
    world = pg_world
    ids_of: dict[str, list[int]] = {}  # openid -> its notices, in the order written
    for _ in range(100):
        policy_number, number = world.new_customer()
        openid = new_openid()
        world.bind(policy_number, f"wechat:{openid}")  # template: carries the notice id
        ids_of[openid] = [notice(world, number, "approved", **APPROVED) for _ in range(10)]

    async with (
        world.worker("worker-a", notice_batch_size=25) as a,
        world.worker("worker-b", notice_batch_size=25) as b,
    ):
        taken_a, taken_b = await asyncio.gather(drain(a), drain(b))

    assert taken_a + taken_b == 1000
    assert taken_a > 0 and taken_b > 0  # both really worked
    for openid, ids in ids_of.items():
        # Each notice once, and each customer's in the order their changes happened.
        received = [m["client_msg_id"] for m in world.templates_to(openid)]
        assert received == [f"notice-{i}" for i in ids]
    assert Counter(r.status for r in world.outbox()) == {"sent": 1000}


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_rows_of_a_worker_that_died_mid_batch_are_delivered_after_its_lease(
    request: pytest.FixtureRequest, db: str
) -> None:
    from backend.notifications.service import take_due

    world: World = request.getfixturevalue("world" if db == "sqlite" else "pg_world")
    ids, openids = [], []
    for _ in range(15):  # fifteen customers: a batch takes one notice per customer
        policy_number, number = world.new_customer()
        openids.append(new_openid())
        world.bind(policy_number, f"wechat:{openids[-1]}")
        ids.append(notice(world, number, "approved", **APPROVED))

    async with world.worker("worker-b", notice_lease_seconds=3.0) as b:
        # Worker A takes a batch and dies before sending any of it (taken once B is
        # ready, so how long B takes to start never eats into A's lease).
        with transaction(world.sessions) as session:
            held = take_due(
                session, owner="worker-a", now=datetime.now(UTC), limit=10, lease_seconds=3.0
            )
        assert len(held) == 10
        assert await drain(b) == 5  # only what A does not hold
        assert len(world.wechat.template_messages) == 5
        await asyncio.sleep(3.2)
        assert await drain(b) == 10

    sent = Counter(m["client_msg_id"] for m in world.wechat.template_messages)
    assert sent == Counter({f"notice-{i}": 1 for i in ids})
    rows = {r.id: r for r in world.outbox()}
    assert all(rows[i].status == "sent" for i in ids)
    assert {rows[n.id].attempts for n in held} == {2}


# -- free text never falls back, stale notices, the window's openers ---------------------


async def test_a_bot_or_agent_reply_is_never_sent_as_a_template(world: World) -> None:
    from backend.conversations.outbound import DeliveryRefused

    openid = wechat_customer(world, last_message_ago=timedelta(days=3))
    world.wechat.close_window(openid)
    async with world.services() as services:
        outcomes = await services.outbound.send_text(
            f"wechat:{openid}", [OutboundMessage(text="您好")], sender="bot"
        )
        assert [(o.status, o.error_code) for o in outcomes] == [("failed", "45015")]
        with pytest.raises(DeliveryRefused) as refused:
            await services.outbound.send_text(
                f"wechat:{openid}",
                [OutboundMessage(text="我是客服小王")],
                sender="agent",
                raise_on_refusal=True,
            )
    assert refused.value.code == "45015"
    assert world.wechat.template_messages == [] and world.twilio.messages == []


async def test_a_notice_older_than_the_maximum_age_is_dropped_visibly(world: World) -> None:
    openid = wechat_customer(world, last_message_ago=timedelta(hours=1))
    number = world.file_claim()
    outbox_id = notice(world, number, "approved", **APPROVED)
    with transaction(world.sessions) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(hours=73)

    async with world.worker(notice_max_age_hours=72) as worker:
        await drain(worker)

    assert world.texts_to(openid) == []
    assert world.row(outbox_id).status == "failed"
    assert "expired" in (world.row(outbox_id).last_error or "")
    assert len(world.events(number, "notice_failed")) == 1


async def test_an_unsubscribed_wechat_customer_gets_the_notice_by_sms(world: World) -> None:
    openid = new_openid()
    world.bind(ZHANG, f"wechat:{openid}", last_message_ago=timedelta(hours=1), opted_out=True)
    number = world.file_claim()
    notice(world, number, "approved", **APPROVED)

    async with world.worker() as worker:
        await drain(worker)

    assert world.wechat.api_calls == []
    assert len(world.sms_to(ZHANG_PHONE)) == 1


@pytest.mark.parametrize(
    ("kind", "event", "opens"),
    [
        ("text", None, True),
        ("event", "click", True),
        ("event", "templatesendjobfinish", False),
        ("event", "subscribe", False),
    ],
)
async def test_only_the_customers_own_messages_open_the_window(
    world: World, kind: str, event: str | None, opens: bool
) -> None:
    from channels.messages import InboundMessage

    openid = wechat_customer(world, last_message_ago=None)
    number = world.file_claim()
    async with world.worker() as worker:
        await worker.services.gateway.handle_inbound(
            InboundMessage(
                conversation_id=f"wechat:{openid}",
                channel="wechat",
                kind=kind,  # type: ignore[arg-type]
                sender_id=openid,
                text="我的理赔到哪一步了" if kind == "text" else None,
                event=event,
                event_key="MY_CLAIMS" if event == "click" else None,
                dedup_key=new_openid(),
            )
        )
        world.wechat.sent_messages.clear()  # the bot's own answer, if any
        notice(world, number, "approved", **APPROVED)
        await drain(worker)

    if opens:
        assert len(world.texts_to(openid)) == 1 and world.templates_to(openid) == []
    else:
        assert world.texts_to(openid) == [] and len(world.templates_to(openid)) == 1


# -- a worker slower than its lease ---------------------------------------------------------


@pytest.mark.postgres
async def test_a_slow_worker_does_not_send_rows_whose_lease_it_lost(pg_world: World) -> None:
    world = pg_world
    phones = [f"+861390000{i:04d}" for i in range(6)]
    numbers = [world.new_customer(phone=phone)[1] for phone in phones]  # SMS only
    for number in numbers:
        notice(world, number, "approved", **APPROVED)
    # A slow platform: 6 sends one by one take 3 s, the lease 2 s. A send begun in the
    # lease's first half (no renewal needed) ends well inside it, even on a busy machine.
    world.twilio.delay(0.5)

    async def keep_polling(worker: Any, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            await worker.run_once()
            await asyncio.sleep(0.05)

    settings: dict[str, Any] = {
        "notice_batch_size": 6,
        "notice_lease_seconds": 2.0,
        "notice_concurrency": 1,
    }
    async with (
        world.worker("worker-a", **settings) as a,
        world.worker("worker-b", **settings) as b,
    ):
        batch_a = asyncio.create_task(a.run_once())  # A takes all six first
        await asyncio.sleep(0.3)
        await keep_polling(b, 6.0)
        assert await batch_a == 6

    bodies = [body for phone in phones for body in world.sms_to(phone)]
    per_claim = {number: sum(number in body for body in bodies) for number in numbers}
    assert per_claim == {number: 1 for number in numbers}


async def test_an_expired_binding_still_gets_notices_about_its_own_claims(world: World) -> None:
    """An expired binding shows no claim data in the chat until the customer verifies
    again, but the notices about their claims still reach them there."""
    openid = wechat_customer(world, last_message_ago=timedelta(hours=2))
    with transaction(world.sessions) as session:
        session.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.conversation_id == f"wechat:{openid}")
            .values(verified_at=datetime.now(UTC) - timedelta(days=400))
        )
    number = world.file_claim()
    notice(world, number, "approved", **APPROVED)
    async with world.worker() as worker:
        await drain(worker)
    [pushed] = world.texts_to(openid)
    assert number in pushed and "审核通过" in pushed
