"""What both command lines share: help in Japanese and English, progress on stderr.

Progress is a few coarse stage lines (``進捗 1.2秒: …``, the time since the start) on
stderr, never on stdout, so the output of ``python -m matching rank`` stays JSON a
program can read. It is shown when stderr is a terminal; ``--progress`` shows it anyway
(a log file), ``--no-progress`` never.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any, TextIO

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

HELP_OPTION = "このヘルプを表示して終了 / show this help and exit"


class Command(TyperCommand):
    """A command whose ``--help`` option is described in both languages."""

    def get_help_option(self, ctx: Any) -> TyperOption | None:  # typer's own click.Context
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option


class Group(TyperGroup):
    """The app itself, with the same bilingual ``--help``."""

    def get_help_option(self, ctx: Any) -> TyperOption | None:  # typer's own click.Context
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option


ProgressOpt = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="進み具合を標準エラーに表示（既定: 端末のときだけ） / "
        "show progress on stderr (default: only on a terminal)",
    ),
]


class Progress:
    """Stage lines on stderr, each with the seconds since the command started."""

    def __init__(self, enabled: bool | None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            seconds = time.perf_counter() - self.started
            print(f"進捗 {seconds:.1f}秒: {message}", file=self.stream, flush=True)


def seconds_since(start: float) -> str:
    """``（1.2秒）``: how long a step took, for a done line."""
    return f"（{time.perf_counter() - start:.1f}秒）"
