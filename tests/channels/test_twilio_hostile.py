"""Bodies Twilio never sends: refused with a 4xx before the signature validator, with
no turn, no status recorded and no stack trace in the log."""

from __future__ import annotations

import logging

import pytest

from tests.channels.conftest import (
    PHONE,
    TWILIO_NUMBER,
    RecordingGateway,
    running_channels,
    twilio_settings,
)
from tests.fakes.fake_twilio import FakeTwilio, TwilioWebhooks

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", ["/channels/twilio/sms", "/channels/twilio/status"])
async def test_a_multipart_body_with_a_file_part_is_415(
    fake_twilio: FakeTwilio,
    twilio_webhooks: TwilioWebhooks,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    gateway = RecordingGateway()
    inbound = twilio_webhooks.inbound_sms(from_=PHONE, to=TWILIO_NUMBER, body="你好")
    caplog.set_level(logging.INFO)
    async with running_channels(twilio_settings(fake_twilio), gateway) as h:
        response = await h.client.post(
            path,
            data=inbound.form,
            files={"MediaUrl0": ("x.jpg", b"\xff\xd8\xff", "image/jpeg")},
            headers={k: v for k, v in inbound.headers.items() if k.lower() != "content-type"},
        )
        await h.runtime.drain()

    assert response.status_code == 415
    assert gateway.inbound == [] and gateway.statuses == []
    assert fake_twilio.messages == []
    assert not [r for r in caplog.records if r.exc_info]
