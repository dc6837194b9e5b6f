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
  responder (structured output when the request has ``outputConfig``, else a ``toolUse``);
* ``models``: the Claude models served, by base id, with today's request rules
  (:class:`FakeModel`): end-of-life models answer 404, adaptive-only models refuse
  ``thinking.type: enabled``, 2026 models refuse sampling parameters, Sonnet 5.5 / Opus 5.5 /
  Fable 5.1 refuse forced tool use, and so on. An id that is not served (or a profile of a
  geography the signing region cannot use) is "The provided model identifier is invalid.";
* ``tpm`` / ``tpm_mode``: a token quota per model id as Bedrock accounts for it: input +
  ``maxTokens`` reserved when a call starts, settled to input + output x burndown when it ends;
  ``"bucket"`` refills continuously, ``"window"`` resets every ``window`` seconds (clock
  aligned); ``output_tokens`` sets the size of every answer;
* ``always_throttle``: model ids that answer every call with a 429 (a throttle storm);
* ``retention_mode``: the account's data retention mode (Fables refuse every call with a 400
  naming it until ``provider_data_share``); ``safety_refusals``: model ids that answer with a
  safety refusal (a 200 whose stopReason is ``refusal``);
* the control plane (``ListInferenceProfiles``, ``ListFoundationModels``; point
  ``AWS_ENDPOINT_URL_BEDROCK`` at the same URL): what the signing region can call;
  ``control_plane = "denied"`` answers 403; ``hidden_profiles`` leaves ids out.

Every request is recorded in ``requests`` as ``(model_id, operation, body)``; refused ones also
in ``refused`` as ``(model_id, code, message)``.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import json
import re
import socket
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


@dataclass
class FakeModel:
    """One served model's rules, as Bedrock enforces them today (BEDROCK.md)."""

    thinking: str = "budget"  # none | budget | adaptive | adaptive_only
    sampling: bool = True
    forced_tool: bool = True
    structured: bool = True
    effort: bool = False
    on_demand: bool = False
    eol: bool = False
    lifecycle: str = "ACTIVE"
    profiles: tuple[str, ...] = ("global", "us", "eu", "jp", "au", "apac")
    burndown: float = 5.0
    max_output: int = 128_000
    temperature_with_top_p: bool = True
    temperature_deprecated: bool = False
    data_retention: bool = False
    """Refused until the account's data retention mode allows provider data sharing."""


def today() -> dict[str, FakeModel]:
    """The Claude models Bedrock serves in December 2026, by base id, with their cards' rules."""
    adaptive_only = {"thinking": "adaptive_only", "sampling": False, "effort": True}
    no_output_config = {**adaptive_only, "structured": False}
    pair = {"temperature_with_top_p": False}
    return {
        "anthropic.claude-fable-5-2": FakeModel(**no_output_config, forced_tool=False,
                                                data_retention=True, profiles=("global", "us")),
        "anthropic.claude-fable-5-1": FakeModel(**adaptive_only, forced_tool=False,
                                                data_retention=True),
        "anthropic.claude-fable-5": FakeModel(**no_output_config, data_retention=True),
        "anthropic.claude-opus-5-5": FakeModel(**adaptive_only, forced_tool=False),
        "anthropic.claude-sonnet-5-5": FakeModel(**adaptive_only, forced_tool=False),
        "anthropic.claude-haiku-5-5": FakeModel(thinking="adaptive", sampling=False, effort=True,
                                                structured=False, forced_tool=False),
        "anthropic.claude-opus-5": FakeModel(**no_output_config, temperature_deprecated=True),
        "anthropic.claude-sonnet-5": FakeModel(**no_output_config, lifecycle="LEGACY"),
        "anthropic.claude-opus-4-8": FakeModel(**no_output_config),
        "anthropic.claude-opus-4-7": FakeModel(**no_output_config),
        "anthropic.claude-opus-4-6-v1": FakeModel(thinking="adaptive", effort=True, **pair),
        "anthropic.claude-sonnet-4-6": FakeModel(thinking="adaptive", effort=True, **pair),
        "anthropic.claude-sonnet-4-5-20250929-v1:0": FakeModel(lifecycle="LEGACY", max_output=64_000, **pair),
        "anthropic.claude-opus-4-5-20251101-v1:0": FakeModel(effort=True, max_output=64_000, **pair),
        "anthropic.claude-haiku-4-5-20251001-v1:0": FakeModel(max_output=64_000, lifecycle="LEGACY", **pair),
        "anthropic.claude-opus-4-1-20250805-v1:0": FakeModel(lifecycle="LEGACY", profiles=("us",)),
        "anthropic.claude-3-haiku-20240307-v1:0": FakeModel(
            thinking="none", structured=False, on_demand=True, lifecycle="LEGACY",
            profiles=("us", "eu", "apac"), burndown=1.0, max_output=4096,
        ),
        "anthropic.claude-sonnet-4-20250514-v1:0": FakeModel(eol=True),
        "anthropic.claude-opus-4-20250514-v1:0": FakeModel(eol=True),
        "anthropic.claude-3-7-sonnet-20250219-v1:0": FakeModel(eol=True),
        "anthropic.claude-3-5-sonnet-20241022-v2:0": FakeModel(eol=True),
        "anthropic.claude-3-5-haiku-20241022-v1:0": FakeModel(eol=True),
    }  # fmt: skip


