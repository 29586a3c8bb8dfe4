"""kyodo-match's matching library: Japanese text → tokens → vectors → ranked, explained pairs.

No web or database code lives here; ``service`` builds on this package, never the reverse.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._bm25 import BM25Ranker
    from ._changes import RerankScope, needs_to_rerank
    from ._evaluate import EvaluationResult, evaluate_ranker, evaluate_rankings, format_table
    from ._explain import Explanation, TermContribution
    from ._io import (
        DataFormatError,
        ParseResult,
        Problem,
        Table,
        load_needs,
        load_organizations,
        parse_needs,
        parse_organizations,
        read_table,
    )
    from ._judgements import load_decisions, load_qrels
    from ._kernels import KERNEL_FROM, warm_kernels
    from ._learn import (
        FEATURE_LABELS,
        BuildParts,
        Comparison,
        Decision,
        LearnedRanker,
        compare_with_current,
    )
    from ._learn_items import ItemRows
    from ._learn_stages import Stages, StagesError
    from ._metrics import dcg, mrr, ndcg_at_k, recall_at_k
    from ._persist import dump_mapped, is_mapped, load_mapped, read_meta
    from ._ranker import TfidfRanker, top_k
    from ._read import Limits
    from ._schema import FIELD_NAMES, Need, Organization, area_relation, parse_areas, parse_fields
    from ._signals import members_only
    from ._text import normalize_text, split_multi
    from ._tokenize import DEFAULT_STOP_WORDS, JapaneseTokenizer
    from ._vectorize import FieldWeightedTfidf

# Each public name's module, imported on first use (PEP 562): ``import matching._console``
# (both command lines' help) or a service module that reads files but never ranks does not
# load scikit-learn, SciPy and bm25s (about 1 s a process).
_MODULES: dict[str, str] = {
    "BM25Ranker": "._bm25",
    "RerankScope": "._changes",
    "needs_to_rerank": "._changes",
    "EvaluationResult": "._evaluate",
    "evaluate_ranker": "._evaluate",
    "evaluate_rankings": "._evaluate",
    "format_table": "._evaluate",
    "Explanation": "._explain",
    "TermContribution": "._explain",
    "DataFormatError": "._io",
    "ParseResult": "._io",
    "Problem": "._io",
    "Table": "._io",
    "load_needs": "._io",
    "load_organizations": "._io",
    "parse_needs": "._io",
    "parse_organizations": "._io",
    "read_table": "._io",
    "load_decisions": "._judgements",
    "load_qrels": "._judgements",
    "FEATURE_LABELS": "._learn",
    "BuildParts": "._learn",
    "Comparison": "._learn",
    "Decision": "._learn",
    "LearnedRanker": "._learn",
    "compare_with_current": "._learn",
    "ItemRows": "._learn_items",
    "Stages": "._learn_stages",
    "StagesError": "._learn_stages",
    "dcg": "._metrics",
    "mrr": "._metrics",
    "ndcg_at_k": "._metrics",
    "recall_at_k": "._metrics",
    "dump_mapped": "._persist",
    "is_mapped": "._persist",
    "load_mapped": "._persist",
    "read_meta": "._persist",
    "TfidfRanker": "._ranker",
    "KERNEL_FROM": "._kernels",
    "warm_kernels": "._kernels",
    "top_k": "._ranker",
    "Limits": "._read",
    "FIELD_NAMES": "._schema",
    "Need": "._schema",
    "Organization": "._schema",
    "area_relation": "._schema",
    "parse_areas": "._schema",
    "parse_fields": "._schema",
    "members_only": "._signals",
    "normalize_text": "._text",
    "split_multi": "._text",
    "DEFAULT_STOP_WORDS": "._tokenize",
    "JapaneseTokenizer": "._tokenize",
    "FieldWeightedTfidf": "._vectorize",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


__all__ = [
    "DEFAULT_STOP_WORDS",
    "FEATURE_LABELS",
    "FIELD_NAMES",
    "KERNEL_FROM",
    "BM25Ranker",
    "BuildParts",
    "Comparison",
    "DataFormatError",
    "Decision",
    "EvaluationResult",
    "Explanation",
    "FieldWeightedTfidf",
    "ItemRows",
    "JapaneseTokenizer",
    "LearnedRanker",
    "Limits",
    "Need",
    "Organization",
    "ParseResult",
    "Problem",
    "RerankScope",
    "Stages",
    "StagesError",
    "Table",
    "TermContribution",
    "TfidfRanker",
    "area_relation",
    "compare_with_current",
    "dcg",
    "dump_mapped",
    "evaluate_ranker",
    "evaluate_rankings",
    "format_table",
    "is_mapped",
    "load_decisions",
    "load_mapped",
    "load_needs",
    "load_organizations",
    "load_qrels",
    "members_only",
    "mrr",
    "ndcg_at_k",
    "needs_to_rerank",
    "normalize_text",
    "parse_areas",
    "parse_fields",
    "parse_needs",
    "parse_organizations",
    "read_meta",
    "read_table",
    "recall_at_k",
    "split_multi",
    "top_k",
    "warm_kernels",
]
