"""Stage "perplexity" (cc_net, LLaMA-1): KenLM perplexity, per-language cutoffs, head/middle/tail.

    docs -> score (KenLM) ─┬─> bucket (cutoffs as side input) -> keep head+middle
                           └─> per-language percentiles (one global Combine)

Scoring (`scoring`, `filters.perplexity`): `cc_net`, cc_net's SentencePiece.do +
DocLM.do exactly (the whole document normalised into one line), or `paragraph`, our
earlier per-paragraph rule. Either way the score is of the text the dedup left.

Perplexity cutoffs are percentiles (30th and 60th by default, as cc_net) of the
perplexities of this run's own documents, per language, computed inside the
pipeline: `Top.SmallestPerKey` keeps, per language, the `sample_size` documents
with the smallest id hashes (all of them on a small run), and the percentiles of
that sample are exact (linear interpolation, numpy's default). Top's result does
not depend on bundling or worker count, so the cutoffs are deterministic on every
runner; Beam's ApproximateQuantiles is exact only up to its buffer size (~1,900
values for 100 quantiles) and above that depends on how the runner split the
data. On a large crawl the cutoffs come from a uniform sample of `sample_size`
documents (rank error ~ 1/sqrt(sample_size)), as cc_net computed its cutoffs from
a sample too. Fixed cutoffs override the computed ones: `cutoffs_csv`, a file in
the format of cc_net's `cc_net/data/cutoff.csv` (one row per percentile 0-99, one
column per language; the rows `percentiles` names are read, as cc_net's
PerplexityBucket does), then `cutoffs`, {lang: [head, tail]} in the config.

Stat rows besides in / kept / dropped:<reason> (documents, bytes):
  (source, "perplexity", "bucket:<head|middle|tail|unscored>")
  (source, "perplexity", "ppl_bin:<lang>:<lower bound>")  4 log-spaced bins a decade, all scored documents
  (source, "perplexity", "ppl_percentile:<lang>:p<q>")     (value, 0): each emitted once per run
  (source, "perplexity", "cutoff:<lang>:<head|tail>")      (value, 0): the cutoffs used
  (source, "perplexity", "percentile_sample:<lang>")       (documents the percentiles came from, 0)
  (source, "perplexity", "cutoff_source:<lang>:<run|csv|config>")  (1, 0): where the cutoffs came from
  (source, "perplexity", "scoring:<cc_net|paragraph>")     (1, 0): the scoring that ran
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from filters.document import id_hash
from filters.perplexity import BUCKETS, PerplexityScorer, bucket_of, percentile
from pipeline.localize import localize_model, model_file
from pipeline.settings import ConfigError, at_least, invalid
from pipeline.stages.judge import REJECTED, Judge
from pipeline.stats import STATS, StageResult, SumStats
from pipeline.summary import text_bar

log = logging.getLogger(__name__)

PERPLEXITY = "perplexity"
SHOWN_PERCENTILES = (10, 25, 50, 75, 90)  # for the summary, besides the cutoff percentiles
BINS_PER_DECADE = 4


@dataclass(frozen=True, kw_only=True)
class PerplexitySettings:
    """Config `cc.perplexity` (commented in configs/sample.yaml)."""

    # cc_net: cc_net's SentencePiece.do + DocLM.do exactly (LLaMA-1); paragraph: our per-paragraph rule.
    scoring: Literal["cc_net", "paragraph"] = "cc_net"
    percentiles: tuple[float, ...] = (30.0, 60.0)  # head and tail cutoffs as percentiles (cc_net)
    # A cutoff file in cc_net's cutoff.csv format: its `percentiles` rows are the cutoffs.
    cutoffs_csv: str | None = None
    cutoffs: dict[str, tuple[float, ...]] = field(default_factory=dict)  # {lang: (head, tail)} overrides
    keep: tuple[Literal["head", "middle", "tail"], ...] = ("head", "middle")  # LLaMA-1
    sample_size: int = at_least(100_000, 1)  # perplexities per language the percentiles come from

    def __post_init__(self):
        if len(self.percentiles) != 2 or not 0 < self.percentiles[0] < self.percentiles[1] < 100:
            raise invalid("percentiles", "must be two numbers with 0 < head < tail < 100", list(self.percentiles))
        for lang, pair in self.cutoffs.items():
            if len(pair) != 2 or not 0 < pair[0] <= pair[1]:
                raise invalid(f"cutoffs.{lang}", "must be [head, tail] perplexities with 0 < head <= tail", list(pair))
        if not self.keep:
            raise invalid("keep", f"must name at least one of {list(BUCKETS)}")
        if self.cutoffs_csv is not None and not all(float(q).is_integer() for q in self.percentiles):
            raise invalid("percentiles", "must be whole numbers with cutoffs_csv (they name its rows)",
                          list(self.percentiles))


def read_cutoffs_csv(path: str, percentiles: tuple[float, float], where: str = "cc.perplexity.cutoffs_csv"
                     ) -> dict[str, tuple[float, float]]:
    """{lang: (head, tail)} from a file in cc_net's cutoff.csv format.

    The format (pandas' `to_csv` of a table indexed by percentile): a header row whose
    first cell is empty and whose other cells are language codes, then one row per
    percentile, its number first and each language's perplexity at that percentile
    after. The rows `percentiles` names (30 and 60 by default, as cc_net's
    PerplexityBucket reads them) give each language's head and tail cutoffs. Read
    through Beam's FileSystems, so a gs:// path works too.
    """
    try:
        with FileSystems.open(path) as f:
            text = io.TextIOWrapper(f, encoding="utf-8").read()
    except Exception as e:  # noqa: BLE001 - not found, no permission: say which setting
        raise ConfigError(f"{where}: cannot read {path}: {e}") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ConfigError(f"{where}: {path} is not a cutoff table (a header of languages, a row per percentile)")
    langs = [lang.strip() for lang in rows[0][1:]]
    table: dict[float, list[str]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(langs) + 1:
            raise ConfigError(f"{where}: {path} line {n} has {len(row)} cells, the header {len(langs) + 1}")
        try:
            table[float(row[0])] = row[1:]
        except ValueError:
            raise ConfigError(f"{where}: {path} line {n} starts with {row[0]!r}, not a percentile") from None
    cutoffs = {}
    for i, lang in enumerate(langs):
        pair = []
        for q in percentiles:
            if float(q) not in table:
                raise ConfigError(f"{where}: {path} has no row for percentile {q:g} (cc.perplexity.percentiles)")
            try:
                pair.append(float(table[float(q)][i]))
            except ValueError:
                raise ConfigError(f"{where}: {path}, percentile {q:g} of {lang}: "
                                  f"{table[float(q)][i]!r} is not a number") from None
        if not 0 < pair[0] <= pair[1]:
            raise ConfigError(f"{where}: {path}: {lang}'s cutoffs {pair} are not 0 < head <= tail")
        cutoffs[lang] = (pair[0], pair[1])
    return cutoffs


def ppl_bin(ppl: float) -> str:
    """The lower bound of ppl's log-spaced bin (4 a decade: 100, 178, 316, 562, 1000...)."""
    k = math.floor(math.log10(max(ppl, 1e-9)) * BINS_PER_DECADE + 1e-9)
    lower = 10 ** (k / BINS_PER_DECADE)
    return f"{lower:.0f}" if lower >= 10 else f"{lower:.2g}"


def _q(q: float) -> str:
    return f"p{q:g}"


class _Score(beam.DoFn):
    """Sets doc.perplexity (a copy): the scorer never drops."""

    def __init__(self, scorer: PerplexityScorer, models: Mapping[str, tuple]):
        self._scorer, self._models = scorer, dict(models)

    def setup(self):
        start = time.perf_counter()
        self._scorer.models = {lang: (localize_model(sp), localize_model(lm))
                               for lang, (sp, lm) in self._models.items()}
        self._scorer.setup()
        log.info("perplexity: models for %s loaded in %.2fs", ", ".join(sorted(self._scorer.models)),
                 time.perf_counter() - start)
        self._scored = Metrics.counter(PERPLEXITY, "scored")
        self._unscored = Metrics.counter(PERPLEXITY, "unscored")

    def process(self, doc):
        out = self._scorer.apply(doc)
        (self._scored if out.perplexity is not None else self._unscored).inc()
        yield out


def _percentiles(element, wanted: tuple[float, ...]):
    """(lang, [(hash, ppl)...]) -> (lang, {"n": count, "p30": value, ...})."""
    lang, sample = element
    values = sorted(ppl for _, ppl in sample)
    return lang, {"n": len(values), **{_q(q): percentile(values, q) for q in wanted}}


class _Bucket(beam.DoFn):
    """Bucket each document by its language's cutoffs; drop buckets not kept."""

    def __init__(self, source: str, keep: frozenset[str]):
        self._source, self._keep = source, keep

    def setup(self):
        self._judge = Judge(self._source, PERPLEXITY, ["perplexity"])

    def process(self, doc, cutoffs):
        ppl = doc.perplexity
        limits = cutoffs.get(doc.lang)
        bucket = None if ppl is None or limits is None else bucket_of(ppl, *limits)
        doc = dataclasses.replace(doc, bucket=bucket)
        measurements = [(f"bucket:{bucket or 'unscored'}", 1, doc.nbytes)]
        if ppl is not None:
            measurements.append((f"ppl_bin:{doc.lang}:{ppl_bin(ppl)}", 1, doc.nbytes))
        yield from self._judge.arrived(doc)
        if bucket is not None and bucket not in self._keep:
            yield from self._judge.drop(doc, "perplexity", *measurements)
        else:  # unscored documents (no model for the language, no text) are kept, as cc_net's "all"
            yield from self._judge.keep(doc, *measurements)


class Buckets(beam.PTransform):
    """Scored documents -> per-language percentile cutoffs -> head/middle/tail, tail dropped.

    The second half of the perplexity stage (its stats rows carry stage
    "perplexity"); `Perplexity` puts the scoring DoFn in front of it.
    """

    def __init__(self, source: str, settings: PerplexitySettings):
        super().__init__()
        self._percentiles = settings.percentiles
        from_csv = read_cutoffs_csv(settings.cutoffs_csv, settings.percentiles) if settings.cutoffs_csv else {}
        self._cutoffs = {**from_csv, **{lang: tuple(pair) for lang, pair in settings.cutoffs.items()}}
        self._origin = {**{lang: "csv" for lang in from_csv}, **{lang: "config" for lang in settings.cutoffs}}
        self._source, self._keep, self._sample_size = source, frozenset(settings.keep), settings.sample_size
        self._scoring = settings.scoring

    def expand(self, scored) -> StageResult:
        source, (head_q, tail_q), explicit, origin = self._source, self._percentiles, self._cutoffs, self._origin
        wanted = tuple(sorted({*SHOWN_PERCENTILES, head_q, tail_q}))
        distribution = (
            scored
            | "LangPerplexity" >> beam.FlatMap(
                lambda d: [(d.lang, (id_hash(d.id, "ppl-sample"), d.perplexity))] if d.perplexity is not None else [])
            | "Sample" >> beam.combiners.Top.SmallestPerKey(self._sample_size)
            | "Percentiles" >> beam.Map(_percentiles, wanted)
        )
        cutoffs = distribution | "Cutoffs" >> beam.Map(
            lambda kv: (kv[0], explicit.get(kv[0], (kv[1][_q(head_q)], kv[1][_q(tail_q)]))))
        out = scored | "Bucket" >> beam.ParDo(_Bucket(source, self._keep), beam.pvalue.AsDict(cutoffs)).with_outputs(
            REJECTED, STATS, main="kept")  # not judged(): the side input goes with the ParDo

        def distribution_rows(kv):
            lang, dist = kv
            yield (source, PERPLEXITY, f"percentile_sample:{lang}"), (dist["n"], 0)
            for q in wanted:
                yield (source, PERPLEXITY, f"ppl_percentile:{lang}:{_q(q)}"), (round(dist[_q(q)], 1), 0)

        stats = (
            out[STATS],
            distribution | "DistributionRows" >> beam.FlatMap(distribution_rows),
            cutoffs | "CutoffRows" >> beam.FlatMap(lambda kv: [
                ((source, PERPLEXITY, f"cutoff:{kv[0]}:head"), (round(kv[1][0], 1), 0)),
                ((source, PERPLEXITY, f"cutoff:{kv[0]}:tail"), (round(kv[1][1], 1), 0)),
                ((source, PERPLEXITY, f"cutoff_source:{kv[0]}:{origin.get(kv[0], 'run')}"), (1, 0)),
            ]),
            scored.pipeline | "ScoringRow" >> beam.Create([((source, PERPLEXITY, f"scoring:{self._scoring}"), (1, 0))]),
        ) | "SumStats" >> SumStats()
        return StageResult(out.kept, out[REJECTED], stats)


class Perplexity(beam.PTransform):
    """Stage "perplexity": KenLM score, per-language percentile cutoffs, head/middle/tail.

    `models`: {lang: (sentencepiece path, KenLM path)}. Settings: `scoring`, cc_net's
    or ours (`filters.perplexity`); `percentiles`, the
    head and tail cutoffs as percentiles of this run's perplexities (cc_net: 30, 60);
    `cutoffs_csv`, a cc_net cutoff file whose rows at those percentiles are the cutoffs;
    `cutoffs`, {lang: (head, tail)} perplexities overriding the computed ones;
    `keep`, the buckets kept (head and middle); the others are dropped with reason
    `perplexity`. Documents left unscored (a language with no model) are kept with
    bucket None.
    """

    def __init__(self, source: str, settings: PerplexitySettings, models: Mapping[str, tuple[str | Path, str | Path]]):
        super().__init__()
        self._buckets = Buckets(source, settings)
        self._models = {lang: (model_file(sp), model_file(lm)) for lang, (sp, lm) in models.items()}
        self._scorer = PerplexityScorer({lang: (sp.path, lm.path) for lang, (sp, lm) in self._models.items()},
                                        settings.scoring)

    def expand(self, docs) -> StageResult:
        scored = docs | "Score" >> beam.ParDo(_Score(self._scorer, self._models))
        return scored | "Buckets" >> self._buckets


SCORING_NOTES = {
    "cc_net": "cc_net's SentencePiece.do + DocLM.do (the whole document normalised into one line)",
    "paragraph": "each paragraph normalised, tokenized and scored as a sentence (not cc_net's)",
}


def summary_lines(entry: dict, indent: str = " " * 15) -> list[str]:
    """Extra summary lines from this stage's stats.json entry: buckets, cutoffs, percentiles, histogram.

    `entry` is `assemble_stats`'s nesting of the rows above ("bucket:head" ->
    entry["bucket"]["head"], ...). Histograms are printed in bin order, not by count.
    """
    lines = []
    for scoring in entry.get("scoring", {}):
        lines.append(indent + f"scoring {scoring}: " + SCORING_NOTES.get(scoring, ""))
    buckets = entry.get("bucket", {})
    if buckets:
        lines.append(indent + "buckets: " + ", ".join(
            f"{b} {buckets[b]:,}" for b in (*BUCKETS, "unscored") if b in buckets))
    cutoffs, pcts, sample = entry.get("cutoff", {}), entry.get("ppl_percentile", {}), entry.get("percentile_sample", {})
    bins = entry.get("ppl_bin", {})
    for lang in sorted({key.split(":")[0] for key in (*cutoffs, *pcts, *bins)}):
        if f"{lang}:head" in cutoffs:
            origin = next((k.split(":")[1] for k in entry.get("cutoff_source", {}) if k.startswith(f"{lang}:")), "run")
            where = {"csv": "from cc.perplexity.cutoffs_csv", "config": "from cc.perplexity.cutoffs"}.get(
                origin, f"percentiles of {sample.get(lang, 0):,} documents")
            lines.append(f"{indent}{lang}: head < {cutoffs[f'{lang}:head']} <= middle < {cutoffs[f'{lang}:tail']} "
                         f"<= tail (perplexity; {where})")
        shown = sorted(((float(k.split(":p")[1]), v) for k, v in pcts.items() if k.startswith(f"{lang}:p")))
        if shown:
            lines.append(f"{indent}{lang} perplexity percentiles: " + ", ".join(f"p{q:g} {v}" for q, v in shown))
        hist = sorted(((float(k.split(":")[1]), k.split(":")[1], v) for k, v in bins.items()
                       if k.startswith(f"{lang}:")))
        most = max((v for _, _, v in hist), default=0)
        for _, label, count in hist:
            lines.append(f"{indent}  ppl >= {label:>6} {count:>7,} {text_bar(count, most)}")
    return lines
