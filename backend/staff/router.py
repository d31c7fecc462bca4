from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import ApiError
from backend.core.security import issue_staff_token
from backend.staff.service import authenticate_staff

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


@router.post("/login")
def login(body: LoginIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    user = authenticate_staff(session, body.username, body.password)
    if user is None:
        raise ApiError(401, "unauthorized", "用户名或密码错误 / wrong username or password")
    token, lifetime = issue_staff_token(settings, user)
    return TokenOut(access_token=token, expires_in=lifetime, role=user.role)
