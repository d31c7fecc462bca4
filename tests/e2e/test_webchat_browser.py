"""The local web chat in a real (headless) Chromium, as a newcomer uses it after
`make run`: greet, verify, report a claim, click a button, attach a photo, and see the
answers arrive over server-sent events. A screenshot of the end is kept for people."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.e2e.journey import claim_of, finish_report, png
from tests.e2e.stack import ROOT, Stack

pytestmark = pytest.mark.e2e

ANSWER_SECONDS = 30_000  # ms: a bot turn through Rasa and the action server


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium.sh (make test does)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


class ChatPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def bot_messages(self) -> Locator:
        return self.page.locator(".msg.bot")

    def send(self, text: str) -> str:
        """Type a message, wait for the bot's next message, return the bot's text."""
        before = self.bot_messages.count()
        self.page.fill("#text", text)
        self.page.press("#text", "Enter")
        return self.wait_after(before)

    def wait_after(self, before: int) -> str:
        expect(self.bot_messages.nth(before)).to_be_visible(timeout=ANSWER_SECONDS)
        # A turn may bring several messages; let the stream settle briefly.
        self.page.wait_for_timeout(700)
        return "\n".join(self.bot_messages.all_inner_texts()[before:])


def test_web_chat_in_a_browser(browser: Browser, stack: Stack, tmp_path: Path) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 414, "height": 860})
    page.goto(stack.app_url + "/chat")
    chat = ChatPage(page)
    # Who this visitor is lives in an HttpOnly cookie, not in the page.
    [cookie] = [c for c in page.context.cookies() if c["name"] == "claims_chat"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    conversation_id = cookie["value"].strip('"').split("|")[0]
    assert re.fullmatch(r"web:[0-9a-f]{24}", conversation_id)
    assert conversation_id not in page.content()

    assert "报案" in chat.send("你好")
    assert "保单号" in chat.send("我要报案")
    assert "身份证" in chat.send("P2025000001")
    assert "张伟" in chat.send("1234")
    answer = finish_report(chat.send, chat.send("昨天在医院看急诊花了三千五"), amount="3500")
    assert "¥3,500.00" in answer, answer
    # Buttons are shown once, as buttons: no "回复 1 …" lines in the text as well.
    assert not re.search(r"^回复\s*\d", answer, re.MULTILINE), answer

    # The summary comes with buttons; clicking one answers like typing its number.
    confirm = page.locator(".msg.bot .buttons button", has_text="确认").last
    before = chat.bot_messages.count()
    confirm.click()
    done = chat.wait_after(before)
    number = re.search(r"CL\d{12}", done)
    assert number, done
    assert "身份证" in done and "银行卡" in done

    # Each photo becomes a document; the bot asks which item it is (buttons) and then
    # says what is still missing, until review starts.
    items = ["身份证", "医疗发票", "费用明细清单", "诊断证明", "银行卡"]
    for index, item in enumerate(items):
        photo = tmp_path / f"photo-{index}.png"
        photo.write_bytes(png())
        before = chat.bot_messages.count()
        page.set_input_files("#file", str(photo))
        asked = chat.wait_after(before)
        if "哪一笔" in asked:  # 张伟 has claims from other tests too: pick this one
            before = chat.bot_messages.count()
            page.locator(".msg.bot .buttons button", has_text=number.group(0)).last.click()
            asked = chat.wait_after(before)
        assert page.locator(".msg.bot .buttons button", has_text=item).count() == 1, asked
        before = chat.bot_messages.count()
        page.locator(".msg.bot .buttons button", has_text=item).last.click()
        after = chat.wait_after(before)
        if index == 0:
            assert "医疗发票" in after and "诊断证明" in after, after  # all that is missing
    assert "审核" in after or "齐" in after, after

    status = chat.send("我的理赔怎么样了")
    assert number.group(0) in status

    # A reload shows the conversation again (the cookie keeps the visitor).
    page.reload()
    expect(page.locator(".msg.me", has_text="我的理赔怎么样了")).to_be_visible(timeout=10_000)
    expect(page.locator(".msg.bot", has_text=number.group(0)).last).to_be_visible()
    # …and the visitor carries on in the same conversation.
    assert number.group(0) in chat.send("我的理赔怎么样了")

    shots = ROOT / "var" / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "webchat.png"), full_page=True)

    claim = claim_of(stack, conversation_id, number.group(0))
    assert claim["missing"] == []
    assert claim["status"] == "under_review"
    assert all(len(entry["document_ids"]) == 1 for entry in claim["checklist"])
    page.close()
