"""The typed set of services a process needs, built by the composition root
(`backend/composition.py`: `open_services`). The app's lifespan, the notifications
worker and the CLI all get theirs from there; nothing is wired at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.core.settings import Settings

if TYPE_CHECKING:
    import httpx
    from redis.asyncio import Redis

    from backend.conversations.gateway import AppGateway
    from backend.conversations.handoff_service import HandoffService
    from backend.conversations.outbound import OutboundService
    from backend.conversations.rasa import RasaClient
    from backend.documents.storage import DocumentStore
    from channels.runtime import ChannelRuntime
    from channels.webchat.outbound import WebChatChannel


@dataclass
class Services:
    settings: Settings
    engine: Engine
    # Replaceable (tests bind it to a connection they roll back); read it each time.
    session_factory: sessionmaker[Session]
    redis: Redis | None
    document_store: DocumentStore
    http: httpx.AsyncClient
    channels: ChannelRuntime
    webchat: WebChatChannel
    rasa: RasaClient
    outbound: OutboundService
    gateway: AppGateway
    handoffs: HandoffService


# The name the routers' dependencies have always used.
AppState = Services
