"""The shared-token check: every call but health checks must carry `authorization: Bearer <token>`.

Health checks stay open because gRPC's client-side health checking (used by round_robin across
daemons) cannot attach call metadata; they reveal only SERVING / NOT_SERVING.
"""

from __future__ import annotations

import hmac
from typing import Callable

import grpc
from grpc_health.v1 import health

from photostyle.server.wire.contract import ERROR_KIND_METADATA_KEY, TOKEN_METADATA_KEY, ErrorKind, clean_token

_OPEN_PREFIX = f"/{health.SERVICE_NAME}/"


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses calls without the daemon's token with UNAUTHENTICATED and a message saying what to set."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {clean_token(token)}".encode()  # as clients send it

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_OPEN_PREFIX):
            return handler
        sent = dict(handler_call_details.invocation_metadata or ()).get(TOKEN_METADATA_KEY)
        if sent is None:
            return _refusal(handler, "This daemon requires a token. Give the client the daemon's token "
                                     "(--token or PHOTOSTYLE_TOKEN, or the plug-in's token setting).")
        if not hmac.compare_digest(str(sent).encode(), self._expected):
            return _refusal(handler, "The daemon refused the token. Use the same token as the daemon's "
                                     "--token / PHOTOSTYLE_TOKEN.")
        return handler


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that only fails with UNAUTHENTICATED."""

    def refuse(request: object, context: grpc.ServicerContext) -> None:
        context.set_trailing_metadata(((ERROR_KIND_METADATA_KEY, ErrorKind.TOKEN.value),))
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return make(refuse, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
