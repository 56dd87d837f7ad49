"""Example rejected documents for the report, chosen inside the curate pipeline.

Per (source, stage, reason), the K documents with the smallest `id_hash(id,
"report-example")` (ties by id): one `Top.SmallestPerKey` combine over every
source's rejected documents, so the choice depends on nothing but the ids and the
same run always shows the same examples, on any runner and any data size. Each
example keeps a short excerpt (the first non-blank lines, capped in bytes) and the
document's quality fields, never the whole text. For sensitive drops
(`pipeline.stages.judge.is_sensitive`: bad words, blocklisted domains, benchmark
contamination, PII) only the id and the URL's host are kept.

The rows go to one small JSON-lines file during the run (`ROWS`); `write_examples`
turns it into `report/examples.json` in the stage's staging place:

    {"k": 3, "excerpt_lines": 6, "excerpt_bytes": 600,
     "sources": {source: {stage: {reason: [example, ...]}}}}
    example: {"id", "url", "bytes", "excerpt", "fields", "meta"}  or  {"id", "host", "bytes", "sensitive": true}
    (fields: the CommonCrawl quality fields that are set; meta: up to META_SHOWN scalar meta values)
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import apache_beam as beam

from filters.document import id_hash
from pipeline.stages.judge import is_sensitive

K = 3
EXCERPT_LINES = 6
EXCERPT_BYTES = 600
LINE_CHARS = 200
PURPOSE = "report-example"
ROWS = "report-examples.jsonl"  # in the staging place, removed by write_examples
EXAMPLES = "report/examples.json"  # relative to OUT, published by the curate stage
QUALITY_FIELDS = ("lang", "lang_score", "perplexity", "bucket", "wikiref_score")
META_SHOWN = 6  # scalar meta fields kept per example


def _cut(text: str, nbytes: int) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= nbytes else data[:nbytes].decode("utf-8", "ignore") + "…"


def excerpt(text: str, lines: int = EXCERPT_LINES, nbytes: int = EXCERPT_BYTES) -> str:
    """The first `lines` non-blank lines of `text` (each at most LINE_CHARS), at most `nbytes` UTF-8 bytes."""
    head = text[: nbytes * 4]  # enough for `nbytes` bytes of text: never split a whole book
    kept = []
    for line in head.splitlines():
        line = line.strip()
        if line:
            kept.append(line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…")
        if len(kept) == lines:
            break
    return _cut("\n".join(kept), nbytes)


def host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname or None
    except ValueError:
        return None


def example(rejection) -> dict:
    """What the report may show of one rejected document."""
    doc = rejection.doc
    if is_sensitive(rejection.stage, rejection.reason):
        return {"id": doc.id, "host": host(doc.url), "bytes": doc.nbytes, "sensitive": True}
    fields = {name: getattr(doc, name) for name in QUALITY_FIELDS if getattr(doc, name, None) is not None}
    meta = {k: (_cut(v, 80) if isinstance(v, str) else v) for k, v in sorted((doc.meta or {}).items())
            if isinstance(v, (str, int, float, bool))}
    return {"id": doc.id, "url": doc.url, "bytes": doc.nbytes, "excerpt": excerpt(doc.text), "fields": fields,
            "meta": dict(list(meta.items())[:META_SHOWN])}


def _keyed(rejection, source: str):
    doc = rejection.doc
    entry = json.dumps(example(rejection), sort_keys=True, ensure_ascii=False, default=str)
    return (source, rejection.stage, rejection.reason), (id_hash(doc.id, PURPOSE), doc.id, entry)


def _row(kv) -> str:
    (source, stage, reason), chosen = kv
    return json.dumps([source, stage, reason, [json.loads(entry) for _, _, entry in sorted(chosen)]],
                      sort_keys=True, ensure_ascii=False)


class RejectExamples(beam.PTransform):
    """{source: rejected PCollection} -> the K smallest-hash examples per (source, stage, reason), as
    JSON lines in one file at `path` (empty when nothing was rejected)."""

    def __init__(self, path: str, k: int = K):
        super().__init__()
        self._path, self._k = path, k

    def expand(self, rejected: dict):
        keyed = [pcoll | f"ExampleKey_{source}" >> beam.Map(_keyed, source) for source, pcoll in rejected.items()]
        return (
            tuple(keyed)
            | "AllExamples" >> beam.Flatten()
            | "SmallestHashes" >> beam.combiners.Top.SmallestPerKey(self._k)
            | "ExampleRows" >> beam.Map(_row)
            | "WriteExamples" >> beam.io.WriteToText(self._path, shard_name_template="", num_shards=1)
        )


def assemble(text: str, k: int = K) -> dict:
    """The JSON-lines rows -> examples.json's content, sorted."""
    sources: dict = {}
    for line in sorted(text.splitlines()):
        if line.strip():
            source, stage, reason, chosen = json.loads(line)
            sources.setdefault(source, {}).setdefault(stage, {})[reason] = chosen
    return {"k": k, "excerpt_lines": EXCERPT_LINES, "excerpt_bytes": EXCERPT_BYTES, "hash": f"id_hash(id, {PURPOSE!r})",
            "sources": sources}


def write_examples(tmp) -> str:
    """Turn the run's rows (tmp/ROWS) into tmp/EXAMPLES; returns EXAMPLES."""
    text = tmp.read_text(ROWS) if tmp.is_file(ROWS) else ""
    tmp.write_json(EXAMPLES, assemble(text))
    tmp.delete(ROWS)
    return EXAMPLES
