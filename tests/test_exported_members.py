"""The library's public surface and its one-way dependency."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import matching

ROOT = Path(__file__).resolve().parents[1]


def test_public_names_are_exported() -> None:
    assert sorted(matching.__all__) == sorted(set(matching.__all__))
    for name in matching.__all__:
        assert hasattr(matching, name), name
    # the names the CLI, the service and the notebooks rely on
    assert {
        "TfidfRanker",
        "BM25Ranker",
        "JapaneseTokenizer",
        "load_needs",
        "DataFormatError",
    } <= set(matching.__all__)


def test_matching_imports_no_web_or_database_code() -> None:
    for path in (ROOT / "matching").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in {"service", "fastapi", "sqlmodel", "sqlalchemy", "starlette"}, (
                    f"{path.name} imports {name}"
                )


def test_importing_matching_loads_no_tagger_or_web_stack() -> None:
    code = (
        "import sys, matching; "
        "print(sorted(m for m in ('fugashi', 'fastapi', 'sqlmodel') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_is_loaded_on_first_use_from_its_module() -> None:
    """``matching`` imports its modules when a name is first used (PEP 562): the table
    behind that names exactly ``__all__``, and each name is the object its module holds."""
    import importlib

    assert sorted(matching._MODULES) == sorted(matching.__all__)
    for name, module in matching._MODULES.items():
        assert getattr(matching, name) is getattr(importlib.import_module(module, "matching"), name)
    assert set(matching.__all__) <= set(dir(matching))
    try:
        matching.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("an unknown name was found")


def test_the_command_lines_help_loads_no_numeric_stack() -> None:
    """``import matching`` and the service's command line (its help, ``mail``,
    ``migrate``, ``create-user`` …) load neither scikit-learn, SciPy nor bm25s: about a
    second a process; a name of the library used later loads them."""
    code = (
        "import sys, matching, service.cli; "
        "heavy = ('sklearn', 'scipy', 'bm25s', 'fugashi'); "
        "before = sorted(m for m in heavy if m in sys.modules); "
        "matching.TfidfRanker; "
        "print(before, sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['scipy', 'sklearn']"
