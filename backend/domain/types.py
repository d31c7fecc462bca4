"""Vocabulary shared by the rules, the ORM models and the API."""

from enum import StrEnum


class ClaimType(StrEnum):
    MEDICAL = "medical"
    AUTO = "auto"
    PROPERTY = "property"
    ACCIDENT = "accident"


class ClaimStatus(StrEnum):
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


class Actor(StrEnum):
    """Who made a change: every claim event names one."""

    CUSTOMER = "customer"
    AGENT = "agent"
    ADJUSTER = "adjuster"
    SYSTEM_RULE = "system_rule"
    PAYMENT_SYSTEM = "payment_system"
