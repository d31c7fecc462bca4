"""A whole WeChat journey through the real processes: subscribe, verify as 张伟, report
a medical claim, send the required documents as images, ask for the status — and the
claim is in the backend with its documents."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.e2e.conftest import WECHAT_TOKEN
from tests.e2e.journey import claim_of, finish_report, png
from tests.e2e.stack import Stack
from tests.fakes.fake_wechat import FakeWeChat, SignedCallback, WeChatCallbacks

pytestmark = pytest.mark.e2e


class Phone:
    """One WeChat user: sends signed callbacks, reads the passive replies."""

    def __init__(self, stack: Stack, wechat: FakeWeChat) -> None:
        self.stack = stack
        self.wechat = wechat
        self.openid = "o" + uuid.uuid4().hex[:27]
        self.callbacks = WeChatCallbacks(token=WECHAT_TOKEN, app_id=wechat.app_id)

    def _post(self, callback: SignedCallback) -> str:
        r = httpx.post(
            self.stack.app_url + "/channels/wechat",
            params=callback.params,
            content=callback.body,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        reply = self.callbacks.read_reply(r.content)
        return "" if reply is None else str(reply.get("Content") or "")

    def text(self, content: str) -> str:
        return self._post(self.callbacks.text(self.openid, content))

    def event(self, event: str) -> str:
        return self._post(self.callbacks.event(self.openid, event))

    def image(self) -> str:
        media_id = "m" + uuid.uuid4().hex
        self.wechat.add_media(media_id, png(), "image/png", f"{media_id}.png")
        return self._post(self.callbacks.image(self.openid, media_id))


def choice(reply: str, wanted: str) -> str:
    """The number to answer for the numbered button whose title names `wanted`."""
    for line in reply.splitlines():
        match = re.search(r"回复\s*(\d+)", line)
        if match and wanted in line:
            return match.group(1)
    raise AssertionError(f"no numbered choice for {wanted!r} in:\n{reply}")


def test_wechat_journey(stack: Stack, wechat: FakeWeChat) -> None:
    phone = Phone(stack, wechat)
    conversation_id = f"wechat:{phone.openid}"
    welcome = phone.event("subscribe")
    assert "理赔" in welcome

    assert "保单号" in phone.text("我要报案")
    assert "身份证" in phone.text("P2025000001")
    assert "张伟" in phone.text("1234")
    finish_report(phone.text, phone.text("昨天在医院看急诊花了三千五"), amount="3500")
    done = phone.text("确认")
    number = re.search(r"CL\d{12}", done)
    assert number, done
    claim_number = number.group(0)

    items = ["身份证", "医疗发票", "费用明细清单", "诊断证明", "银行卡"]
    for item in items:
        asked = phone.image()
        if "哪一笔" in asked:  # 张伟 has claims from other tests too: pick this one
            asked = phone.text(choice(asked, claim_number))
        if "回复" not in asked:
            raise AssertionError(f"the bot did not offer the missing items:\n{asked}")
        answered = phone.text(choice(asked, item))
        assert answered, f"no answer after choosing {item}"
    # The last document completes the checklist: review starts (fast track ≤ ¥3,000
    # does not apply to ¥3,500, so a person will review it).
    assert "审核" in answered or "齐" in answered, answered

    status = phone.text("我的理赔怎么样了")
    assert claim_number in status

    claim = claim_of(stack, conversation_id, claim_number)
    assert claim["missing"] == []
    assert claim["status"] == "under_review"
    assert all(entry["document_ids"] for entry in claim["checklist"])
    # Each media id was downloaded once, at once.
    assert len(wechat.calls_to("/cgi-bin/media/get")) >= len(items)
