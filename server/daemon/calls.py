"""Long-lived calls: how many the daemon holds at once, and how long a silent one may last.

The gRPC server runs every call on a thread of one pool, and a call whose client streams its
requests holds that thread for as long as it waits on the client: Transfer calls do, and so do
server-reflection streams. Each such call takes one of `Limits.max_calls` slots, or is refused at
once as busy when none is free; the pool has spare threads beyond those slots (server.py), so
health checks, capabilities and the refusals themselves always find one. A reflection stream that
asks nothing for `--setup-timeout` is ended (a Transfer call bounds its own waits: service.py).
Health Watch streams hold no thread (gRPC's non-blocking health servicer) but some memory each:
at most `MAX_WATCHES` are open at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Iterator

import grpc
from grpc_health.v1 import health

from photostyle.server.wire.contract import SEQUENCE_PATH, TRANSFER_PATH, ErrorKind

from .jobs import Failure, abort
from .validation import Limits

log = logging.getLogger("photostyle.daemon")

#: Health Watch streams open at once. gRPC's client-side health checking keeps one open per
#: client channel for the channel's life (every Client does), so this is far above any studio's
#: count of open plug-ins; beyond it a new watch is refused as busy.
MAX_WATCHES = 1000
WATCH_PATH = f"/{health.SERVICE_NAME}/Watch"


class _Silent(Exception):
    """A stream's client sent nothing for longer than it may."""


class CallLimits(grpc.ServerInterceptor):
    """Puts every long-lived call in a slot of its kind, refusing calls beyond the limit at once."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_calls)
        self._watches = threading.BoundedSemaphore(MAX_WATCHES)

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:
            return None
        if method == WATCH_PATH:
            return self._counted_watch(handler)
        if handler.request_streaming and handler.response_streaming:
            return self._in_a_slot(handler, method)
        return handler

    def _in_a_slot(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """`handler` (a bidirectional stream) run in one of the call slots, or refused as busy."""
        limits, behaviour = self._limits, handler.stream_stream
        bounded = method not in (TRANSFER_PATH, SEQUENCE_PATH)  # these bound each of their own waits

        def run(requests: Iterator, context: grpc.ServicerContext) -> Iterator:
            if not _take(self._slots, context):
                log.info("%s refused: all %d call slots taken (from %s)", method, limits.max_calls, context.peer())
                abort(context, Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.BUSY,
                                       f"The daemon already has {limits.max_calls} calls open (transfers and "
                                       "server-reflection streams), its limit (--max-calls); retry in a while or use "
                                       "another daemon."))
            if not bounded:
                yield from behaviour(requests, context)
                return
            try:
                yield from behaviour(_until_silent(requests, limits.setup_timeout_s), context)
            except _Silent:
                log.info("%s ended: silent for %g s (from %s)", method, limits.setup_timeout_s, context.peer())
                abort(context, Failure(grpc.StatusCode.DEADLINE_EXCEEDED, ErrorKind.STALLED,
                                       f"The daemon heard nothing on this {method.split('/')[1]} stream for "
                                       f"{limits.setup_timeout_s:g} s and ended it, to keep its call slots for "
                                       "transfers; open a new stream when there is something to ask."))

        return grpc.stream_stream_rpc_method_handler(run, request_deserializer=handler.request_deserializer,
                                                     response_serializer=handler.response_serializer)

    def _counted_watch(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """The health Watch handler, counted against MAX_WATCHES (and still non-blocking)."""
        behaviour = handler.unary_stream

        def watch(request: object, context: grpc.ServicerContext, send_response_callback: Callable | None = None):
            if not _take(self._watches, context):
                abort(context, Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.BUSY,
                                       f"The daemon already has {MAX_WATCHES} health watches open, its limit; use "
                                       "health checks (Check) or retry in a while."))
            if send_response_callback is None:
                return behaviour(request, context)
            return behaviour(request, context, send_response_callback)

        # gRPC hands a non-blocking behaviour a callback instead of holding a thread for its stream.
        watch.experimental_non_blocking = getattr(behaviour, "experimental_non_blocking", False)
        watch.experimental_thread_pool = getattr(behaviour, "experimental_thread_pool", None)
        return grpc.unary_stream_rpc_method_handler(watch, request_deserializer=handler.request_deserializer,
                                                    response_serializer=handler.response_serializer)


def _take(slots: threading.BoundedSemaphore, context: grpc.ServicerContext) -> bool:
    """Take a slot for the call's life (given back when it ends); False when none is free."""
    if not slots.acquire(blocking=False):
        return False
    if not context.add_callback(slots.release):  # the call has ended already
        slots.release()
    return True


def _until_silent(requests: Iterator, seconds: float) -> Iterator:
    """`requests`, read ahead on a helper thread; _Silent when none comes for `seconds`. The helper
    ends with the call (its request iterator then ends or raises)."""
    arrived: queue.Queue = queue.Queue()
    end = object()

    def read() -> None:
        try:
            for request in requests:
                arrived.put(request)
            arrived.put(end)
        except Exception as exc:  # the client left, or a bad message: raised on the call's thread
            arrived.put(exc)

    threading.Thread(target=read, name="photostyle-stream-reader", daemon=True).start()
    while True:
        try:
            item = arrived.get(timeout=seconds)
        except queue.Empty:
            raise _Silent from None
        if item is end:
            return
        if isinstance(item, Exception):
            raise item
        yield item
