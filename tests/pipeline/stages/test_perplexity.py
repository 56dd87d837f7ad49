"""The perplexity stage on Beam's FnApiRunner, with a tiny real model (tests/pipeline/conftest.py).

The language model is a hand-written bigram ARPA file over a word-level
SentencePiece model (pieces "▁a" and "▁b"); every expected perplexity is computed
here with kenlm directly, cutoffs with numpy.percentile, buckets with cc_net's rule.
"""
from __future__ import annotations

import json
import math
import random

import apache_beam as beam
import kenlm
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # pytest would collect Test*
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from filters.document import Document
from pipeline.stages.perplexity import Perplexity, PerplexitySettings, summary_lines


def nbytes(*docs) -> int:
    return sum(len(d.text.encode()) for d in docs)


_LM = {}


def expected_ppl(text: str) -> float | None:
    """cc_net's formula with kenlm directly; the texts are already normalised ("a b" words)."""
    lm = _LM["lm"]
    paragraphs = [" ".join("▁" + w for w in line.split()) for line in text.split("\n") if line.strip()]
    if not paragraphs:
        return None
    log10 = sum(lm.score(p, bos=True, eos=True) for p in paragraphs)
    return round(10 ** (-log10 / sum(len(p.split()) + 1 for p in paragraphs)), 1)


@pytest.fixture(scope="module", autouse=True)
def _load_lm(quality_models):
    _LM["lm"] = kenlm.Model(quality_models[0]["en"][1])


def make_docs(n=12, seed=1) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        paragraphs = [" ".join(rng.choice("ab") for _ in range(rng.randint(2, 8))) for _ in range(rng.randint(1, 3))]
        docs.append(Document(id=f"cc/{i:02d}", source="cc", text="\n".join(paragraphs), lang="en"))
    docs.append(Document(id="cc/fr", source="cc", text="a b a", lang="fr"))  # no French model: unscored
    docs.append(Document(id="cc/blank", source="cc", text=" \n ", lang="en"))  # nothing to score
    return docs


def expected_buckets(docs, cutoffs=None, percentiles=(30, 60)):
    scored = {d.id: expected_ppl(d.text) for d in docs if d.lang == "en" and expected_ppl(d.text) is not None}
    values = sorted(scored.values())
    head, tail = cutoffs or np.percentile(values, percentiles)
    buckets = {i: "head" if p < head else "middle" if p < tail else "tail" for i, p in scored.items()}
    return scored, buckets, (head, tail)


def rows_check(expected_rows: dict, *, scored: dict):
    """Stats: the exact rows given, every ppl_bin row consistent with the documents, balance."""

    def check(rows):
        got = dict(rows)
        for key, value in expected_rows.items():
            if key not in got or tuple(got[key]) != tuple(value):
                raise BeamAssertException(f"{key}: expected {value}, got {got.get(key)}")
        bins = {k[2]: v[0] for k, v in got.items() if k[2].startswith("ppl_bin:")}
        if sum(bins.values()) != len(scored):
            raise BeamAssertException(f"ppl_bin rows {bins} do not add up to {len(scored)} scored documents")
        for label, count in bins.items():
            # The label is the bin's lower bound 10 ** (k / 4), rounded for display.
            k = round(math.log10(float(label.rsplit(":", 1)[1])) * 4)
            inside = [p for p in scored.values() if 10 ** (k / 4) <= p < 10 ** ((k + 1) / 4)]
            if len(inside) != count:
                raise BeamAssertException(f"{label}: {count} documents, expected {len(inside)}")
        metrics = {k[2]: v[0] for k, v in got.items() if k[1] == "perplexity"}
        dropped = sum(v for k, v in metrics.items() if k.startswith("dropped:"))
        if metrics["in"] != metrics["kept"] + dropped:
            raise BeamAssertException(f"perplexity does not balance: {metrics}")

    return check


# ---------------------------------------------------------------- perplexity

def test_perplexity_scores_buckets_by_run_percentiles_and_drops_the_tail(quality_models):
    lms, _ = quality_models
    docs = make_docs()
    scored, buckets, (head, tail) = expected_buckets(docs)
    assert len(set(scored.values())) >= 8  # the cutoffs separate real differences
    kept = [d for d in docs if buckets.get(d.id) != "tail"]
    tails = [d for d in docs if buckets.get(d.id) == "tail"]
    assert tails and len(kept) > 2
    expected_rows = {
        ("cc", "perplexity", "in"): (len(docs), nbytes(*docs)),
        ("cc", "perplexity", "kept"): (len(kept), nbytes(*kept)),
        ("cc", "perplexity", "dropped:perplexity"): (len(tails), nbytes(*tails)),
        ("cc", "perplexity", "bucket:unscored"): (2, nbytes(docs[-2], docs[-1])),
        ("cc", "perplexity", "cutoff:en:head"): (round(head, 1), 0),
        ("cc", "perplexity", "cutoff:en:tail"): (round(tail, 1), 0),
        ("cc", "perplexity", "ppl_percentile:en:p30"): (round(head, 1), 0),
        ("cc", "perplexity", "ppl_percentile:en:p90"): (round(float(np.percentile(sorted(scored.values()), 90)), 1), 0),
        ("cc", "perplexity", "percentile_sample:en"): (len(scored), 0),
    }
    for name in ("head", "middle", "tail"):
        members = [d for d in docs if buckets.get(d.id) == name]
        expected_rows[("cc", "perplexity", f"bucket:{name}")] = (len(members), nbytes(*members))
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | Perplexity("cc", PerplexitySettings(), lms)
        assert_that(result.kept | "K" >> beam.Map(lambda d: (d.id, d.perplexity, d.bucket)),
                    equal_to([(d.id, scored.get(d.id), buckets.get(d.id)) for d in kept]), label="kept")
        assert_that(result.rejected | "R" >> beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.bucket,
                                                                 r.doc.perplexity)),
                    equal_to([(d.id, "perplexity", "perplexity", "tail", scored[d.id]) for d in tails]),
                    label="rejected")
        assert_that(result.stats, rows_check(expected_rows, scored=scored), label="stats")
    assert all(d.perplexity is None and d.bucket is None for d in docs)  # inputs untouched


