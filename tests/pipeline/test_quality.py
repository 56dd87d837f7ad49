"""The perplexity and wikiref stages on Beam's FnApiRunner, with tiny real models.

The language model is a hand-written bigram ARPA file over a word-level
SentencePiece model (pieces "▁a" and "▁b"); every expected perplexity is computed
here with kenlm directly, cutoffs with numpy.percentile, buckets with cc_net's
rule. The wikiref model is a tiny fastText classifier trained in a fresh process;
expected scores come from fastText's own predict.
"""
from __future__ import annotations

import io
import json
import math
import random
import subprocess
import sys

import apache_beam as beam
import fasttext
import kenlm
import numpy as np
import pytest
import sentencepiece as spm
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # pytest would collect Test*
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from filters.document import Document
from pipeline.quality import CurateQuality, Perplexity, PerplexitySettings, WikiRef, WikirefSettings, from_cards

ARPA = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.30103
-0.69897\t</s>\t0
-0.52288\t▁a\t-0.2
-0.60206\t▁b\t-0.1

\\2-grams:
-0.30103\t<s> ▁a
-0.39794\t▁a ▁b
-0.15490\t▁b </s>

\\end\\
"""
WIKI_WORDS = "the river flows through the valley and the city was founded in the century by settlers".split()
CC_WORDS = "buy now cheap deals click here login cart free shipping subscribe cookie policy offer".split()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("quality")
    sp = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["a b", "b a", "a a b", "b b a"] * 50), model_writer=sp,
                                   model_type="word", vocab_size=5, hard_vocab_limit=False, minloglevel=2)
    (d / "sp.model").write_bytes(sp.getvalue())
    (d / "lm.arpa").write_text(ARPA, encoding="utf-8")
    rng = random.Random(0)
    examples = [f"__label__{label} " + " ".join(rng.choice(words) for _ in range(12))
                for label, words in (("wiki", WIKI_WORDS), ("cc", CC_WORDS)) for _ in range(60)]
    rng.shuffle(examples)
    (d / "train.txt").write_text("\n".join(examples) + "\n")
    # A fresh process: fasttext-numpy2-wheel 0.9.2 can diverge (NaN) in one that already used fastText.
    script = ("import fasttext, sys; fasttext.train_supervised(input=sys.argv[1], epoch=25, lr=0.5, dim=10, "
              "wordNgrams=2, bucket=10000, thread=1, seed=0, verbose=0).save_model(sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, str(d / "train.txt"), str(d / "wikiref.bin")], check=True)
    return {"en": (str(d / "sp.model"), str(d / "lm.arpa"))}, str(d / "wikiref.bin")


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
def _load_lm(models):
    _LM["lm"] = kenlm.Model(models[0]["en"][1])


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

def test_perplexity_scores_buckets_by_run_percentiles_and_drops_the_tail(models):
    lms, _ = models
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


def test_explicit_cutoffs_override_and_keep_is_configurable(models):
    lms, _ = models
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


def test_percentile_sample_does_not_depend_on_input_order(models, tmp_path):
    lms, _ = models
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


# ---------------------------------------------------------------- wikiref

def wiki_scores(model_path, docs) -> dict[str, float]:
    model = fasttext.load_model(model_path)
    out = {}
    for d in docs:
        labels, probs = model.predict([d.text], k=-1)
        out[d.id] = round(min(float(dict(zip(labels[0], probs[0]))["__label__wiki"]), 1.0), 4)
    return out


def wiki_docs() -> list[Document]:
    texts = ["the river flows through the valley", "buy now cheap deals click here", "the city was founded by settlers",
             "free shipping subscribe cookie policy", "the century and the river cart offer", "login cart offer the valley"]
    return [Document(id=f"cc/w{i}", source="cc", text=t, lang="en") for i, t in enumerate(texts)]


def test_wikiref_scores_drops_below_threshold_and_counts_score_bins(models):
    _, model_path = models
    docs = wiki_docs()
    scores = wiki_scores(model_path, docs)
    kept = [d for d in docs if scores[d.id] >= 0.25]
    dropped = [d for d in docs if scores[d.id] < 0.25]
    assert kept and dropped
    bins: dict[str, list] = {}
    for d in docs:
        bins.setdefault(f"score_bin:{min(math.floor(scores[d.id] * 10), 9) / 10:.1f}", []).append(d)
    expected_stats = [
        (("cc", "wikiref", "in"), (len(docs), nbytes(*docs))),
        (("cc", "wikiref", "kept"), (len(kept), nbytes(*kept))),
        (("cc", "wikiref", "dropped:wikiref"), (len(dropped), nbytes(*dropped))),
    ] + [(("cc", "wikiref", k), (len(v), nbytes(*v))) for k, v in bins.items()]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | WikiRef("cc", WikirefSettings(threshold=0.25), model_path)
        assert_that(result.kept | "K" >> beam.Map(lambda d: (d.id, d.wikiref_score)),
                    equal_to([(d.id, scores[d.id]) for d in kept]), label="kept")
        assert_that(result.rejected | "R" >> beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.wikiref_score)),
                    equal_to([(d.id, "wikiref", "wikiref", scores[d.id]) for d in dropped]), label="rejected")
        assert_that(result.stats, equal_to(expected_stats), label="stats")
    assert all(d.wikiref_score is None for d in docs)  # inputs untouched


# ---------------------------------------------------------------- both, from the config

def test_curate_quality_chains_both_stages_from_config_and_cards(models):
    lms, model_path = models
    sp, lm = lms["en"]
    cards = {"perplexity": {"en": {"sentencepiece": {"path": sp}, "kenlm": {"path": lm}}},
             "wikiref": {"path": model_path}}
    perplexity = PerplexitySettings(cutoffs={"en": (1e9, 1e9)}, sample_size=100)
    docs = wiki_docs()  # no "a"/"b" words: all head with these cutoffs
    scores = wiki_scores(model_path, docs)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | from_cards("cc", perplexity, WikirefSettings(threshold=0.5), cards)
        assert_that(result.kept | "K" >> beam.Map(lambda d: (d.id, d.bucket)),
                    equal_to([(d.id, "head") for d in docs if scores[d.id] >= 0.5]), label="kept")
        assert_that(result.rejected | "R" >> beam.Map(lambda r: (r.doc.id, r.stage)),
                    equal_to([(d.id, "wikiref") for d in docs if scores[d.id] < 0.5]), label="rejected")
        assert_that(result.stats | "Acc" >> beam.Filter(lambda kv: kv[0][2] in ("in", "kept")),
                    equal_to([(("cc", "perplexity", "in"), (6, nbytes(*docs))),
                              (("cc", "perplexity", "kept"), (6, nbytes(*docs))),
                              (("cc", "wikiref", "in"), (6, nbytes(*docs))),
                              (("cc", "wikiref", "kept"), (sum(s >= 0.5 for s in scores.values()),
                                                           nbytes(*[d for d in docs if scores[d.id] >= 0.5])))]),
                    label="stats")


def test_a_stage_without_a_model_is_skipped_not_faked(models):
    docs = wiki_docs()
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | CurateQuality("cc", PerplexitySettings(), WikirefSettings(), perplexity_models={}, wikiref_model=None)
        assert_that(result.kept | "K" >> beam.Map(lambda d: d.id), equal_to([d.id for d in docs]), label="kept")
        assert_that(result.rejected, equal_to([]), label="rejected")
        assert_that(result.stats, equal_to([]), label="stats")


def test_summary_lines_show_buckets_cutoffs_and_histograms_in_bin_order():
    from pipeline.quality import summary_lines
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
    assert [line.strip() for line in summary_lines("perplexity", stages["perplexity"])] == [
        "buckets: head 2, middle 2, tail 2",
        "en: head < 120.5 <= middle < 300.0 <= tail (perplexity; percentiles of 6 documents)",
        "en perplexity percentiles: p10 50.0, p30 120.5",
        "ppl >=     56       5 ####################",
        "ppl >=   1000       1 ####",
    ]
    assert [line.strip() for line in summary_lines("wikiref", stages["wikiref"])] == [
        "P(wiki) of every document scored:",
        "0.2-0.3       1 #######",
        "0.9-1.0       3 ####################",
    ]
    assert summary_lines("lid", {}) == []
