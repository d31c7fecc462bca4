"""A WeChat customer reports a small medical claim through nginx while one replica of
every process (app, Rasa, action server, notifications worker) is killed with SIGKILL
in the middle and started again. The journey completes; every message the customer
sent got exactly one answer; every notice of the claim (filed, approved, paid, closed)
reached them exactly once; the restarted replicas serve again."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.e2e.journey import claim_of, finish_report
from tests.e2e.stack import STAFF_PASSWORD, STAFF_USER
from tests.e2e.test_wechat_journey import Phone, choice
from tests.fakes.fake_wechat import FakeWeChat
from tests.scaled.conftest import Scaled

# Two Rasa replicas load their model at start and one loads it again after its kill:
# minutes each on a busy 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

KILLED = ("app1", "rasa1", "actions1", "worker1")


class CountingPhone(Phone):
    """A Phone that keeps every exchange: what the customer sent and what came back."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.exchanges: list[tuple[str, str]] = []

    def text(self, content: str) -> str:
        answer = super().text(content)
        self.exchanges.append((content, answer))
        assert answer, f"no passive reply to {content!r}; pushed: {self.pushed()}"
        return answer

    def pushed(self) -> list[str]:
        return pushed_texts(self.wechat, self.openid)

    def image(self) -> str:
        answer = super().image()
        self.exchanges.append(("[image]", answer))
        return answer


def pushed_texts(wechat: FakeWeChat, openid: str) -> list[str]:
    return [str((m.get("text") or {}).get("content") or "") for m in wechat.messages_to(openid)]


def wait_for_push(wechat: FakeWeChat, openid: str, words: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for content in pushed_texts(wechat, openid):
            if words in content:
                return content
        time.sleep(0.2)
    raise AssertionError(f"no push with {words!r}; pushed: {pushed_texts(wechat, openid)}")


def staff(scaled: Scaled, path: str, body: dict[str, Any]) -> None:
    base = scaled.stack.app_url
    login = httpx.post(
        base + "/api/v1/staff/login",
        json={"username": STAFF_USER, "password": STAFF_PASSWORD},
        timeout=10,
    )
    login.raise_for_status()
    token = login.json()["access_token"]
    r = httpx.post(base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text


def test_a_journey_survives_one_replica_of_every_process_killed(
    scaled: Scaled, wechat: FakeWeChat
) -> None:
    phone = CountingPhone(scaled.stack, wechat)
    assert "理赔" in phone.event("subscribe")
    assert "保单号" in phone.text("我要报案")
    assert "身份证" in phone.text("P2025000001")

    # In the middle of the identity form: one of each dies at once, no clean-up.
    killed = {name: scaled.kill(name) for name in KILLED}

    # The conversation goes on, on the other replicas: the form's state is in Redis.
    assert "张伟" in phone.text("1234")
    finish_report(phone.text, phone.text("前天在医院看门诊花了八百"), amount="800")
    number = re.search(r"CL\d{12}", phone.text("确认"))
    assert number, phone.exchanges[-1]
    claim_number = number.group(0)
    wait_for_push(wechat, phone.openid, f"报案已受理，理赔号 {claim_number}")

    for item in ["身份证", "医疗发票", "费用明细清单", "诊断证明", "银行卡"]:
        asked = phone.image()
        if "哪一笔" in asked:
            asked = phone.text(choice(asked, claim_number))
        phone.text(choice(asked, item))
    wait_for_push(wechat, phone.openid, f"理赔 {claim_number} 审核通过")

    # The killed ones are back (a Rasa replica loads its model again: minutes here).
    for name, old_pid in killed.items():
        scaled.wait_ready(name, 600, not_pid=old_pid)
    app1_log = scaled.log_size("app1")

    staff(scaled, f"/api/v1/claims/{claim_number}/mark-paid", {"reference": "TX-SCALED-1"})
    wait_for_push(wechat, phone.openid, f"理赔 {claim_number} 的赔款")
    staff(scaled, f"/api/v1/claims/{claim_number}/close", {})
    wait_for_push(wechat, phone.openid, f"理赔 {claim_number} 已结案")
    # Every replica serves again: enough turns for nginx to hand some to each.
    for _ in range(4):
        assert claim_number in phone.text("我的理赔怎么样了")

    # Every message got its answer, as the passive reply, and only that one.
    unanswered = [sent for sent, answer in phone.exchanges if not answer]
    assert unanswered == [], phone.exchanges
    apologies = [sent for sent, answer in phone.exchanges if "系统繁忙" in answer]
    assert apologies == [], phone.exchanges
    # Nothing went out twice: each notice once, and no bot answer pushed besides.
    pushed = Counter(pushed_texts(wechat, phone.openid))
    assert [text for text, count in pushed.items() if count > 1] == [], pushed
    notices = [
        f"报案已受理，理赔号 {claim_number}",
        f"理赔 {claim_number} 审核通过",
        f"理赔 {claim_number} 的赔款",
        f"理赔 {claim_number} 已结案",
    ]
    for words in notices:
        assert sum(count for text, count in pushed.items() if words in text) == 1, pushed
    claim = claim_of(scaled.stack, f"wechat:{phone.openid}", claim_number)
    assert claim["status"] == "closed"
    # The restarted app replica took its share again (nginx round-robin).
    assert "POST /channels/wechat" in scaled.log_since("app1", app1_log), scaled.log("app1")
