"""The workbench's queue as an adjuster uses it: who may open it, nearest legal
deadline first with overdue claims marked (how late, which clock), filters and search
kept in the address, pages. On SQLite and PostgreSQL."""

# The claim page's fixtures are imported (pytest finds them by name): their names are
# then parameters of the tests here, which ruff would take for redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.clock import refresh_clocks
from backend.core.settings import Settings
from backend.models import Claim, RiskFlagRecord
from tests.backend.claims.conftest import bot_headers, report
from tests.backend.test_console_workbench import (  # noqa: F401  (fixtures)
    complete,
    customer,
    decide,
    reported,
    sign_in,
    staff,
    under_review,
)


def numbers_in(html: str) -> list[str]:
    """The claim numbers of the queue's rows, top to bottom."""
    return re.findall(r'<tr class="claim-row[^"]*" data-claim-number="(CL\d+)"', html)


def claim_row(session: Session, number: str) -> Claim:
    return session.scalars(select(Claim).where(Claim.claim_number == number)).one()


@pytest.fixture
def queue(
    client: TestClient, customer: dict[str, str], session: Session, settings: Settings
) -> dict[str, str]:
    """张伟's claims: one under review, one overdue (documents complete 40 days ago),
    one still waiting for documents with a risk flag and the fast-track mark; and 李娜's
    car claim waiting for documents."""
    fresh = complete(client, customer, reported(client, customer))["claim_number"]
    late = complete(client, customer, reported(client, customer, "5000.00"))["claim_number"]
    flagged = reported(client, customer, "900.00")["claim_number"]
    li = bot_headers(settings, f"wechat:o{uuid.uuid4().hex[:12]}")
    verified = client.post(
        "/api/v1/identities/verify",
        headers=li,
        json={"policy_number": "P2025000002", "id_last4": "5678"},
    )
    assert verified.status_code == 200, verified.text
    car = report(client, li, claim_type="auto", claimed_amount="7000.00").json()["claim_number"]

    overdue = claim_row(session, late)
    overdue.documents_completed_at = datetime.now(UTC) - timedelta(days=40)
    refresh_clocks(settings, overdue)
    marked = claim_row(session, flagged)
    marked.fast_track = True
    session.add(RiskFlagRecord(claim_id=marked.id, code="near_limit", reason="接近保额"))
    session.flush()
    return {"fresh": fresh, "late": late, "flagged": flagged, "car": car}


def test_anonymous_is_sent_to_sign_in_and_back(client: TestClient) -> None:
    for path in ("/console/claims", "/console/claims/CL202611250001", "/console/figures"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/console/login?next=")


def test_an_agent_gets_the_forbidden_page_but_may_see_the_figures(
    client: TestClient, sign_in: Callable[[str], str], under_review: dict[str, Any]
) -> None:
    csrf = sign_in("amy")
    number = under_review["claim_number"]
    for path in ("/console/claims", f"/console/claims/{number}"):
        page = client.get(path)
        assert page.status_code == 403
        assert "理赔审核只对理赔员和管理员开放" in page.text
    refused = decide(client, csrf, number, action="reject", reason="x", confirmed="1")
    assert refused.status_code == 403
    assert client.get("/console/figures").status_code == 200
    # The agent's navigation offers no workbench.
    assert 'href="/console/claims"' not in client.get("/console").text


@pytest.mark.parametrize("username", ["ada", "root"])
def test_adjusters_and_admins_open_the_workbench(
    client: TestClient, sign_in: Callable[[str], str], username: str
) -> None:
    sign_in(username)
    page = client.get("/console/claims")
    assert page.status_code == 200
    assert 'href="/console/claims" class="current"' in page.text


def test_an_adjuster_signing_in_lands_on_the_queue(
    client: TestClient, sign_in: Callable[[str], str]
) -> None:
    sign_in("ada")
    landing = client.get("/console", follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == "/console/claims"


def test_the_nearest_deadline_comes_first_and_overdue_claims_are_marked(
    client: TestClient, sign_in: Callable[[str], str], queue: dict[str, str]
) -> None:
    sign_in("ada")
    html = client.get("/console/claims").text
    rows = numbers_in(html)
    # Overdue first, then the one due in 30 days, then those with no clock yet.
    assert rows[:2] == [queue["late"], queue["fresh"]]
    assert set(rows[2:]) == {queue["flagged"], queue["car"]}
    late = html[html.index(f'data-claim-number="{queue["late"]}"') :]
    late = late[: late.index("</tr>")]
    assert "逾期 10 天" in late and "核定期限" in late
    assert html.count('class="claim-row overdue"') == 1
    fresh = html[html.index(f'data-claim-number="{queue["fresh"]}"') :]
    assert "剩 30 天" in fresh[: fresh.index("</tr>")]
    flagged = html[html.index(f'data-claim-number="{queue["flagged"]}"') :]
    flagged = flagged[: flagged.index("</tr>")]
    assert "材料未齐" in flagged and "快速" in flagged and "接近保额上限" in flagged
    assert "张伟" in html and "李娜" in html and "P2025000002" in html
    assert "共 4 件" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("overdue=1", ["late"]),
        ("claim_type=auto", ["car"]),
        ("risk=1", ["flagged"]),
        ("fast_track=1", ["flagged"]),
        ("status=under_review", ["late", "fresh"]),
        ("q=p2025000002", ["car"]),
        ("claim_type=medical&fast_track=0", ["late", "fresh"]),
    ],
)
def test_filters_and_search_are_in_the_address(
    client: TestClient,
    sign_in: Callable[[str], str],
    queue: dict[str, str],
    query: str,
    expected: list[str],
) -> None:
    sign_in("ada")
    page = client.get(f"/console/claims?{query}")
    assert page.status_code == 200
    assert numbers_in(page.text) == [queue[name] for name in expected]
    assert "清除" in page.text  # a way back to the whole queue


def test_search_by_claim_number_finds_that_claim(
    client: TestClient, sign_in: Callable[[str], str], queue: dict[str, str]
) -> None:
    sign_in("ada")
    page = client.get(f"/console/claims?q={queue['car']}")
    assert numbers_in(page.text) == [queue["car"]]
    nothing = client.get("/console/claims?q=CL0000")
    assert numbers_in(nothing.text) == [] and "没有符合条件的案件" in nothing.text


def test_a_bad_filter_is_refused_in_words(
    client: TestClient, sign_in: Callable[[str], str]
) -> None:
    sign_in("ada")
    r = client.get("/console/claims?status=lost")
    assert r.status_code == 422 and "没有这个状态" in r.text
    assert client.get("/console/claims?overdue=yes").status_code == 422


def test_pages_of_25_keep_the_filters(
    client: TestClient, sign_in: Callable[[str], str], customer: dict[str, str]
) -> None:
    for _ in range(27):
        assert report(client, customer, claimed_amount="100.00").status_code == 201
    sign_in("ada")
    first = client.get("/console/claims?claim_type=medical")
    assert len(numbers_in(first.text)) == 25
    assert "第 1 / 2 页，共 27 件" in first.text
    assert 'href="/console/claims?claim_type=medical&amp;page=2"' in first.text
    second = client.get("/console/claims?claim_type=medical&page=2")
    assert len(numbers_in(second.text)) == 2 and "第 2 / 2 页" in second.text
    assert set(numbers_in(first.text)).isdisjoint(numbers_in(second.text))
    assert 'href="/console/claims?claim_type=medical"' in second.text  # back to page 1
