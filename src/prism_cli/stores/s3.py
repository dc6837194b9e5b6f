"""Sessions in S3: one object per key under ``s3://bucket/prefix/``.

PutObject is atomic per object. Leases use S3's conditional writes (``If-None-Match: *`` to
create, ``If-Match: <etag>`` to take over an expired lease), so two machines never both win.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prism_cli.core.ports import StoreError

_MISSING = ("NoSuchKey", "404", "NotFound")
_CONFLICT = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def s3_client(region: str | None = None) -> Any:
    """An S3 client with standard retries (transient errors, throttling) and short timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60
    )
    return boto3.session.Session().client("s3", region_name=region, config=config)


def explain(exc: Exception, bucket: str) -> str:
    """A one-line reason for an S3 failure, naming the bucket and never a credential."""
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket" or (code == "404" and exc.operation_name == "HeadBucket"):
            return f"bucket {bucket} does not exist"
        if code in (
            "AccessDenied",
            "403",
            "AllAccessDisabled",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ):
            return f"access to bucket {bucket} denied ({code})"
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{code}: {message}" if message else code
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials found"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class S3Store:
    def __init__(self, bucket: str, prefix: str, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        """Wall-clock seconds, for leases' expiry (machines compare them: a wall clock)."""
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def _guard(self, what: str, fn: Any) -> Any:
        import botocore.exceptions

        try:
            return fn()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise StoreError(
                f"store {self.url}: cannot {what}: {explain(exc, self.bucket)}"
            ) from exc

    def check(self) -> None:
        self._guard("reach it", lambda: self.client.head_bucket(Bucket=self.bucket))
        self.put("_prism/check", b"ok")

    def get(self, key: str) -> bytes | None:
        got = self._get(key)
        return got[0] if got else None

    def _get(self, key: str) -> tuple[bytes, str] | None:
        import botocore.exceptions

        def fetch() -> tuple[bytes, str] | None:
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            except botocore.exceptions.ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                    return None
                raise
            return response["Body"].read(), str(response.get("ETag", ""))

        result: tuple[bytes, str] | None = self._guard("read", fetch)
        return result

    def put(self, key: str, value: bytes) -> None:
        self._guard(
            "write",
            lambda: self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=value),
        )

    def put_many(self, items: dict[str, bytes]) -> None:
        """One object after another, in order (S3 has no transaction across objects)."""
        for key, value in items.items():
            self.put(key, value)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self.prefix + k} for k in keys[start : start + 1000]]
            if batch:
                self._guard(
                    "delete",
                    lambda batch=batch: self.client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                    ),
                )

    def list(self, prefix: str) -> list[str]:
        def collect() -> list[str]:
            out: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                out.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
            return out

        return sorted(self._guard("list", collect))

    def children(self, prefix: str) -> builtins.list[str]:
        # A delimiter listing: one entry per session, not one per stored object.
        def collect() -> list[str]:
            out: list[str] = []
            start = self.prefix + prefix
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=start, Delimiter="/"):
                out.extend(
                    p["Prefix"][len(start) :].rstrip("/") for p in page.get("CommonPrefixes", [])
                )
                out.extend(item["Key"][len(start) :] for item in page.get("Contents", []))
            return out

        return sorted(set(self._guard("list", collect)))

    def _conditional_put(self, key: str, body: bytes, **condition: str) -> bool:
        import botocore.exceptions

        def put() -> bool:
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=self.prefix + key, Body=body, **condition
                )
            except botocore.exceptions.ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in _CONFLICT:
                    return False
                raise
            return True

        done: bool = self._guard("take a lease", put)
        return done

    def acquire(self, key: str, owner: str, ttl: float) -> str | None:
        body = json.dumps({"owner": owner, "expires": self.clock() + ttl}).encode()
        for _ in range(5):
            if self._conditional_put(key, body, IfNoneMatch="*"):
                return None
            current = self._get(key)
            if current is None:
                continue  # released meanwhile
            held = json.loads(current[0])
            if held["owner"] != owner and held["expires"] > self.clock():
                return str(held["owner"])
            if self._conditional_put(key, body, IfMatch=current[1]):
                return None
        return "another process (the lease keeps changing hands)"

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        current = self._get(key)
        if current is None or json.loads(current[0])["owner"] != owner:
            return False
        body = json.dumps({"owner": owner, "expires": self.clock() + ttl}).encode()
        return self._conditional_put(key, body, IfMatch=current[1])

    def release(self, key: str, owner: str) -> None:
        current = self._get(key)
        if current is not None and json.loads(current[0])["owner"] == owner:
            self._guard(
                "release a lease",
                lambda: self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key),
            )


