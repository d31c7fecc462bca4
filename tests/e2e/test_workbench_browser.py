"""The adjusters' workbench in a real (headless) Chromium on the real stack: an
adjuster signs in, opens the first claim of the queue, looks at a document, approves
the claim after seeing the payout the backend computes, sees it leave the queue; the
notifications worker tells the customer on WeChat (the fake WeChat API receives it).
The figures page draws its charts. Screenshots are kept in docs/.

The customer is a WeChat user (李娜, auto policy P2025000002, used by no other journey)
who followed the account and wrote to it; the claim is reported and its documents sent through the
backend's API with the bot's token, as the action server does on her behalf, so this
test is about the workbench, not about the bot's understanding.
"""

from __future__ import annotations

import re
import struct
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.stack import BOT_TOKEN, ROOT, STAFF_PASSWORD, STAFF_USER, Stack
from tests.e2e.test_console_browser import refused_by_the_policy
from tests.e2e.test_webchat_browser import chromium_path
from tests.e2e.test_wechat_journey import Phone
from tests.fakes.fake_wechat import FakeWeChat

pytestmark = pytest.mark.e2e

DOCS = ROOT / "docs"
NOTICE_SECONDS = 60  # the worker's poll, the delivery, on a busy machine


def real_png(width: int = 240, height: int = 150, seed: int = 0) -> bytes:
    """A real, decodable PNG (a gradient), so the browser can draw it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes(((x + seed * 40) % 256, (y * 2) % 256, 180)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def real_pdf(text: str) -> bytes:
    """A real one-page PDF (Helvetica, one line of ASCII text) the browser's viewer draws."""
    content = f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _bot(stack: Stack, conversation_id: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.app_url,
        headers={"Authorization": f"Bearer {BOT_TOKEN}", "X-Conversation-Id": conversation_id},
        timeout=30,
    )


