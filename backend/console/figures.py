"""The figures page (/console/figures, any staff): a period and claim type picked in a
form (so a view can be bookmarked), each figure of `GET /api/v1/stats` drawn as a
server-rendered SVG chart with its table and a link to its CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from backend.console import charts, labels
from backend.console.router import _login_redirect, _render, _signed_in
from backend.core.clock import local_today
from backend.core.deps import SessionDep, SettingsDep
from backend.domain.types import ClaimType
from backend.stats import service as stats_service
from backend.stats.schemas import StatsOut

router = APIRouter(prefix="/console", include_in_schema=False)

CLOCKS = {
    "decision": "核定（第二十三条）",
    "payment": "赔款支付（第二十三条）",
    "rejection_notice": "拒赔通知（第二十四条）",
    "advance_payment": "先予支付（第二十五条）",
}
ROUTES = {
    "wechat_customer_service": "微信客服消息",
    "wechat_template": "微信模板消息",
    "wechat_passive": "微信被动回复",
    "sms": "短信",
    "web": "网页",
    "none": "未发出",
}
DELIVERY = {**labels.DELIVERY, "none": "无回执", "read": "已读", "undelivered": "未送达"}
DELIVERY_COLOURS = {
    "delivered": charts.GOOD,
    "read": charts.GOOD,
    "sent": charts.PALETTE[0],
    "failed": charts.BAD,
    "undelivered": charts.BAD,
    "queued": charts.GREY,
    "none": "#c9cdd4",
}


@dataclass(frozen=True)
class Chart:
    name: str  # the figure's name in FIGURES (its CSV)
    title: str
    svg: Markup
    head: list[str]
    rows: list[list[str]]
    note: str = ""


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "—"
    shown = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return shown + unit


def _weeks(start: date, end: date) -> list[date]:
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(weeks=1)
    return weeks


def _week(day: date) -> str:
    return day.strftime("%m-%d")


def build_charts(s: StatsOut) -> list[Chart]:
    out: list[Chart] = []
    weeks = _weeks(s.period.start, s.period.end)

    # Claims reported per week, stacked by type.
    types = [t.value for t in ClaimType if s.period.claim_type in (None, t)]
    per = {(r.week, r.claim_type): r.claims for r in s.claims_by_week}
    out.append(
        Chart(
            "claims_by_week",
            "每周报案量（按险种）",
            charts.bar_chart(
                "每周报案量（按险种）",
                [_week(w) for w in weeks],
                [
                    charts.Series(
                        labels.label(labels.CLAIM_TYPES, t), [per.get((w, t), 0) for w in weeks]
                    )
                    for t in types
                ],
                unit="件",
                stacked=True,
            ),
            ["周（周一）", "险种", "报案"],
            [
                [r.week.isoformat(), labels.label(labels.CLAIM_TYPES, r.claim_type), str(r.claims)]
                for r in s.claims_by_week
            ],
        )
    )

    cycle = {r.week: r for r in s.cycle_time_by_week}
    out.append(
        Chart(
            "cycle_time_by_week",
            "报案到赔付的天数（按赔付周）",
            charts.line_chart(
                "报案到赔付的天数（按赔付周）",
                [_week(w) for w in weeks],
                [
                    charts.Series(
                        "中位数", [cycle[w].median_days if w in cycle else None for w in weeks]
                    ),
                    charts.Series(
                        "P90", [cycle[w].p90_days if w in cycle else None for w in weeks]
                    ),
                ],
                unit="天",
            ),
            ["周（周一）", "赔付件数", "中位数（天）", "P90（天）"],
            [
                [r.week.isoformat(), str(r.paid), _num(r.median_days), _num(r.p90_days)]
                for r in s.cycle_time_by_week
            ],
        )
    )

    fast = {r.week: r for r in s.fast_track_by_week}
    out.append(
        Chart(
            "fast_track_by_week",
            "快速理赔占比（按决定周）",
            charts.bar_chart(
                "快速理赔占比（按决定周）",
                [_week(w) for w in weeks],
                [
                    charts.Series(
                        "人工决定",
                        [fast[w].decided - fast[w].fast_track if w in fast else 0 for w in weeks],
                    ),
                    charts.Series(
                        "快速理赔", [fast[w].fast_track if w in fast else 0 for w in weeks]
                    ),
                ],
                unit="件",
                stacked=True,
            ),
            ["周（周一）", "决定", "快速理赔", "占比", "决定用时 P50（小时）", "P90（小时）"],
            [
                [
                    r.week.isoformat(),
                    str(r.decided),
                    str(r.fast_track),
                    _percent(r.share),
                    _num(r.decision_hours_p50),
                    _num(r.decision_hours_p90),
                ]
                for r in s.fast_track_by_week
            ],
            note=(
                f"快速理赔从报案到决定：P50 {_num(s.fast_track_decision_hours_p50, ' 小时')}，"
                f"P90 {_num(s.fast_track_decision_hours_p90, ' 小时')}"
            ),
        )
    )

    clocks = s.legal_clocks
    out.append(
        Chart(
            "legal_clocks",
            "法定时限：按时完成与当前逾期",
            charts.bar_chart(
                "法定时限：按时完成与当前逾期",
                [CLOCKS.get(r.clock, r.clock) for r in clocks],
                [
                    charts.Series("按时", [r.in_time for r in clocks], charts.GOOD),
                    charts.Series("超期完成", [r.late for r in clocks], charts.WARN),
                    charts.Series("当前逾期", [r.open_overdue for r in clocks], charts.BAD),
                ],
                unit="件",
            ),
            ["时限", "完成", "按时", "超期", "按时率", "当前逾期"],
            [
                [
                    CLOCKS.get(r.clock, r.clock),
                    str(r.completed),
                    str(r.in_time),
                    str(r.late),
                    _percent(r.share_in_time),
                    str(r.open_overdue),
                ]
                for r in clocks
            ],
        )
    )

    by_day = s.handoffs.by_day
    out.append(
        Chart(
            "handoffs_by_day",
            "每天转人工",
            charts.bar_chart(
                "每天转人工",
                [r.day.strftime("%m-%d") for r in by_day],
                [charts.Series("转人工", [r.opened for r in by_day])],
                unit="次",
            ),
            ["日期", "转人工"],
            [[r.day.isoformat(), str(r.opened)] for r in by_day if r.opened],
            note=(
                f"接入用时 P50 {_num(s.handoffs.accept_seconds_p50, ' 秒')}，"
                f"P90 {_num(s.handoffs.accept_seconds_p90, ' 秒')}；"
                f"现在等待 {s.handoffs.waiting_now}，待回电 {s.handoffs.callbacks_pending}"
            ),
        )
    )

    reasons = s.handoffs.reasons
    out.append(
        Chart(
            "handoff_reasons",
            "转人工原因与接入用时",
            charts.bar_chart(
                "转人工原因与接入用时",
                [labels.label(labels.REASONS, r.reason) for r in reasons],
                [
                    charts.Series("转人工", [r.opened for r in reasons]),
                    charts.Series("已接入", [r.accepted for r in reasons]),
                ],
                unit="次",
            ),
            ["原因", "转人工", "已接入", "接入 P50（秒）", "P90（秒）"],
            [
                [
                    labels.label(labels.REASONS, r.reason),
                    str(r.opened),
                    str(r.accepted),
                    _num(r.accept_seconds_p50),
                    _num(r.accept_seconds_p90),
                ]
                for r in reasons
            ],
        )
    )

    notices = s.notices.by_channel_route
    out.append(
        Chart(
            "notices",
            "通知：按渠道和方式",
            charts.bar_chart(
                "通知：按渠道和方式",
                [ROUTES.get(r.route, r.route) for r in notices],
                [
                    charts.Series("已送达", [r.delivered for r in notices], charts.GOOD),
                    charts.Series("已发送", [r.sent for r in notices], charts.PALETTE[0]),
                    charts.Series("失败", [r.failed for r in notices], charts.BAD),
                    charts.Series("待发送", [r.pending for r in notices], charts.GREY),
                    charts.Series("客户已退订", [r.suppressed for r in notices], "#8e56dd"),
                ],
                unit="条",
                stacked=True,
            ),
            ["渠道", "方式", "已送达", "已发送", "失败", "待发送", "已退订", "合计"],
            [
                [
                    labels.label(labels.CHANNELS, r.channel),
                    ROUTES.get(r.route, r.route),
                    str(r.delivered),
                    str(r.sent),
                    str(r.failed),
                    str(r.pending),
                    str(r.suppressed),
                    str(r.total),
                ]
                for r in notices
            ],
        )
    )

    surveys = s.surveys
    out.append(
        Chart(
            "ratings",
            "满意度评分分布",
            charts.bar_chart(
                "满意度评分分布",
                [f"{r.rating} 分" for r in surveys.distribution],
                [charts.Series("评分", [r.answers for r in surveys.distribution])],
                unit="人",
            ),
            ["评分", "人数"],
            [[f"{r.rating} 分", str(r.answers)] for r in surveys.distribution],
            note=(
                f"平均 {_num(surveys.average_rating, ' 分')}；结案 {surveys.claims_closed} 件，"
                f"回复率 {_percent(surveys.response_rate)}"
            ),
        )
    )

    deliveries = s.transcript_deliveries
    statuses = sorted({r.delivery_status for r in deliveries})
    channels = sorted({r.channel for r in deliveries})
    count = {(r.channel, r.delivery_status): r.messages for r in deliveries}
    out.append(
        Chart(
            "transcript_deliveries",
            "发给客户的消息：送达情况",
            charts.bar_chart(
                "发给客户的消息：送达情况",
                [labels.label(labels.CHANNELS, c) for c in channels],
                [
                    charts.Series(
                        DELIVERY.get(st, st),
                        [count.get((c, st), 0) for c in channels],
                        DELIVERY_COLOURS.get(st),
                    )
                    for st in statuses
                ],
                unit="条",
                stacked=True,
            ),
            ["渠道", "状态", "条数"],
            [
                [
                    labels.label(labels.CHANNELS, r.channel),
                    DELIVERY.get(r.delivery_status, r.delivery_status),
                    str(r.messages),
                ]
                for r in deliveries
            ],
        )
    )
    return out


def _parse_day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise stats_service.PeriodError(f"「{name}」不是日期：{raw}") from None


@router.get("/figures", response_class=HTMLResponse)
def figures_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=20)] = None,
    claim_type: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    who = _signed_in(request, session, settings)
    if who is None:
        return _login_redirect(request)
    today = local_today(settings)
    default_start, default_end = stats_service.default_period(today)
    context: dict[str, object] = {
        "me": who,
        "types": labels.CLAIM_TYPES,
        "form": {"from": start or "", "to": end or "", "claim_type": claim_type or ""},
        "stats": None,
        "charts": [],
        "error": None,
        "presets": {
            "近 4 周": (today - timedelta(weeks=4) + timedelta(days=1), today),
            "近 12 周": (default_start, default_end),
            "今年": (date(today.year, 1, 1), today),
        },
    }
    try:
        kind = None
        if claim_type:
            if claim_type not in labels.CLAIM_TYPES:
                raise stats_service.PeriodError(f"没有这个险种：{claim_type}")
            kind = ClaimType(claim_type)
        first = _parse_day(start, "开始日期") or default_start
        last = _parse_day(end, "结束日期") or default_end
        if first > last:
            raise stats_service.PeriodError("开始日期晚于结束日期。")
        if (last - first).days + 1 > stats_service.MAX_PERIOD_DAYS:
            raise stats_service.PeriodError(
                f"时间段最长 {stats_service.MAX_PERIOD_DAYS} 天，请缩短后再看。"
            )
    except stats_service.PeriodError as refused:
        context["error"] = str(refused)
        return _render(request, settings, "figures.html", context, status_code=422)
    stats = stats_service.figures(
        session, settings, start=first, end=last, claim_type=kind, today=today
    )
    query = {"from": first.isoformat(), "to": last.isoformat()}
    if kind is not None:
        query["claim_type"] = kind.value
    context.update(
        stats=stats,
        charts=build_charts(stats),
        form={"from": first.isoformat(), "to": last.isoformat(), "claim_type": claim_type or ""},
        csv_query=urlencode(query),
        percent=_percent,
        num=_num,
    )
    return _render(request, settings, "figures.html", context)
