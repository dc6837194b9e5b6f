"""Architecture rules: a pure core, and a fast start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

FORBIDDEN_IN_CORE = {
    "boto3",
    "botocore",
    "docx",
    "lxml",
    "redis",
    "diskcache",
    "rq",
    "typer",
    "rich",
    "zipfile",
    "socket",
    "http",
    "urllib",
    "subprocess",
    "shutil",
    "sqlite3",
    "requests",
}
HEAVY = ("boto3", "botocore", "docx", "lxml", "pydantic")


def test_core_and_engine_import_no_io_library() -> None:
    offenders = []
    package = ROOT / "src" / "prism_cli"
    for path in [*(package / "core").rglob("*.py"), *(package / "engine").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN_IN_CORE
            ]
    assert offenders == []


def _modules_loaded_by(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        f"sys.argv = ['prism', *{list(argv)!r}]\n"
        "from prism_cli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED=")]
    return set(filter(None, line.removeprefix("LOADED=").split(",")))


def test_help_and_version_import_nothing_heavy() -> None:
    assert _modules_loaded_by("--version") == set()
    assert _modules_loaded_by("--help") == set()
    # `prism sections --help` may load pydantic: typer >= 0.2x builds its parameter
    # adapters with it. The contract is about the top-level --help and --version.
    assert not {"boto3", "botocore", "docx", "lxml"} & _modules_loaded_by("sections", "--help")


def test_pydantic_settings_is_imported_only_when_a_setting_is_set(tmp_path: Path) -> None:
    doc = str(ROOT / "examples" / "investigation.docx")
    store = f"file://{tmp_path / 'store'}"
    code = (
        "import os, sys\n"
        f"sys.argv = ['prism', 'review', {doc!r}, '--offline', '-f', 'json', '--store', "
        f"{store!r}, '-o', {str(tmp_path / 'r.json')!r}]\n"
        "from prism_cli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED=' + str('pydantic_settings' in sys.modules))\n"
    )

    def loaded(**env: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env={**__import__("os").environ, **env},
        )
        return out.stdout.strip().splitlines()[-1]

    assert loaded() == "LOADED=False"
    assert loaded(PRISM_PROGRESS_INTERVAL="5") == "LOADED=True"  # the check can fail


def test_the_check_itself_sees_heavy_imports() -> None:
    # Guard against a check that cannot fail: a real command does load lxml.
    assert "lxml" in _modules_loaded_by("sections", str(ROOT / "examples" / "investigation.docx"))


def test_the_format_options_are_the_registry() -> None:
    from prism_cli.cli.options import ReviewFormat
    from prism_cli.reports import REVIEW_FORMATS

    assert [f.value for f in ReviewFormat] == list(REVIEW_FORMATS)


CLI_MUST_NOT_USE = (
    "cache_key",
    "apply_decisions",
    "put_result",
    "put_decisions",
    "put_report",
    "report_with_decisions",
    "Leases",
    "custom_finding",
)


def test_no_session_or_review_logic_in_the_cli() -> None:
    """The CLI parses and renders: store keys, decisions, leases and results belong to the
    review service and the Sessions repository."""
    offenders = []
    for path in (ROOT / "src" / "prism_cli" / "cli").rglob("*.py"):
        text = path.read_text()
        tree = ast.parse(text)
        for node in ast.walk(tree):
            name = (
                node.id
                if isinstance(node, ast.Name)
                else node.attr
                if isinstance(node, ast.Attribute)
                else None
            )
            if name in CLI_MUST_NOT_USE:
                offenders.append(f"{path.name}:{node.lineno}: {name}")  # type: ignore[attr-defined]
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith(("sessions/", "cache/", "leases/"))
            ):
                offenders.append(f"{path.name}:{node.lineno}: store key {node.value!r}")
    assert offenders == []


def test_every_public_exception_derives_from_prism_error() -> None:
    import importlib
    import inspect
    import pkgutil

    import prism_cli
    from prism_cli.errors import PrismError

    strays = []
    for info in pkgutil.walk_packages(prism_cli.__path__, "prism_cli."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Exception)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
                and not issubclass(obj, PrismError)
            ):
                strays.append(f"{module.__name__}.{name}")
    assert strays == []


def test_the_cli_has_no_any() -> None:
    """mypy strict checks the CLI with real types (JSON documents are ``JSONObject``)."""
    offenders = [
        f"{path.name}:{n}"
        for path in (ROOT / "src" / "prism_cli" / "cli").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if "Any" in line.replace("JSONObject", "")
    ]
    assert offenders == []


def test_nothing_imports_click() -> None:
    """typer ships its own copy of click; a plain `pip install prism` has no `click`."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if (
            isinstance(node, ast.Import)
            and any(a.name.split(".")[0] == "click" for a in node.names)
        )
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "click")
    ]
    assert offenders == []


