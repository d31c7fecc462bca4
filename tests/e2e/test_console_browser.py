"""The agent console in a real (headless) Chromium, next to a customer in the web chat,
as people use them: the customer asks for a person, an agent signed in to /console
sees them appear in the queue without reloading, accepts, and the two write to each
other live both ways; the agent hands back and the bot answers again. Screenshots of
the queue and of a conversation are kept in docs/."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.stack import ROOT, Stack
from tests.e2e.test_webchat_browser import ChatPage, chromium_path

pytestmark = pytest.mark.e2e

AGENT = "e2e-agent"
AGENT_PASSWORD = "e2e-agent-password"
LIVE_MS = 10_000  # a message reaching the other side over the event streams
DOCS = ROOT / "docs"


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


@pytest.fixture(scope="module")
def agent_login(stack: Stack) -> tuple[str, str]:
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "backend.cli", "create-staff", AGENT,
         "--role", "agent", "--name", "王客服", "--password-stdin"],
        cwd=ROOT, env=stack.env(), check=True, capture_output=True, input=AGENT_PASSWORD.encode(),
    )  # fmt: skip
    return AGENT, AGENT_PASSWORD


@pytest.fixture
def agent_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 820})
    try:
        yield context
    finally:
        context.close()


def refused_by_the_policy(page: Page) -> list[str]:
    """What the browser refused under the Content-Security-Policy (filled as it runs)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


def sign_in(
    context: BrowserContext, stack: Stack, login: tuple[str, str]
) -> tuple[Page, list[str]]:
    """Sign in as a person does; the page, and what its policy refused (nothing)."""
    page = context.new_page()
    refused = refused_by_the_policy(page)
    page.goto(stack.app_url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.get_by_label("用户名").fill(login[0])
    page.get_by_label("密码").fill(login[1])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name=re.compile("等待接入"))).to_be_visible()
    return page, refused


def test_an_agent_signs_in_and_sees_the_queue(
    agent_context: BrowserContext, stack: Stack, agent_login: tuple[str, str]
) -> None:
    page, refused = sign_in(agent_context, stack, agent_login)
    expect(page.get_by_text("王客服 · 客服")).to_be_visible()
    # Who signed in lives in an HttpOnly, SameSite=Strict cookie no script can read.
    [cookie] = [c for c in agent_context.cookies() if c["name"] == "claims_staff"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""
    assert refused == []
    # Logging out ends it: the console asks to sign in again.
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(stack.app_url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))


def test_a_customer_and_an_agent_talk_live_and_the_bot_takes_over_again(
    browser: Browser,
    agent_context: BrowserContext,
    stack: Stack,
    agent_login: tuple[str, str],
) -> None:
    console, refused = sign_in(agent_context, stack, agent_login)

    customer_page = browser.new_page(locale="zh-CN", viewport={"width": 414, "height": 860})
    customer_page.goto(stack.app_url + "/chat")
    chat = ChatPage(customer_page)
    [cookie] = [c for c in customer_page.context.cookies() if c["name"] == "claims_chat"]
    conversation_id = cookie["value"].strip('"').split("|")[0]
    shown_as = f"web:…{conversation_id[-6:]}"

    assert "人工" in chat.send("转人工")

    # The customer appears in the queue the agent has open, without a reload.
    row = console.locator("tr.handoff-row", has_text=shown_as)
    expect(row).to_be_visible(timeout=LIVE_MS)
    expect(row).to_contain_text("客户要求人工")
    expect(console.locator("#alert")).to_contain_text("新客户")
    DOCS.mkdir(exist_ok=True)
    console.screenshot(path=str(DOCS / "console-queue.png"))

    row.get_by_role("link", name="查看").click()
    expect(console.locator(".conv-head")).to_contain_text("等待接入")
    console.get_by_role("button", name="接入对话").click()
    expect(console.locator(".conv-head")).to_contain_text("处理中")
    expect(customer_page.locator(".msg", has_text="已接入")).to_be_visible(timeout=LIVE_MS)

    # Agent -> customer: typed, sent with Enter.
    reply = console.locator("#reply-text")
    expect(reply).to_be_enabled()
    reply.fill("您好，我是王客服，请问有什么可以帮您？")
    reply.press("Enter")
    expect(customer_page.locator(".msg.agent", has_text="我是王客服")).to_be_visible(
        timeout=LIVE_MS
    )

    # Customer -> agent: the bot stays quiet, the agent's open page shows it.
    bot_lines = chat.bot_messages.count()
    customer_page.fill("#text", "我想问一下住院发票丢了怎么办")
    customer_page.press("#text", "Enter")
    expect(console.locator(".line.customer", has_text="住院发票丢了")).to_be_visible(
        timeout=LIVE_MS
    )

    # A canned reply, picked from the list and sent as it is.
    console.locator("#canned").select_option(label="如何上传材料")
    expect(reply).to_have_value(re.compile("照片或 PDF"))
    reply.press("Enter")
    expect(customer_page.locator(".msg.agent", has_text="照片或 PDF")).to_be_visible(
        timeout=LIVE_MS
    )
    console.locator("#note-text").fill("客户发票遗失，已告知补开流程")
    console.get_by_role("button", name="添加备注").click()
    expect(console.locator("#notes")).to_contain_text("发票遗失", timeout=LIVE_MS)
    console.screenshot(path=str(DOCS / "console-conversation.png"))
    assert refused == []
    assert chat.bot_messages.count() == bot_lines  # the bot never answered meanwhile

    # Hand back: the customer is told, and the bot answers the next message.
    console.get_by_role("button", name="结束并交还智能助手").click()
    console.get_by_role("button", name="确认结束").click()
    expect(console).to_have_url(re.compile(r"/console$"))
    expect(customer_page.locator(".msg", has_text="智能助手继续")).to_be_visible(timeout=LIVE_MS)
    customer_page.wait_for_timeout(700)
    answer = chat.send("你好")
    assert "报案" in answer, answer
    expect(console.locator("tr.handoff-row", has_text=shown_as)).to_have_count(0)
    customer_page.close()
