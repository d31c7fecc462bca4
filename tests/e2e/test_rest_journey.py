"""Through Rasa's REST channel against the running backend: the bot really runs, and a
whole report works (verify as 张伟, one sentence, confirm, claim number + checklist)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.journey import claim_of, joined
from tests.e2e.stack import RASA_TOKEN, Stack

pytestmark = pytest.mark.e2e


def say(stack: Stack, sender: str, text: str) -> str:
    r = httpx.post(
        stack.rasa_url + "/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    r.raise_for_status()
    answer: list[dict[str, Any]] = r.json()
    return joined(answer)


def test_all_processes_are_up(stack: Stack) -> None:
    health = httpx.get(stack.app_url + "/health", timeout=10).json()
    assert health["checks"]["database"]["status"] == "ok"
    assert health["checks"]["rasa"]["status"] == "ok"
    status = httpx.get(stack.rasa_url + "/status", params={"token": RASA_TOKEN}, timeout=10)
    assert status.json()["model_file"].endswith("claims.tar.gz")
    # Conversations hold personal data: Rasa's HTTP API is closed without the token.
    assert httpx.get(stack.rasa_url + "/status", timeout=10).status_code == 401
    tracker = httpx.get(stack.rasa_url + "/conversations/web:someone/tracker", timeout=10)
    assert tracker.status_code == 401


def test_the_bot_answers_hello(stack: Stack) -> None:
    answer = say(stack, f"web:{uuid.uuid4().hex[:12]}", "你好")
    assert "理赔" in answer and "报案" in answer


def test_report_a_medical_claim_in_one_sentence(stack: Stack) -> None:
    sender = f"web:{uuid.uuid4().hex[:12]}"
    asked = say(stack, sender, "我要报案")
    assert "保单号" in asked and "个人信息" in asked  # why the data is asked for
    assert "身份证" in say(stack, sender, "P2025000001")
    verified = say(stack, sender, "1234")
    assert "张伟" in verified
    after_sentence = say(stack, sender, "昨天在医院看急诊花了三千五")
    # Type, date and amount came from one sentence; the form asks only for what is left.
    assert "哪一类" not in after_sentence and "金额" not in after_sentence.split("核对")[0]
    answer = after_sentence
    for reply in ("北京协和医院", "发烧去急诊室看病"):
        if "核对" in answer:
            break
        answer = say(stack, sender, reply)
    assert "核对" in answer and "¥3,500.00" in answer and "医疗" in answer
    done = say(stack, sender, "确认")
    number = re.search(r"CL\d{12}", done)
    assert number, done
    for item in ("身份证", "医疗发票", "费用明细清单", "诊断证明", "银行卡"):
        assert item in done
    claim = claim_of(stack, sender, number.group(0))
    assert claim["claimed_amount"] == "3500.00"
    assert claim["claim_type"] == "medical"
    assert claim["status"] == "documents_pending"
