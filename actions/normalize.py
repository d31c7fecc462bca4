"""Turn what customers type on a phone into the values the backend expects.

Pure functions, no I/O: dates become `datetime.date`, amounts `Decimal`, claim types the
backend's codes (backend/domain, the vocabulary both environments import). Chinese
numerals go through cn2an; dates through a small set of patterns that cover how people
write them in chat (昨天, 上周五, 11月3号, 2026-11-20), then dateparser for the rest.
Nothing here produces user-facing text.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import cn2an

from backend.domain import checklist
from backend.domain.types import ClaimType, NoticeChannel

CHINA_TZ = timezone(timedelta(hours=8))  # no daylight saving in China

CLAIM_TYPES: tuple[str, ...] = tuple(claim_type.value for claim_type in ClaimType)

# Amounts the backend would refuse anyway; above this a typo is likelier than a claim.
MAX_AMOUNT = Decimal("10000000")

UNKNOWN_AMOUNT = "unknown"


def today_in_china() -> date:
    return datetime.now(CHINA_TZ).date()


def clean(text: str | None) -> str:
    """NFKC folds full-width digits and letters (１２３４, Ｐ) into ASCII; trims spaces."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", str(text)).strip()


# --------------------------------------------------------------------------- identifiers

_POLICY_RE = re.compile(r"(?<![A-Za-z0-9])[Pp][\s-]*((?:\d[\s-]*){10})(?![0-9])")
_CLAIM_RE = re.compile(r"(?<![A-Za-z0-9])[Cc][Ll][\s-]*((?:\d[\s-]*){12})(?![0-9])")
_ID_LAST4_RE = re.compile(r"(?<![0-9A-Za-z])(\d{3}[\dXx])(?![0-9A-Za-z])")


def parse_policy_number(text: str | None) -> str | None:
    """`P2025000001`, `p2025 000001`, `Ｐ２０２５０００００１` -> `P2025000001`."""
    match = _POLICY_RE.search(clean(text))
    if not match:
        return None
    return "P" + re.sub(r"\D", "", match.group(1))


def parse_claim_number(text: str | None) -> str | None:
    match = _CLAIM_RE.search(clean(text))
    if not match:
        return None
    return "CL" + re.sub(r"\D", "", match.group(1))


def find_claim_numbers(text: str | None) -> list[str]:
    return ["CL" + re.sub(r"\D", "", m.group(1)) for m in _CLAIM_RE.finditer(clean(text))]


def parse_id_last4(text: str | None) -> str | None:
    """The last four characters of a national ID: four digits, or three and an X.

    Policy and claim numbers in the same message are removed first so their digits are
    not mistaken for the ID.
    """
    cleaned = _CLAIM_RE.sub(" ", _POLICY_RE.sub(" ", clean(text)))
    candidates = _ID_LAST4_RE.findall(cleaned)
    if len(candidates) != 1:
        return None
    return candidates[0].upper()


# --------------------------------------------------------------------------- claim types

