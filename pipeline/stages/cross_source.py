"""Stage "cross_source": a document already in a higher-priority source is dropped from the lower one.

The same text often sits in several sources: Wikipedia articles mirrored on web
pages, C4 pages that are CommonCrawl pages too, books quoted on the web. After every
source is curated (its `CrossSourceStage` record is in `pipeline.sources.CROSS_SOURCE`), the kept
documents of the sources named in `dedup.cross_source.priority` go through the
MinHash machinery of `pipeline.stages.near_dedup` (signatures, LSH buckets, candidate
pairs verified on the full signatures), keyed by (rank of the source, id) so that
"smaller" means "from a higher-priority source". Only pairs from two different
sources are formed; a document with a verified near-duplicate (estimated Jaccard >=
`threshold`; exact copies estimate 1.0) in a higher-ranked source is dropped
(`in_other_source`, meta["duplicate_of"] = that document's `source/id`, from the
highest-ranked source and then the smallest id; meta["similarity"] = the estimate).

The rule is pairwise: a lower-ranked copy goes whether or not the higher-ranked one
is itself dropped by a source above both (every copy but the top one goes). Sources
not in `priority` take no part; duplicates inside one source are left to that
source's own dedup stages.

Extra stat rows, per source: "candidate_pairs", "verified_pairs",
"duplicate_of:<source>" (drops by the source that kept the text), and the
"oversized_buckets" rows of near_dedup.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import apache_beam as beam

from filters.minhash import MinHashParams
from pipeline.settings import at_least, between, invalid, section
from pipeline.stages.judge import judged
from pipeline.stages.near_dedup import VerifyAtB, lsh_candidates
from pipeline.stats import StageResult, SumStats

CROSS_SOURCE = "cross_source"
IN_OTHER_SOURCE = "in_other_source"
# Curated reference text first, the web last: the copy in the better-kept source stays.
DEFAULT_PRIORITY = ("wikipedia", "books", "arxiv", "stackexchange", "github", "c4", "cc")


@dataclass(frozen=True, kw_only=True)
class CrossSourceSettings:
    """Config `dedup.cross_source` (off in the LLaMA-1 recipe)."""

    enabled: bool = False
    threshold: float = between(0.8, 0.0, 1.0, low_open=True)  # estimated Jaccard of word shingles
    priority: tuple[str, ...] = DEFAULT_PRIORITY  # highest first; unlisted sources take no part
    num_perm: int = at_least(128, 1)
    bands: int = at_least(20, 1)
    rows: int = at_least(6, 1)
    shingle_size: int = at_least(5, 1)
    seed: int = 1
    max_bucket_size: int = at_least(1000, 2)

    def __post_init__(self):
        if self.bands * self.rows > self.num_perm:
            raise invalid("bands", f"* rows ({self.bands} * {self.rows}) must not exceed num_perm "
                                   f"({self.num_perm})")
        from pipeline.sources import SOURCES  # here: the source modules import the stages

        unknown = [name for name in self.priority if name not in SOURCES]
        if unknown:
            raise invalid("priority", f"names unknown sources {unknown} (sources: {', '.join(SOURCES)})")
        repeated = sorted({name for name in self.priority if self.priority.count(name) > 1})
        if repeated:
            raise invalid("priority", f"lists {repeated} more than once")

    @property
    def params(self) -> MinHashParams:
        return MinHashParams(shingle_size=self.shingle_size, num_perm=self.num_perm, bands=self.bands,
                             rows=self.rows, threshold=self.threshold, seed=self.seed,
                             max_bucket_size=self.max_bucket_size)


@dataclass(frozen=True, kw_only=True)
class DedupSettings:
    """Config `dedup`: deduplication across sources."""

    cross_source: CrossSourceSettings = section(CrossSourceSettings)


def ranked_source(names: tuple[str, ...], key) -> str:
    """The source of a (rank, id) key."""
    return names[key[0]]


def _rank_key(doc, ranks: dict[str, int]):
    return (ranks[doc.source], doc.id), doc


class CrossSourceDedup(beam.PTransform):
    """Documents of several sources -> StageResult over all of them; see the module docstring.

    `names`: the sources taking part, highest priority first.
    """

    def __init__(self, settings: CrossSourceSettings, names: tuple[str, ...]):
        super().__init__()
        self._settings, self._names = settings, names

    def expand(self, docs) -> StageResult:
        names, params = self._names, self._settings.params
        ranks = {name: i for i, name in enumerate(names)}
        keyed = docs | "KeyByRank" >> beam.Map(_rank_key, ranks)
        signed, _, at_b, bucket_stats = lsh_candidates(keyed, params, functools.partial(ranked_source, names),
                                                       stage=CROSS_SOURCE, cross_only=True)
        out = judged({"item": signed, "cand": at_b} | "JoinAtB" >> beam.CoGroupByKey(), "Verify",
                     VerifyAtB(None, params.threshold, CROSS_SOURCE, IN_OTHER_SOURCE, ranked=names))
        stats = (bucket_stats, out.stats) | "SumStats" >> SumStats()
        return StageResult(out.kept, out.rejected, stats)


def _doc_part(doc, n: int, names: tuple[str, ...]) -> int:
    return names.index(doc.source)


def _rejection_part(rejection, n: int, names: tuple[str, ...]) -> int:
    return names.index(rejection.doc.source)


def _stat_part(row, n: int, names: tuple[str, ...]) -> int:
    return names.index(row[0][0])


def apply(results: dict, config) -> dict:
    """The CrossSourceStage's apply: {source: StageResult} -> the same, lower sources' copies dropped."""
    settings = config.dedup.cross_source
    names = tuple(name for name in settings.priority if name in results)
    if len(names) < 2:
        return results  # nothing to compare with
    docs = tuple(results[name].kept for name in names) | "CrossSourceDocs" >> beam.Flatten()
    out = docs | "CrossSource" >> CrossSourceDedup(settings, names)
    kept = out.kept | "CrossSourceKeptBySource" >> beam.Partition(_doc_part, len(names), names)
    rejected = out.rejected | "CrossSourceRejectedBySource" >> beam.Partition(_rejection_part, len(names), names)
    stats = out.stats | "CrossSourceStatsBySource" >> beam.Partition(_stat_part, len(names), names)
    updated = dict(results)
    for i, name in enumerate(names):
        before = results[name]
        updated[name] = StageResult(
            kept[i],
            (before.rejected, rejected[i]) | f"CrossSourceRejected_{name}" >> beam.Flatten(),
            (before.stats, stats[i]) | f"CrossSourceStats_{name}" >> beam.Flatten(),
        )
    return updated


def summary_lines(stage: str, entry: dict, indent: str = " " * 15) -> list[str]:
    """Which higher-priority sources held the dropped documents."""
    by = entry.get("duplicate_of")
    if stage != CROSS_SOURCE or not by:
        return []
    return [f"{indent}in_other_source, by the source that keeps the text: "
            + ", ".join(f"{source} {n}" for source, n in by.items())]


def enabled(config) -> bool:
    return config.dedup.cross_source.enabled