def report_auto_claim(stack: Stack, phone: Phone) -> dict[str, Any]:
    """李娜 reports a car accident above the fast-track limit and sends every item."""
    with _bot(stack, f"wechat:{phone.openid}") as bot:
        verified = bot.post(
            "/api/v1/identities/verify",
            json={"policy_number": "P2025000002", "id_last4": "5678"},
        )
        assert verified.status_code == 200, verified.text
        r = bot.post(
            "/api/v1/claims",
            json={
                "claim_type": "auto",
                "incident_date": (date.today() - timedelta(days=2)).isoformat(),
                "location": "北京市海淀区中关村大街",
                "description": "停车时被后车追尾，后保险杠和尾灯损坏",
                "claimed_amount": "8000.00",
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 201, r.text
        claim = r.json()
        for seed, item in enumerate(claim["missing"]):
            # The repair invoice is a scanned PDF, the rest are photos.
            data = (
                real_pdf(f"Repair invoice {uuid.uuid4().hex[:8]}")
                if item["code"] == "repair_invoice"
                else real_png(seed=seed)
            )
            uploaded = bot.post("/api/v1/documents", content=data)
            assert uploaded.status_code == 201, uploaded.text
            r = bot.post(
                f"/api/v1/claims/{claim['claim_number']}/documents/"
                f"{uploaded.json()['document_id']}/attach",
                json={"item_code": item["code"]},
            )
            assert r.status_code == 200, r.text
            claim = r.json()
    assert claim["status"] == "under_review", claim["status"]  # 8,000 > the 5,000 fast track
    return dict(claim)


def wait_for_push(wechat: FakeWeChat, openid: str, words: str) -> str:
    deadline = time.monotonic() + NOTICE_SECONDS
    while time.monotonic() < deadline:
        for message in wechat.messages_to(openid):
            content = str((message.get("text") or {}).get("content") or "")
            if words in content:
                return content
        time.sleep(0.3)
    pushed = [m.get("text") for m in wechat.messages_to(openid)]
    raise AssertionError(f"no push with {words!r} to {openid}; pushed: {pushed}")


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


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    try:
        yield context
    finally:
        context.close()


def sign_in(context: BrowserContext, stack: Stack) -> tuple[Page, list[str]]:
    page = context.new_page()
    refused = refused_by_the_policy(page)
    page.goto(stack.app_url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.get_by_label("用户名").fill(STAFF_USER)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    # An adjuster lands on her workbench.
    expect(page).to_have_url(re.compile(r"/console/claims$"))
    expect(page.get_by_role("heading", name=re.compile("待审核案件"))).to_be_visible()
    return page, refused


def test_an_adjuster_approves_the_first_claim_and_the_customer_is_told(
    context: BrowserContext, stack: Stack, wechat: FakeWeChat
) -> None:
    phone = Phone(stack, wechat)
    # She follows the account and writes: notices may come as WeChat messages (48 h).
    phone.event("subscribe")
    assert phone.text("你好")
    claim = report_auto_claim(stack, phone)
    number = claim["claim_number"]

    page, refused = sign_in(context, stack)
    expect(page.locator("#claims-queue")).to_contain_text(number)
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "workbench-queue.png"), full_page=True)
    # Car claims only (other journeys leave medical and property claims in the queue).
    page.get_by_role("combobox", name=re.compile("^险种")).select_option(label="车险")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"claim_type=auto"))
    first = page.locator("#claims-queue tbody tr").first
    expect(first).to_contain_text(number)
    expect(first).to_contain_text("李娜")
    expect(first).to_contain_text("核定期限")

    first.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=re.compile(number))).to_be_visible()
    expect(page.locator(".claim-title")).to_contain_text("审核中")
    expect(page.locator(".clocks")).to_contain_text("剩 30 天")

    # The documents are shown in the page, decrypted for staff: photos as images, the
    # repair invoice (a PDF) in the browser's own viewer.
    licence = page.locator(".checklist .item", has_text="驾驶证").locator("img")
    licence.scroll_into_view_if_needed()
    expect(licence).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 240", arg=licence.element_handle()
    )
    invoice = page.locator(".checklist .item", has_text="维修发票").locator("iframe")
    invoice.scroll_into_view_if_needed()
    expect(invoice).to_be_visible()
    src = invoice.get_attribute("src") or ""
    assert re.fullmatch(rf"/console/claims/{number}/documents/d_\w+", src), src
    deadline = time.monotonic() + 15
    while not any(f.url.endswith(src) for f in page.frames):
        assert time.monotonic() < deadline, [f.url for f in page.frames]
        page.wait_for_timeout(200)
    # Opened on its own as well; every view is on record.
    with context.expect_page() as opened:
        page.locator(".checklist .item", has_text="驾驶证").get_by_role(
            "link", name="在新窗口打开"
        ).click()
    opened.value.wait_for_load_state()
    opened.value.close()
    views = _audit(stack)
    assert any(v["actor_id"] == STAFF_USER and v["data"].get("role") == "adjuster" for v in views)

    # Approve: the payout the backend computes first (8,000 − 500 deductible), then yes.
    page.get_by_label("核定金额（元）").first.fill("8000")
    page.get_by_role("button", name="计算赔付金额…").first.click()
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#payout")).to_have_text("7,500.00元")
    shown = page.locator(".checklist .item", has_text="驾驶证").locator("img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=shown.element_handle()
    )
    page.screenshot(path=str(DOCS / "workbench-claim.png"), full_page=False)
    page.get_by_role("button", name="确认核定赔付").click()
    expect(page.locator(".flash.ok")).to_contain_text("已核定赔付")
    expect(page.locator(".claim-title")).to_contain_text("已核定赔付")
    expect(page.locator(".timeline")).to_contain_text("赔付 7,500.00元")

    # It has left the queue of claims to decide.
    page.get_by_role("link", name="← 返回审核队列").click()
    expect(page.locator("body")).to_contain_text("待审核案件")
    expect(page.locator("#claims-queue", has_text=number)).to_have_count(0)

    # The worker tells her on WeChat.
    notice = wait_for_push(wechat, phone.openid, f"理赔 {number} 审核通过")
    assert "7,500.00" in notice or "7500.00" in notice, notice
    assert refused == []


def _audit(stack: Stack) -> list[dict[str, Any]]:
    login = httpx.post(
        stack.app_url + "/api/v1/staff/login",
        json={"username": STAFF_USER, "password": STAFF_PASSWORD},
        timeout=10,
    )
    token = login.json()["access_token"]
    r = httpx.get(
        stack.app_url + "/api/v1/audit-events",
        params={"action": "document_viewed"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_the_figures_page_draws_its_charts(context: BrowserContext, stack: Stack) -> None:
    page, refused = sign_in(context, stack)
    page.get_by_role("link", name="数据看板").click()
    expect(page).to_have_url(re.compile(r"/console/figures"))
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.locator("svg.chart").count() >= 8
    # This period's claims are drawn: bars with their numbers.
    claims = page.locator("[data-figure=claims_by_week] svg.chart rect.bar")
    assert claims.count() >= 1
    values = [int(v) for v in claims.evaluate_all("bars => bars.map(b => b.dataset.value)")]
    assert sum(values) >= 1
    # Filter to car claims: the page and its CSV links follow.
    page.get_by_role("combobox", name=re.compile("^险种")).select_option(label="车险")
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(re.compile(r"claim_type=auto"))
    csv = page.locator("[data-figure=claims_by_week] a", has_text="下载 CSV")
    assert "claim_type=auto" in (csv.get_attribute("href") or "")
    page.screenshot(path=str(DOCS / "figures.png"), full_page=True)
    assert refused == []
