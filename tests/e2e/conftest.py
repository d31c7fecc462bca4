"""End-to-end tests start the real app, Rasa and action server (about a minute for
Rasa to load its model), once per session, with a fake WeChat API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, running_stack
from tests.fakes.fake_twilio import FakeTwilio
from tests.fakes.fake_wechat import FakeWeChat

pytestmark = pytest.mark.e2e

WECHAT_TOKEN = "e2e-wechat-token"
TWILIO_NUMBER = "+15005550006"


@pytest.fixture(scope="session")
def wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture(scope="session")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, wechat: FakeWeChat, twilio: FakeTwilio
) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("e2e")
    app_env = {
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": TWILIO_NUMBER,
        "TWILIO_API_BASE_URL": twilio.base_url,
        # Notices by SMS are not held for the night here, whenever the tests run.
        "SMS_QUIET_HOURS": "",
        # Agents are always on duty here, so a handoff waits for one whatever the hour.
        "SERVICE_HOURS": "00:00-24:00",
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_APP_ID": wechat.app_id,
        "WECHAT_APP_SECRET": wechat.app_secret,
        "WECHAT_API_BASE_URL": wechat.base_url,
        # Generous here so each answer comes back as the passive reply; the slow-turn
        # path (customer-service API) is covered by tests/integration.
        "WECHAT_REPLY_BUDGET_SECONDS": "25",
    }
    with running_stack(workdir, app_env) as running:
        yield running
