"""A small claims backend on 127.0.0.1 that speaks docs/api.md (v1), for action tests.

It keeps its state in memory, records every request, and can be told to fail: answer
5xx, hang past the client's timeout, or refuse with a given error code. Checklists and
notice channels come from backend/domain, the same vocabulary the real backend uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from actions.normalize import today_in_china
from backend.domain.checklist import checklist_for
from backend.domain.types import NoticeChannel

BOT_TOKEN = "test-bot-token"
# The actions date things in China time; so does the fake, so the tests never go stale.
TODAY = today_in_china()
POLICY_END = (TODAY + timedelta(days=400)).isoformat()

CLAIM_NUMBER = re.compile(r"^CL\d{12}$")


@dataclass
class Holder:
    name: str
    id_last4: str
    policies: list[dict[str, Any]]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeBackend:
    holders: dict[str, Holder] = field(default_factory=dict)
    bound: dict[str, str] = field(default_factory=dict)  # conversation id -> policy number
    failures: dict[str, int] = field(default_factory=dict)
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    claim_owner: dict[str, str] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)
    handoffs: list[tuple[str, str]] = field(default_factory=list)
    handoff_status: str = "open"  # "callback" outside service hours
    surveys: list[dict[str, Any]] = field(default_factory=list)
    # policy number -> {"channel": NoticeChannel value, "paused": bool}
    notice_preferences: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # Failure switches, by path prefix (after /api/v1): status code, or "hang".
    broken: dict[str, Any] = field(default_factory=dict)
    refusals: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    sequence: int = 0
    # Set when the test ends, so a hanging request finishes before the loop closes.
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        medical = {
            "policy_number": "P2025000001",
            "start_date": "2025-01-01",
            "end_date": POLICY_END,
            "coverages": [
                {
                    "claim_type": "medical",
                    "limit": "50000.00",
                    "deductible": "0.00",
                    "ratio": "1.00",
                }
            ],
        }
        auto = {
            "policy_number": "P2025000002",
            "start_date": "2025-06-01",
            "end_date": POLICY_END,
            "coverages": [
                {
                    "claim_type": "auto",
                    "limit": "200000.00",
                    "deductible": "500.00",
                    "ratio": "1.00",
                }
            ],
        }
        self.holders["P2025000001"] = Holder("张伟", "1234", [medical])
        self.holders["P2025000002"] = Holder("李娜", "5678", [auto])

    # ------------------------------------------------------------------ helpers for tests

    def bind(self, conversation_id: str, policy_number: str = "P2025000001") -> None:
        self.bound[conversation_id] = policy_number

    def add_claim(
        self,
        conversation_id: str,
        claim_type: str = "medical",
        status: str = "documents_pending",
        received: tuple[str, ...] = (),
        **overrides: Any,
    ) -> dict[str, Any]:
        policy_number = self.bound.get(conversation_id, "P2025000001")
        claim = self._new_claim(
            policy_number,
            {
                "claim_type": claim_type,
                "incident_date": "2026-11-24",
                "location": "人民医院",
                "description": "看急诊",
                "claimed_amount": "3500.00",
                "inpatient": False,
            },
        )
        for item in claim["checklist"]:
            if item["code"] in received:
                item["received"] = True
                item["document_ids"] = ["d_old"]
        claim["status"] = status
        claim.update(overrides)
        self._refresh(claim)
        self.claims[claim["claim_number"]] = claim
        self.claim_owner[claim["claim_number"]] = policy_number
        return claim

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # ------------------------------------------------------------------ claims

    def _new_claim(self, policy_number: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sequence += 1
        number = f"CL{TODAY:%Y%m%d}{self.sequence:04d}"
        checklist = [
            {"code": item.code, "name": item.name, "received": False, "document_ids": []}
            for item in checklist_for(body["claim_type"], bool(body.get("inpatient")))
        ]
        amount = body.get("claimed_amount")
        limit = {
            "medical": Decimal("3000"),
            "accident": Decimal("3000"),
            "auto": Decimal("5000"),
        }.get(body["claim_type"])
        return {
            "claim_number": number, "policy_number": policy_number, "claim_type": body["claim_type"],
            "status": "reported", "incident_date": body["incident_date"], "location": body.get("location"),
            "description": body.get("description"), "claimed_amount": amount, "approved_amount": None,
            "payout_amount": None, "checklist": checklist, "missing": [],
            "fast_track": bool(amount and limit and Decimal(amount) <= limit), "risk_flags": [],
            "deadlines": {"decision_due": None, "payment_due": None},
            "created_at": "2026-11-25T08:00:00Z", "updated_at": "2026-11-25T08:00:00Z",
        }  # fmt: skip

    @staticmethod
    def _refresh(claim: dict[str, Any]) -> None:
        claim["missing"] = [
            {"code": i["code"], "name": i["name"]} for i in claim["checklist"] if not i["received"]
        ]
        if not claim["missing"] and claim["status"] in ("reported", "documents_pending"):
            claim["status"] = "under_review"
            claim["deadlines"]["decision_due"] = (TODAY + timedelta(days=30)).isoformat()

    def _rules(self, holder_policy: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        policy = next(
            (
                p
                for p in self.holders[holder_policy].policies
                if any(c["claim_type"] == body.get("claim_type") for c in p["coverages"])
            ),
            None,
        )
        if policy is None:
            return 422, {"code": "not_covered", "message": "保单不保障该类型"}
        try:
            incident = date.fromisoformat(str(body.get("incident_date")))
        except ValueError:
            return 422, {
                "code": "validation_error",
                "message": "日期格式",
                "fields": ["incident_date"],
            }
        if incident > TODAY:
            return 422, {"code": "incident_in_future", "message": "出险日期在未来"}
        if incident < date.fromisoformat(policy["start_date"]):
            return 422, {"code": "before_policy_start", "message": "保单生效前"}
        if incident > date.fromisoformat(policy["end_date"]):
            return 422, {"code": "after_policy_end", "message": "保单到期后"}
        if incident < TODAY - timedelta(days=730):
            return 422, {"code": "limitation_expired", "message": "超过两年"}
        return None

    # ------------------------------------------------------------------ HTTP

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        api = "/api/v1"
        app.router.add_post(api + "/identities/verify", self.verify)
        app.router.add_get(api + "/me", self.me)
        app.router.add_post(api + "/claims/check", self.check)
        app.router.add_post(api + "/claims", self.create_claim)
        app.router.add_get(api + "/claims", self.list_claims)
        app.router.add_get(api + "/claims/{claim_number}", self.get_claim)
        app.router.add_post(
            api + "/claims/{claim_number}/documents/{document_id}/attach", self.attach
        )
        app.router.add_post(api + "/conversations/{conversation_id}/handoff", self.handoff)
        app.router.add_post(api + "/surveys", self.survey)
        app.router.add_put(api + "/me/notice-preferences", self.set_notice_preferences)
        app.router.add_get(api + "/settings/public", self.settings)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            raw = await request.text()
            body = json.loads(raw) if raw else None
        path = request.path.removeprefix("/api/v1")
        self.requests.append(Recorded(request.method, path, dict(request.headers), body))
        for prefix, failure in self.broken.items():
            if path.startswith(prefix):
                if failure == "hang":
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.release.wait(), timeout=5)
                return web.Response(
                    status=int(failure) if failure != "hang" else 504, text="upstream trouble"
                )
        for prefix, (status, error) in self.refusals.items():
            if path.startswith(prefix):
                return web.json_response({"error": error}, status=status)
        if path != "/settings/public":
            if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
                return _error(401, "unauthorized")
            if not request.headers.get("X-Conversation-Id"):
                return _error(422, "validation_error", fields=["X-Conversation-Id"])
        request["json"] = body
        return await handler(request)

    def _holder_for(self, request: web.Request) -> str | None:
        return self.bound.get(request.headers["X-Conversation-Id"])

    async def verify(self, request: web.Request) -> web.Response:
        body = request["json"] or {}
        policy_number = body.get("policy_number")
        if self.failures.get(policy_number, 0) >= 5:
            return _error(423, "locked", retry_after_seconds=812)
        holder = self.holders.get(policy_number)
        if holder is None or holder.id_last4 != body.get("id_last4"):
            self.failures[policy_number] = self.failures.get(policy_number, 0) + 1
            if self.failures[policy_number] >= 5:
                return _error(423, "locked", retry_after_seconds=900)
            return _error(
                422, "verification_failed", attempts_left=5 - self.failures[policy_number]
            )
        self.failures.pop(policy_number, None)
        self.bound[request.headers["X-Conversation-Id"]] = policy_number
        return web.json_response(
            {
                "verified": True,
                "policyholder": {"name": holder.name, "masked_phone": "+86138****0001"},
                "policies": holder.policies,
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        policy_number = self._holder_for(request)
        if policy_number is None:
            return web.json_response({"verified": False})
        holder = self.holders[policy_number]
        return web.json_response(
            {"verified": True, "policyholder": {"name": holder.name}, "policies": holder.policies}
        )

    async def check(self, request: web.Request) -> web.Response:
        policy_number = self._holder_for(request)
        if policy_number is None:
            return _error(403, "not_verified")
        refused = self._rules(policy_number, request["json"] or {})
        if refused:
            return web.json_response({"error": refused[1]}, status=refused[0])
        return web.json_response({"ok": True, "policy_number": policy_number})

    async def create_claim(self, request: web.Request) -> web.Response:
        policy_number = self._holder_for(request)
        if policy_number is None:
            return _error(403, "not_verified")
        key = request.headers.get("Idempotency-Key")
        if not key:
            return _error(422, "validation_error", fields=["Idempotency-Key"])
        if key in self.idempotency:
            return web.json_response(self.claims[self.idempotency[key]], status=200)
        body = request["json"] or {}
        refused = self._rules(policy_number, body)
        if refused:
            return web.json_response({"error": refused[1]}, status=refused[0])
        claim = self._new_claim(policy_number, body)
        self._refresh(claim)
        self.claims[claim["claim_number"]] = claim
        self.claim_owner[claim["claim_number"]] = policy_number
        self.idempotency[key] = claim["claim_number"]
        return web.json_response(claim, status=201)

    def _own(self, request: web.Request) -> list[dict[str, Any]]:
        policy_number = self._holder_for(request)
        return [c for n, c in self.claims.items() if self.claim_owner[n] == policy_number]

    async def list_claims(self, request: web.Request) -> web.Response:
        if self._holder_for(request) is None:
            return _error(403, "not_verified")
        return web.json_response({"items": self._own(request)})

    async def get_claim(self, request: web.Request) -> web.Response:
        if self._holder_for(request) is None:
            return _error(403, "not_verified")
        claim = next(
            (
                c
                for c in self._own(request)
                if c["claim_number"] == request.match_info["claim_number"]
            ),
            None,
        )
        return web.json_response(claim) if claim else _error(404, "not_found")

    async def attach(self, request: web.Request) -> web.Response:
        if self._holder_for(request) is None:
            return _error(403, "not_verified")
        claim = next(
            (
                c
                for c in self._own(request)
                if c["claim_number"] == request.match_info["claim_number"]
            ),
            None,
        )
        if claim is None:
            return _error(404, "not_found")
        code = (request["json"] or {}).get("item_code")
        item = next((i for i in claim["checklist"] if i["code"] == code), None)
        if item is None:
            return _error(422, "not_on_checklist")
        item["received"] = True
        item["document_ids"].append(request.match_info["document_id"])
        claim["status"] = "documents_pending" if claim["status"] == "reported" else claim["status"]
        self._refresh(claim)
        return web.json_response(claim)

    async def handoff(self, request: web.Request) -> web.Response:
        self.handoffs.append(
            (request.match_info["conversation_id"], (request["json"] or {}).get("reason"))
        )
        return web.json_response({"status": self.handoff_status, "handoff_id": len(self.handoffs)})

    async def survey(self, request: web.Request) -> web.Response:
        body = request["json"] or {}
        if not isinstance(body.get("rating"), int) or not 1 <= body["rating"] <= 5:
            return _error(422, "validation_error", fields=["rating"])
        claim_number = body.get("claim_number")
        if claim_number is not None and not CLAIM_NUMBER.match(str(claim_number)):
            return _error(422, "validation_error", fields=["claim_number"])
        # One rating per claim (the real table has a unique constraint on claim_number).
        if claim_number and any(s.get("claim_number") == claim_number for s in self.surveys):
            return _error(409, "survey_exists")
        self.surveys.append(body)
        return web.json_response({"survey_id": len(self.surveys)}, status=201)

    async def set_notice_preferences(self, request: web.Request) -> web.Response:
        # As backend/conversations/router.py: the body's values are checked first (422),
        # then the binding (403), then that it asks for something (422); other keys are
        # ignored, as pydantic does.
        body = request["json"] if isinstance(request["json"], dict) else {}
        bad = []
        if body.get("channel") is not None and body["channel"] not in set(NoticeChannel):
            bad.append("channel")
        if body.get("paused") is not None and not isinstance(body["paused"], bool):
            bad.append("paused")
        if bad:
            return _error(422, "validation_error", fields=bad)
        policy_number = self._holder_for(request)
        if policy_number is None:
            return _error(403, "not_verified")
        wanted = {k: body[k] for k in ("channel", "paused") if body.get(k) is not None}
        if not wanted:
            return _error(422, "validation_error", fields=["channel", "paused"])
        stored = self.notice_preferences.setdefault(
            policy_number, {"channel": NoticeChannel.AUTO.value, "paused": False}
        )
        stored.update(wanted)
        return web.json_response(dict(stored))

    async def settings(self, request: web.Request) -> web.Response:
        return web.json_response({
            "fast_track_limits": {"medical": "3000.00", "accident": "3000.00", "auto": "5000.00"},
            "decision_days": 30, "payment_days": 10, "rejection_notice_days": 3, "advance_payment_days": 60,
        })  # fmt: skip


def _error(status: int, code: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": code, **extra}}, status=status)
