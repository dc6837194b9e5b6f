"""Publishing a run's metrics to CloudWatch (``--metrics cloudwatch[:NAMESPACE]``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def publish_metrics(
    namespace: str,
    data: list[dict[str, Any]],
    region: str | None,
    profile: str | None,
    warn: Callable[[str], None],
) -> int:
    """PutMetricData in batches of 20; returns how many metrics were published. A failure is
    a warning: the review is not affected."""
    import botocore.exceptions

    from prism_cli.bedrock.client import make_session

    session, resolved = make_session(region, profile)
    try:
        client = session.client("cloudwatch", region_name=resolved)
        for start in range(0, len(data), 20):
            client.put_metric_data(Namespace=namespace, MetricData=data[start : start + 20])
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        warn(f"metrics not published to CloudWatch ({code}); the review is not affected")
        return 0
    except botocore.exceptions.BotoCoreError as exc:
        warn(f"metrics not published to CloudWatch ({type(exc).__name__})")
        return 0
    return len(data)
