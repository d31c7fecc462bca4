"""Passive reply XML (the body of the callback's HTTP response)."""

from __future__ import annotations

import time

from wechatpy.replies import TextReply

# WeChat treats "success" (or an empty body) as "no passive reply, do not retry".
NO_REPLY = "success"


def _cdata_safe(text: str) -> str:
    # wechatpy puts the content in CDATA without escaping; "]]>" would end it early.
    return text.replace("]]>", "]]]]><![CDATA[>")


def render_text_reply(
    *, to_user: str, from_user: str, content: str, now: float | None = None
) -> str:
    reply = TextReply(
        source=from_user,
        target=to_user,
        content=_cdata_safe(content),
        time=int(time.time() if now is None else now),
    )
    return str(reply.render())
