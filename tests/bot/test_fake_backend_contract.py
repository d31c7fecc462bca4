"""The fake backend must not drift from the real one: every route it serves exists in
the app's OpenAPI with the same method, and the notice-preferences body uses the same
fields and channel values. The OpenAPI comes from the app env (.venv), a separate
interpreter; without it these tests are skipped, saying so."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from backend.domain.types import NoticeChannel
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import ROOT

APP_PYTHON = ROOT / ".venv" / "bin" / "python"
_PARAM = re.compile(r"{[^}]+}")


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    if not APP_PYTHON.exists():
        pytest.skip("no app env (.venv): run `make setup` to check the fake against the app")
    probe = "import json; from backend.main import create_app; print(json.dumps(create_app().openapi()))"
    result = subprocess.run(
        [str(APP_PYTHON), "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_fake_route_is_a_real_route(openapi: dict[str, Any]) -> None:
    real = {
        (method.upper(), _PARAM.sub("{}", path))
        for path, operations in openapi["paths"].items()
        for method in operations
    }
    fake = {
        (route.method, _PARAM.sub("{}", route.resource.canonical))
        for route in FakeBackend().app().router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert fake - real == set()


def test_notice_preferences_body_matches(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    operation = openapi["paths"]["/api/v1/me/notice-preferences"]["put"]
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    response_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[request_ref.rsplit("/", 1)[1]]["properties"]) == {"channel", "paused"}
    assert set(schemas[response_ref.rsplit("/", 1)[1]]["required"]) == {"channel", "paused"}
    assert schemas["NoticeChannel"]["enum"] == [channel.value for channel in NoticeChannel]