def upload(files: dict[str, tuple[bytes, str]], url: str, folder: str, kms_key: str | None) -> str:
    """Put ``files`` (name -> bytes and content type) under ``url``/``folder`` (server-side
    encrypted: AES256, or KMS with ``kms_key``); all or none: what was put before a failure
    is deleted. Returns the folder's URL; raises :class:`ExportError`."""
    import botocore.exceptions

    from prism_cli.errors import ExportError, UsageError

    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise UsageError(f"no bucket in {url}")
    base = "/".join(p for p in (prefix.strip("/"), folder) if p)
    extra: dict[str, str] = {"ServerSideEncryption": "AES256"}
    if kms_key:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}
    client = s3_client()
    done: list[str] = []
    try:
        client.head_bucket(Bucket=bucket)
        for name, (data, content_type) in files.items():
            key = f"{base}/{name}"
            client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, **extra)
            done.append(key)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        if done:
            with contextlib.suppress(
                botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError
            ):
                client.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in done], "Quiet": True}
                )
        raise ExportError(
            f"cannot export to s3://{bucket}/{base}/: {explain(exc, bucket)}"
        ) from exc
    return f"s3://{bucket}/{base}/"


@dataclass
class DestinationCheck:
    status: str
    """``ok``, ``warning`` (writable, no default encryption) or ``failed``."""
    detail: str
    hint: str = ""


def check_destination(session: Any, region: str, url: str) -> DestinationCheck:
    """Whether ``s3://bucket/prefix`` can take an export: the bucket exists and answers, a
    probe object is written and deleted under the prefix, and its default encryption."""
    import botocore.exceptions

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        return DestinationCheck("failed", f"not an S3 URL: {url}", "--push s3://bucket/prefix")
    s3 = session.client("s3", region_name=region)
    where = f"s3://{bucket}"

    def code_of(exc: botocore.exceptions.ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", "error"))

    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = code_of(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return DestinationCheck("failed", f"{where}: no such bucket", "create it or fix --push")
        return DestinationCheck("failed", f"{where}: {code}", "allow s3:ListBucket on the bucket")
    except botocore.exceptions.BotoCoreError as exc:
        return DestinationCheck("failed", f"{where}: unreachable ({type(exc).__name__})")
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    except botocore.exceptions.ClientError:
        location = "unknown"
    key = f"{prefix.rstrip('/')}/.prism-doctor-{uuid.uuid4().hex}".lstrip("/")
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"probe", ServerSideEncryption="AES256")
        s3.delete_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        return DestinationCheck(
            "failed",
            f"{where} (region {location}): cannot write ({code_of(exc)})",
            "allow s3:PutObject and s3:DeleteObject under the prefix",
        )
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        algo = rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        encryption, status, hint = f"default encryption {algo}", "ok", ""
    except (botocore.exceptions.ClientError, KeyError, IndexError):
        encryption, status = "no default encryption", "warning"
        hint = "prism encrypts what it uploads; a bucket default protects everything else"
    detail = f"{where} (region {location}): writable (a probe written, deleted), {encryption}"
    return DestinationCheck(status, detail, hint)
