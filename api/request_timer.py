"""Times every HTTP request by route template, method and status (a plain ASGI middleware, so streaming
responses and disconnect detection pass through untouched)."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.metrics import Metrics


class RequestTimer:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status)).observe(time.perf_counter() - started)
