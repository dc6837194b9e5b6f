"""How help shows an option's value. typer 0.29 labels every parameter with its Python type
(``<bool>`` on flags, ``<list[str]>`` on arguments); prism's help shows the metavar a command
declares (``PATH``, ``ID``, ``N``), and nothing for a flag or beside an argument's name. Applied once, when the app is built."""

from __future__ import annotations

from collections.abc import Callable

from typer import core

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    option_type: Callable[[core.TyperOption, object], str | None] = (
        core.TyperOption.display_type_rich  # type: ignore[assignment]
    )

    def option(self: core.TyperOption, ctx: object) -> str | None:
        if getattr(self, "is_flag", False):
            return None
        return option_type(self, ctx)

    def argument(self: core.TyperArgument, ctx: object) -> str | None:
        return None  # its name (the metavar) is shown already

    core.TyperOption.display_type_rich = option  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = argument  # type: ignore[method-assign,assignment]
