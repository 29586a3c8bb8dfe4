"""What is wrong with an input file: ``Problem`` (one reason, with its place) and
``DataFormatError`` (every reason a file cannot be used)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DataFormatError", "Problem"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file. ``line`` is 1-based (the header is line 1)."""

    code: str
    message: str
    file: str = ""
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file or "(入力)"
        if self.line is not None:
            where += f":{self.line}行目"
        if self.column:
            where += f" 列「{self.column}」"
        return f"{where}: {self.message} [{self.code}]"

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


class DataFormatError(ValueError):
    """An input file that cannot be used as it is; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
