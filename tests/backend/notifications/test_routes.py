"""The route rules for a proactive notice (pure functions: no I/O).

One notice, one channel: the channel the customer last wrote on when it can take the
notice, else their WeChat binding by template message, else SMS; a chosen channel
first; opted-out conversations never.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.conversations.routes import (
    QuietHours,
    Reachable,
    Route,
    plan_notice_routes,
    window_open,
)

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
PHONE = "+8613800000001"
SMS = f"sms:{PHONE}"
WECHAT = "wechat:oCustomer"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def wechat(last: timedelta | None, *, opted_out: bool = False, cid: str = WECHAT) -> Reachable:
    return Reachable(cid, opted_out, None if last is None else NOW - last)


def sms(last: timedelta | None, *, opted_out: bool = False) -> Reachable:
    return Reachable(SMS, opted_out, None if last is None else NOW - last)


def kinds(routes: list[Route]) -> list[tuple[str, str]]:
    return [(r.kind, r.conversation_id) for r in routes]


# -- the 48-hour window ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "open_"),
    [
        (timedelta(minutes=1), True),
        (timedelta(hours=47, minutes=59), True),
        (timedelta(hours=48), False),
        (timedelta(days=3), False),
        (None, False),  # never wrote (only followed, or only platform events)
    ],
)
def test_window_is_48_hours_from_the_customers_own_last_message(
    ago: timedelta | None, open_: bool
) -> None:
    assert window_open(wechat(ago), NOW) is open_


def test_window_open_sends_a_customer_service_message_first() -> None:
    routes = plan_notice_routes(
        [wechat(timedelta(hours=2))], phone=PHONE, preferred="auto", now=NOW
    )
    assert kinds(routes) == [
        ("wechat_customer_service", WECHAT),
        ("wechat_template", WECHAT),  # after 45015/45047
        ("sms", SMS),  # after 43004
    ]


def test_window_closed_goes_by_template_then_sms() -> None:
    routes = plan_notice_routes([wechat(timedelta(days=3))], phone=PHONE, preferred="auto", now=NOW)
    assert kinds(routes) == [("wechat_template", WECHAT), ("sms", SMS)]
    assert "wechat_customer_service" not in [r.kind for r in routes]


def test_bound_but_never_wrote_goes_by_template() -> None:
    routes = plan_notice_routes([wechat(None)], phone=PHONE, preferred="auto", now=NOW)
    assert kinds(routes)[0] == ("wechat_template", WECHAT)


def test_sms_only_customer_gets_sms_to_the_phone_on_file() -> None:
    assert kinds(plan_notice_routes([], phone=PHONE, preferred="auto", now=NOW)) == [("sms", SMS)]


def test_no_phone_and_no_binding_means_no_route() -> None:
    assert plan_notice_routes([], phone=None, preferred="auto", now=NOW) == []


# -- which channel --------------------------------------------------------------------


def test_last_written_channel_goes_first_sms() -> None:
    routes = plan_notice_routes(
        [wechat(timedelta(hours=5)), sms(timedelta(hours=1))],
        phone=PHONE,
        preferred="auto",
        now=NOW,
    )
    assert routes[0] == Route("sms", SMS)
    # Only one SMS route even though the phone is both bound and on file.
    assert [r.kind for r in routes].count("sms") == 1


def test_last_written_channel_goes_first_wechat() -> None:
    routes = plan_notice_routes(
        [sms(timedelta(hours=5)), wechat(timedelta(hours=1))],
        phone=PHONE,
        preferred="auto",
        now=NOW,
    )
    assert routes[0] == Route("wechat_customer_service", WECHAT)


def test_last_written_web_chat_goes_first() -> None:
    web = Reachable("web:abc", False, NOW - timedelta(minutes=5))
    routes = plan_notice_routes(
        [wechat(timedelta(hours=1)), web], phone=PHONE, preferred="auto", now=NOW
    )
    assert routes[0] == Route("web", "web:abc")
    # Then WeChat by template (not by customer-service message: that needs to be last).
    assert Route("wechat_template", WECHAT) in routes


def test_preference_sms_goes_first_even_inside_the_wechat_window() -> None:
    routes = plan_notice_routes(
        [wechat(timedelta(minutes=5))], phone=PHONE, preferred="sms", now=NOW
    )
    assert routes[0] == Route("sms", SMS)
    assert [r.kind for r in routes].count("sms") == 1


def test_preference_wechat_goes_first_even_when_they_last_wrote_by_sms() -> None:
    routes = plan_notice_routes(
        [sms(timedelta(minutes=5)), wechat(timedelta(days=5))],
        phone=PHONE,
        preferred="wechat",
        now=NOW,
    )
    assert routes[0] == Route("wechat_template", WECHAT)


# -- opt-out ----------------------------------------------------------------------------


def test_opted_out_wechat_conversation_is_never_used() -> None:
    routes = plan_notice_routes(
        [wechat(timedelta(minutes=5), opted_out=True)], phone=PHONE, preferred="auto", now=NOW
    )
    assert kinds(routes) == [("sms", SMS)]


def test_sms_stop_blocks_sms_even_as_the_fallback_and_the_preference() -> None:
    conversations = [wechat(timedelta(days=5)), sms(timedelta(hours=1), opted_out=True)]
    for preferred in ("auto", "sms", "wechat"):
        routes = plan_notice_routes(conversations, phone=PHONE, preferred=preferred, now=NOW)
        assert all(r.kind != "sms" for r in routes), (preferred, routes)
        assert Route("wechat_template", WECHAT) in routes


def test_unbound_stopped_sms_conversation_still_blocks_the_phone_on_file() -> None:
    # Staff filed the claim: the phone's SMS conversation is not bound, but said STOP.
    routes = plan_notice_routes([sms(None, opted_out=True)], phone=PHONE, preferred="sms", now=NOW)
    assert routes == []


def test_opted_out_everywhere_means_no_route() -> None:
    routes = plan_notice_routes(
        [wechat(timedelta(minutes=1), opted_out=True), sms(timedelta(minutes=2), opted_out=True)],
        phone=PHONE,
        preferred="auto",
        now=NOW,
    )
    assert routes == []


def test_two_wechat_bindings_latest_first() -> None:
    old = wechat(timedelta(days=4), cid="wechat:oOld")
    new = wechat(timedelta(hours=1), cid="wechat:oNew")
    routes = plan_notice_routes([old, new], phone=None, preferred="auto", now=NOW)
    assert routes[0] == Route("wechat_customer_service", "wechat:oNew")
    assert routes.index(Route("wechat_template", "wechat:oNew")) < routes.index(
        Route("wechat_template", "wechat:oOld")
    )


def test_routes_are_unique() -> None:
    routes = plan_notice_routes(
        [wechat(timedelta(minutes=1)), sms(timedelta(minutes=2))],
        phone=PHONE,
        preferred="wechat",
        now=NOW,
    )
    assert len(routes) == len(set(routes))


# -- quiet hours ----------------------------------------------------------------------


def local(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def test_quiet_hours_parse() -> None:
    assert QuietHours.parse("21:00-08:00") == QuietHours(time(21, 0), time(8, 0))
    assert QuietHours.parse(" 22:30 - 07:15 ") == QuietHours(time(22, 30), time(7, 15))


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_quiet_hours_hold_nothing(text: str) -> None:
    quiet = QuietHours.parse(text)
    assert quiet == QuietHours(None, None)
    for hour in range(24):
        assert not quiet.contains(local(hour))


@pytest.mark.parametrize("text", ["21:00", "9:00-8:00", "21:00-08:00-09:00", "ab:cd-08:00"])
def test_bad_quiet_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        QuietHours.parse(text)


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (20, 59, False),
        (21, 0, True),
        (23, 59, True),
        (0, 0, True),
        (7, 59, True),
        (8, 0, False),
        (12, 0, False),
    ],
)
def test_quiet_hours_over_midnight(hour: int, minute: int, quiet: bool) -> None:
    assert QuietHours.parse("21:00-08:00").contains(local(hour, minute)) is quiet


@pytest.mark.parametrize(
    ("hour", "quiet"), [(12, False), (13, True), (14, True), (15, False), (2, False)]
)
def test_quiet_hours_within_one_day(hour: int, quiet: bool) -> None:
    assert QuietHours.parse("13:00-15:00").contains(local(hour)) is quiet


def test_whole_day_quiet_hours() -> None:
    quiet = QuietHours.parse("00:00-24:00")
    for hour in range(24):
        assert quiet.contains(local(hour, 30))


def test_end_after_over_midnight_evening_ends_next_morning() -> None:
    quiet = QuietHours.parse("21:00-08:00")
    assert quiet.end_after(local(22, 15)) == local(8, 0, day=3)


def test_end_after_over_midnight_early_morning_ends_the_same_morning() -> None:
    quiet = QuietHours.parse("21:00-08:00")
    assert quiet.end_after(local(3, 40)) == local(8, 0)


def test_end_after_within_one_day() -> None:
    assert QuietHours.parse("13:00-15:30").end_after(local(14, 0)) == local(15, 30)


def test_end_after_keeps_the_zone_and_converts_to_utc() -> None:
    end = QuietHours.parse("21:00-08:00").end_after(local(23, 0))
    assert end.astimezone(UTC) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
