"""Figures to steer the claims process by: JSON for the console and tools, and each
figure as CSV. Any staff member may read them."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import ApiError
from backend.core.security import AnyStaffDep
from backend.core.settings import Settings
from backend.domain.types import ClaimType
from backend.stats import service
from backend.stats.schemas import StatsOut

router = APIRouter(prefix="/api/v1", tags=["stats"])

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

FromQuery = Annotated[
    str | None,
    Query(
        alias="from", description="First local day (YYYY-MM-DD), inclusive; default 12 weeks ago"
    ),
]
ToQuery = Annotated[
    str | None,
    Query(alias="to", description="Last local day (YYYY-MM-DD), inclusive; default today"),
]
TypeQuery = Annotated[ClaimType | None, Query(description="Only claims of this type")]


def _day(name: str, value: str) -> date:
    # Only YYYY-MM-DD: a number or a timestamp is refused rather than read as a day.
    try:
        if not _ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            422,
            "invalid_period",
            f"{name} 须为日期 YYYY-MM-DD / {name} must be a date YYYY-MM-DD, got {value!r}",
            field=name,
        ) from None


def _figures(
    session: Session,
    settings: Settings,
    start: str | None,
    end: str | None,
    claim_type: ClaimType | None,
) -> StatsOut:
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    default_start, default_end = service.default_period(today)
    first = default_start if start is None else _day("from", start)
    last = default_end if end is None else _day("to", end)
    if start is None and end is not None:
        # Only an end given: the 12 weeks up to it.
        first = service.default_period(last)[0]
    try:
        service.check_period(first, last)
    except service.PeriodError as error:
        raise ApiError(
            422, "invalid_period", f"时间段有误 / invalid period: {error}", field="from"
        ) from None
    return service.figures(
        session, settings, start=first, end=last, claim_type=claim_type, today=today
    )


@router.get("/stats")
def stats(
    _staff: AnyStaffDep,
    session: SessionDep,
    settings: SettingsDep,
    start: FromQuery = None,
    end: ToQuery = None,
    claim_type: TypeQuery = None,
) -> StatsOut:
    return _figures(session, settings, start, end, claim_type)


@router.get("/stats/{figure}.csv", response_class=Response)
def stats_csv(
    figure: str,
    _staff: AnyStaffDep,
    session: SessionDep,
    settings: SettingsDep,
    start: FromQuery = None,
    end: ToQuery = None,
    claim_type: TypeQuery = None,
) -> Response:
    chosen = service.FIGURES.get(figure)
    if chosen is None:
        raise ApiError(
            404,
            "not_found",
            f"没有这个图表 / no figure {figure!r}; known: {', '.join(service.FIGURES)}",
        )
    result = _figures(session, settings, start, end, claim_type)
    buffer = io.StringIO()
    header = list(chosen.row.model_fields)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in chosen.rows(result):
        values = row.model_dump(mode="json")
        writer.writerow(["" if values[name] is None else values[name] for name in header])
    period = result.period
    name = f"{figure}_{period.start.isoformat()}_{period.end.isoformat()}"
    if period.claim_type is not None:
        name += f"_{period.claim_type.value}"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