# Checked in this order: an explicit product name wins, then the more specific events.
# A car crash that ends in hospital is still a motor claim, a fall that breaks a bone is
# an accident claim rather than a medical one.
_CLAIM_TYPE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (ClaimType.MEDICAL.value, ("医疗险", "医疗保险", "百万医疗", "住院险", "medical")),
    (ClaimType.AUTO.value, ("车险", "车损险", "交强险", "商业险", "auto", "car")),
    (ClaimType.PROPERTY.value, ("家财险", "家财", "财产险", "property")),
    (ClaimType.ACCIDENT.value, ("意外险", "意外保险", "accident")),
    (
        ClaimType.AUTO.value,
        (
            "车祸",
            "撞车",
            "刮蹭",
            "剐蹭",
            "擦碰",
            "追尾",
            "被撞",
            "撞了",
            "撞到",
            "撞上",
            "碰瓷",
            "倒车",
            "爆胎",
            "开车",
            "汽车",
            "车子",
            "车门",
            "车灯",
            "保险杠",
            "停车场",
            "电动车",
            "摩托车",
            "车被",
            "我的车",
            "车坏",
            "车撞",
        ),
    ),
    (
        ClaimType.ACCIDENT.value,
        (
            "摔伤",
            "摔倒",
            "摔了",
            "跌倒",
            "骨折",
            "意外",
            "扭伤",
            "崴脚",
            "烫伤",
            "烧伤",
            "割伤",
            "划伤",
            "狗咬",
            "被狗",
            "猫抓",
            "摔断",
            "受伤",
            "工伤",
            "溺水",
        ),
    ),
    (
        ClaimType.PROPERTY.value,
        (
            "漏水",
            "水管",
            "水淹",
            "泡水",
            "火灾",
            "着火",
            "失火",
            "起火",
            "被盗",
            "被偷",
            "失窃",
            "小偷",
            "入室",
            "盗窃",
            "家里东西",
            "房子",
            "家电",
            "台风",
            "冰雹",
        ),
    ),
    (
        ClaimType.MEDICAL.value,
        (
            "住院",
            "门诊",
            "急诊",
            "看病",
            "医疗",
            "医院",
            "生病",
            "手术",
            "发烧",
            "感冒",
            "肺炎",
            "开药",
            "药费",
            "医药费",
            "体检",
            "检查费",
            "挂号",
            "化疗",
            "输液",
            "阑尾",
            "hospital",
            "doctor",
        ),
    ),
)


def parse_claim_type(text: str | None) -> str | None:
    """A backend claim type code from an entity value, a code, or free text."""
    value = clean(text).lower()
    if not value:
        return None
    if value in CLAIM_TYPES:
        return value
    for code, words in _CLAIM_TYPE_WORDS:
        if any(word in value for word in words):
            return code
    return None


# --------------------------------------------------------------------------- numbers

_CN_NUMERAL_CHARS = "零〇一二两三四五六七八九十百千万亿"
_CN_DIGIT = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip


