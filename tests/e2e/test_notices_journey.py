"""Notices reach the customer by themselves, through the real processes and the
notifications worker: a WeChat customer's small medical claim is approved by the fast
track and told with no message from them; staff marking it paid and closing it pushes
both, the closing followed by the bot's rating question.

This file runs first among the journeys on purpose (file names run in order): 张伟
reports a claim in each journey, and from the fourth claim within twelve months the
frequent-claims risk rule would keep this small claim off the fast track.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import TWILIO_NUMBER
from tests.e2e.journey import finish_report
from tests.e2e.stack import STAFF_PASSWORD, STAFF_USER, Stack
from tests.e2e.test_wechat_journey import Phone, choice
from tests.fakes.fake_twilio import FakeTwilio, TwilioWebhooks
from tests.fakes.fake_wechat import FakeWeChat

pytestmark = pytest.mark.e2e


def _wait_for_push(wechat: FakeWeChat, openid: str, words: str, seconds: float = 30) -> str:
    """The customer-service message to `openid` that contains `words`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in wechat.messages_to(openid):
            content = str((message.get("text") or {}).get("content") or "")
            if words in content:
                return content
        time.sleep(0.2)
    pushed = [m.get("text") for m in wechat.messages_to(openid)]
    raise AssertionError(f"no push with {words!r} to {openid}; pushed: {pushed}")


def _staff(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    login = httpx.post(
        stack.app_url + "/api/v1/staff/login",
        json={"username": STAFF_USER, "password": STAFF_PASSWORD},
        timeout=10,
    )
    login.raise_for_status()
    token = login.json()["access_token"]
    r = httpx.post(
        stack.app_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_fast_track_approval_payment_and_closing_reach_the_customer_by_themselves(
    stack: Stack, wechat: FakeWeChat
) -> None:
    phone = Phone(stack, wechat)
    phone.event("subscribe")
    phone.text("我要报案")
    phone.text("P2025000001")
    phone.text("1234")
    finish_report(phone.text, phone.text("前天在医院看门诊花了八百"), amount="800")
    number = re.search(r"CL\d{12}", phone.text("确认"))
    assert number
    claim_number = number.group(0)
    # The filing notice with the whole checklist arrives by itself.
    assert "身份证" in _wait_for_push(wechat, phone.openid, f"报案已受理，理赔号 {claim_number}")

    for item in ["身份证", "医疗发票", "费用明细清单", "诊断证明", "银行卡"]:
        asked = phone.image()
        if "哪一笔" in asked:
            asked = phone.text(choice(asked, claim_number))
        phone.text(choice(asked, item))
    # No message from the customer: the fast track approves, the worker tells them.
    approval = _wait_for_push(wechat, phone.openid, f"理赔 {claim_number} 审核通过")
    assert "¥800.00" in approval

    _staff(stack, f"/api/v1/claims/{claim_number}/mark-paid", {"reference": "TX-E2E-1"})
    assert "已支付" in _wait_for_push(wechat, phone.openid, f"理赔 {claim_number} 的赔款")
    _staff(stack, f"/api/v1/claims/{claim_number}/close", {})
    _wait_for_push(wechat, phone.openid, f"理赔 {claim_number} 已结案")
    # The closing notice is followed by the bot's satisfaction question.
    _wait_for_push(wechat, phone.openid, "打个分")


def _staff_get(stack: Stack, path: str) -> dict[str, Any]:
    login = httpx.post(
        stack.app_url + "/api/v1/staff/login",
        json={"username": STAFF_USER, "password": STAFF_PASSWORD},
        timeout=10,
    )
    token = login.json()["access_token"]
    r = httpx.get(stack.app_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _file_by_phone(stack: Stack, policy_number: str, claim_type: str) -> str:
    """Staff file a claim the customer reported by phone."""
    login = httpx.post(
        stack.app_url + "/api/v1/staff/login",
        json={"username": STAFF_USER, "password": STAFF_PASSWORD},
        timeout=10,
    )
    token = login.json()["access_token"]
    r = httpx.post(
        stack.app_url + "/api/v1/claims",
        json={
            "claim_type": claim_type,
            "incident_date": time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400)),
            "location": "北京市朝阳区",
            "description": "电话报案：家中水管爆裂，地板泡水",
            "claimed_amount": "6000.00",
            "policy_number": policy_number,
        },
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["claim_number"])


def test_a_claim_staff_file_for_an_sms_only_customer_reaches_their_phone(
    stack: Stack, twilio: FakeTwilio
) -> None:
    # 王芳 has never written on WeChat or by SMS: her phone on file is the way.
    number = _file_by_phone(stack, "P2025000003", "property")
    deadline = time.monotonic() + 30
    while not any(number in m["body"] for m in twilio.messages if m["to"] == "+8613800000003"):
        assert time.monotonic() < deadline, [m["body"] for m in twilio.messages]
        time.sleep(0.2)
    [sms] = [m for m in twilio.messages if number in m["body"]]
    assert "报案已受理" in sms["body"] and sms["from"] == TWILIO_NUMBER
    assert sms["status_callback"], "the delivery status must come back to the app"


def test_a_number_that_sent_stop_gets_no_notice(stack: Stack, twilio: FakeTwilio) -> None:
    phone = "+8613800000004"  # 刘洋
    webhooks = TwilioWebhooks(
        auth_token=twilio.auth_token, public_base_url=stack.app_url, account_sid=twilio.account_sid
    )
    stop = webhooks.inbound_sms(from_=phone, to=TWILIO_NUMBER, body="STOP")
    r = httpx.post(stack.app_url + stop.path, data=stop.form, headers=stop.headers, timeout=30)
    assert r.status_code == 200, r.text

    number = _file_by_phone(stack, "P2026000005", "medical")
    deadline = time.monotonic() + 30
    while True:
        claim = _staff_get(stack, f"/api/v1/claims/{number}")
        kinds = [event["kind"] for event in claim["events"]]
        if "notice_failed" in kinds:
            break
        assert time.monotonic() < deadline, kinds
        time.sleep(0.3)
    assert [m for m in twilio.messages if m["to"] == phone] == []
