"""The options of ``prism review``, declared here so the command reads in one screen
(:mod:`prism_cli.cli.review`). Each is an option type: ``concurrency: o.Concurrency = 4``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from prism_cli.cli.options import FailOn, ReviewFormat, opt

MODEL, REVIEW, OUTPUT, SESSION, QUEUE = "Model", "Review", "Output", "Session", "Queue"
"""The help's panels: Model options, Review options, ..."""

Models = Annotated[
    list[str] | None,
    opt(
        "--model",
        "-m",
        metavar="MODEL",
        panel=MODEL,
        env="MODEL",
        help="Model id or catalog key; repeat to set the fallback chain.",
    ),
]
Region = Annotated[
    str | None,
    opt(metavar="REGION", panel=MODEL, env="REGION", help="AWS region (default: AWS config)."),
]
Profile = Annotated[
    str | None, opt(metavar="NAME", panel=MODEL, env="PROFILE", help="AWS profile.")
]
Offline = Annotated[
    bool,
    opt(
        "--offline",
        metavar="",
        panel=REVIEW,
        env="OFFLINE",
        help="Built-in rules only: no AWS call, no credentials.",
    ),
]
NoRules = Annotated[
    bool,
    opt("--no-rules", metavar="", panel=REVIEW, env="NO_RULES", help="Skip the built-in rules."),
]
Fmt = Annotated[
    list[ReviewFormat] | None,
    opt(
        "--format",
        "-f",
        metavar="FORMAT",
        panel=OUTPUT,
        env="FORMAT",
        help="table, json, markdown, sarif, junit, github or docx (default: table on a terminal, else json); repeat for several, with -o DIR.",
    ),
]
AnnotateLevel = Annotated[
    FailOn | None,
    opt(
        metavar="LEVEL",
        panel=OUTPUT,
        env="ANNOTATE_LEVEL",
        help="-f github: findings at or above it (--fail-on).",
    ),
]
BaseDir = Annotated[
    Path | None,
    opt(
        metavar="DIR",
        panel=OUTPUT,
        env="BASE_DIR",
        help="CI paths are relative to it (default: git top).",
    ),
]
MaxCost = Annotated[
    float | None,
    opt(
        metavar="USD",
        panel=REVIEW,
        env="MAX_COST",
        help="Spend at most this many dollars; rerun to go on.",
    ),
]
Baseline = Annotated[
    Path | None,
    opt(
        metavar="FILE",
        panel=OUTPUT,
        env="BASELINE",
        help="Team decisions (.prism/baseline.json).",
    ),
]
NewOnly = Annotated[
    bool,
    opt(
        "--new-only",
        panel=OUTPUT,
        help="Only findings the baseline does not hold.",
    ),
]
Output = Annotated[
    Path | None,
    opt(
        "--output",
        "-o",
        metavar="PATH",
        panel=OUTPUT,
        env="OUTPUT",
        help="A file, or a directory for several documents.",
    ),
]
FailLevel = Annotated[
    FailOn,
    opt(
        metavar="LEVEL",
        panel=OUTPUT,
        env="FAIL_ON",
        help="Exit 1 on a finding at or above it: high, medium, low or never.",
    ),
]
Concurrency = Annotated[
    int,
    opt(
        metavar="N",
        panel=MODEL,
        env="CONCURRENCY",
        min=1,
        max=64,
        help="Sections reviewed at once (adapts to throttling).",
    ),
]
Thinking = Annotated[
    bool,
    opt(
        "--thinking",
        metavar="",
        panel=MODEL,
        env="THINKING",
        help="Extended thinking (adaptive, or a budget on 4.5-).",
    ),
]
Effort = Annotated[
    str | None,
    opt(
        metavar="LEVEL",
        panel=MODEL,
        env="EFFORT",
        help="Adaptive thinking effort: low, medium, high, xhigh, max.",
    ),
]
ThinkingBudget = Annotated[
    int | None,
    opt(
        metavar="TOKENS",
        panel=MODEL,
        env="THINKING_BUDGET",
        help="Thinking budget in tokens (>= 1024) for budget-thinking models (4.5 and older).",
    ),
]
Framework = Annotated[
    Path | None,
    opt(metavar="PATH", panel=REVIEW, env="FRAMEWORK", help="Review framework (TOML checklist)."),
]
Guidelines = Annotated[
    Path | None,
    opt(metavar="PATH", panel=REVIEW, env="GUIDELINES", help="Extra guidelines (md, txt or docx)."),
]
MinConfidence = Annotated[
    float,
    opt(
        metavar="0-1",
        panel=REVIEW,
        env="MIN_CONFIDENCE",
        help="Drop model findings below this confidence.",
    ),
]
MaxTokens = Annotated[
    int, opt(metavar="N", panel=MODEL, env="MAX_TOKENS", help="Max output tokens per call.")
]
Temperature = Annotated[
    float,
    opt(
        metavar="T",
        panel=MODEL,
        env="TEMPERATURE",
        help="Temperature, sent only to models that take one and only when not thinking.",
    ),
]
Store = Annotated[
    str | None,
    opt(
        metavar="URL",
        panel=SESSION,
        env="STORE",
        help="Session store: file:///dir, redis://host:port/db or s3://bucket/prefix (default: the user data dir).",
    ),
]
Session = Annotated[
    str | None,
    opt(
        metavar="ID",
        panel=SESSION,
        env="SESSION",
        help="Session id (default: from the document's content).",
    ),
]
Fresh = Annotated[
    bool,
    opt(
        "--fresh",
        metavar="",
        panel=SESSION,
        help="Start the session over: no stored or cached result is reused.",
    ),
]
Wait = Annotated[
    bool,
    opt(
        "--wait",
        metavar="",
        panel=SESSION,
        env="WAIT",
        help="Wait for another process reviewing the same session.",
    ),
]
Since = Annotated[
    str | None,
    opt(
        metavar="OLD",
        panel=REVIEW,
        help="Previous version (.docx or session) to compare.",
    ),
]
FailOnNew = Annotated[
    FailOn | None,
    opt(
        metavar="LEVEL",
        panel=OUTPUT,
        env="FAIL_ON_NEW",
        help="--fail-on, for new findings only.",
    ),
]
ChangedSince = Annotated[
    str | None,
    opt(
        metavar="REF",
        panel=REVIEW,
        env="CHANGED_SINCE",
        help="Only documents changed since this git ref.",
    ),
]
DryRun = Annotated[
    bool,
    opt(
        "--dry-run",
        metavar="",
        panel=REVIEW,
        help="Estimate sections, tokens and dollars; no call.",
    ),
]
LogJson = Annotated[
    Path | None,
    opt(
        metavar="FILE",
        panel=OUTPUT,
        env="LOG_JSON",
        help="Append each event (calls, retries...) as JSON.",
    ),
]
Metrics = Annotated[
    str | None,
    opt(
        metavar="cloudwatch[:NS]",
        panel=OUTPUT,
        env="METRICS",
        help="Publish the run's metrics to CloudWatch (namespace: prism).",
    ),
]
Queue = Annotated[
    str | None,
    opt(
        metavar="URL",
        panel=QUEUE,
        env="QUEUE",
        help="Queue sections on redis://... for `prism worker`s.",
    ),
]
NoWait = Annotated[
    bool,
    opt("--no-wait", metavar="", panel=QUEUE, help="With --queue: print the batch id and exit."),
]
Push = Annotated[
    str | None,
    opt(
        metavar="URL",
        panel=OUTPUT,
        env="PUSH",
        help="Also export the results to s3://bucket/prefix.",
    ),
]
SseKmsKey = Annotated[
    str | None,
    opt(
        metavar="KEY", panel=OUTPUT, env="SSE_KMS_KEY", help="KMS key for --push (default: AES256)."
    ),
]
Suggest = Annotated[
    bool,
    opt(
        "--suggest",
        metavar="",
        panel=OUTPUT,
        help="-f docx: suggested rewrites as tracked changes.",
    ),
]
SuggestAuthor = Annotated[
    str,
    opt(
        metavar="NAME",
        panel=OUTPUT,
        env="SUGGEST_AUTHOR",
        help="The tracked changes' author.",
    ),
]
OnlyAccepted = Annotated[
    bool,
    opt(
        "--only-accepted",
        metavar="",
        panel=OUTPUT,
        help="-f docx: only the findings you accepted.",
    ),
]
Quiet = Annotated[
    bool, opt("--quiet", "-q", metavar="", panel=OUTPUT, help="Only errors on stderr.")
]
Verbose = Annotated[
    bool, opt("--verbose", "-v", metavar="", panel=OUTPUT, help="More detail on stderr.")
]
