from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session


def _verify(client: TestClient, headers: dict[str, str], **body: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/identities/verify", headers=headers, json=body)


def test_verification_binds_the_conversation(client: TestClient, bot, demo: Session) -> None:  # type: ignore[no-untyped-def]
    h = bot("wechat:oZhang")
    assert client.get("/api/v1/me", headers=h).json() == {
        "verified": False,
        "policyholder": None,
        "policies": [],
    }
    r = _verify(client, h, policy_number="P2025000001", id_last4="1234")
    assert r.status_code == 200
    assert r.json()["policyholder"] == {"name": "张伟", "masked_phone": "+86138****0001"}
    me = client.get("/api/v1/me", headers=h).json()
    assert me["verified"] is True and me["policies"][0]["policy_number"] == "P2025000001"


def test_wrong_digits_are_told_with_attempts_left_then_locked(
    client: TestClient, bot, demo: Session
) -> None:  # type: ignore[no-untyped-def]
    h = bot("web:guesser")
    lefts = []
    for _ in range(4):
        r = _verify(client, h, policy_number="P2025000001", id_last4="0000")
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "verification_failed"
        lefts.append(r.json()["error"]["attempts_left"])
    assert lefts == [4, 3, 2, 1]
    fifth = _verify(client, h, policy_number="P2025000001", id_last4="0000")
    assert fifth.status_code == 423
    assert 14 * 60 < fifth.json()["error"]["retry_after_seconds"] <= 15 * 60
    # Even the right answer is refused while locked.
    right = _verify(client, h, policy_number="P2025000001", id_last4="1234")
    assert right.status_code == 423
    # Another conversation is not affected.
    assert (
        _verify(client, bot("web:other"), policy_number="P2025000001", id_last4="1234").status_code
        == 200
    )


def test_unknown_policy_gives_the_same_answer_as_wrong_digits(
    client: TestClient, bot, demo: Session
) -> None:  # type: ignore[no-untyped-def]
    r = _verify(client, bot("web:x"), policy_number="P2099999999", id_last4="1234")
    assert r.status_code == 422 and r.json()["error"]["code"] == "verification_failed"


def test_sms_from_the_holders_own_number_needs_only_the_policy(
    client: TestClient, bot, demo: Session
) -> None:  # type: ignore[no-untyped-def]
    assert (
        _verify(client, bot("sms:+8613800000002"), policy_number="P2025000002").status_code == 200
    )
    # ...but not from somebody else's number, nor over WeChat.
    assert (
        _verify(client, bot("sms:+8613900000000"), policy_number="P2025000002").status_code == 422
    )
    assert _verify(client, bot("wechat:oLi"), policy_number="P2025000002").status_code == 422


def test_malformed_input_is_a_clear_validation_error(
    client: TestClient, bot, demo: Session
) -> None:  # type: ignore[no-untyped-def]
    r = _verify(client, bot("web:x"), policy_number="12345", id_last4="12")
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["error"]["fields"]}
    assert fields == {"policy_number", "id_last4"}
