"""FastAPI dependencies of the channel routes. The app provides both:

    app.dependency_overrides[get_gateway] = lambda: my_gateway
    app.state.channel_runtime = runtime   # from open_channel_runtime() in the lifespan

(or overrides `get_channel_runtime` as well).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from channels.gateway import ConversationGateway
from channels.runtime import ChannelRuntime


def get_gateway() -> ConversationGateway:
    raise RuntimeError(
        "No ConversationGateway: the app must set "
        "app.dependency_overrides[channels.deps.get_gateway]"
    )


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
