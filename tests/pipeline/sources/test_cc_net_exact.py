"""The cc_net mode on the bundled sample crawl against cc_net re-implemented from its source
(tests/cc_net_reference.py): the same documents survive reading and dedup, line for line,
and the perplexities agree.

Ours runs for real: the WET reader and the min_length + line_dedup stages on Beam's
FnApiRunner, the perplexity scorer with a SentencePiece + KenLM pair the models stage
trains on the sample's Wikipedia. The reference reads the decompressed WET text line by
line, as cc_net did.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # pytest would collect Test*

from filters.perplexity import load_language_model
from pipeline.config import config_from
from pipeline.models.perplexity import perplexity_models
from pipeline.models.stage import resolve_cards
from pipeline.read import ReadDocuments
from pipeline.readers.warc import make_parser
from pipeline.stages.line_dedup import CcNetDedup, LineDedupSettings
from tests import cc_net_reference as ref

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def wet_files() -> list[Path]:
    files = sorted((SAMPLE / "cc").glob("*.warc.wet.gz"))
    if not files:
        pytest.fail("data/sample is missing: `make test` builds it (make sample)")
    return files


@pytest.fixture(scope="module")
def reference(wet_files):
    """cc_net's documents (min_len 300) and, per document, its text after deduplicate_two_pass."""
    docs = []
    for path in wet_files:
        with gzip.open(path, "rt", encoding="utf-8") as f:  # universal newlines, as cc_net's jsonql
            docs += list(ref.read_wet(f, min_len=300))
    deduplicated = ref.deduplicate_two_pass([d["raw_content"] for d in docs])
    return docs, deduplicated


@pytest.fixture(scope="module")
def ours(wet_files, tmp_path_factory):
    """Our cc_net mode: (url, title, text) of every document line_dedup keeps; (stage, reason, url) of the rest."""
    out = tmp_path_factory.mktemp("ours")
    with BeamTestPipeline(runner="FnApiRunner") as p:
        docs = p | ReadDocuments([str(f) for f in wet_files], make_parser(source="cc", cc_net=True), "cc")
        result = docs | CcNetDedup("cc", LineDedupSettings(mode="cc_net", min_chars=300, shards=16))
        for name, rows in (("kept", result.kept | beam.Map(lambda d: (d.url, d.meta["title"], d.text))),
                           ("rejected", result.rejected | beam.Map(lambda r: (r.stage, r.reason, r.doc.url)))):
            _ = (rows | f"{name}Json" >> beam.Map(json.dumps)
                 | f"{name}Write" >> beam.io.WriteToText(str(out / name), shard_name_template="", num_shards=1))
    return {name: [tuple(json.loads(line)) for line in (out / name).read_text().splitlines()]
            for name in ("kept", "rejected")}


def test_the_same_documents_survive_with_the_same_lines(reference, ours):
    docs, deduplicated = reference
    expected = sorted((d["url"], d["title"], text) for d, text in zip(docs, deduplicated) if text is not None)
    assert len(expected) > 500
    got = sorted(ours["kept"])
    assert [url for url, _, _ in got] == [url for url, _, _ in expected]
    for (url, title, text), (_, want_title, want_text) in zip(got, expected):
        assert title == want_title, url
        assert text.split("\n") == want_text.split("\n"), url


def test_the_same_documents_are_dropped_for_the_same_reasons(reference, ours):
    docs, deduplicated = reference
    emptied = sorted(d["url"] for d, text in zip(docs, deduplicated) if text is None)
    assert emptied, "the sample's planted duplicate pages lose every line"
    assert sorted(url for stage, reason, url in ours["rejected"] if stage == "line_dedup") == emptied
    assert {reason for stage, reason, _ in ours["rejected"] if stage == "line_dedup"} == {"empty"}
    short = [url for stage, reason, url in ours["rejected"] if stage == "min_length"]
    assert {reason for stage, reason, _ in ours["rejected"] if stage == "min_length"} == {"too_short"}
    assert len(short) + len(docs) == 1080  # every WET page of the sample: read, or dropped as too short
    assert not set(short) & {d["url"] for d in docs}


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    config = config_from({
        "inputs": {"cc": ["unused"], "wikipedia": [str(p) for p in sorted((SAMPLE / "wikipedia").glob("*.xml.bz2"))]},
        "models": {"train": {"perplexity": {"max_bytes": 600_000, "vocab_size": 2000, "memory": "200M"}}},
        "cc": {"wikiref": {"enabled": False}},  # only the language model is trained here
    })
    assert config.cc.perplexity.scoring == "cc_net"
    models_dir = tmp_path_factory.mktemp("out") / "models"
    card = perplexity_models(config, models_dir, config.models.train.perplexity)["en"]
    assert card["normalization"].startswith("cc_net's text_normalizer.normalize")
    card = resolve_cards(card, models_dir.parent)  # recorded relative to OUT
    return card["sentencepiece"]["path"], card["kenlm"]["path"]


def test_perplexities_equal_cc_nets_before_rounding(reference, language_model):
    import kenlm
    import sentencepiece

    docs, deduplicated = reference
    sp_path, lm_path = language_model
    ours = load_language_model(sp_path, lm_path)
    sp = sentencepiece.SentencePieceProcessor()
    sp.load(sp_path)
    lm = kenlm.Model(lm_path)
    compared = 0
    for text in deduplicated:
        if text is None:
            continue
        want = ref.perplexity(sp, lm, text)
        got = ours.perplexity(text, "cc_net")
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, rel=1e-6, abs=0)
            compared += 1
    assert compared > 500
