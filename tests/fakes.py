"""In-process fakes for the core: a model port with queued (and streamed) answers that
records every request, and an in-memory session store. The pipeline, the engine's chain walk
and the review service run on them without a server or a subprocess."""

from __future__ import annotations

import builtins
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from prism_cli.core.ports import (
    ErrorKind,
    ModelCallError,
    ModelResponse,
    StreamEvent,
    StreamStop,
    StreamUsage,
    TextDelta,
    ToolInputDelta,
    Usage,
)

Answer = dict[str, Any] | ModelCallError | Callable[[str, dict[str, Any]], Any]
"""What the port answers: a findings payload (``{"findings": [...]}``), an error to raise,
or a function of (model id, request) returning either."""


def finding(title: str = "Say who does what by when", **extra: Any) -> dict[str, Any]:
    return {
        "severity": "medium",
        "type": "important",
        "category": "clarity",
        "title": title,
        "description": "The section states facts but not the owner of the follow-up.",
        "confidence": 0.9,
        **extra,
    }


class QueuedPort:
    """A :class:`~prism_cli.core.ports.ModelPort`: answers from a queue (per model id, or
    for any model), else ``default``; ``requests`` records (model id, request) of every call."""

    def __init__(self, default: Answer | None = None) -> None:
        self.default: Answer = default if default is not None else {"findings": [finding()]}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._queues: dict[str | None, deque[Answer]] = {}
        self._lock = threading.Lock()
        self.latency = 0.0

    def queue(self, *answers: Answer, model: str | None = None) -> QueuedPort:
        with self._lock:
            self._queues.setdefault(model, deque()).extend(answers)
        return self

    def _next(self, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append((model_id, request))
            answer: Answer = self.default
            for key in (model_id, None):
                if self._queues.get(key):
                    answer = self._queues[key].popleft()
                    break
        if self.latency:
            time.sleep(self.latency)
        if callable(answer):
            answer = answer(model_id, request)
        if isinstance(answer, ModelCallError):
            raise answer
        assert isinstance(answer, dict)
        return answer

    def calls(self, model_id: str | None = None) -> int:
        return sum(1 for m, _ in self.requests if model_id is None or m == model_id)

    @staticmethod
    def _usage(request: dict[str, Any], text: str) -> Usage:
        return Usage(1, len(json.dumps(request)) // 4, max(1, len(text) // 4))

    def converse(self, model_id: str, request: dict[str, Any]) -> ModelResponse:
        payload = self._next(model_id, request)
        text = json.dumps(payload)
        tools = request.get("toolConfig", {}).get("tools", [])
        if tools:
            name = tools[0]["toolSpec"]["name"]
            content = [{"toolUse": {"toolUseId": "t1", "name": name, "input": payload}}]
            return ModelResponse(content, "tool_use", self._usage(request, text))
        return ModelResponse([{"text": text}], "end_turn", self._usage(request, text))

    def stream(self, model_id: str, request: dict[str, Any]) -> Iterator[StreamEvent]:
        payload = self._next(model_id, request)
        text = payload.get("text") if set(payload) == {"text"} else json.dumps(payload)
        assert isinstance(text, str)
        tools = request.get("toolConfig", {}).get("tools", [])
        for start in range(0, len(text), 16):
            chunk = text[start : start + 16]
            yield ToolInputDelta(chunk) if tools else TextDelta(chunk)
        yield StreamUsage(self._usage(request, text))
        yield StreamStop("tool_use" if tools else "end_turn")


def throttled() -> ModelCallError:
    return ModelCallError(ErrorKind.THROTTLED, "Too many requests, please wait")


def denied() -> ModelCallError:
    return ModelCallError(ErrorKind.ACCESS_DENIED, "You don't have access to the model")


class MemoryStore:
    """A :class:`~prism_cli.core.ports.SessionStore` in a dict (one process)."""

    url = "memory://"

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.leases: dict[str, tuple[str, float]] = {}
        self.gets = 0
        self.lists = 0
        self._lock = threading.Lock()

    def check(self) -> None:
        pass

    def get(self, key: str) -> bytes | None:
        with self._lock:
            self.gets += 1
            return self.data.get(key)

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self.data[key] = bytes(value)

    def put_many(self, items: dict[str, bytes]) -> None:
        with self._lock:
            self.data.update({key: bytes(value) for key, value in items.items()})

    def delete(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self.data.pop(key, None)

    def list(self, prefix: str) -> list[str]:
        with self._lock:
            self.lists += 1
            return sorted(k for k in self.data if k.startswith(prefix))

    def children(self, prefix: str) -> builtins.list[str]:
        return sorted({k[len(prefix) :].split("/", 1)[0] for k in self.list(prefix)})

    def acquire(self, key: str, owner: str, ttl: float) -> str | None:
        with self._lock:
            held = self.leases.get(key)
            if held is not None and held[0] != owner and held[1] > time.time():
                return held[0]
            self.leases[key] = (owner, time.time() + ttl)
            return None

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        return self.acquire(key, owner, ttl) is None

    def release(self, key: str, owner: str) -> None:
        with self._lock:
            if self.leases.get(key, ("",))[0] == owner:
                del self.leases[key]


class Counted:
    """A function replaced by one that counts its calls and then calls it: work is counted
    rather than timed (``count = Counted(monkeypatch, module, "name")``, then ``count.calls``)."""

    def __init__(self, monkeypatch: Any, owner: Any, name: str) -> None:
        self.calls = 0
        real = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
