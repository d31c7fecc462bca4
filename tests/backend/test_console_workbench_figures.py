"""The figures page and its SVG charts: what a person sees for a period (charts with
their values, tables, CSV links), bad periods refused in words, labels escaped."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.console import charts
from backend.core.clock import local_today
from backend.core.settings import Settings
from backend.staff.service import upsert_staff
from tests.backend.claims.conftest import bot_headers, report

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


# ---------------------------------------------------------------- the renderer (no I/O)


def test_bars_carry_their_values_and_stack_to_the_total() -> None:
    svg = charts.bar_chart(
        "每周报案量",
        ["11-23", "11-30"],
        [charts.Series("医疗", [3, 0]), charts.Series("车险", [1, 2])],
        unit="件",
        stacked=True,
    )
    root = parsed(svg)
    bars = root.findall(f"{SVG}rect[@class='bar']")
    assert [b.get("data-value") for b in bars] == ["3", "1", "0", "2"]
    # Stacked: the 车险 bar of the first week sits on top of the 医疗 bar.
    medical, auto, _, _ = bars
    assert float(auto.get("y", 0)) + float(auto.get("height", 0)) == pytest.approx(
        float(medical.get("y", 0)), abs=0.2
    )
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "医疗" in texts and "车险" in texts  # the legend
    assert "11-23" in texts and "11-30" in texts  # the x axis
    assert "4" in texts  # the y axis reaches the tallest stack
    assert root.findtext(f"{SVG}title") == "每周报案量"
    assert [t.text for t in bars[0].iter(f"{SVG}title")] == ["11-23 医疗 · 3件"]


def test_lines_break_where_a_value_is_missing() -> None:
    svg = charts.line_chart(
        "天数", ["a", "b", "c", "d"], [charts.Series("中位数", [2, 3, None, 5.5])], unit="天"
    )
    root = parsed(svg)
    points = root.findall(f"{SVG}circle")
    assert [p.get("data-value") for p in points] == ["2", "3", "5.5"]
    [line] = root.findall(f"{SVG}polyline")  # a–b drawn; d alone has no segment
    assert len(line.get("points", "").split()) == 2


def test_no_data_says_so() -> None:
    root = parsed(charts.bar_chart("空", ["a"], [charts.Series("x", [0])]))
    assert root.findall(f"{SVG}rect[@class='bar']") == []
    assert "本期没有数据" in "".join(root.itertext())
    assert "本期没有数据" in charts.line_chart("空", [], [])


def test_labels_are_escaped_never_markup() -> None:
    evil = '<script>alert(1)</script>"&'
    svg = charts.bar_chart(evil, [evil], [charts.Series(evil, [1]), charts.Series("b", [2])])
    assert "<script>" not in svg
    root = parsed(svg)  # still well-formed
    assert evil in [t.text for t in root.iter(f"{SVG}text")]
    assert root.get("aria-label") == evil


def test_ticks_are_round_numbers_reaching_the_top() -> None:
    assert charts.nice_ticks(4) == [0, 1, 2, 3, 4]
    assert charts.nice_ticks(37) == [0, 10, 20, 30, 40]
    assert charts.nice_ticks(0.9)[-1] >= 0.9
    assert charts.nice_ticks(0) == [0, 1]
    # Counts of things: no 0.25 of a claim on the axis.
    assert charts.nice_ticks(1, whole=True) == [0, 1]
    assert charts.nice_ticks(3, whole=True) == [0, 1, 2, 3]
    assert charts.nice_ticks(9, whole=True) == [0, 2, 4, 6, 8, 10]
    one = parsed(charts.bar_chart("一件", ["a"], [charts.Series("x", [1])]))
    assert [t.text for t in one.iter(f"{SVG}text")][:2] == ["0", "1"]


def test_a_series_of_the_wrong_length_is_a_bug() -> None:
    with pytest.raises(ValueError, match="2 values for 3"):
        charts.bar_chart("x", ["a", "b", "c"], [charts.Series("s", [1, 2])])


# ---------------------------------------------------------------- the page


@pytest.fixture
def signed_in(client: TestClient, session: Session) -> Callable[[str], None]:
    logins = {"amy": "agent", "ada": "adjuster"}
    for username, role in logins.items():
        upsert_staff(session, username, f"{username}-password-1", role, username)
    session.flush()

    def _sign_in(username: str) -> None:
        r = client.post(
            "/console/login",
            data={"username": username, "password": f"{username}-password-1"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    return _sign_in


def test_any_staff_sees_the_figures_with_charts_tables_and_csv_links(
    client: TestClient, signed_in: Callable[[str], None], demo: Session, settings: Settings
) -> None:
    # Two medical claims reported today, by a verified customer through the API.
    headers = bot_headers(settings, f"web:{uuid.uuid4().hex[:12]}")
    verified = client.post(
        "/api/v1/identities/verify",
        headers=headers,
        json={"policy_number": "P2025000001", "id_last4": "1234"},
    )
    assert verified.status_code == 200, verified.text
    for amount in ("800.00", "12000.00"):
        assert report(client, headers, claimed_amount=amount).status_code == 201
    today = local_today(settings)
    start = today - timedelta(weeks=4)
    signed_in("amy")
    page = client.get(f"/console/figures?from={start}&to={today}&claim_type=medical")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'value="{start}"' in html and f'value="{today}"' in html
    assert '<option value="medical" selected>' in html
    for name in ("claims_by_week", "cycle_time_by_week", "legal_clocks", "handoffs_by_day",
                 "notices", "ratings", "low_ratings"):  # fmt: skip
        assert f'data-figure="{name}"' in html
        csv = f"/api/v1/stats/{name}.csv?from={start}&amp;to={today}&amp;claim_type=medical"
        assert csv in html
    assert html.count('<svg class="chart"') >= 8
    assert "每周报案量（按险种）" in html and "法定时限" in html
    # This week's bar holds the two claims; the axis starts at the period's first Monday.
    section = html[html.index('data-figure="claims_by_week"') :]
    section = section[: section.index("</section>")]
    assert 'class="bar"' in section and 'data-value="2"' in section
    monday = start - timedelta(days=start.weekday())
    assert f">{monday:%m-%d}</text>" in section


def test_a_bad_period_is_refused_in_words(
    client: TestClient, signed_in: Callable[[str], None]
) -> None:
    signed_in("ada")
    backwards = client.get("/console/figures?from=2026-11-30&to=2026-09-01")
    assert backwards.status_code == 422 and "开始日期晚于结束日期" in backwards.text
    assert '<svg class="chart"' not in backwards.text
    garbled = client.get("/console/figures?from=yesterday")
    assert garbled.status_code == 422 and "「开始日期」不是日期" in garbled.text
    unknown = client.get("/console/figures?claim_type=pets")
    assert unknown.status_code == 422 and "没有这个险种" in unknown.text
    too_long = client.get("/console/figures?from=2020-01-01&to=2026-01-01")
    assert too_long.status_code == 422 and "时间段最长" in too_long.text


def test_without_a_period_the_last_twelve_weeks_are_shown(
    client: TestClient, signed_in: Callable[[str], None]
) -> None:
    signed_in("ada")
    html = client.get("/console/figures").text
    shown = re.search(r'name="from" value="(\d{4}-\d\d-\d\d)"', html)
    assert shown, html[:500]
    assert "近 12 周" in html and '<svg class="chart"' in html
