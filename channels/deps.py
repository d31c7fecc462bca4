"""FastAPI dependencies of the channel routes. The app's lifespan provides both:

    app.state.channel_runtime = runtime   # open_channel_runtime() + platform adapters
    app.state.channel_gateway = gateway   # the app's ConversationGateway

(tests may override `get_gateway` / `get_channel_runtime` instead).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from channels.gateway import ConversationGateway
from channels.runtime import ChannelRuntime


def get_gateway(request: Request) -> ConversationGateway:
    gateway = getattr(request.app.state, "channel_gateway", None)
    if not isinstance(gateway, ConversationGateway):
        raise RuntimeError(
            "No ConversationGateway: the app's lifespan must set app.state.channel_gateway"
        )
    return gateway


def get_channel_runtime(request: Request) -> ChannelRuntime:
    runtime = getattr(request.app.state, "channel_runtime", None)
    if not isinstance(runtime, ChannelRuntime):
        raise RuntimeError(
            "No ChannelRuntime: open channels.runtime.open_channel_runtime() in the app's "
            "lifespan and set app.state.channel_runtime"
        )
    return runtime


GatewayDep = Annotated[ConversationGateway, Depends(get_gateway)]
RuntimeDep = Annotated[ChannelRuntime, Depends(get_channel_runtime)]
