"""A fake Amazon Bedrock runtime that speaks the real wire protocol over HTTP.

boto3 is pointed at it with ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, so every test exercises
signing, request serialisation, error parsing and event streams exactly as in production.

Knobs (all thread-safe to set between requests):

* ``latency``: seconds each call takes;
* ``rpm`` / ``window``: a request quota of ``rpm`` calls per ``window`` seconds; calls beyond it
  get a 429. ``quota = "bucket"`` (the default) refills a bucket of ``rpm`` tokens continuously,
  as AWS rate limits do; ``quota = "window"`` counts the calls of a sliding window instead;
* ``script[model_id]``: a queue of actions for that model — an :class:`Err`, a response body
  dict, or a callable ``(model_id, body) -> dict``; an empty queue falls back to the default;
* ``access_denied`` / ``unknown`` / ``base_ids_need_profile``: sets of model ids refused with
  403 / 404 / the on-demand ValidationException;
* ``findings``: callable ``(model_id, body, section_text) -> list[dict]`` used by the default
  responder (structured output when the request has ``outputConfig``, else a ``toolUse``).

Every request is recorded in ``requests`` as ``(model_id, operation, body)``.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import json
import re
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

SECTION_RE = re.compile(r"<document_section[^>]*>\n(.*?)\n</document_section>", re.DOTALL)
ON_DEMAND_MESSAGE = (
    "Invocation of model ID {model} with on-demand throughput isn't supported. Retry your request "
    "with the ID or ARN of an inference profile that contains this model."
)


@dataclass
class Err:
    code: str
    status: int
    message: str = "fake error"
    retry_after: float | None = None


def event_frame(headers: dict[str, str], payload: bytes) -> bytes:
    raw_headers = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        raw_headers += bytes([len(n)]) + n + bytes([7]) + struct.pack(">H", len(v)) + v
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + raw_headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event(name: str, body: dict[str, Any]) -> bytes:
    return event_frame(
        {":event-type": name, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body).encode(),
    )


def exception_frame(code: str, message: str) -> bytes:
    return event_frame(
        {
            ":exception-type": code,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


def section_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        for block in message.get("content", []):
            match = SECTION_RE.search(block.get("text", "") or "")
            if match:
                return match.group(1)
    return ""


def default_findings(_model_id: str, _body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    first = text.split("\n")[0].strip()
    quote = first[:60].strip()
    return [
        {
            "severity": "medium",
            "type": "important",
            "category": "clarity",
            "title": "Say who does what by when",
            "description": "The section states facts but not the owner of the follow-up.",
            "suggestion": "Name an owner and a due date.",
            "example": "Owner: J. Doe, due 1 Dec 2026.",
            "questions": ["Who owns the follow-up?"],
            "framework_refs": ["P7"],
            "quote": quote,
            "confidence": 0.9,
        }
    ]


class FakeBedrock:
    def __init__(self) -> None:
        self.latency = 0.0
        self.rpm: int | None = None
        self.window = 60.0
        self.quota = "bucket"
        self._tokens: float | None = None
        self._refilled = 0.0
        self.script: dict[str, deque[Any]] = defaultdict(deque)
        self.access_denied: set[str] = set()
        self.unknown: set[str] = set()
        self.base_ids_need_profile: set[str] = set()
        self.findings: Callable[[str, dict[str, Any], str], list[dict[str, Any]]] = default_findings
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.throttled = 0
        self.tokens_served = 0
        """Input + output tokens of every successful answer (what an account would be billed)."""
        self._calls: deque[float] = deque()
        self._cached: set[str] = set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                # The client went away (a test killed it): not the server's error.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBedrock:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self, operation: str = "converse") -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(m, b) for m, op, b in self.requests if op == operation]

    def queue(self, model_id: str, *actions: Any) -> None:
        self.script[model_id].extend(actions)

    # -- handling --------------------------------------------------------------------------
    def _over_quota(self) -> bool:
        if self.rpm is None:
            return False
        with self._lock:
            now = time.monotonic()
            if self.quota == "bucket":
                if self._tokens is None:
                    self._tokens, self._refilled = float(self.rpm), now
                self._tokens = min(
                    float(self.rpm),
                    self._tokens + (now - self._refilled) * self.rpm / self.window,
                )
                self._refilled = now
                if self._tokens < 1.0:
                    self.throttled += 1
                    return True
                self._tokens -= 1.0
                return False
            while self._calls and now - self._calls[0] > self.window:
                self._calls.popleft()
            if len(self._calls) >= self.rpm:
                self.throttled += 1
                return True
            self._calls.append(now)
            return False

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        match = re.match(r"^/model/(.+)/(converse|converse-stream)$", handler.path)
        length = int(handler.headers.get("Content-Length", "0"))
        raw = handler.rfile.read(length)
        if not match:
            self._error(handler, Err("UnknownOperationException", 404, "unknown path"))
            return
        model_id, operation = unquote(match.group(1)), match.group(2).replace("-", "_")
        body = json.loads(raw or b"{}")
        with self._lock:
            self.requests.append((model_id, operation, body))
        if not handler.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            self._error(handler, Err("UnrecognizedClientException", 403, "missing signature"))
            return
        if self.latency:
            time.sleep(self.latency)
        if model_id in self.access_denied:
            self._error(
                handler,
                Err(
                    "AccessDeniedException",
                    403,
                    "You don't have access to the model with the specified model ID.",
                ),
            )
            return
        if model_id in self.unknown:
            self._error(
                handler,
                Err(
                    "ResourceNotFoundException",
                    404,
                    "Could not resolve the foundation model from the provided model identifier.",
                ),
            )
            return
        if model_id in self.base_ids_need_profile:
            self._error(
                handler, Err("ValidationException", 400, ON_DEMAND_MESSAGE.format(model=model_id))
            )
            return
        if self._over_quota():
            self._error(
                handler,
                Err(
                    "ThrottlingException",
                    429,
                    "Too many requests, please wait before trying again.",
                ),
            )
            return
        action: Any = None
        with self._lock:
            if self.script.get(model_id):
                action = self.script[model_id].popleft()
        if isinstance(action, Err):
            self._error(handler, action)
            return
        if callable(action):
            response = action(model_id, body)
        elif isinstance(action, dict):
            response = action
        else:
            response = self._default_response(model_id, body)
        if operation == "converse":
            self._json(handler, 200, response)
        else:
            self._stream(handler, response)

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        text = json.dumps(body)
        usage = {
            "inputTokens": len(text) // 4,
            "outputTokens": 120,
            "totalTokens": len(text) // 4 + 120,
        }
        with self._lock:
            self.tokens_served += usage["totalTokens"]
        system = body.get("system") or []
        if any("cachePoint" in block for block in system):
            prefix = hashlib.sha256(json.dumps(system[0]).encode()).hexdigest()
            size = len(system[0].get("text", "")) // 4
            with self._lock:
                seen = prefix in self._cached
                self._cached.add(prefix)
            usage["cacheReadInputTokens" if seen else "cacheWriteInputTokens"] = size
        return usage

    def _default_response(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        findings = self.findings(model_id, body, section_text(body))
        payload = {"findings": findings}
        if "outputConfig" in body:
            content: list[dict[str, Any]] = [{"text": json.dumps(payload)}]
            stop = "end_turn"
        elif "toolConfig" in body:
            name = body["toolConfig"]["tools"][0]["toolSpec"]["name"]
            content = [
                {
                    "toolUse": {
                        "toolUseId": f"tooluse_{len(self.requests)}",
                        "name": name,
                        "input": payload,
                    }
                }
            ]
            stop = "tool_use"
        else:
            content = [{"text": "The document describes a payment incident."}]
            stop = "end_turn"
        thinking = (body.get("additionalModelRequestFields") or {}).get("thinking")
        if thinking:
            content.insert(
                0,
                {
                    "reasoningContent": {
                        "reasoningText": {"text": "Let me think.", "signature": "sig"}
                    }
                },
            )
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": self._usage(body),
            "metrics": {"latencyMs": int(self.latency * 1000)},
        }

    # -- wire formats ----------------------------------------------------------------------
    def _json(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("x-amzn-RequestId", "fake-request")
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler: BaseHTTPRequestHandler, err: Err) -> None:
        headers = {
            "x-amzn-ErrorType": f"{err.code}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        }
        if err.retry_after is not None:
            headers["Retry-After"] = str(err.retry_after)
        self._json(handler, err.status, {"message": err.message}, headers)

    def _stream(self, handler: BaseHTTPRequestHandler, response: dict[str, Any]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for frame in self._frames(response):
            handler.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")

    def _frames(self, response: dict[str, Any]) -> Iterator[bytes]:
        if "stream_error" in response:  # {"stream_error": [code, message], "text": "..."}
            yield event("messageStart", {"role": "assistant"})
            yield event(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"text": response.get("text", "")}},
            )
            code, message = response["stream_error"]
            yield exception_frame(code, message)
            return
        yield event("messageStart", {"role": "assistant"})
        content = response["output"]["message"]["content"]
        for index, block in enumerate(content):
            if "text" in block:
                text = block["text"]
                for start in range(0, len(text), 16):
                    yield event(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"text": text[start : start + 16]}},
                    )
                yield event("contentBlockStop", {"contentBlockIndex": index})
        yield event("messageStop", {"stopReason": response.get("stopReason", "end_turn")})
        yield event("metadata", {"usage": response.get("usage", {}), "metrics": {"latencyMs": 1}})
