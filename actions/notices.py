"""Notice preferences, said in the chat: where proactive notices go, or none at all.

"以后发短信通知我", "别再给我发通知了", "恢复通知": one intent, notice_preference. What the
customer wants is read from the words (actions/normalize.py), then from the entities
notice_channel / notice_switch (buttons, or words the lists there do not know).

The backend keeps the preference on the policyholder, so the conversation must be
verified: the rules run identity_form first when it is not (goal `notice_preference`),
and this action then goes back to the message that asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendRefusal, BackendUnavailable, NoticePreferences
from actions.common import backend_for, entities_of, last_user_message
from actions.normalize import (
    mentions_notice_channel,
    parse_notice_channel,
    parse_notice_switch,
)
from backend.domain.types import NoticeChannel

# Channels with a sentence of their own (utter_notify_by_<channel>).
CONFIRMED_CHANNELS = frozenset({NoticeChannel.SMS, NoticeChannel.WECHAT})


@dataclass(frozen=True)
class NoticeWish:
    channel: NoticeChannel | None = None
    paused: bool | None = None

    @property
    def understood(self) -> bool:
        return self.channel is not None or self.paused is not None


def notice_wish(message: dict[str, Any] | None) -> NoticeWish:
    """What a notice_preference message asks for.

    Naming a channel means "send me notices there", so it also ends a pause; a channel
    that is only turned down ("短信别发了") is a wish to stop.
    """
    if message is None:
        return NoticeWish()
    text = message.get("text") or ""
    entities = entities_of(message)
    channel = parse_notice_channel(text)
    if channel is None and not mentions_notice_channel(text):
        # The entity only where the words name no channel (a button, a word the lists
        # lack): it cannot tell "短信别发了" from "发短信".
        channel = parse_notice_channel(entities.get("notice_channel"))
    if channel is not None:
        return NoticeWish(channel=channel, paused=False)
    paused = parse_notice_switch(text)
    if paused is None:
        paused = parse_notice_switch(entities.get("notice_switch"))
    return NoticeWish(paused=paused)


def confirmation(wish: NoticeWish, stored: NoticePreferences) -> str:
    """The sentence for what the backend now has (not merely for what was asked)."""
    if stored.paused:
        return "utter_notify_paused"
    if wish.channel is not None and stored.channel in CONFIRMED_CHANNELS:
        return f"utter_notify_by_{stored.channel}"
    return "utter_notify_resumed"


class ActionNoticePreference(Action):
    def name(self) -> str:
        return "action_notice_preference"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # Before verification the wish came two or three messages ago.
        wish = notice_wish(last_user_message(tracker, ["notice_preference"]))
        if not wish.understood:
            dispatcher.utter_message(response="utter_notify_which")
            return []
        try:
            async with backend_for(tracker) as backend:
                stored = await backend.set_notice_preferences(
                    channel=wish.channel, paused=wish.paused
                )
        except BackendRefusal as refusal:
            if refusal.code == "not_verified":
                dispatcher.utter_message(response="utter_identity_expired")
                return [SlotSet("verified", False)]
            dispatcher.utter_message(response="utter_notify_refused")
            return []
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_backend_unavailable")
            return []
        dispatcher.utter_message(response=confirmation(wish, stored))
        return []