RETENTION_MESSAGE = (
    "The data retention mode 'default' is not available for this model. Set the data retention "
    "mode to provider_data_share to use this model."
)


GEOS = ("us", "eu", "apac", "jp", "au", "global")
EOL_MESSAGE = (
    "This model version has reached the end of its life. Please refer to the AWS documentation "
    "for more details."
)
INVALID_ID = "The provided model identifier is invalid."


def geographies(region: str) -> tuple[str, ...]:
    if region.startswith(("us-", "ca-")):
        return ("us",)
    if region.startswith("eu-"):
        return ("eu",)
    if region == "ap-northeast-1":
        return ("jp", "apac")
    if region in ("ap-southeast-2", "ap-southeast-4"):
        return ("au", "apac")
    if region.startswith("ap-"):
        return ("apac",)
    return ()


def signing_region(handler: BaseHTTPRequestHandler) -> str:
    match = re.search(r"Credential=[^/]+/\d+/([^/]+)/", handler.headers.get("Authorization", ""))
    return match.group(1) if match else "us-east-1"


def rule_violation(rules: FakeModel, body: dict[str, Any]) -> str | None:
    """The message Bedrock gives for the first request field this model refuses."""
    extra = body.get("additionalModelRequestFields") or {}
    thinking = extra.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    inference = body.get("inferenceConfig") or {}
    if thinking is not None and rules.thinking == "none":
        return "extraneous key [thinking] is not permitted"
    if kind in ("enabled", "disabled") and rules.thinking == "adaptive_only":
        return (
            f"thinking.type.{kind} is not supported for this model. Use thinking.type.adaptive "
            "and output_config.effort to control thinking behavior."
        )
    if kind == "adaptive" and rules.thinking == "budget":
        return (
            "thinking.type: Input tag 'adaptive' found using 'type' does not match any of the "
            "expected tags: 'disabled', 'enabled'"
        )
    if "output_config" in extra and not rules.effort:
        return "extraneous key [output_config] is not permitted"
    sampling = [k for k in ("temperature", "topP", "topK") if k in inference]
    if "temperature" in inference and rules.temperature_deprecated:
        return "temperature is deprecated for this model."
    if "temperature" in inference and "topP" in inference and not rules.temperature_with_top_p:
        return "`temperature` and `top_p` cannot both be specified for this model."
    if sampling and not rules.sampling:
        return f"{sampling[0]}: sampling parameters are not supported for this model"
    thinks = kind in ("enabled", "adaptive") or rules.thinking == "adaptive_only"
    if kind == "enabled" and "temperature" in inference and inference["temperature"] != 1:
        return "temperature may only be set to 1 when thinking is enabled"
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    if "tool" in choice and not rules.forced_tool:
        return "tool_choice: forced tool use is not supported for this model; use auto"
    if "tool" in choice and thinks:
        return "Thinking may not be enabled when tool_choice forces tool use."
    if "outputConfig" in body and not rules.structured:
        return "outputConfig: Extra inputs are not permitted"
    if int(inference.get("maxTokens", 0)) > rules.max_output:
        return (
            f"max_tokens: {inference['maxTokens']} > {rules.max_output}, the maximum for this model"
        )
    return None


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
        self.models: dict[str, FakeModel] = today()
        self.tpm: int | None = None
        self.tpm_mode = "bucket"
        self.output_tokens = 120
        self.always_throttle: set[str] = set()
        self.service_quotas: list[dict[str, Any]] = []
        """What ListServiceQuotas(ServiceCode=bedrock) answers (point
        ``AWS_ENDPOINT_URL_SERVICE_QUOTAS`` here): ``{"QuotaName", "QuotaCode", "Value"}``."""
        self.retention_mode = "default"
        """The account's data retention mode: Fable models refuse every call until it is
        ``provider_data_share``."""
        self.safety_refusals: set[str] = set()
        """Model ids that answer every call with a safety refusal (stopReason "refusal")."""
        self.no_count_tokens: set[str] = set()
        """Base ids whose CountTokens is refused (as for models launched with profiles only)."""
        self.control_plane = "ok"
        self.hidden_profiles: set[str] = set()
        self.refused: list[tuple[str, str, str]] = []
        self.control_requests: list[tuple[str, str]] = []
        self._token_state: dict[str, list[float]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.throttled = 0
        self.throttle_times: list[float] = []
        self.request_times: list[float] = []
        self.stream_delay = 0.0
        """Seconds between the frames of a ConverseStream answer."""
        """Wall-clock instants of token-quota throttles."""
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
                # Each event of a stream goes out as it is written, as Bedrock's do: without
                # this, Nagle holds the second small write for the client's delayed ACK
                # (~40 ms before a first token that had already been sent).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # The client went away (a test killed it): not the server's error.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def do_POST(self) -> None:
                if self.headers.get("X-Amz-Target", "").startswith("ServiceQuotas"):
                    fake._service_quotas(self)
                    return
                fake._handle(self)

            def do_GET(self) -> None:
                fake._control_plane(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def prism_env(self, home: Any) -> dict[str, str]:
        """The environment for a ``prism`` subprocess of a bench: Bedrock runtime on this
        fake, the control plane and Service Quotas refused at once, fake credentials, and its
        data, config and cache under ``home`` (never the developer's)."""
        import os

        return {
            **os.environ,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.url,
            "AWS_ENDPOINT_URL_BEDROCK": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_SERVICE_QUOTAS": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "XDG_DATA_HOME": f"{home}/data",
            "XDG_CONFIG_HOME": f"{home}/config",
            "XDG_CACHE_HOME": f"{home}/cache",
        }

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

    def _count_tokens(self, handler: BaseHTTPRequestHandler, model_id: str, raw: bytes) -> None:
        """CountTokens: bare base ids of the models callable on demand; profiles, and models
        offered only through cross-region profiles, are refused."""
        body = json.loads(raw or b"{}")
        with self._lock:
            self.requests.append((model_id, "count_tokens", body))
        if model_id in self.access_denied:
            self._error(
                handler,
                Err("AccessDeniedException", 403, "You don't have access to the model."),
            )
            return
        rules = self.models.get(model_id)
        if (
            model_id.split(".")[0] in ("us", "eu", "apac", "jp", "au", "global")
            or model_id in self.no_count_tokens
            or (rules is not None and not rules.on_demand)  # offered through profiles only
        ):
            self._error(
                handler,
                Err(
                    "ValidationException", 400, "The provided model doesn't support counting tokens"
                ),
            )
            return
        converse = body.get("input", {}).get("converse", {})
        self._json(handler, 200, {"inputTokens": self.input_tokens(converse)})

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        counting = re.match(r"^/model/(.+)/count-tokens$", handler.path)
        if counting:
            length = int(handler.headers.get("Content-Length", "0"))
            self._count_tokens(handler, unquote(counting.group(1)), handler.rfile.read(length))
            return
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
            self.request_times.append(time.time())
        if not handler.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            self._error(handler, Err("UnrecognizedClientException", 403, "missing signature"))
            return
        region = signing_region(handler)
        if model_id in self.access_denied:
            self._refuse(
                handler,
                model_id,
                Err(
                    "AccessDeniedException",
                    403,
                    "You don't have access to the model with the specified model ID.",
                ),
            )
            return
        if model_id in self.unknown:
            self._refuse(
                handler,
                model_id,
                Err(
                    "ResourceNotFoundException",
                    404,
                    "Could not resolve the foundation model from the provided model identifier.",
                ),
            )
            return
        if model_id in self.base_ids_need_profile:
            self._refuse(
                handler,
                model_id,
                Err("ValidationException", 400, ON_DEMAND_MESSAGE.format(model=model_id)),
            )
            return
        head, _, rest = model_id.partition(".")
        geo, base = (head, rest) if head in GEOS and rest else (None, model_id)
        rules = self.models.get(base)
        if rules is None or (
            geo is not None and (geo not in rules.profiles or
                                 (geo != "global" and geo not in geographies(region)))
        ):  # fmt: skip
            self._refuse(handler, model_id, Err("ValidationException", 400, INVALID_ID))
            return
        if rules.eol:
            self._refuse(handler, model_id, Err("ResourceNotFoundException", 404, EOL_MESSAGE))
            return
        if geo is None and not rules.on_demand:
            self._refuse(
                handler,
                model_id,
                Err("ValidationException", 400, ON_DEMAND_MESSAGE.format(model=model_id)),
            )
            return
        if rules.data_retention and self.retention_mode != "provider_data_share":
            self._refuse(handler, model_id, Err("ValidationException", 400, RETENTION_MESSAGE))
            return
        violation = rule_violation(rules, body)
        if violation is not None:
            self._refuse(handler, model_id, Err("ValidationException", 400, violation))
            return
        if model_id in self.safety_refusals:
            refusal = {
                "output": {"message": {"role": "assistant", "content": [
                    {"text": "I can't help with reviewing this content."}]}},
                "stopReason": "refusal",
                "usage": {"inputTokens": self.input_tokens(body), "outputTokens": 9,
                          "totalTokens": self.input_tokens(body) + 9},
            }  # fmt: skip
            if operation == "converse":
                self._json(handler, 200, refusal)
            else:
                self._stream(handler, refusal)
            return
        throttle = Err(
            "ThrottlingException", 429, "Too many requests, please wait before trying again."
        )
        if model_id in self.always_throttle or self._over_quota():
            if model_id in self.always_throttle:
                with self._lock:
                    self.throttled += 1
            self._refuse(handler, model_id, throttle)
            return
        action: Any = None
        with self._lock:
            if self.script.get(model_id):
                action = self.script[model_id].popleft()
        if isinstance(action, Err):
            if action.code == "ThrottlingException":
                with self._lock:
                    self.throttled += 1
            self._refuse(handler, model_id, action)
            return
        max_tokens = int((body.get("inferenceConfig") or {}).get("maxTokens", rules.max_output))
        reserved = self._reserve_tokens(model_id, body, max_tokens)
        if reserved is None:
            self._refuse(
                handler,
                model_id,
                Err(
                    "ThrottlingException", 429, "Too many tokens, please wait before trying again."
                ),
            )
            return
        if self.latency:
            time.sleep(self.latency)
        self._settle_tokens(model_id, reserved, max_tokens, rules.burndown)
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

    def _refuse(self, handler: BaseHTTPRequestHandler, model_id: str, err: Err) -> None:
        with self._lock:
            self.refused.append((model_id, err.code, err.message))
        self._error(handler, err)

    @staticmethod
    def input_tokens(body: dict[str, Any]) -> int:
        return len(json.dumps(body)) // 4

    def _reserve_tokens(self, model_id: str, body: dict[str, Any], max_tokens: int) -> float | None:
        """Reserve input + maxTokens of the model's token quota; None (a 429) when it is spent."""
        if self.tpm is None:
            return 0.0
        need = float(self.input_tokens(body) + max_tokens)
        with self._lock:
            now = time.monotonic()
            state = self._token_state.setdefault(model_id, [float(self.tpm), now, 0.0])
            if self.tpm_mode == "bucket":
                state[0] = min(
                    float(self.tpm), state[0] + (now - state[1]) * self.tpm / self.window
                )
                state[1] = now
            else:
                window = float(int(time.time() // self.window))
                if window != state[2]:
                    state[0], state[2] = float(self.tpm), window
            if state[0] < need:
                self.throttled += 1
                self.throttle_times.append(time.time())
                return None
            state[0] -= need
            return state[2]

    def _settle_tokens(
        self, model_id: str, reserved: float, max_tokens: int, burndown: float
    ) -> None:
        """Give back what was reserved beyond input + output x burndown."""
        if self.tpm is None:
            return
        refund = max_tokens - self.output_tokens * burndown
        with self._lock:
            state = self._token_state[model_id]
            if self.tpm_mode == "window" and state[2] != reserved:
                return  # the reservation's window is over
            state[0] = min(float(self.tpm), state[0] + refund)

    def quota_tokens(self, body: dict[str, Any], burndown: float = 5.0) -> float:
        """What one answered call costs against the token quota once settled."""
        return self.input_tokens(body) + self.output_tokens * burndown

    def _service_quotas(self, handler: BaseHTTPRequestHandler) -> None:
        """ListServiceQuotas (JSON 1.1), two quotas a page to exercise pagination."""
        length = int(handler.headers.get("Content-Length", "0"))
        body = json.loads(handler.rfile.read(length) or b"{}")
        start = int(body.get("NextToken") or 0)
        page = self.service_quotas[start : start + 2]
        payload: dict[str, Any] = {
            "Quotas": [{"ServiceCode": "bedrock", "Adjustable": True, **q} for q in page]
        }
        if start + 2 < len(self.service_quotas):
            payload["NextToken"] = str(start + 2)
        self._json(handler, 200, payload)

    # -- control plane ---------------------------------------------------------------------
    def _control_plane(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        with self._lock:
            self.control_requests.append((path, query))
        if self.control_plane == "denied":
            self._error(
                handler,
                Err(
                    "AccessDeniedException", 403, "User is not authorized to perform: bedrock:List*"
                ),
            )
            return
        region = signing_region(handler)
        geos = (*geographies(region), "global")
        if path == "/inference-profiles":
            summaries = []
            for base, rules in sorted(self.models.items()):
                if rules.eol:
                    continue
                for geo in rules.profiles:
                    profile = f"{geo}.{base}"
                    if geo not in geos or profile in self.hidden_profiles:
                        continue
                    summaries.append(
                        {
                            "inferenceProfileName": profile,
                            "inferenceProfileId": profile,
                            "inferenceProfileArn": f"arn:aws:bedrock:{region}:123456789012:"
                            f"inference-profile/{profile}",
                            "models": [
                                {"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{base}"}
                            ],
                            "status": "ACTIVE",
                            "type": "SYSTEM_DEFINED",
                        }
                    )
            self._json(handler, 200, {"inferenceProfileSummaries": summaries})
            return
        if path == "/foundation-models":
            models = [
                {
                    "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{base}",
                    "modelId": base,
                    "modelName": base,
                    "providerName": "Anthropic",
                    "inferenceTypesSupported": ["ON_DEMAND"]
                    if rules.on_demand
                    else ["INFERENCE_PROFILE"],
                    "responseStreamingSupported": True,
                    "modelLifecycle": {"status": rules.lifecycle},
                }
                for base, rules in sorted(self.models.items())
                if not rules.eol
            ]
            self._json(handler, 200, {"modelSummaries": models})
            return
        self._error(handler, Err("UnknownOperationException", 404, "unknown path"))

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        out = self.output_tokens
        usage = {
            "inputTokens": self.input_tokens(body),
            "outputTokens": out,
            "totalTokens": self.input_tokens(body) + out,
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
        try:
            for frame in self._frames(response):
                handler.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                handler.wfile.flush()
                if self.stream_delay:
                    time.sleep(self.stream_delay)
            handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (an answer cancelled)

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
            if "reasoningContent" in block:
                text = block["reasoningContent"]["reasoningText"]["text"]
                yield event(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": text}}},
                )
                yield event("contentBlockStop", {"contentBlockIndex": index})
            elif "toolUse" in block:
                tool = block["toolUse"]
                yield event(
                    "contentBlockStart",
                    {
                        "contentBlockIndex": index,
                        "start": {
                            "toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}
                        },
                    },
                )
                text = json.dumps(tool["input"])
                for start in range(0, len(text), 32):
                    yield event(
                        "contentBlockDelta",
                        {
                            "contentBlockIndex": index,
                            "delta": {"toolUse": {"input": text[start : start + 32]}},
                        },
                    )
                yield event("contentBlockStop", {"contentBlockIndex": index})
            elif "text" in block:
                text = block["text"]
                for start in range(0, len(text), 16):
                    yield event(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"text": text[start : start + 16]}},
                    )
                yield event("contentBlockStop", {"contentBlockIndex": index})
        yield event("messageStop", {"stopReason": response.get("stopReason", "end_turn")})
        yield event("metadata", {"usage": response.get("usage", {}), "metrics": {"latencyMs": 1}})