# -- which modules may use which library (issue #21, item 5) ------------------------------------
LIBRARY_HOMES: dict[str, tuple[str, ...]] = {
    # The AWS SDK stays in the adapters that translate it.
    "boto3": ("bedrock/", "stores/s3.py"),
    "botocore": ("bedrock/", "stores/s3.py"),
    "redis": ("stores/", "batch/"),
    "rq": ("batch/",),
    "docx": ("word/",),
    "lxml": ("word/",),
    "typer": ("cli/",),
    "click": ("cli/",),
    "prompt_toolkit": ("cli/",),
    "diskcache": ("stores/",),
}
LIBRARY_DEBT: set[tuple[str, str]] = set()
"""Where a library is outside its home, while a change moves it; a fixed entry must go."""


def _runtime_import_nodes(path: Path) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module makes when it runs, at its top or inside a function
    (``TYPE_CHECKING`` blocks are for the type checker only)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped
    ]


def _runtime_imports(path: Path) -> set[str]:
    """Top-level names of the libraries a module imports when it runs."""
    names: set[str] = set()
    for node in _runtime_import_nodes(path):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_each_library_is_used_only_in_its_adapters() -> None:
    package = ROOT / "src" / "prism_cli"
    found: set[tuple[str, str]] = set()
    for path in package.rglob("*.py"):
        module = path.relative_to(package).as_posix()
        for lib in _runtime_imports(path) & set(LIBRARY_HOMES):
            if not module.startswith(LIBRARY_HOMES[lib]):
                found.add((module, lib))
    assert found - LIBRARY_DEBT == set(), "a library outside its adapters"
    assert LIBRARY_DEBT - found == set(), "fixed: take it off LIBRARY_DEBT"


def test_the_library_check_sees_an_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import boto3\n"
        "def f():\n    import botocore.session\n"
    )
    assert _runtime_imports(module) == {"typing", "botocore"}


def test_no_command_module_imports_another() -> None:
    """A command module parses options and renders; what two commands share lives below
    the CLI (the application layer) or in a shared CLI module, not in one of them."""
    cli = ROOT / "src" / "prism_cli" / "cli"
    shared = {"app", "application", "config", "entry", "helpstyle", "limits", "notes"}
    shared |= {"options", "outcome", "progress", "settings", "prism_settings", "commands"}
    shared |= {"tomltext"}
    # A command may span modules: chat's REPL and its slash commands are chat's; review's 34
    # options are declared next to it.
    family = {"chat_commands": "chat", "repl": "chat", "review_options": "review"}
    family["sections_run"] = "sections"  # what the entry point runs without typer
    commands = {p.stem for p in cli.glob("*.py")} - shared - {"__init__"}
    offenders = set()
    for path in cli.glob("*.py"):
        if path.stem not in commands:
            continue
        mine = family.get(path.stem, path.stem)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                other = node.module.removeprefix("prism_cli.cli.")
                if other in commands and family.get(other, other) != mine:
                    offenders.add(f"{path.stem} -> {other}")
    assert offenders == set()


def test_the_engine_stands_on_its_own() -> None:
    """The model engine knows models, requests, quotas and the model port; not documents,
    findings, sessions or any front end."""
    allowed = ("prism_cli.engine", "prism_cli.core.ports", "prism_cli.errors")
    offenders = []
    for path in (ROOT / "src" / "prism_cli" / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = node.module
                if module.startswith("prism_cli") and not module.startswith(allowed):
                    offenders.append(f"{path.name}: {module}")
    assert offenders == []


def _import_graph() -> dict[str, set[str]]:
    """prism's modules and the prism modules each imports, wherever the import sits (at the
    top or inside a function: a lazy import is a dependency all the same); what only the type
    checker sees is left out."""
    package = ROOT / "src" / "prism_cli"
    modules = {
        ".".join(("prism_cli", *p.relative_to(package).with_suffix("").parts)).removesuffix(
            ".__init__"
        ): p
        for p in package.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in _runtime_import_nodes(path):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    assert _cycles(_import_graph()) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
