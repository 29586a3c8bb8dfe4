"""kyodo-match's matching library: Japanese text → tokens → vectors → ranked, explained pairs.

No web or database code lives here; ``service`` builds on this package, never the reverse.
"""

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
from ._learn import FEATURE_LABELS, Comparison, Decision, LearnedRanker, compare_with_current
from ._metrics import dcg, mrr, ndcg_at_k, recall_at_k
from ._persist import dump_mapped, is_mapped, load_mapped, read_meta
from ._ranker import TfidfRanker, top_k
from ._read import Limits
from ._schema import FIELD_NAMES, Need, Organization, area_relation, parse_areas, parse_fields
from ._signals import members_only
from ._text import normalize_text, split_multi
from ._tokenize import DEFAULT_STOP_WORDS, JapaneseTokenizer
from ._vectorize import FieldWeightedTfidf

__all__ = [
    "DEFAULT_STOP_WORDS",
    "FEATURE_LABELS",
    "FIELD_NAMES",
    "BM25Ranker",
    "Comparison",
    "DataFormatError",
    "Decision",
    "EvaluationResult",
    "Explanation",
    "FieldWeightedTfidf",
    "JapaneseTokenizer",
    "LearnedRanker",
    "Limits",
    "Need",
    "Organization",
    "ParseResult",
    "Problem",
    "RerankScope",
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
]
