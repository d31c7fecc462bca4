"""Dedup marks (real Redis and in-process) and the numbered-button map."""

from __future__ import annotations

import asyncio

import pytest

from channels.buttons import ButtonMemory, render_turn
from channels.dedup import Deduplicator
from channels.messages import Button, OutboundMessage
from channels.store import MemoryStore, RedisStore
from tests.channels.conftest import RedisFixture

pytestmark = pytest.mark.anyio


async def test_redis_dedup_is_shared_by_replicas_and_expires(redis: RedisFixture) -> None:
    replica_a = Deduplicator(RedisStore(redis.client, redis.prefix), ttl_seconds=60)
    replica_b = Deduplicator(RedisStore(redis.client, redis.prefix), ttl_seconds=60)

    assert await replica_a.seen("wechat:msg:1001") is False
    assert await replica_a.seen("wechat:msg:1001") is True
    assert await replica_b.seen("wechat:msg:1001") is True  # the other replica knows it too
    assert await replica_b.seen("wechat:msg:1002") is False

    key = f"{redis.prefix}dedup:wechat:msg:1001"
    assert 0 < await redis.client.pttl(key) <= 60_000

    short = Deduplicator(RedisStore(redis.client, redis.prefix), ttl_seconds=0.2)
    assert await short.seen("sms:SM1") is False
    await asyncio.sleep(0.3)
    assert await short.seen("sms:SM1") is False  # forgotten after its TTL


async def test_redis_dedup_lets_exactly_one_of_many_concurrent_deliveries_through(
    redis: RedisFixture,
) -> None:
    replicas = [
        Deduplicator(RedisStore(redis.client, redis.prefix), ttl_seconds=60) for _ in range(4)
    ]
    results = await asyncio.gather(*(r.seen("wechat:msg:2001") for r in replicas for _ in range(5)))
    assert results.count(False) == 1


async def test_in_process_dedup_marks_and_expires() -> None:
    dedup = Deduplicator(MemoryStore(), ttl_seconds=0.2)
    assert await dedup.seen("wechat:msg:1") is False
    assert await dedup.seen("wechat:msg:1") is True
    await asyncio.sleep(0.3)
    assert await dedup.seen("wechat:msg:1") is False


def test_buttons_are_numbered_across_the_whole_turn() -> None:
    rendered = render_turn(
        [
            OutboundMessage(text="请选择：", buttons=(Button("报案", "/a"), Button("查询", "/b"))),
            OutboundMessage(text="没有按钮的消息"),
            OutboundMessage(buttons=(Button("转人工", "/c"),)),
            OutboundMessage(),
        ]
    )
    assert rendered == [
        "请选择：\n回复 1 报案\n回复 2 查询",
        "没有按钮的消息",
        "回复 3 转人工",
        None,
    ]


@pytest.mark.parametrize(
    ("typed", "payload"),
    [
        ("1", "/report_claim"),
        (" 2 ", "/claim_status"),
        ("２", "/claim_status"),
        ("2。", "/claim_status"),
        ("回复1", "/report_claim"),
        ("查询进度", "/claim_status"),
        ("3", None),
        ("0", None),
        ("12345", None),
        ("我要报案", None),
        ("", None),
    ],
)
async def test_a_reply_maps_back_to_the_button_payload(typed: str, payload: str | None) -> None:
    memory = ButtonMemory(MemoryStore(), ttl_seconds=60)
    await memory.remember(
        "wechat:o1",
        [
            OutboundMessage(
                text="请选择",
                buttons=(Button("报案", "/report_claim"), Button("查询进度", "/claim_status")),
            )
        ],
    )
    button = await memory.resolve("wechat:o1", typed)
    assert (button.payload if button else None) == payload
    assert await memory.resolve("wechat:someone-else", typed) is None


async def test_a_turn_without_buttons_clears_the_map() -> None:
    memory = ButtonMemory(MemoryStore(), ttl_seconds=60)
    await memory.remember("sms:+1", [OutboundMessage(text="x", buttons=(Button("是", "/affirm"),))])
    assert await memory.resolve("sms:+1", "1") is not None
    await memory.remember("sms:+1", [OutboundMessage(text="请输入保单号")])
    assert await memory.resolve("sms:+1", "1") is None


def test_rasa_answers_become_outbound_messages() -> None:
    message = OutboundMessage.from_rasa(
        {
            "recipient_id": "wechat:o1",
            "text": "请选择理赔类型",
            "buttons": [{"title": "医疗", "payload": '/inform{"claim_type":"medical"}'}],
            "image": "https://claims.example.com/guide.png",
            "custom": {"kind": "checklist"},
        }
    )
    assert message.text == "请选择理赔类型"
    assert message.buttons == (Button("医疗", '/inform{"claim_type":"medical"}'),)
    assert message.image is not None and message.image.url == "https://claims.example.com/guide.png"
    assert message.metadata == {"custom": {"kind": "checklist"}}
    assert OutboundMessage.from_dict(message.to_dict()) == message
