"""Vocabulary shared by the rules, the ORM models, the API and the action server.

Defined once, here. The action server runs Python 3.10 and imports this module, so it
stays pure Python with no third-party imports and no 3.11-only features (`StrEnum`):
`Vocabulary` behaves like 3.11's StrEnum (a `str` whose str() and format() are its value).
"""

from __future__ import annotations

from enum import Enum


class Vocabulary(str, Enum):  # noqa: UP042 - the action server runs Python 3.10
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return str(self.value).__format__(format_spec)


class ClaimType(Vocabulary):
    MEDICAL = "medical"
    AUTO = "auto"
    PROPERTY = "property"
    ACCIDENT = "accident"


class ClaimStatus(Vocabulary):
    REPORTED = "reported"
    DOCUMENTS_PENDING = "documents_pending"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    PAID = "paid"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    REOPENED = "reopened"


class Actor(Vocabulary):
    """Who made a change: every claim event names one."""

    CUSTOMER = "customer"
    AGENT = "agent"
    ADJUSTER = "adjuster"
    SYSTEM_RULE = "system_rule"
    PAYMENT_SYSTEM = "payment_system"


class NoticeKind(Vocabulary):
    """What a proactive notice announces: one outbox row, one notice to the customer."""

    CLAIM_FILED = "claim_filed"
    DOCUMENTS_REQUESTED = "documents_requested"
    DOCUMENTS_REMINDER = "documents_reminder"
    DOCUMENTS_COMPLETE = "documents_complete"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    CLOSED = "closed"
    REOPENED = "reopened"
    WITHDRAWN = "withdrawn"


class NoticeChannel(Vocabulary):
    """Where a customer wants proactive notices: `auto` follows where they last wrote."""

    AUTO = "auto"
    WECHAT = "wechat"
    SMS = "sms"
