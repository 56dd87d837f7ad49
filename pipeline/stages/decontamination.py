"""Stage "decontamination": documents that share an n-gram with an evaluation example (`contaminated`).

A cross-source stage (pipeline.sources registers it in CROSS_SOURCE): it runs after
every source is curated, over all of them.
Config `decontamination`: `eval_sets` maps a name to files of examples (JSON lines
with a `text_field`, or plain text one example a line); GPT-3's rule
(`filters.decontamination`) with `ngram` words (13) and `max_ngram_docs` (10).

On Beam, never shuffling the corpus's own n-grams:

  1. index:  the eval files are read and their n-gram hashes built into one
             `EvalIndex` (small: eval sets are), a singleton side input of every worker
  2. screen: each document's n-grams are looked up in it; a document with none is
             kept at once (most of the corpus streams straight through); one with
             matches is a candidate, and emits (eval n-gram, 1) once per n-gram it has
  3. count:  CombinePerKey(sum) over those: documents per eval n-gram, corpus-wide;
             the n-grams in more than `max_ngram_docs` documents are too common, a
             side input (a dict) of step 4
  4. decide: a candidate whose matched n-grams are all too common is kept; otherwise
             it is dropped as `contaminated` (or kept and marked, `action: flag`)
             with `meta.contaminated_by` = [{eval_set, index}] of the examples

Stat rows per source: "contaminated_by:<eval set>" (documents), "flagged"
(documents kept with action flag), "too_common:<n-gram>" (documents holding an
ignored n-gram: summed over sources, the corpus-wide count) and
"eval_examples:<eval set>" / "eval_ngrams:<eval set>" (the index, repeated under
every source so each source's summary says what it was checked against).
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import apache_beam as beam

from filters.decontamination import MAX_NGRAM_DOCS, NGRAM, EvalIndex, contaminated_by, parse_examples
from filters.document import Document
from pipeline.settings import at_least, invalid, one_of
from pipeline.stages.files import match_files, read_lines
from pipeline.stages.judge import Judge, judged
from pipeline.stats import STATS, StageResult, SumStats

log = logging.getLogger(__name__)

DECONTAMINATION = "decontamination"
CONTAMINATED = "contaminated"
DROP, FLAG = "drop", "flag"
_CANDIDATES, _HITS = "candidates", "hits"
MAX_REFS = 50  # examples listed in meta.contaminated_by (the count is in meta.contaminated_examples)
TOO_COMMON_SHOWN = 5


@dataclass(frozen=True, kw_only=True)
class DecontaminationSettings:
    """Config `decontamination`."""

    eval_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> files; none: no stage
    ngram: int = at_least(NGRAM, 1)  # words per n-gram (GPT-3: 13); shorter examples count whole
    max_ngram_docs: int = at_least(MAX_NGRAM_DOCS, 1)  # n-grams in more documents are ignored (GPT-3: 10)
    action: str = one_of(DROP, DROP, FLAG)  # drop: rejected/ (contaminated); flag: kept, meta marked
    text_field: str = "text"  # the example's field in JSON lines files

    def __post_init__(self):
        for name, files in self.eval_sets.items():
            if not name or ":" in name:
                raise invalid("eval_sets", "names must be non-empty and without ':'", name)
            if not files:
                raise invalid(f"eval_sets.{name}", "lists no file")

    @property
    def enabled(self) -> bool:
        return bool(self.eval_sets)


def read_eval_set(element: tuple[str, list[str]], text_field: str):
    """(set name, its files in order) -> its Examples, numbered across the files."""
    name, paths = element
    index = 0
    for path in paths:
        for example in parse_examples(path, read_lines(path), name, index, text_field):
            yield example
            index = example.index + 1


def build_index(p: beam.Pipeline, settings: DecontaminationSettings):
    """The EvalIndex of every eval set, as a one-element PCollection."""
    files = sorted((name, match_files(f"decontamination.eval_sets.{name}", patterns))
                   for name, patterns in settings.eval_sets.items())
    return (
        p
        | "DecontaminationEvalSets" >> beam.Create(files)
        | "DecontaminationExamples" >> beam.FlatMap(read_eval_set, settings.text_field)
        | "DecontaminationAllExamples" >> beam.combiners.ToList()
        | "DecontaminationIndex" >> beam.Map(EvalIndex.build, settings.ngram)
    )


class _Screen(beam.DoFn):
    """Document -> kept (no eval n-gram), or a candidate (document, its eval n-grams) and its hits."""

    def __init__(self, source: str):
        self._source = source

    def setup(self):
        self._judge = Judge(self._source, DECONTAMINATION, [CONTAMINATED])

    def process(self, doc: Document, index: EvalIndex):
        yield from self._judge.arrived(doc)
        found = index.find(doc.text)
        if not found:
            yield from self._judge.keep(doc)
            return
        for ngram, _ in found:  # only eval n-grams leave the document, once each
            yield beam.pvalue.TaggedOutput(_HITS, (ngram, 1))
        yield beam.pvalue.TaggedOutput(_CANDIDATES, (doc, tuple(found)))


class _Decide(beam.DoFn):
    """(document, its eval n-grams) -> kept, dropped (contaminated) or kept and flagged."""

    def __init__(self, source: str, action: str):
        self._source, self._action = source, action

    def setup(self):
        self._judge = Judge(self._source, DECONTAMINATION, [CONTAMINATED])

    def process(self, element, index: EvalIndex, too_common: dict):
        doc, found = element
        for ngram, text in found:
            if ngram in too_common:
                yield self._judge.row(f"too_common:{text}", 1, 0)
        refs = contaminated_by(index, (ngram for ngram, _ in found), too_common)
        if not refs:
            yield from self._judge.keep(doc)  # only too-common n-grams: boilerplate, not contamination
            return
        marked = dataclasses.replace(doc, meta={
            **doc.meta,
            "contaminated_by": [{"eval_set": s, "index": i} for s, i in refs[:MAX_REFS]],
            "contaminated_examples": len(refs),
        })
        rows = [(f"contaminated_by:{s}", 1, doc.nbytes) for s in sorted({s for s, _ in refs})]
        if self._action == FLAG:
            yield from self._judge.keep(marked, ("flagged", 1, doc.nbytes), *rows)
        else:
            yield from self._judge.drop(marked, CONTAMINATED, *rows)


def _index_rows(index: EvalIndex, source: str):
    for name in index.sets:
        yield (source, DECONTAMINATION, f"eval_examples:{name}"), (index.examples[name], 0)
        yield (source, DECONTAMINATION, f"eval_ngrams:{name}"), (index.ngrams[name], 0)


def apply(results: dict[str, StageResult], config) -> dict[str, StageResult]:
    """The stage over every source's kept documents (CrossSourceStage.apply)."""
    settings = config.decontamination
    p = next(iter(results.values())).kept.pipeline
    index = build_index(p, settings)
    screened = {
        name: result.kept | f"DecontaminationScreen_{name}" >> beam.ParDo(
            _Screen(name), beam.pvalue.AsSingleton(index)).with_outputs(_CANDIDATES, _HITS, STATS, main="kept")
        for name, result in results.items()
    }
    too_common = (
        tuple(s[_HITS] for s in screened.values())
        | "DecontaminationAllHits" >> beam.Flatten()
        | "DecontaminationDocsPerNgram" >> beam.CombinePerKey(sum)
        | "DecontaminationTooCommon" >> beam.Filter(lambda kv, most: kv[1] > most, settings.max_ngram_docs)
    )
    out = {}
    for name, result in results.items():
        s = screened[name]
        decided = judged(s[_CANDIDATES], f"DecontaminationDecide_{name}", _Decide(name, settings.action),
                         beam.pvalue.AsSingleton(index), beam.pvalue.AsDict(too_common))
        index_rows = index | f"DecontaminationIndexRows_{name}" >> beam.FlatMap(_index_rows, name)
        out[name] = StageResult(
            (s.kept, decided.kept) | f"DecontaminationKept_{name}" >> beam.Flatten(),
            (result.rejected, decided.rejected) | f"DecontaminationRejected_{name}" >> beam.Flatten(),
            (result.stats, s[STATS], decided.stats, index_rows) | f"DecontaminationStats_{name}" >> SumStats(),
        )
    return out


def summary_lines(stage: str, entry: dict, indent: str = " " * 15) -> list[str]:
    lines = []
    examples, ngrams = entry.get("eval_examples", {}), entry.get("eval_ngrams", {})
    if examples:
        sets = ", ".join(f"{name} ({n:,} examples, {ngrams.get(name, 0):,} n-grams)"
                         for name, n in sorted(examples.items()))
        lines.append(f"{indent}eval sets: {sets}")
    if entry.get("contaminated_by"):
        found = ", ".join(f"{name} {n}" for name, n in entry["contaminated_by"].items())
        flagged = entry.get("flagged", {}).get("count", 0)
        lines.append(f"{indent}contaminated documents by eval set: {found}"
                     + (f" ({flagged} kept and flagged)" if flagged else ""))
    common = list(entry.get("too_common", {}).items())
    if common:
        shown = "; ".join(f"\"{text}\" {n}" for text, n in common[:TOO_COMMON_SHOWN])
        more = f"; ... {len(common) - TOO_COMMON_SHOWN} more" if len(common) > TOO_COMMON_SHOWN else ""
        lines.append(f"{indent}ignored as too common (documents here): {shown}{more}")
    return lines


def enabled(config) -> bool:
    return config.decontamination.enabled
