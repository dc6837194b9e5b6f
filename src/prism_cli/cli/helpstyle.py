"""Help as plain text, options grouped by panel.

Help is printed by click's plain formatter (typer's rich help imports rich and markdown-it,
which tripled the time ``prism --help`` takes): it wraps at the terminal's width, shows the
metavars a command declares (``PATH``, ``ID``, ``N``) and none on flags. :class:`PanelCommand`
groups options under the ``rich_help_panel`` each declares ("Model options:", "Output
options:", ...), in the order they first appear, with ``-h``/``--help`` last.
"""

from __future__ import annotations

from typer import _click, core


class PanelCommand(core.TyperCommand):
    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        arguments: list[tuple[str, str]] = []
        panels: dict[str, list[tuple[str, str]]] = {}
        general: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                # Its metavar and help: typer adds the Python type (``<list[str]>``).
                name = getattr(param, "metavar", None) or (param.name or "").upper()
                many = "..." if param.nargs == -1 else ""
                text = getattr(param, "help", None) or ""
                if param.required:
                    text += "  [required]"
                arguments.append((name + many, text))
                continue
            panel = getattr(param, "rich_help_panel", None)
            if panel:
                panels.setdefault(str(panel), []).append(record)
            else:
                general.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for name, rows in panels.items():
            with formatter.section(f"{name} options"):
                formatter.write_dl(rows)
        if general:
            with formatter.section("Options" if not panels else "Other options"):
                formatter.write_dl(general)
