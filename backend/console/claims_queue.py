"""The workbench's queue (/console/claims, adjusters and admins): the claims to decide,
nearest legal deadline first, overdue ones marked, with filters in the address (a
view can be bookmarked), search by claim or policy number, and pages. Read through
the claims repository (one query for the page, one for the count)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from backend.claims.repository import QueueFilters, work_queue
from backend.console import labels
from backend.console.router import _render
from backend.console.workbench import PAGE_SIZE, Refused, _adjuster
from backend.core.clock import local_today
from backend.core.deps import SessionDep, SettingsDep
from backend.domain.types import ClaimStatus, ClaimType

router = APIRouter(prefix="/console", include_in_schema=False)

QUEUE_STATUSES = ("reported", "documents_pending", "under_review", "reopened", "approved",
                  "partially_approved", "rejected", "paid", "closed", "withdrawn")  # fmt: skip


@dataclass(frozen=True)
class QueueForm:
    """The queue's filters as they are in the address (a view can be bookmarked)."""

    status: str = ""
    claim_type: str = ""
    risk: str = ""  # "1": only claims with a risk flag, "0": only those without
    fast_track: str = ""  # "1": only fast-track claims, "0": only the others
    overdue: str = ""  # "1": only overdue claims
    q: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        values = {**self.__dict__, **changes}
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})

    @property
    def any(self) -> bool:
        return any((self.status, self.claim_type, self.risk, self.fast_track, self.overdue, self.q))


def _filters(form: QueueForm) -> QueueFilters:
    if form.status and form.status not in QUEUE_STATUSES:
        raise Refused(f"没有这个状态：{form.status}")
    if form.claim_type and form.claim_type not in labels.CLAIM_TYPES:
        raise Refused(f"没有这个险种：{form.claim_type}")
    if form.risk not in ("", "0", "1") or form.fast_track not in ("", "0", "1"):
        raise Refused("筛选条件不对，请从页面上的选项中选择。")
    if form.overdue not in ("", "1"):
        raise Refused("筛选条件不对，请从页面上的选项中选择。")
    return QueueFilters(
        status=ClaimStatus(form.status) if form.status else None,
        claim_type=ClaimType(form.claim_type) if form.claim_type else None,
        risk=None if not form.risk else form.risk == "1",
        fast_track=None if not form.fast_track else form.fast_track == "1",
        overdue=True if form.overdue == "1" else None,
        search=form.q.strip() or None,
    )


@router.get("/claims", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[str, Query(max_length=30)] = "",
    claim_type: Annotated[str, Query(max_length=30)] = "",
    risk: Annotated[str, Query(max_length=1)] = "",
    fast_track: Annotated[str, Query(max_length=1)] = "",
    overdue: Annotated[str, Query(max_length=1)] = "",
    q: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    who = _adjuster(request, session, settings)
    if isinstance(who, Response):
        return who
    form = QueueForm(status, claim_type, risk, fast_track, overdue, q, page)
    context: dict[str, Any] = {
        "me": who,
        "form": form,
        "statuses": {s: labels.CLAIM_STATUSES[s] for s in QUEUE_STATUSES},
        "result": None,
        "error": None,
    }
    try:
        filters = _filters(form)
    except Refused as refused:
        context["error"] = refused.message
        return _render(request, settings, "claims.html", context, status_code=422)
    result = work_queue(
        session, filters, today=local_today(settings), page=page, page_size=PAGE_SIZE
    )
    context.update(result=result, pages=result.pages)
    return _render(request, settings, "claims.html", context)
