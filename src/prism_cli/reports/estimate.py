"""``prism review --dry-run``'s estimate as text (JSON is the estimate itself)."""

from __future__ import annotations

from pathlib import Path


def to_text(estimate: dict[str, object]) -> str:
    summary = estimate["summary"]
    assert isinstance(summary, dict)
    documents = estimate["documents"]
    assert isinstance(documents, list)
    width = max([len(Path(d["path"]).name) for d in documents] + [8])
    lines = [f"{'document':{width}}  sections  reused  to review  calls  input tokens    cost $"]
    for d in documents:
        lines.append(
            f"{Path(d['path']).name:{width}}  {d['sections']:8}  {d['reused']:6}  "
            f"{d['to_review']:9}  {d['calls']:5}  {d['input_tokens']:12}  {d['cost_usd']:8.4f}"
        )
    how = (
        "counted with CountTokens"
        if not summary["calls_estimated"]
        else "estimated from each request's size and the model's tokenizer (the model does "
        "not offer CountTokens)"
        if not summary["calls_counted"]
        else f"{summary['calls_counted']} calls counted with CountTokens, "
        f"{summary['calls_estimated']} estimated"
    )
    models = estimate["models"]
    assert isinstance(models, dict)
    lines += [
        "",
        f"{summary['to_review']} of {summary['sections']} sections to review "
        f"({summary['reused']} reused from the session or the cache), {summary['calls']} calls.",
        f"Input tokens {how}; output assumed {summary['output_tokens_per_call']} tokens a call "
        f"(a quarter of --max-tokens).",
        f"Estimated cost ${summary['cost_usd']:.4f} (at most ${summary['max_cost_usd']:.4f} if "
        "every answer used --max-tokens; prompt caching lowers it)",
    ]
    for model, row in models.items():
        lines.append(f"  {model}: {row['calls']} calls, ${row['cost_usd']:.4f}")
    return "\n".join(lines)