def cn_int(token: str) -> int | None:
    """`3`, `十一`, `二十三`, `两` -> int. None when it is not a whole number."""
    token = token.strip()
    if not token:
        return None
    if token.isdigit():
        return int(token)
    if token in ("天", "日"):  # 星期天, 礼拜日
        return 7
    try:
        value = cn2an.cn2an(token, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


# --------------------------------------------------------------------------- amounts

_AMOUNT_RUN = re.compile(
    r"(?P<cur>[¥$]|rmb|RMB|人民币)?\s*"
    r"(?P<num>(?:\d[\d,]*(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿])"
    r"(?:[\d零〇一二两三四五六七八九十百千万亿]|\.\d|点[零一二三四五六七八九\d])*)"
    r"\s*(?P<mag>[万千kKwW](?![A-Za-z]))?"
    r"\s*(?P<unit>元|块钱|块|圆|rmb|RMB|人民币|yuan)?"
)
# What follows a number that is a date, a time, a count or an address, not money.
_NOT_MONEY_AFTER = set("月日号年天点时分秒周岁个次楼层栋室路街号位期床人名张份条公里米")
_MONEY_CUES = (
    "花",
    "费",
    "损失",
    "金额",
    "钱",
    "赔",
    "修",
    "共",
    "计",
    "大概",
    "大约",
    "约",
    "估计",
    "差不多",
    "左右",
    "预估",
    "报销",
    "价",
)
_UNKNOWN_AMOUNT_WORDS = (
    "不知道",
    "不清楚",
    "不确定",
    "还没算",
    "没算",
    "说不准",
    "不好说",
    "待定",
    "还不知道",
    "不晓得",
    "unknown",
    "不了解",
)


def _run_to_decimal(num: str, magnitude: str | None) -> Decimal | None:
    num = num.replace(",", "")
    mag = {"k": "千", "K": "千", "w": "万", "W": "万"}.get(magnitude or "", magnitude or "")
    multiplier = Decimal(1)
    core = num
    if mag:
        multiplier = Decimal(10000) if mag == "万" else Decimal(1000)
    elif num and num[-1] in "万千" and ("点" in num or "." in num):
        # cn2an refuses 三点五万; split the magnitude off and multiply ourselves.
        multiplier = Decimal(10000) if num[-1] == "万" else Decimal(1000)
        core = num[:-1]
    try:
        value = Decimal(core) if re.fullmatch(r"\d+(?:\.\d+)?", core) else None
        if value is None:
            value = Decimal(str(cn2an.cn2an(core, "smart")))
    except (ValueError, KeyError, IndexError, TypeError, InvalidOperation):
        return None
    return value * multiplier


def is_unknown_amount(text: str | None) -> bool:
    value = clean(text).lower()
    return any(word in value for word in _UNKNOWN_AMOUNT_WORDS)


def parse_amount(text: str | None, strict: bool = False) -> Decimal | None:
    """Money in chat form -> Decimal with two places.

    `strict` is for an answer to "how much?": any bare number counts. Otherwise (a
    narrative like 昨天住院花了三千五) a number counts only with a currency sign, a unit,
    a magnitude (万/千) or a money word before it, so 一下 or 3号 are not amounts.
    """
    value_text = clean(text)
    if not value_text:
        return None
    # Identifiers and ISO dates hold digits that are never money.
    value_text = _CLAIM_RE.sub(" ", _POLICY_RE.sub(" ", value_text))
    value_text = re.sub(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}", " ", value_text)
    best: Decimal | None = None
    for match in _AMOUNT_RUN.finditer(value_text):
        num, mag, unit, cur = (
            match.group("num"),
            match.group("mag"),
            match.group("unit"),
            match.group("cur"),
        )
        end = match.end()
        following = value_text[end : end + 1]
        if not (unit or mag or cur) and following in _NOT_MONEY_AFTER:
            continue
        if num.isdigit() and len(num) >= 8 and not (unit or cur):
            continue  # phone numbers, ID numbers
        before = value_text[max(0, match.start() - 4) : match.start()]
        has_magnitude = bool(mag) or any(ch in num for ch in "万千百")
        has_cue = bool(unit or cur) or any(cue in before for cue in _MONEY_CUES)
        has_digit = bool(re.search(r"[\d一二两三四五六七八九]", num))
        if not strict and not has_cue and not (has_magnitude and has_digit):
            continue
        amount = _run_to_decimal(num, mag)
        if amount is None or amount <= 0:
            continue
        if not (unit or cur or mag or num[0].isdigit()) and amount < 10:
            continue  # 一下, 两个: a lone Chinese numeral is not an amount

        if best is None or amount > best:
            best = amount
    if best is None:
        return None
    return best.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def amount_is_plausible(amount: Decimal) -> bool:
    return Decimal("0") < amount <= MAX_AMOUNT


def money(value: object) -> str:
    """Decimal or decimal string -> `3,500.00` for display."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


# --------------------------------------------------------------------------- dates

_NUM = r"(\d{1,2}|[一二两三四五六七八九十]{1,3})"
_FULL_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(r"(今年|去年|前年)?\s*" + _NUM + r"\s*月份?\s*" + _NUM + r"\s*[日号]")
_MONTH_DAY_NUMERIC = re.compile(r"^\s*(\d{1,2})\s*[/.]\s*(\d{1,2})\s*$")
_REL_MONTH_DAY = re.compile(r"(上上个?月|上个?月|这个?月|本月)\s*" + _NUM + r"\s*[日号]")
_DAY_ONLY = re.compile(
    r"(?:^|[^\d一二三四五六七八九十路街道楼栋弄巷室区村院房床])"
    + _NUM
    + r"\s*[日号](?![楼线床门口院馆窗室车厢])"
)
_DAYS_AGO = re.compile(r"(\d{1,3}|[一二两三四五六七八九十]{1,3}|几)\s*天\s*(?:前|之前|以前)")
_WEEKS_AGO = re.compile(
    r"(\d{1,2}|[一二两三四五六七八九十]{1,3}|半)\s*个?\s*(?:星期|礼拜|周)\s*(?:前|之前|以前)"
)
_MONTHS_AGO = re.compile(r"(\d{1,2}|[一二两三四五六七八九十]{1,3}|半)\s*个\s*月\s*(?:前|之前|以前)")
_WEEKDAY = re.compile(r"(上上|上个?|这个?|本)?\s*(?:周|星期|礼拜)\s*([一二三四五六日天1-7])")

# Longest first so 大前天 is not read as 前天.
_RELATIVE_DAYS: tuple[tuple[str, int], ...] = (
    ("大前天", 3), ("大前日", 3),
    ("前天", 2), ("前日", 2), ("前晚", 2), ("前儿", 2),
    ("昨天", 1), ("昨日", 1), ("昨晚", 1), ("昨儿", 1), ("昨夜", 1), ("昨早", 1),
    ("昨个", 1), ("头天", 1), ("头一天", 1), ("yesterday", 1),
    ("今天", 0), ("今日", 0), ("今早", 0), ("今晚", 0), ("今儿", 0), ("今天早上", 0),
    ("刚才", 0), ("刚刚", 0), ("今晨", 0), ("today", 0),
)  # fmt: skip


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _shift_months(day_: date, months: int) -> date:
    month_index = day_.year * 12 + (day_.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day_.day, last))


def _past_year_for(month: int, day: int, today: date) -> date | None:
    """A month and day without a year: this year's, or last year's if that is ahead."""
    candidate = _safe_date(today.year, month, day)
    if candidate is None:
        return None
    if candidate > today:
        return _safe_date(today.year - 1, month, day)
    return candidate


def parse_incident_date(
    text: str | None, today: date | None = None, strict: bool = False
) -> date | None:
    """A date as customers write it, relative to `today` (China time by default).

    Dates without a year are taken as the most recent past one: people report what
    already happened. `strict` (the user is answering "when?") also tries bare forms
    like `11/3` and hands the text to dateparser as a last resort. Returns None when
    the text names no single day (上周, 上个月).
    """
    today = today or today_in_china()
    value = clean(text)
    if not value:
        return None
    lowered = value.lower()

    match = _FULL_DATE.search(value)
    if match:
        return _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))

    match = _MONTH_DAY.search(value)
    if match:
        month, day = cn_int(match.group(2)), cn_int(match.group(3))
        if month is None or day is None:
            return None
        year_word = match.group(1)
        if year_word:
            offset = {"今年": 0, "去年": 1, "前年": 2}[year_word]
            return _safe_date(today.year - offset, month, day)
        return _past_year_for(month, day, today)

    match = _REL_MONTH_DAY.search(value)
    if match:
        day = cn_int(match.group(2))
        if day is None:
            return None
        months_back = (
            2 if match.group(1).startswith("上上") else 1 if match.group(1).startswith("上") else 0
        )
        first = _shift_months(today.replace(day=1), months_back)
        return _safe_date(first.year, first.month, day)

    match = _DAYS_AGO.search(value)
    if match and match.group(1) != "几":
        days = cn_int(match.group(1))
        if days is not None:
            return today - timedelta(days=days)

    match = _WEEKS_AGO.search(value)
    if match:
        weeks = 0.5 if match.group(1) == "半" else cn_int(match.group(1))
        if weeks is not None:
            return today - timedelta(days=int(7 * weeks))

    match = _MONTHS_AGO.search(value)
    if match:
        if match.group(1) == "半":
            return today - timedelta(days=15)
        months = cn_int(match.group(1))
        if months is not None:
            return _shift_months(today, months)

    match = _WEEKDAY.search(value)
    if match:
        weekday = cn_int(match.group(2))
        if weekday is not None and 1 <= weekday <= 7:
            this_monday = today - timedelta(days=today.isoweekday() - 1)
            prefix = (match.group(1) or "").rstrip("个")
            if prefix == "上上":
                return this_monday - timedelta(days=14) + timedelta(days=weekday - 1)
            if prefix == "上":
                return this_monday - timedelta(days=7) + timedelta(days=weekday - 1)
            candidate = this_monday + timedelta(days=weekday - 1)
            if not prefix and candidate > today:
                candidate -= timedelta(days=7)  # a bare 周五 on a Wednesday: the last one
            return candidate

    for word, days_back in _RELATIVE_DAYS:
        if word in lowered:
            return today - timedelta(days=days_back)

    if strict:
        match = _MONTH_DAY_NUMERIC.match(value)
        if match:
            return _past_year_for(int(match.group(1)), int(match.group(2)), today)

    match = _DAY_ONLY.search(value if not strict else " " + value)
    if match:
        day = cn_int(match.group(1))
        if day is not None and 1 <= day <= 31:
            candidate = _safe_date(today.year, today.month, day)
            if candidate is None or candidate > today:
                previous = _shift_months(today.replace(day=1), 1)
                candidate = _safe_date(previous.year, previous.month, day)
            return candidate

    if strict:
        return _dateparser_fallback(value, today)
    return None


def _dateparser_fallback(value: str, today: date) -> date | None:
    import dateparser  # imported lazily: it loads its language data on first use

    parsed = dateparser.parse(
        value,
        languages=["zh", "en"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": datetime(today.year, today.month, today.day, 12, 0),
            "REQUIRE_PARTS": ["day"],
        },
    )
    return parsed.date() if parsed else None


# --------------------------------------------------------------------------- small answers

_RATING_WORDS: tuple[tuple[str, int], ...] = (
    ("非常不满意", 1), ("很不满意", 1), ("特别不满意", 1), ("太差", 1), ("很差", 1),
    ("垃圾", 1), ("差评", 1), ("不满意", 2), ("不太满意", 2), ("一般般", 3), ("一般", 3),
    ("还行", 3), ("凑合", 3), ("还可以", 4), ("挺好", 4), ("满意", 4), ("不错", 4),
    ("非常满意", 5), ("很满意", 5), ("特别满意", 5), ("超赞", 5), ("太棒", 5), ("好评", 5),
    ("完美", 5), ("五星", 5), ("5星", 5),
)  # fmt: skip
_RATING_DIGIT = re.compile(r"(?<![\d.])([1-5])\s*(?:分|星|颗星)?(?![\d.])")
_RATING_CN = re.compile(r"([一二三四五])\s*(?:分|星|颗星)")


def parse_rating(text: str | None) -> int | None:
    """1–5 from `5`, `4分`, `五星`, `非常满意`. A digit wins over words."""
    value = clean(text)
    if not value:
        return None
    match = _RATING_DIGIT.search(value)
    if match:
        return int(match.group(1))
    match = _RATING_CN.search(value)
    if match:
        return cn_int(match.group(1))
    # The longest matching phrase decides: 非常不满意 contains 满意.
    best: tuple[int, int] | None = None
    for word, rating in _RATING_WORDS:
        if word in value and (best is None or len(word) > best[0]):
            best = (len(word), rating)
    return best[1] if best else None


# --------------------------------------------------------------------------- places

# "在<place><verb>": the place a story names, when the NLU tagged none. The place must
# end like a place (医院, 停车场, 路, 家 ...) so 在吗 / 现在 / 正在 are never places.
_PLACE_RE = re.compile(
    r"(?<![现正还实存所好自])在\s*([^\s，,。.;；!！?？在]{0,20}?"
    r"(?:医院|卫生院|诊所|门诊|急诊|院|停车场|车库|场|路|街|道|巷|区|县|市|镇|村|乡|省|家里|家|"
    r"小区|楼|公司|单位|学校|超市|商场|店|公园|站|口|高速|桥|厂|工地|宿舍|餐厅|饭店|酒店)(?:楼下|门口|附近)?)"
)


def parse_location(text: str | None) -> str | None:
    """`昨天在北京协和医院看急诊` -> `北京协和医院`; None when no place is named."""
    match = _PLACE_RE.search(clean(text))
    return match.group(1) if match else None


CLAIM_FIELDS: tuple[str, ...] = (
    "claim_type", "incident_date", "location", "description", "claimed_amount",
)  # fmt: skip

_FIELD_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("incident_date", ("incident_date", "日期", "时间", "哪天", "几号", "日子", "date", "when")),
    ("claimed_amount", ("claimed_amount", "金额", "钱", "多少", "费用", "数额", "amount")),
    ("location", ("location", "地点", "地方", "哪里", "位置", "地址", "where")),
    ("description", ("description", "经过", "描述", "情况", "怎么回事", "过程", "事情")),
    ("claim_type", ("claim_type", "类型", "险种", "种类", "type")),
)


def parse_claim_field(text: str | None) -> str | None:
    """Which FNOL field a correction names: 日期不对 -> incident_date."""
    value = clean(text).lower()
    for field, words in _FIELD_WORDS:
        if any(word in value for word in words):
            return field
    return None


# Words customers use for each checklist item, besides its own name; checked in this
# order, so the more specific words come first (出院小结 before 清单, 维修发票 before 发票).
_DOCUMENT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (item.code, (item.name, *words))
    for item, words in (
        (checklist.DISCHARGE_SUMMARY, ("出院记录", "出院")),
        (checklist.ITEMIZED_BILL, ("费用明细", "明细清单", "明细", "清单")),
        (checklist.DIAGNOSIS_CERTIFICATE, ("诊断书", "诊断", "病历")),
        (checklist.REPAIR_INVOICE, ("修车发票", "维修")),
        (checklist.INVOICE, ("发票", "收据")),
        (checklist.DRIVING_LICENCE, ("驾照",)),
        (checklist.VEHICLE_LICENCE, ("车本",)),
        (checklist.ACCIDENT_REPORT, ("责任认定", "认定书", "交警")),
        (checklist.ACCIDENT_PROOF, ("事故证明", "意外证明")),
        (checklist.LOSS_LIST, ("损失",)),
        (checklist.PROOF_OF_OWNERSHIP, ("购买凭证", "购物凭证", "产权")),
        (checklist.SCENE_PHOTOS, ("现场", "照片")),
        (checklist.BANK_CARD, ("卡号", "银行")),
        (checklist.ID_CARD, ("id",)),
    )
)


def names_a_document(text: str | None) -> bool:
    """Does the text name some checklist item (before we know which claim's list)?"""
    value = clean(text).lower()
    return any(word in value for _, words in _DOCUMENT_WORDS for word in words if len(word) > 1)


def match_document_item(text: str | None, items: Sequence[Mapping[str, str]]) -> str | None:
    """The checklist item code a reply names, among `items` ({"code", "name"}) only."""
    value = clean(text).lower()
    if not value or not items:
        return None
    codes = [item["code"] for item in items]
    if value in codes:
        return value
    for item in items:  # the backend's own name, e.g. 费用明细清单
        if item.get("name") and item["name"] in value:
            return item["code"]
    for code, words in _DOCUMENT_WORDS:
        if code in codes and any(word in value for word in words):
            return code
    return None


# --------------------------------------------------------------------------- notice preferences

# Longer words first: 手机短信 is one mention, not 短信 inside it.
_NOTICE_CHANNEL_WORDS: tuple[tuple[str, NoticeChannel], ...] = (
    ("微信公众号", NoticeChannel.WECHAT), ("公众号", NoticeChannel.WECHAT),
    ("服务号", NoticeChannel.WECHAT), ("微信", NoticeChannel.WECHAT),
    ("wechat", NoticeChannel.WECHAT), ("weixin", NoticeChannel.WECHAT),
    ("手机短信", NoticeChannel.SMS), ("短信", NoticeChannel.SMS), ("短消息", NoticeChannel.SMS),
    ("手机", NoticeChannel.SMS), ("sms", NoticeChannel.SMS),
)  # fmt: skip
_NOTICE_CHANNEL_RE = re.compile("|".join(re.escape(word) for word, _ in _NOTICE_CHANNEL_WORDS))
_NOTICE_CHANNEL_BY_WORD = dict(_NOTICE_CHANNEL_WORDS)
# Words that turn notices (or the channel named with them) off, and back on. Words that
# merely contain 别 (别的, 特别 ...) are blanked out before looking.
_NOTICE_OFF_RE = re.compile(
    r"别|不要|不用|不想|不必|不需要|甭|停|关掉|关闭|关了|取消|退订|拒收|屏蔽|免打扰|烦死|off"
)
_NOTICE_ON_RE = re.compile(r"恢复|重新|继续|开启|打开|开通|重开|\bon\b")
_NOT_A_SWITCH_RE = re.compile(r"别的|别人|特别|区别|分别|告别|个别|差别|类别|识别")
# One wish per clause: "别发短信了，发微信吧" says two things. 了 and 吧 end a clause and
# stay with it (关了 is a negation); 改成 ... start one.
_CLAUSE_BREAK_RE = re.compile(
    r"[，,。.!！?？;；、\s]+|(?<=[了吧])|(?=但是|而是|改成|改用|换成|还是)"
)


def parse_notice_switch(text: str | None) -> bool | None:
    """Whether notices should be paused: True for 别再发通知了 / 不要推送了, False for
    恢复通知 / 重新给我发, None when the message says neither. Also reads the entity
    values `off` and `on`. A word that turns notices back on wins over a negation next
    to it (“恢复通知，别停”)."""
    value = _NOT_A_SWITCH_RE.sub(" ", clean(text).lower())
    if _NOTICE_ON_RE.search(value):
        return False
    if _NOTICE_OFF_RE.search(value):
        return True
    return None


def parse_notice_channel(text: str | None) -> NoticeChannel | None:
    """The channel a message asks for, skipping the ones it turns down.

    "以后发短信通知我" -> sms; "别发短信了，发微信吧" -> wechat; "短信别发了" -> None (a
    channel only turned down is a wish to stop: parse_notice_switch). Entity values
    (`sms`, `wechat`, `auto`) come back as themselves.
    """
    value = _NOT_A_SWITCH_RE.sub(" ", clean(text).lower())
    if value in {channel.value for channel in NoticeChannel}:
        return NoticeChannel(value)
    wanted: NoticeChannel | None = None
    for clause in _CLAUSE_BREAK_RE.split(value):
        if _NOTICE_OFF_RE.search(clause) and not _NOTICE_ON_RE.search(clause):
            continue
        for match in _NOTICE_CHANNEL_RE.finditer(clause):
            wanted = _NOTICE_CHANNEL_BY_WORD[match.group(0)]
    return wanted


def mentions_notice_channel(text: str | None) -> bool:
    """Whether the words name a channel at all, wanted or turned down."""
    return _NOTICE_CHANNEL_RE.search(clean(text).lower()) is not None


def join_names(names: Iterable[str]) -> str:
    return "、".join(name for name in names if name)


def numbered(names: Iterable[str]) -> str:
    return "\n".join(f"{index}. {name}" for index, name in enumerate(names, start=1))


def first_entity(entities: Iterable[Mapping[str, object]], entity: str) -> str | None:
    for item in entities or []:
        if item.get("entity") == entity and item.get("value") not in (None, ""):
            return str(item["value"])
    return None


def entity_values(entities: Iterable[Mapping[str, object]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in entities or []:
        name, value = item.get("entity"), item.get("value")
        if isinstance(name, str) and value not in (None, "") and name not in values:
            values[name] = str(value)
    return values
