"""``prism doctor`` against the fake Bedrock, a real redis-server and moto's STS/S3: all ok;
then each part broken in turn is named, exits 4, and shows no traceback and no secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_prism
from fake_bedrock import FakeBedrock

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"


@pytest.fixture
def aws(bedrock: FakeBedrock, s3_server: str, monkeypatch: pytest.MonkeyPatch) -> FakeBedrock:
    """STS, S3 and Service Quotas on moto; Bedrock on the fake; a recognisable secret."""
    for service in ("STS", "S3", "SERVICE_QUOTAS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", s3_server)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    return bedrock


def doctor(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = run_prism("doctor", "--region", "us-east-1", *args, cwd=tmp_path, env=env)
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    assert SECRET not in text
    return result.code, text


def line(text: str, name: str) -> str:
    return next(row for row in text.splitlines() if row.split()[1:2] == [name])


def test_all_ok(aws: FakeBedrock, redis_url: str, s3_bucket: str, tmp_path: Path) -> None:
    code, text = doctor(tmp_path, "--store", redis_url, "--push", f"s3://{s3_bucket}/exports")
    assert code == 0, text
    assert line(text, "credentials").startswith("ok")
    assert "account 123456789012" in line(text, "credentials")
    assert line(text, "region").startswith("ok")
    assert "from --region" in line(text, "region")
    assert line(text, "store").startswith("ok")
    assert "written, read back, deleted" in line(text, "store")
    assert line(text, "push").split()[0] in ("ok", "warning")
    assert "writable" in line(text, "push")
    models = [row for row in text.splitlines() if row.split()[1:2] == ["model"]]
    assert models
    assert all(row.startswith("ok") for row in models)
    assert "access ok" in models[0]
    assert "settings" in text
    code, out = doctor(tmp_path, "--store", redis_url, "-f", "json")
    report = json.loads(out[: out.rindex("}") + 1])
    assert report["ok"] is True
    assert {c["check"] for c in report["checks"]} >= {"credentials", "store", "model 1"}


def test_no_credentials(aws: FakeBedrock, redis_url: str, tmp_path: Path) -> None:
    code, text = doctor(
        tmp_path, "--store", redis_url,
        env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""},
    )  # fmt: skip
    assert code == 4
    assert line(text, "credentials").startswith("FAILED")
    assert line(text, "store").startswith("ok")  # the rest is still checked
    assert "failed: credentials" in text


def test_the_chain_s_first_model_denied(aws: FakeBedrock, redis_url: str, tmp_path: Path) -> None:
    aws.access_denied |= {"anthropic.claude-sonnet-5-5", "us.anthropic.claude-sonnet-5-5"}
    code, text = doctor(tmp_path, "--store", redis_url)
    assert code == 4
    first = next(row for row in text.splitlines() if row.split()[1:3] == ["model", "1"])
    assert first.startswith("FAILED")
    assert "claude-sonnet-5-5" in first
    assert "Model access" in text  # the hint
    others = [row for row in text.splitlines() if row.split()[1:3] == ["model", "2"]]
    assert others[0].startswith("ok")
    # One probe: `models --check` says of the same model what doctor says.
    assert "no access" in first
    checked = run_prism("models", "--check", "-f", "json", "--region", "us-east-1")
    status = {row["key"]: row["status"] for row in json.loads(checked.stdout)["chain"]}
    assert status["claude-sonnet-5-5"] == "no access"


def test_the_store_down(aws: FakeBedrock, tmp_path: Path) -> None:
    code, text = doctor(tmp_path, "--store", "redis://:hunter2@127.0.0.1:1/0")
    assert code == 4
    assert line(text, "store").startswith("FAILED")
    assert "hunter2" not in text
    assert line(text, "credentials").startswith("ok")


def test_a_missing_bucket(aws: FakeBedrock, redis_url: str, tmp_path: Path) -> None:
    code, text = doctor(tmp_path, "--store", redis_url, "--push", "s3://no-such-bucket-here/x")
    assert code == 4
    assert line(text, "push").startswith("FAILED")
    assert "no such bucket" in line(text, "push")
    assert "failed: push" in text


def test_offline_skips_aws_and_says_so(redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "prism.toml").write_text("[review]\nconcurrency = 8\n")
    code, text = doctor(tmp_path, "--store", redis_url, "--offline", env={"PRISM_FAIL_ON": "low"})
    assert code == 0, text
    settings = line(text, "settings")
    assert "fail_on=low (env PRISM_FAIL_ON)" in settings
    assert "concurrency=8 (file)" in settings
    assert "store=redis://127.0.0.1" in settings
    assert "(flag)" in settings
    assert "profile=none (default)" in settings
    assert str(tmp_path / "prism.toml") in line(text, "config")
    assert line(text, "aws").startswith("skipped")
    assert not [row for row in text.splitlines() if row.split()[1:2] == ["credentials"]]


REAL_QUOTAS = [
    ("Cross-region model inference tokens per minute for Anthropic Claude Opus 4.6 V1", "L-0AD9BBE8", 2_000_000),
    ("Global cross-region model inference tokens per minute for Anthropic Claude Opus 4.6 V1", "L-3DCCFAA4", 4_000_000),
    ("Cross-region model inference requests per minute for Anthropic Claude Opus 4.6 V1", "L-OPUS46RQ", 200),
    ("Cross-region model inference tokens per minute for Anthropic Claude Opus 4.5 V1", "L-OPUS45TK", 3_000_000),
    ("Cross-region model inference tokens per minute for Anthropic Claude Opus 4.7", "L-OPUS47TK", 5_000_000),
    ("Cross-region model inference tokens per minute for Anthropic Claude Opus 4", "L-OPUS4TK", 7_000_000),
    ("Cross-region model inference requests per minute for Anthropic Claude Sonnet 4.6", "L-00FF3314", 250),
    ("Global cross-region model inference requests per minute for Anthropic Claude Sonnet 4.6", "L-F6E116D7", 500),
    ("On-demand model inference tokens per minute for Anthropic Claude Sonnet 4.6", "L-5F5A169C", 100_000),
    ("Cross-region model inference tokens per minute for Anthropic Claude Opus 5.5", "L-A4430697", 30_000_000),
    ("Model invocation max tokens per day for Anthropic Claude Sonnet 4.5 V1 (doubled for cross-region calls)", "L-DAY", 1e9),
]  # fmt: skip


def test_the_quota_of_the_scope_in_use_and_no_other_model_s(
    aws: FakeBedrock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", aws.url)
    aws.service_quotas = [{"QuotaName": n, "QuotaCode": c, "Value": v} for n, c, v in REAL_QUOTAS]
    result = run_prism(
        "doctor", "--region", "eu-west-1", "-m", "eu.anthropic.claude-opus-4-6-v1",
        "-m", "claude-sonnet-4-6", "-f", "json", cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(result.stdout)
    rows = {c["check"]: c for c in report["checks"]}
    opus, sonnet = rows["model 1"]["detail"], rows["model 2"]["detail"]
    text = opus + "\n" + sonnet
    assert "eu.anthropic.claude-opus-4-6-v1" in opus
    assert "quota: 200 requests/min, 2,000,000 tokens/min" in opus
    assert "Cross-region model inference, Claude Opus 4.6 V1: L-OPUS46RQ, L-0AD9BBE8" in opus
    assert "Service Quotas" in opus
    for other in ("L-OPUS45TK", "L-OPUS47TK", "L-OPUS4TK", "L-3DCCFAA4", "4,000,000"):
        assert other not in text, (other, text)
    assert "eu.anthropic.claude-sonnet-4-6" in sonnet
    # The Cross-region quota, not the global one (500); no tokens quota listed for the scope.
    assert "quota: 250 requests/min (" in sonnet
    assert "L-00FF3314" in sonnet


def test_sts_out_of_reach_still_checks_the_models(
    aws: FakeBedrock, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A VPC with a Bedrock endpoint and none for STS (or the control plane): reviews work.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", "http://127.0.0.1:9")
    code, text = doctor(tmp_path, "--store", redis_url)
    assert code == 0, text
    assert line(text, "credentials").startswith("warning")
    assert "STS unreachable" in line(text, "credentials")
    models = [row for row in text.splitlines() if row.split()[1:2] == ["model"]]
    assert models
    assert all(row.startswith("ok") for row in models)
    # A connection failure is not named as a missing permission.
    assert "allow bedrock:List" not in text
    assert "allow servicequotas" not in text
    assert "check the network" in text


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('concurrency = "lots"', "concurrency = 'lots'"),
        ('fail_on = "severe"', "fail_on = 'severe'"),
        ("[review]\nmin_confidence = 3", "must be between 0 and 1"),
        ("[review]\nmax_tokens = 10", "must be at least 256"),
        ('[review]\neffort = "huge"', "must be one of"),
        ('[review]\npush = "bucket/x"', "s3://"),
    ],
)
def test_doctor_refuses_the_config_review_refuses(
    redis_url: str, tmp_path: Path, toml: str, said: str
) -> None:
    from docbuilder import make_docx, p

    (tmp_path / "prism.toml").write_text(toml + "\n")
    make_docx(tmp_path / "d.docx", p("Text."))
    reviewed = run_prism("review", "d.docx", "--offline", "--store", redis_url, cwd=tmp_path)
    assert reviewed.code in (2, 4), reviewed.stderr
    assert said in reviewed.stderr
    code, text = doctor(tmp_path, "--store", redis_url, "--offline")
    assert code == 4, text
    assert line(text, "config").startswith("FAILED")
    assert said in line(text, "config")
    assert "prism review" in line(text, "config")
