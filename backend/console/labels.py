"""The console's words for the codes the API uses, and how times are shown."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

REASONS = {
    "request_human": "客户要求人工",
    "complain": "投诉",
    "fallback": "机器人没听懂",
}
STATUSES = {"open": "等待接入", "active": "处理中", "closed": "已结束"}
CHANNELS = {"wechat": "微信", "sms": "短信", "web": "网页"}
SENDERS = {"customer": "客户", "bot": "智能助手", "agent": "客服", "system": "理赔通知"}
ROLES = {"agent": "客服", "adjuster": "理赔员", "admin": "管理员"}
CLAIM_TYPES = {"medical": "医疗", "auto": "车险", "property": "财产", "accident": "意外"}
CLAIM_STATUSES = {
    "reported": "已报案",
    "documents_pending": "待补材料",
    "under_review": "审核中",
    "approved": "已核定赔付",
    "partially_approved": "部分赔付",
    "rejected": "不予赔付",
    "paid": "已支付",
    "closed": "已结案",
    "withdrawn": "已撤案",
    "reopened": "重新审核",
}
DEADLINES = {
    "decision": "核定期限",
    "payment": "赔款支付期限",
    "rejection_notice": "拒赔通知期限",
}
DELIVERY = {
    "failed": "发送失败",
    "queued": "发送中",
    "sent": "已发送",
    "delivered": "已送达",
}


def label(mapping: dict[str, str], code: str | None) -> str:
    return mapping.get(code or "", code or "")


def clock(at: datetime, zone: ZoneInfo) -> str:
    """12:05, or 11-30 12:05 when not today."""
    local = at.astimezone(zone)
    today = datetime.now(zone).date()
    return local.strftime("%H:%M" if local.date() == today else "%m-%d %H:%M")


def waited(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} 秒"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} 分 {seconds % 60:02d} 秒"
    return f"{minutes // 60} 小时 {minutes % 60:02d} 分"


def masked(conversation_id: str) -> str:
    """A conversation id shown without the whole platform id (an openid, a phone)."""
    kind, _, rest = conversation_id.partition(":")
    if len(rest) <= 6:
        return conversation_id
    return f"{kind}:…{rest[-6:]}"


EVENTS = {
    "reported": "报案",
    "status_changed": "状态变更",
    "risk_flagged": "风险提示",
    "sent_to_manual_review": "转人工审核",
    "document_attached": "收到材料",
    "documents_requested": "要求补充材料",
    "rejection_notice_sent": "拒赔通知已送达",
    "payment_failed": "支付失败",
    "notice_failed": "通知发送失败",
}
ACTORS = {
    "customer": "客户",
    "agent": "客服",
    "adjuster": "理赔员",
    "system_rule": "系统规则",
    "payment_system": "支付系统",
    "notifications": "通知服务",
}
RISKS = {
    "early_claim": "保单生效不久即出险",
    "near_limit": "接近保额上限",
    "duplicate_document": "材料与其他案件重复",
    "frequent_claims": "频繁报案",
    "late_report": "报案迟延",
}
FAST_TRACK = "快速理赔"


def days_left(days: int | None) -> str:
    """剩 3 天 / 今天到期 / 逾期 2 天."""
    if days is None:
        return ""
    if days > 0:
        return f"剩 {days} 天"
    if days == 0:
        return "今天到期"
    return f"逾期 {-days} 天"
