"""Run telemetry: ``--log-json FILE`` (one JSON object per event) and ``--metrics
cloudwatch[:NAMESPACE]`` (the run's metrics, published with PutMetricData when it ends).

Events: ``run_start`` (``models``: the chain asked for, empty for the catalog's), ``engine``
(the chain resolved, when a section is left to review and the engine opens), ``document``,
``section_start``, ``section_end``, every model engine
event (``call`` with latency and tokens, ``error`` with the error's class and what was done
about it, ``wait``, ``fallback``, ``adapt``, ``remap``, ``set_aside``, ``invalid_output``) and
``run_end``. Metrics, dimensioned by model: Calls, Errors (and by ErrorClass), Throttles,
Fallbacks, LatencyP50 and LatencyP95, InputTokens, OutputTokens, CostUSD; for the run:
SectionsReviewed and SectionsFailed. A failure to publish is a warning, never fatal.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from prism_cli.errors import UsageError


def parse_metrics(value: str | None) -> str | None:
    """The CloudWatch namespace of ``--metrics cloudwatch[:NAMESPACE]``."""
    if value is None:
        return None
    kind, _, namespace = value.partition(":")
    if kind != "cloudwatch":
        raise UsageError("--metrics takes cloudwatch or cloudwatch:NAMESPACE")
    return namespace or "prism"


class Telemetry:
    def __init__(
        self,
        log_json: Path | None = None,
        namespace: str | None = None,
        *,
        run_id: str | None = None,
        batch_id: str | None = None,
    ) -> None:
        import uuid

        self.namespace = namespace
        self.run_id = run_id or uuid.uuid4().hex[:12]
        """Every event carries it: one run's events, from a local run or its batch's workers."""
        self.batch_id = batch_id
        self._where = threading.local()
        """This thread's document and section (a section's calls run in its thread)."""
        self._out: IO[str] | None = None
        if log_json is not None:
            try:
                self._out = open(log_json, "a", encoding="utf-8")  # noqa: SIM115 (closed in close)
            except OSError as exc:
                raise UsageError(f"--log-json {log_json}: {exc.strerror or exc}") from exc
        self._lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.counts: dict[tuple[str, str], float] = {}
        self.sections = {"reviewed": 0, "failed": 0}

    @property
    def active(self) -> bool:
        return self._out is not None or self.namespace is not None

    def at(self, document: str | None, section: str | None, **more: Any) -> None:
        """The document and section this thread works on: its events carry them."""
        self._where.fields = {"document": document, "section": section, **more}

    def event(self, kind: str, **fields: Any) -> None:
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": kind,
            "run_id": self.run_id,
        }
        if self.batch_id:
            record["batch_id"] = self.batch_id
        record.update(getattr(self._where, "fields", {}))
        record.update({k: v for k, v in fields.items() if v is not None})
        with self._lock:
            if self._out is not None:
                self._out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                self._out.flush()

    def _count(self, metric: str, model: str, value: float = 1.0) -> None:
        with self._lock:
            self.counts[(metric, model)] = self.counts.get((metric, model), 0.0) + value

    def engine(self, event: Any) -> None:
        """An engine event (:class:`~prism_cli.engine.engine.EngineEvent`)."""
        data = dict(getattr(event, "data", {}) or {})
        self.event(event.kind, model=event.model, detail=event.detail, **data)
        model = event.model or "unknown"
        if event.kind == "call":
            self._count("Calls", model)
            with self._lock:
                self.latencies.setdefault(model, []).append(float(data.get("latency", 0.0)))
            self._count("InputTokens", model, float(data.get("input_tokens", 0)))
            self._count("OutputTokens", model, float(data.get("output_tokens", 0)))
            if not data.get("ok", True):
                self._count("Errors", model)
                self._count(f"Errors:{data.get('error', 'other')}", model)
                if data.get("error") == "throttled":
                    self._count("Throttles", model)
        elif event.kind == "fallback":
            self._count("Fallbacks", model)

    def section_start(self, document: str, section: str) -> None:
        self.at(document, section)
        self.event("section_start", document=document, section=section)

    def section_end(self, document: str, result: Any, prices: Callable[[str], Any]) -> None:
        from prism_cli.core.report import cost_usd

        usage = result.usage or {}
        cost = cost_usd(usage, prices)
        for model, used in usage.items():
            price = cost_usd({model: used}, prices)
            self._count("CostUSD", model, price)
        with self._lock:
            if result.status == "failed":
                self.sections["failed"] += 1
            elif result.status in ("reviewed", "cached"):
                self.sections["reviewed"] += 1
        self.event(
            "section_end",
            document=document,
            section=result.section_id,
            status=result.status,
            model=result.model,
            attempts=result.attempts,
            input_tokens=sum(u.input_tokens for u in usage.values()),
            output_tokens=sum(u.output_tokens for u in usage.values()),
            cost_usd=round(cost, 6),
            error=result.error,
        )

    # -- metrics ---------------------------------------------------------------------------
    def metric_data(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        data: list[dict[str, Any]] = []

        def put(name: str, value: float, unit: str, dims: dict[str, str]) -> None:
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    "Timestamp": now,
                    "Value": float(value),
                    "Unit": unit,
                }
            )

        for (metric, model), value in sorted(self.counts.items()):
            if metric.startswith("Errors:"):
                put("Errors", value, "Count", {"Model": model, "ErrorClass": metric[7:]})
            else:
                unit = "None" if metric == "CostUSD" else "Count"
                put(metric, value, unit, {"Model": model})
        for model, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            for name, q in (("LatencyP50", 0.5), ("LatencyP95", 0.95)):
                at = ordered[min(len(ordered) - 1, int(q * len(ordered)))]
                put(name, at * 1000, "Milliseconds", {"Model": model})
        put("SectionsReviewed", self.sections["reviewed"], "Count", {})
        put("SectionsFailed", self.sections["failed"], "Count", {})
        return data

    def run_end(self, report: dict[str, Any], seconds: float, fallbacks: int) -> None:
        summary = report["summary"]
        self.event(
            "run_end",
            seconds=round(seconds, 3),
            sections=summary["sections"],
            reviewed=summary["reviewed"],
            failed=summary["failed"],
            findings=summary["findings"],
            calls=summary["usage"]["calls"],
            cost_usd=summary["usage"]["cost_usd"],
            fallbacks=fallbacks,
        )

    def publish(
        self,
        region: str | None,
        profile: str | None,
        info: Callable[[str], None],
        warn: Callable[[str], None],
    ) -> None:
        """The run's metrics to CloudWatch, when ``--metrics`` asked for them."""
        if self.namespace is None:
            return
        from prism_cli.bedrock.cloudwatch import publish_metrics

        published = publish_metrics(self.namespace, self.metric_data(), region, profile, warn)
        if published:
            info(f"published {published} metrics to CloudWatch ({self.namespace})")

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
