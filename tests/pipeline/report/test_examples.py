"""The report's example rejects, chosen on Beam: the K smallest id hashes per (source, stage, reason),
the same whatever the input order, and no text of a sensitive drop."""
from __future__ import annotations

import json
import random
from collections import defaultdict

import apache_beam as beam
import pytest

from filters.document import PURPOSES, Document, id_hash
from pipeline.report.examples import EXCERPT_BYTES, K, PURPOSE, RejectExamples, assemble, example, excerpt, host
from pipeline.stages.judge import SENSITIVE_REASONS, is_sensitive
from pipeline.stats import Rejection


def rejections(n: int = 40) -> list[Rejection]:
    out = []
    for i in range(n):
        stage, reason = [("lid", "lang"), ("lid", "lang_score_low"), ("c4_rules", "bad_words"),
                         ("url_filter", "url_blocklist")][i % 4]
        doc = Document(id=f"cc/{i:04d}", source="cc", text=f"\n  first line of {i}\nsecond\n\nthird\n" + "x" * 2000,
                       url=f"https://site{i}.example.org/path/secret?q={i}", meta={"offset": i, "nested": {"a": 1}},
                       lang="fi", lang_score=0.42)
        out.append(Rejection(doc, stage, reason))
    return out


def run_examples(tmp_path, by_source: dict[str, list[Rejection]], name: str) -> dict:
    path = tmp_path / name
    with beam.Pipeline() as p:
        pcolls = {source: p | f"Create_{source}" >> beam.Create(items, reshuffle=False)
                  for source, items in by_source.items()}
        pcolls | RejectExamples(str(path))
    return assemble(path.read_text())


def test_the_k_smallest_hashes_per_reason_whatever_the_order(tmp_path):
    items = rejections()
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    first = run_examples(tmp_path, {"cc": items, "c4": items[:3]}, "a.jsonl")
    again = run_examples(tmp_path, {"c4": items[:3], "cc": shuffled}, "b.jsonl")
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    expected = defaultdict(list)
    for r in items:
        expected[(r.stage, r.reason)].append(r.doc.id)
    for (stage, reason), ids in expected.items():
        want = sorted(ids, key=lambda i: (id_hash(i, PURPOSE), i))[:K]
        assert [e["id"] for e in first["sources"]["cc"][stage][reason]] == want
    assert set(first["sources"]) == {"cc", "c4"}  # keyed by the source they were rejected from


def test_sensitive_drops_keep_only_id_host_and_size(tmp_path):
    got = run_examples(tmp_path, {"cc": rejections()}, "s.jsonl")
    for stage, reason in (("c4_rules", "bad_words"), ("url_filter", "url_blocklist")):
        for ex in got["sources"]["cc"][stage][reason]:
            assert set(ex) == {"id", "host", "bytes", "sensitive"}
            assert ex["host"].endswith(".example.org") and "secret" not in json.dumps(ex)
    shown = got["sources"]["cc"]["lid"]["lang"][0]
    i = int(shown["id"][-4:])
    assert shown["excerpt"].startswith(f"first line of {i}\nsecond\nthird\nxxx")
    assert shown["url"] == f"https://site{i}.example.org/path/secret?q={i}"
    assert shown["fields"] == {"lang": "fi", "lang_score": 0.42} and shown["meta"] == {"offset": i}  # scalars only


def test_sensitive_reasons_and_stages():
    assert {"bad_words", "url_blocklist", "contaminated", "pii_masked"} <= SENSITIVE_REASONS
    assert is_sensitive("c4_rules", "bad_words") and is_sensitive("pii", "anything")
    assert is_sensitive("url_filter", "url_blocklist:adult") and is_sensitive("decontamination", "contaminated")
    assert not is_sensitive("lid", "lang")


def test_excerpt_is_the_first_non_blank_lines_capped_in_bytes():
    assert excerpt("\n\n a \n\nb\nc", lines=2) == "a\nb"
    long = excerpt("é" * 5000)
    assert len(long.encode()) <= EXCERPT_BYTES + len("…".encode()) + 1
    assert excerpt("") == ""
    book = "line\n" * 10_000_000  # never split whole
    assert excerpt(book) == "\n".join(["line"] * 6)


def test_host_and_the_purpose_is_registered():
    assert host("https://a.b.org:8080/x?y") == "a.b.org" and host(None) is None and host("not a url") is None
    assert PURPOSES[PURPOSE] and id_hash("x", PURPOSE) != id_hash("x")


@pytest.mark.parametrize("reason", ["bad_words", "contaminated"])
def test_example_of_a_sensitive_document_has_no_text(reason):
    doc = Document(id="c4/1", source="c4", text="never shown", url="http://h.example/p")
    assert example(Rejection(doc, "stage", reason)) == {"id": "c4/1", "host": "h.example", "bytes": 11,
                                                         "sensitive": True}
