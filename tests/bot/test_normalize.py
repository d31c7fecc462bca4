from datetime import date
from decimal import Decimal

import pytest

from actions import normalize as n

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昨天", date(2026, 11, 24)),
        ("昨晚在小区门口", date(2026, 11, 24)),
        ("前天", date(2026, 11, 23)),
        ("大前天下午", date(2026, 11, 22)),
        ("今天早上", TODAY),
        ("上周五", date(2026, 11, 20)),
        ("上星期三", date(2026, 11, 18)),
        ("上个礼拜天", date(2026, 11, 22)),
        ("这周一", date(2026, 11, 23)),
        ("周五", date(2026, 11, 20)),  # the last Friday, not the coming one
        ("11月3号", date(2026, 11, 3)),
        ("11月3日住院的", date(2026, 11, 3)),
        ("十一月三号", date(2026, 11, 3)),
        ("12月30号", date(2025, 12, 30)),  # no year, would be ahead: last year
        ("去年12月5号摔的", date(2025, 12, 5)),
        ("2026-11-20", date(2026, 11, 20)),
        ("2026/11/20", date(2026, 11, 20)),
        ("2026年11月20日", date(2026, 11, 20)),
        ("3天前", date(2026, 11, 22)),
        ("三天之前", date(2026, 11, 22)),
        ("一周前", date(2026, 11, 18)),
        ("两个月前", date(2026, 9, 25)),
        ("上个月5号", date(2026, 10, 5)),
        ("20号", date(2026, 11, 20)),
        ("28号", date(2026, 10, 28)),
        ("yesterday", date(2026, 11, 24)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert n.parse_incident_date(text, today=TODAY) == expected


@pytest.mark.parametrize("text", ["上周", "上个月", "不记得了", "人民医院3号楼", "建国路8号", ""])
def test_dates_that_name_no_day(text: str) -> None:
    assert n.parse_incident_date(text, today=TODAY) is None


def test_strict_date_allows_bare_forms() -> None:
    assert n.parse_incident_date("11/3", today=TODAY, strict=True) == date(2026, 11, 3)
    assert n.parse_incident_date("11/3", today=TODAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("三千五", Decimal("3500.00")),
        ("花了三千五", Decimal("3500.00")),
        ("昨天在医院看急诊花了三千五", Decimal("3500.00")),
        ("1.2万", Decimal("12000.00")),
        ("1.2w", Decimal("12000.00")),
        ("3500元", Decimal("3500.00")),
        ("¥800", Decimal("800.00")),
        ("￥800", Decimal("800.00")),
        ("一万二", Decimal("12000.00")),
        ("两万三千块", Decimal("23000.00")),
        ("3千5", Decimal("3500.00")),
        ("大概3k", Decimal("3000.00")),
        ("3,500元", Decimal("3500.00")),
        ("三点五万", Decimal("35000.00")),
        ("医药费2345.5", Decimal("2345.50")),
        ("修车花了4800块钱", Decimal("4800.00")),
    ],
)
def test_amounts(text: str, expected: Decimal) -> None:
    assert n.parse_amount(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "我想咨询一下",
        "11月3号住院",
        "保单P2025000001",
        "CL202611250007",
        "手机13800000001",
        "在3号楼",
        "两天前",
        "我要报案",
    ],
)
def test_not_amounts(text: str) -> None:
    assert n.parse_amount(text) is None


def test_strict_amount_takes_a_bare_number() -> None:
    assert n.parse_amount("3500", strict=True) == Decimal("3500.00")
    assert n.parse_amount("大概两千吧", strict=True) == Decimal("2000.00")
    assert n.parse_amount("3500") is None  # a bare number in a story may be anything


def test_unknown_amount() -> None:
    assert n.is_unknown_amount("还不知道呢")
    assert not n.is_unknown_amount("3500")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P2025000001", "P2025000001"),
        ("保单号p2025000001", "P2025000001"),
        ("Ｐ２０２５０００００１", "P2025000001"),
        ("P 2025 000001", "P2025000001"),
        ("P202500000", None),
        ("P20250000012", None),
    ],
)
def test_policy_number(text: str, expected: str | None) -> None:
    assert n.parse_policy_number(text) == expected


