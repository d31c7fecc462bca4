"""The one way the actions reach the claims backend (docs/api.md, v1).

Every call acts for the conversation: `Authorization: Bearer <bot token>` and
`X-Conversation-Id: <tracker.sender_id>`. Refusals with a domain code raise
`BackendRefusal` (the actions have a response for each code); timeouts, connection
errors, 5xx and unreadable answers raise `BackendUnavailable`. Nothing here talks to
the user.

Use one client per action run:

    async with BackendClient.from_env(tracker.sender_id) as backend:
        claims = await backend.list_claims()
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from backend.domain.types import ClaimStatus, NoticeChannel

logger = logging.getLogger(__name__)

DEFAULT_BACKEND_URL = "http://127.0.0.1:8000"
# No default token: the app generates its own (scripts/run-all.sh hands it over as
# BACKEND_BOT_TOKEN); without one every call is refused as unauthenticated.
DEFAULT_BOT_TOKEN = ""
DEFAULT_TIMEOUT_SECONDS = 3.0
API_PREFIX = "/api/v1"

# Statuses in which the customer still sends documents.
OPEN_FOR_DOCUMENTS = frozenset(
    {ClaimStatus.REPORTED, ClaimStatus.DOCUMENTS_PENDING, ClaimStatus.REOPENED}
)


class BackendError(Exception):
    """Base for everything the backend client raises."""


class BackendUnavailable(BackendError):
    """Timeout, connection refused, 5xx or an answer we cannot read."""


class BackendRefusal(BackendError):
    """A 4xx with the contract's error body: `code` tells the actions what to say."""

    def __init__(
        self, status: int, code: str, message: str = "", extra: dict[str, Any] | None = None
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


@dataclass(frozen=True)
class Coverage:
    claim_type: str
    limit: str | None = None
    deductible: str | None = None
    ratio: str | None = None


@dataclass(frozen=True)
class Policy:
    policy_number: str
    start_date: str | None
    end_date: str | None
    coverages: list[Coverage]

    @property
    def claim_types(self) -> list[str]:
        return [coverage.claim_type for coverage in self.coverages]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        return cls(
            policy_number=str(data.get("policy_number", "")),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
            coverages=[
                Coverage(
                    claim_type=str(item.get("claim_type")),
                    limit=_opt_str(item.get("limit")),
                    deductible=_opt_str(item.get("deductible")),
                    ratio=_opt_str(item.get("ratio")),
                )
                for item in data.get("coverages") or []
            ],
        )


@dataclass(frozen=True)
class Identity:
    verified: bool
    name: str | None = None
    masked_phone: str | None = None
    policies: list[Policy] = field(default_factory=list)

    @property
    def covered_claim_types(self) -> list[str]:
        seen: list[str] = []
        for policy in self.policies:
            for claim_type in policy.claim_types:
                if claim_type not in seen:
                    seen.append(claim_type)
        return seen

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identity:
        holder = data.get("policyholder") or {}
        return cls(
            verified=bool(data.get("verified")),
            name=holder.get("name"),
            masked_phone=holder.get("masked_phone"),
            policies=[Policy.from_json(item) for item in data.get("policies") or []],
        )


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    name: str
    received: bool = False


@dataclass(frozen=True)
class Claim:
    claim_number: str
    claim_type: str
    status: str
    policy_number: str | None = None
    incident_date: str | None = None
    location: str | None = None
    description: str | None = None
    claimed_amount: str | None = None
    approved_amount: str | None = None
    payout_amount: str | None = None
    checklist: list[ChecklistItem] = field(default_factory=list)
    missing: list[ChecklistItem] = field(default_factory=list)
    fast_track: bool = False
    decision_due: str | None = None
    payment_due: str | None = None

    @property
    def open_for_documents(self) -> bool:
        return self.status in OPEN_FOR_DOCUMENTS

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Claim:
        deadlines = data.get("deadlines") or {}
        return cls(
            claim_number=str(data["claim_number"]),
            claim_type=str(data.get("claim_type", "")),
            status=str(data.get("status", "")),
            policy_number=data.get("policy_number"),
            incident_date=data.get("incident_date"),
            location=data.get("location"),
            description=data.get("description"),
            claimed_amount=_opt_str(data.get("claimed_amount")),
            approved_amount=_opt_str(data.get("approved_amount")),
            payout_amount=_opt_str(data.get("payout_amount")),
            checklist=[
                ChecklistItem(
                    str(item["code"]),
                    str(item.get("name", item["code"])),
                    bool(item.get("received")),
                )
                for item in data.get("checklist") or []
            ],
            missing=[
                ChecklistItem(str(item["code"]), str(item.get("name", item["code"])))
                for item in data.get("missing") or []
            ],
            fast_track=bool(data.get("fast_track")),
            decision_due=deadlines.get("decision_due"),
            payment_due=deadlines.get("payment_due"),
        )


@dataclass(frozen=True)
class NoticePreferences:
    """How the customer wants proactive notices: `channel` is a NoticeChannel value
    (kept as the backend's string, so a channel this bot does not know yet still reads)."""

    channel: str
    paused: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NoticePreferences:
        paused = data["paused"]
        if not isinstance(paused, bool):
            raise TypeError(f"paused is {paused!r}, not a boolean")
        return cls(channel=str(data["channel"]), paused=paused)


@dataclass(frozen=True)
class PublicSettings:
    """The backend's published limits; the defaults are the backend's defaults."""

    fast_track_limits: dict[str, str] = field(
        default_factory=lambda: {"medical": "3000.00", "accident": "3000.00", "auto": "5000.00"}
    )
    decision_days: int = 30
    payment_days: int = 10
    rejection_notice_days: int = 3
    advance_payment_days: int = 60

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublicSettings:
        defaults = cls()
        return cls(
            fast_track_limits={
                **defaults.fast_track_limits,
                **{k: str(v) for k, v in (data.get("fast_track_limits") or {}).items()},
            },
            decision_days=int(data.get("decision_days", defaults.decision_days)),
            payment_days=int(data.get("payment_days", defaults.payment_days)),
            rejection_notice_days=int(
                data.get("rejection_notice_days", defaults.rejection_notice_days)
            ),
            advance_payment_days=int(
                data.get("advance_payment_days", defaults.advance_payment_days)
            ),
        )


T = TypeVar("T")


def _parse(build: Callable[[Any], T], data: Any) -> T:
    """A 2xx body that does not have the contract's shape is an unavailable backend."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BackendUnavailable(f"unexpected answer shape: {error!r}") from error


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class BackendSettings:
    base_url: str = DEFAULT_BACKEND_URL
    bot_token: str = DEFAULT_BOT_TOKEN
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BackendSettings:
        env = os.environ if environ is None else environ
        timeout = env.get("BACKEND_TIMEOUT_SECONDS")
        return cls(
            base_url=env.get("BACKEND_URL") or DEFAULT_BACKEND_URL,
            bot_token=env.get("BACKEND_BOT_TOKEN") or DEFAULT_BOT_TOKEN,
            timeout_seconds=float(timeout) if timeout else DEFAULT_TIMEOUT_SECONDS,
        )

    @property
    def api_root(self) -> str:
        root = self.base_url.rstrip("/")
        return root if root.endswith(API_PREFIX) else root + API_PREFIX


class BackendClient:
    def __init__(self, settings: BackendSettings, conversation_id: str):
        self.settings = settings
        self.conversation_id = conversation_id
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, conversation_id: str) -> BackendClient:
        return cls(BackendSettings.from_env(), conversation_id)

    async def __aenter__(self) -> BackendClient:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds),
            headers={
                "Authorization": f"Bearer {self.settings.bot_token}",
                "X-Conversation-Id": self.conversation_id,
                "Accept": "application/json",
            },
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ----------------------------------------------------------------- plumbing

    async def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        if self._session is None:
            raise RuntimeError("use `async with BackendClient(...)`")
        url = self.settings.api_root + path
        try:
            async with self._session.request(method, url, json=body, headers=headers) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            # On Python 3.10 asyncio.TimeoutError (what aiohttp raises) is not the builtin.
            logger.warning("backend %s %s failed: %r", method, path, error)
            raise BackendUnavailable(f"{method} {path}: {error!r}") from error
        data = _json_or_none(text)
        if status >= 500:
            logger.warning("backend %s %s answered %s", method, path, status)
            raise BackendUnavailable(f"{method} {path}: HTTP {status}")
        if status >= 400:
            error = (data or {}).get("error") if isinstance(data, dict) else None
            if not isinstance(error, dict):
                raise BackendUnavailable(f"{method} {path}: HTTP {status} without error body")
            extra = {k: v for k, v in error.items() if k not in ("code", "message")}
            raise BackendRefusal(
                status, str(error.get("code", "")), str(error.get("message", "")), extra
            )
        if data is None and text.strip():
            raise BackendUnavailable(f"{method} {path}: answer is not JSON")
        return data

    # ----------------------------------------------------------------- identity

    async def verify_identity(self, policy_number: str, id_last4: str | None) -> Identity:
        body: dict[str, Any] = {"policy_number": policy_number}
        if id_last4:
            body["id_last4"] = id_last4
        return _parse(Identity.from_json, await self._request("POST", "/identities/verify", body))

    async def me(self) -> Identity:
        return _parse(Identity.from_json, await self._request("GET", "/me"))

    # ----------------------------------------------------------------- claims

    async def check_claim(
        self, claim_type: str, incident_date: str, policy_number: str | None = None
    ) -> str | None:
        """Raises BackendRefusal with the rule's code; returns the policy number used."""
        body: dict[str, Any] = {"claim_type": claim_type, "incident_date": incident_date}
        if policy_number:
            body["policy_number"] = policy_number
        data = await self._request("POST", "/claims/check", body)
        return (data or {}).get("policy_number")

    async def create_claim(
        self,
        idempotency_key: str,
        claim_type: str,
        incident_date: str,
        location: str,
        description: str,
        claimed_amount: Decimal | None = None,
        policy_number: str | None = None,
        inpatient: bool | None = None,
    ) -> Claim:
        body: dict[str, Any] = {
            "claim_type": claim_type,
            "incident_date": incident_date,
            "location": location,
            "description": description,
        }
        if claimed_amount is not None:
            body["claimed_amount"] = f"{claimed_amount:.2f}"
        if policy_number:
            body["policy_number"] = policy_number
        if inpatient is not None:
            body["inpatient"] = inpatient
        data = await self._request(
            "POST", "/claims", body, headers={"Idempotency-Key": idempotency_key}
        )
        return _parse(Claim.from_json, data)

    async def list_claims(self) -> list[Claim]:
        data = await self._request("GET", "/claims")
        return _parse(
            lambda body: [Claim.from_json(item) for item in (body or {}).get("items", [])], data
        )

    async def get_claim(self, claim_number: str) -> Claim:
        return _parse(
            Claim.from_json, await self._request("GET", f"/claims/{quote(claim_number, safe='')}")
        )

    async def attach_document(self, claim_number: str, document_id: str, item_code: str) -> Claim:
        path = (
            f"/claims/{quote(claim_number, safe='')}/documents/{quote(document_id, safe='')}/attach"
        )
        return _parse(Claim.from_json, await self._request("POST", path, {"item_code": item_code}))

    # ----------------------------------------------------------------- conversations

    async def open_handoff(self, reason: str) -> str:
        path = f"/conversations/{quote(self.conversation_id, safe='')}/handoff"
        data = await self._request("POST", path, {"reason": reason})
        return str((data or {}).get("status", "open"))

    async def submit_survey(
        self, rating: int, comment: str | None = None, claim_number: str | None = None
    ) -> None:
        body: dict[str, Any] = {"rating": rating}
        if comment:
            body["comment"] = comment
        if claim_number:
            body["claim_number"] = claim_number
        await self._request("POST", "/surveys", body)

    async def set_notice_preferences(
        self, channel: NoticeChannel | None = None, paused: bool | None = None
    ) -> NoticePreferences:
        """Choose the channel for proactive notices and/or pause them (403 `not_verified`
        until the conversation is bound to a policyholder)."""
        body: dict[str, Any] = {}
        if channel is not None:
            body["channel"] = NoticeChannel(channel).value
        if paused is not None:
            body["paused"] = paused
        if not body:
            raise ValueError("name a channel, or whether notices are paused")
        return _parse(
            NoticePreferences.from_json,
            await self._request("PUT", "/me/notice-preferences", body),
        )

    async def public_settings(self) -> PublicSettings:
        return _parse(
            PublicSettings.from_json, await self._request("GET", "/settings/public") or {}
        )


def _json_or_none(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
