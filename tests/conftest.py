"""Shared fixtures: run the real ``prism`` command, build documents, clean AWS settings."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A shell starting the suite in the background (`.ci/run &`) ignores SIGINT for it, and an
# ignored signal stays ignored in every process started from here: the tests that press
# Ctrl-C would see it do nothing. Python's own handler is put back, so children start with
# SIGINT as a user's terminal gives it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach real AWS or read the developer's configuration."""
    for name in ("AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_SESSION_TOKEN", "PRISM_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_COLOR", "1")
    # Sessions go to a per-test data dir, never the developer's.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    # The control plane (discovery) answers "connection refused" at once unless a test's fake
    # Bedrock serves it: never real AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("PRISM_NO_DISCOVERY", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


SUBPROCESS = bool(os.environ.get("PRISM_TEST_SUBPROCESS"))
"""Run every ``run_prism`` in a subprocess (as before the suite ran in-process), to check
that the in-process runs hide nothing."""

_IN_PROCESS_LOCK = threading.Lock()


def run_prism(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
    real: bool = False,
    typer_app: bool = False,
) -> Result:
    """Run the ``prism`` command as a user would: its entry point with these arguments, this
    environment, working directory and standard input, capturing what it prints and its exit
    status. In this process (most of the suite's time was starting Python); ``real=True`` (or
    ``PRISM_TEST_SUBPROCESS=1``) starts ``python -m prism_cli`` instead, for what only a real
    process shows (signals, start-up cost, a terminal). ``typer_app=True`` goes straight to
    the Typer app, past the entry point's fast ``--help`` and ``--version``."""
    if (real or SUBPROCESS) and not typer_app:
        return _run_subprocess(args, cwd, env, stdin, timeout)
    with _IN_PROCESS_LOCK:
        return _run_in_process(args, cwd, env, stdin, typer_app)


def _run_subprocess(
    args: tuple[str, ...],
    cwd: Path | None,
    env: dict[str, str] | None,
    stdin: str | None,
    timeout: float,
) -> Result:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "prism_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        input=stdin,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _stream(data: bytes = b"") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="")


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def _run_in_process(
    args: tuple[str, ...],
    cwd: Path | None,
    env: dict[str, str] | None,
    stdin: str | None,
    typer_app: bool = False,
) -> Result:
    import gc
    import traceback

    from prism_cli.cli import app, entry

    main = app.main if typer_app else entry.main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr, sys.argv)
    saved_gc = gc.get_threshold()
    out, err = _stream(), _stream()
    os.environ.update(env or {})
    if cwd is not None:
        os.chdir(cwd)
    sys.stdin = _stream((stdin or "").encode("utf-8"))
    sys.stdout, sys.stderr, sys.argv = out, err, ["prism", *args]
    code: int
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            err.write(f"{exc.code}\n")
            code = 1
    except BaseException:  # what a real process would print before dying
        err.write(traceback.format_exc())
        code = 1
    finally:
        sys.stdin, sys.stdout, sys.stderr, sys.argv = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        gc.set_threshold(*saved_gc)
    return Result(code, _text(out), _text(err))


@pytest.fixture
def prism() -> object:
    return run_prism


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A running fake Bedrock; boto3 (in-process and in subprocesses) is pointed at it."""
    from fake_bedrock import FakeBedrock

    fake = FakeBedrock().start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", fake.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", fake.url)
    yield fake
    fake.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(
    port: int, workdir: Path, *extra: str, password: str | None = None
) -> subprocess.Popen[bytes]:
    """A redis-server on ``port`` keeping its files in ``workdir``, once it answers a ping
    (``extra``: more of its arguments; ``password``: it wants one)."""
    import shutil
    import time

    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        pytest.skip("redis-server is not installed")
    auth = ["--requirepass", password] if password else []
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir),
         *auth, *(extra or ("--appendonly", "no"))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, password=password)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real redis-server on a free port (CI installs it; elsewhere the tests skip)."""
    port = _free_port()
    proc = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """A clean database on the shared redis-server."""
    import redis

    redis.Redis.from_url(redis_server + "/0").flushdb()
    return redis_server + "/0"


@pytest.fixture(scope="session")
def s3_server():  # type: ignore[no-untyped-def]
    """moto's S3 server (real HTTP), shared by the session."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(
    s3_server: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    """A fresh bucket on the moto server; boto3 (here and in subprocesses) points at it."""
    import re
    import uuid

    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"{name}-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["file", "redis", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store of each kind."""
    if request.param == "file":
        return (tmp_path / "store").as_uri()
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"s3://{request.getfixturevalue('s3_bucket')}/prism"