def test_claim_numbers() -> None:
    assert n.parse_claim_number("cl202611250007进度") == "CL202611250007"
    assert n.find_claim_numbers("CL202611250007 和 CL202611250008") == [
        "CL202611250007",
        "CL202611250008",
    ]
    assert n.parse_claim_number("CL2026112500") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234", "1234"),
        ("后四位是123x", "123X"),
        ("P2025000001 1234", "1234"),
        ("P2025000001", None),
        ("12345", None),
        ("1234 5678", None),
    ],
)
def test_id_last4(text: str, expected: str | None) -> None:
    assert n.parse_id_last4(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("住院", "medical"), ("门诊", "medical"), ("看病", "medical"), ("医疗", "medical"),
        ("车祸", "auto"), ("撞车", "auto"), ("刮蹭", "auto"), ("车险", "auto"),
        ("漏水", "property"), ("火灾", "property"), ("被盗", "property"), ("家财", "property"),
        ("摔伤", "accident"), ("骨折", "accident"), ("意外", "accident"),
        ("medical", "medical"), ("昨天在医院看急诊", "medical"),
        ("开车追尾了然后去医院", "auto"), ("摔倒骨折住院", "accident"),
        ("你好", None),
    ],
)  # fmt: skip
def test_claim_type(text: str, expected: str | None) -> None:
    assert n.parse_claim_type(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", 5), ("4分", 4), ("五星", 5), ("非常满意", 5), ("一般", 3), ("非常不满意", 1),
     ("不满意", 2), ("3分吧 不太满意", 3), ("你好", None), ("12", None)],
)  # fmt: skip
def test_rating(text: str, expected: int | None) -> None:
    assert n.parse_rating(text) == expected


def test_claim_field() -> None:
    assert n.parse_claim_field("日期不对") == "incident_date"
    assert n.parse_claim_field("金额") == "claimed_amount"
    assert n.parse_claim_field("地点错了") == "location"
    assert n.parse_claim_field("嗯") is None


def test_document_item_only_among_offered_items() -> None:
    items = [
        {"code": "invoice", "name": "医疗发票"},
        {"code": "itemized_bill", "name": "费用明细清单"},
    ]
    assert n.match_document_item("发票", items) == "invoice"
    assert n.match_document_item("费用明细清单", items) == "itemized_bill"
    assert n.match_document_item("itemized_bill", items) == "itemized_bill"
    assert n.match_document_item("身份证", items) is None


def test_money_and_lists() -> None:
    assert n.money("3500") == "3,500.00"
    assert n.join_names(["身份证", "银行卡"]) == "身份证、银行卡"
    assert n.numbered(["身份证", "银行卡"]) == "1. 身份证\n2. 银行卡"


@pytest.mark.parametrize(
    ("text", "channel", "paused"),
    [
        ("以后发短信通知我", "sms", None), ("通知发短信吧", "sms", None),
        ("理赔进度发我手机短信", "sms", None), ("用微信通知我就行", "wechat", None),
        ("公众号通知就行", "wechat", None), ("通过微信公众号通知我", "wechat", None),
        ("别发短信了，发微信吧", "wechat", True), ("别发短信了发微信吧", "wechat", True),
        ("发短信，别发微信", "sms", True), ("别发微信了 改成短信", "sms", True),
        ("短信别发了", None, True), ("别再给我发通知了", None, True), ("不要推送了", None, True),
        ("暂停通知", None, True), ("把通知停了", None, True), ("天天推送烦死了", None, True),
        ("恢复通知", None, False), ("重新给我发进度通知", None, False),
        ("继续给我推送吧", None, False), ("恢复通知，别停", None, False),
        ("恢复短信通知", "sms", False), ("用别的方式通知我", None, None),
        ("通知设置", None, None), ("sms", "sms", None), ("wechat", "wechat", None),
        ("off", None, True), ("on", None, False), ("帮我把短信通知关了", None, True),
        ("通知暂时先停一下", None, True), ("我在外地 微信看不到 发短信吧", "sms", None),
        ("微信不要发了还是短信吧", "sms", True),
        ('/notice_preference{"notice_channel":"sms"}', "sms", None),
    ],
)  # fmt: skip
def test_notice_preference_words(text: str, channel: str | None, paused: bool | None) -> None:
    assert n.parse_notice_channel(text) == channel
    assert n.parse_notice_switch(text) is paused
