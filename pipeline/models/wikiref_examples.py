"""The wikiref classifier's examples from the CommonCrawl inputs: the models stage's one Beam job."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from filters.document import Document, id_hash
from filters.urls import normalize_url
from filters.wikiref import LABEL_CC, LABEL_WIKI, training_line


def _url_key(doc: Document) -> str:
    # A page without a URL can match nothing: keyed by its id, it stays out of any hot key.
    return normalize_url(doc.url) or f"no-url:{doc.id}"


class _PassesLid:
    """The CC curation's LID decision, for picking training pages in the CC stage's languages."""

    def __init__(self, lid_filter):
        self._filter = lid_filter

    def __call__(self, doc: Document) -> bool:
        from filters.base import Drop

        return not isinstance(self._filter.apply(dataclasses.replace(doc)), Drop)


class _Candidates:
    """The pages that pass the length floor and LID and may be among the `n` with the smallest id
    hashes: a DoFn body (FlatMap) that skips LID, the costly check, for every other page.

    It keeps the `n` smallest id hashes of the passing pages it has seen (a heap of ints,
    per DoFn instance) and lets a page through only if its hash is not above the largest
    of them. A page among the `n` smallest of the whole crawl is among the `n` smallest of
    any part of it, so it always gets through: `Top.Smallest(n)` downstream picks exactly
    the pages it would pick from all passing pages. Past the first pages, LID runs on
    about n * ln(pages / n) pages per instance instead of all of them, and only those
    pages reach the pick (which holds them until the smallest hashes are known).
    """

    def __init__(self, lid_filter, min_chars: int, n: int):
        self._passes, self._min_chars, self._n = _PassesLid(lid_filter), min_chars, n
        self._heap: list[int] = []  # negated hashes: a max-heap of the n smallest

    def __getstate__(self):
        return {**self.__dict__, "_heap": []}

    def __call__(self, doc: Document):
        import heapq

        h = id_hash(doc.id)
        if len(self._heap) >= self._n and h > -self._heap[0]:
            return  # n passing pages with smaller hashes already seen: it cannot be picked
        if len(doc.text.strip()) < self._min_chars or not self._passes(doc):
            return
        if len(self._heap) < self._n:
            heapq.heappush(self._heap, -h)
        elif h < -self._heap[0]:
            heapq.heapreplace(self._heap, -h)
        yield doc


def _write_examples(docs, label: str, n: int, prefix: str, name: str):
    """The `n` documents with the smallest id hashes, as JSON lines (deterministic sample).

    Top keeps only (hash, id) pairs, so a worker holds n small tuples, not n pages;
    the pages are then picked out by id against that side input.
    """
    import apache_beam as beam

    chosen = (
        docs
        | f"{name}Keys" >> beam.Map(lambda d: (id_hash(d.id), d.id))
        | f"{name}Smallest" >> beam.combiners.Top.Smallest(n)
        | f"{name}Ids" >> beam.Map(lambda top: frozenset(doc_id for _, doc_id in top))
    )
    return (
        docs
        | f"{name}Pick" >> beam.Filter(lambda d, ids: d.id in ids, beam.pvalue.AsSingleton(chosen))
        | f"{name}Json" >> beam.Map(lambda d: json.dumps(
            {"id": d.id, "url": d.url, "line": training_line(label, d.text)}, ensure_ascii=False))
        | f"{name}Write" >> beam.io.WriteToText(prefix, file_name_suffix=".jsonl", shard_name_template="",
                                                num_shards=1)
    )


def collect_cc_examples(config: dict, lid_model: Path, n: int, reference_urls: tuple[str, ...],
                        out: Path, options=None) -> None:
    """Beam job over the CC inputs: `cc` examples (and with reference URLs, `wiki` ones).

    Pages go through the CC curation's LID (`cc.lid`) and length floor
    (`cc.line_dedup.min_chars`), so the classifier learns references vs. ordinary
    pages of the same language, not a language. With `reference_urls` (Wikipedia's
    externallinks SQL dumps, or text files of one URL a line or TSV with the URL
    first; .gz read as such), pages whose
    normalised URL is listed become `wiki` examples, joined by CoGroupByKey;
    the other pages are the `cc` candidates. Writes out/wiki.jsonl and out/cc.jsonl.
    """
    import apache_beam as beam
    from pipeline.runner import make_options

    from filters.externallinks import urls_in_line
    from filters.lid import LanguageIdFilter
    from pipeline.read import ReadDocuments
    from pipeline.readers.warc import make_parser

    cc = config.cc
    lid = LanguageIdFilter(lid_model, cc.lid.languages, cc.lid.threshold)
    min_chars = cc.line_dedup.min_chars
    options = options or make_options([])  # [], or it parses sys.argv
    with beam.Pipeline(options=options) as p:
        read = p | "ReadCC" >> ReadDocuments(config.inputs.cc, make_parser(main_content=cc.main_content, source="cc"),
                                             "cc", config.sample, config.strict)
        if reference_urls:
            docs = (
                read
                | "Lid" >> beam.Filter(_PassesLid(lid))
                | "MinChars" >> beam.Filter(lambda d: len(d.text.strip()) >= min_chars)
            )
            refs = (
                p
                | "UrlFiles" >> beam.Create(list(reference_urls))
                | "ReadUrls" >> beam.io.ReadAllFromText()
                | "Urls" >> beam.FlatMap(urls_in_line)
                | "UrlKey" >> beam.Map(normalize_url)
                | "NonEmpty" >> beam.Filter(bool)
                | "Distinct" >> beam.Distinct()
                | "Ref" >> beam.Map(lambda u: (u, True))
            )
            joined = (
                {"doc": docs | "ByUrl" >> beam.Map(lambda d: (_url_key(d), d)), "ref": refs}
                | "Join" >> beam.CoGroupByKey()
                | "Tag" >> beam.FlatMap(lambda kv: [(bool(list(kv[1]["ref"])), d) for d in kv[1]["doc"]])
            )
            positives = joined | "Referenced" >> beam.Filter(lambda t: t[0]) | "PosDocs" >> beam.Values()
            docs = joined | "NotReferenced" >> beam.Filter(lambda t: not t[0]) | "NegDocs" >> beam.Values()
            _write_examples(positives, LABEL_WIKI, n, str(out / "wiki"), "Wiki")
        else:  # every passing page is a `cc` candidate: LID only where it may be picked
            docs = read | "Candidates" >> beam.FlatMap(_Candidates(lid, min_chars, n))
        _write_examples(docs, LABEL_CC, n, str(out / "cc"), "CC")