def test_explicit_cutoffs_override_and_keep_is_configurable(quality_models):
    lms, _ = quality_models
    docs = make_docs()
    scored = {d.id: expected_ppl(d.text) for d in docs if d.lang == "en" and expected_ppl(d.text) is not None}
    values = sorted(scored.values())
    head, tail = values[2] + 0.05, values[-3] + 0.05  # between scores: no ties at the boundary
    _, buckets, _ = expected_buckets(docs, cutoffs=(head, tail))
    assert sorted(buckets.values()).count("head") == 3
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | Perplexity("cc", PerplexitySettings(cutoffs={"en": (head, tail)}, keep=("head",)), lms)
        assert_that(result.kept | "K" >> beam.Map(lambda d: d.id),
                    equal_to([d.id for d in docs if buckets.get(d.id, "head") == "head"]), label="kept")
        assert_that(result.rejected | "R" >> beam.Map(lambda r: (r.doc.id, r.doc.bucket)),
                    equal_to([(i, b) for i, b in buckets.items() if b != "head"]), label="rejected")
        assert_that(result.stats | "Cut" >> beam.Filter(lambda kv: kv[0][2].startswith("cutoff:")),
                    equal_to([(("cc", "perplexity", "cutoff:en:head"), (round(head, 1), 0)),
                              (("cc", "perplexity", "cutoff:en:tail"), (round(tail, 1), 0))]), label="cutoffs")


def test_percentile_sample_does_not_depend_on_input_order(quality_models, tmp_path):
    lms, _ = quality_models
    docs = make_docs(n=30, seed=2)
    outputs = []
    for i, order in enumerate((docs, docs[::-1], random.Random(3).sample(docs, len(docs)))):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            result = p | beam.Create(order) | Perplexity("cc", PerplexitySettings(sample_size=7), lms)
            (result.stats
             | beam.Filter(lambda kv: kv[0][2].split(":")[0] in ("cutoff", "percentile_sample"))
             | beam.Map(json.dumps)
             | beam.io.WriteToText(str(tmp_path / f"rows-{i}"), shard_name_template=""))
        outputs.append(sorted((tmp_path / f"rows-{i}").read_text().splitlines()))
    assert outputs[0] == outputs[1] == outputs[2]
    assert '[["cc", "perplexity", "percentile_sample:en"], [7, 0]]' in outputs[0]


@pytest.mark.parametrize("values, match", [
    ({"percentiles": [60, 30]}, "cc.perplexity.percentiles"),
    ({"percentiles": [30]}, "cc.perplexity.percentiles"),
    ({"keep": ["best"]}, r"cc.perplexity.keep\[0\]"),
    ({"keep": []}, "cc.perplexity.keep"),
    ({"cutoffs": {"en": [500, 100]}}, "cc.perplexity.cutoffs.en"),
    ({"sample_size": 0}, "cc.perplexity.sample_size"),
])
def test_perplexity_settings_are_validated(values, match):
    from pipeline.config import ConfigError, config_from

    with pytest.raises(ConfigError, match=match):
        config_from({"cc": {"perplexity": values}})


def test_summary_lines_show_buckets_cutoffs_and_histogram_in_bin_order():
    from pipeline.summary import assemble_stats

    rows = [
        (("cc", "perplexity", "in"), (6, 600)), (("cc", "perplexity", "kept"), (4, 400)),
        (("cc", "perplexity", "dropped:perplexity"), (2, 200)),
        (("cc", "perplexity", "bucket:head"), (2, 200)), (("cc", "perplexity", "bucket:middle"), (2, 200)),
        (("cc", "perplexity", "bucket:tail"), (2, 200)),
        (("cc", "perplexity", "cutoff:en:head"), (120.5, 0)), (("cc", "perplexity", "cutoff:en:tail"), (300.0, 0)),
        (("cc", "perplexity", "percentile_sample:en"), (6, 0)),
        (("cc", "perplexity", "ppl_percentile:en:p30"), (120.5, 0)),
        (("cc", "perplexity", "ppl_percentile:en:p10"), (50.0, 0)),
        (("cc", "perplexity", "ppl_bin:en:1000"), (1, 100)), (("cc", "perplexity", "ppl_bin:en:56"), (5, 500)),
        (("cc", "wikiref", "in"), (4, 400)), (("cc", "wikiref", "kept"), (4, 400)),
        (("cc", "wikiref", "score_bin:0.9"), (3, 300)), (("cc", "wikiref", "score_bin:0.2"), (1, 100)),
    ]
    stages = assemble_stats(rows)["sources"]["cc"]
    assert [line.strip() for line in summary_lines(stages["perplexity"])] == [
        "buckets: head 2, middle 2, tail 2",
        "en: head < 120.5 <= middle < 300.0 <= tail (perplexity; percentiles of 6 documents)",
        "en perplexity percentiles: p10 50.0, p30 120.5",
        "ppl >=     56       5 ####################",
        "ppl >=   1000       1 ####",
    ]
