"""The perplexity stage on Beam's FnApiRunner, with a tiny real model (tests/pipeline/conftest.py).

The language model is a hand-written bigram ARPA file over a word-level
SentencePiece model (pieces "▁a" and "▁b"); every expected perplexity is computed
here with kenlm directly (scoring `paragraph`) or with cc_net's SentencePiece.do +
DocLM.do re-implemented from its source (scoring `cc_net`, tests/cc_net_reference.py),
cutoffs with numpy.percentile, buckets with cc_net's rule.
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
from pipeline.stages.perplexity import Perplexity, PerplexitySettings, read_cutoffs_csv, summary_lines
from tests import cc_net_reference as ref

PARAGRAPH = PerplexitySettings(scoring="paragraph")


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
        result = p | beam.Create(docs) | Perplexity("cc", PARAGRAPH, lms)
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
        settings = PerplexitySettings(scoring="paragraph", cutoffs={"en": (head, tail)}, keep=("head",))
        result = p | beam.Create(docs) | Perplexity("cc", settings, lms)
        assert_that(result.kept | "K" >> beam.Map(lambda d: d.id),
                    equal_to([d.id for d in docs if buckets.get(d.id, "head") == "head"]), label="kept")
        assert_that(result.rejected | "R" >> beam.Map(lambda r: (r.doc.id, r.doc.bucket)),
                    equal_to([(i, b) for i, b in buckets.items() if b != "head"]), label="rejected")
        assert_that(result.stats | "Cut" >> beam.Filter(lambda kv: kv[0][2].startswith(("cutoff", "scoring"))),
                    equal_to([(("cc", "perplexity", "cutoff:en:head"), (round(head, 1), 0)),
                              (("cc", "perplexity", "cutoff:en:tail"), (round(tail, 1), 0)),
                              (("cc", "perplexity", "cutoff_source:en:config"), (1, 0)),
                              (("cc", "perplexity", "scoring:paragraph"), (1, 0))]), label="cutoffs")


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
    ({"scoring": "foo"}, "cc.perplexity.scoring must be one of cc_net, paragraph, got 'foo'"),
    ({"cutoffs_csv": "cutoff.csv", "percentiles": [30.5, 60]}, "cc.perplexity.percentiles must be whole numbers"),
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


def test_summary_lines_name_the_scoring_and_where_the_cutoffs_came_from():
    from pipeline.summary import assemble_stats

    rows = [
        (("cc", "perplexity", "in"), (2, 20)), (("cc", "perplexity", "kept"), (2, 20)),
        (("cc", "perplexity", "scoring:cc_net"), (1, 0)),
        (("cc", "perplexity", "cutoff:en:head"), (10.0, 0)), (("cc", "perplexity", "cutoff:en:tail"), (20.0, 0)),
        (("cc", "perplexity", "cutoff_source:en:csv"), (1, 0)),
    ]
    lines = [line.strip() for line in summary_lines(assemble_stats(rows)["sources"]["cc"]["perplexity"])]
    assert lines[0].startswith("scoring cc_net: cc_net's SentencePiece.do + DocLM.do")
    assert lines[1] == "en: head < 10.0 <= middle < 20.0 <= tail (perplexity; from cc.perplexity.cutoffs_csv)"


# ---------------------------------------------------------------- scoring cc_net

@pytest.fixture(scope="module")
def cc_net_ppl(quality_models):
    """text -> cc_net's perplexity (unrounded), by the re-implementation of SentencePiece.do + DocLM.do."""
    import sentencepiece

    sp_path, lm_path = quality_models[0]["en"]
    sp = sentencepiece.SentencePieceProcessor()
    sp.load(sp_path)
    lm = kenlm.Model(lm_path)
    return lambda text: ref.perplexity(sp, lm, text)


def test_cc_net_scoring_is_the_default_and_scores_the_whole_document_as_one_line(quality_models, cc_net_ppl):
    lms, _ = quality_models
    docs = make_docs()
    scored = {d.id: round(cc_net_ppl(d.text), 1) for d in docs if d.lang == "en" and cc_net_ppl(d.text) is not None}
    paragraph = {d.id: expected_ppl(d.text) for d in docs if d.id in scored}
    assert scored.keys() == paragraph.keys() and scored != paragraph  # gluing the lines changes the numbers
    head, tail = np.percentile(sorted(scored.values()), (30, 60))
    buckets = {i: "head" if v < head else "middle" if v < tail else "tail" for i, v in scored.items()}
    assert PerplexitySettings().scoring == "cc_net"
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | Perplexity("cc", PerplexitySettings(), lms)
        assert_that(result.kept | "K" >> beam.Map(lambda d: (d.id, d.perplexity, d.bucket)),
                    equal_to([(d.id, scored.get(d.id), buckets.get(d.id)) for d in docs
                              if buckets.get(d.id) != "tail"]), label="kept")
        assert_that(result.rejected | "R" >> beam.Map(lambda r: (r.doc.id, r.doc.perplexity)),
                    equal_to([(i, scored[i]) for i, b in buckets.items() if b == "tail"]), label="rejected")
        assert_that(result.stats | "Rows" >> beam.Filter(lambda kv: kv[0][2].startswith(("scoring", "cutoff_source"))),
                    equal_to([(("cc", "perplexity", "scoring:cc_net"), (1, 0)),
                              (("cc", "perplexity", "cutoff_source:en:run"), (1, 0))]), label="rows")


def write_cutoff_csv(path, columns: dict[str, list[float]]):
    """A cutoff table in the layout of cc_net's cc_net/data/cutoff.csv (pandas' to_csv): an empty
    first header cell, the languages, then one row per percentile 0-99."""
    langs = list(columns)
    lines = ["," + ",".join(langs)]
    lines += [f"{q}," + ",".join(f"{columns[lang][q]:g}" for lang in langs) for q in range(100)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_cc_net_cutoff_file_gives_the_cutoffs_at_the_percentile_rows(tmp_path):
    path = write_cutoff_csv(tmp_path / "cutoff.csv", {"de": [10.0 * q for q in range(100)],
                                                      "en": [100.0 + q for q in range(100)]})
    assert read_cutoffs_csv(str(path), (30.0, 60.0)) == {"de": (300.0, 600.0), "en": (130.0, 160.0)}
    assert read_cutoffs_csv(str(path), (10.0, 90.0))["en"] == (110.0, 190.0)


@pytest.mark.parametrize("content, match", [
    (",en\n0,1\n", "no row for percentile 30"),
    (",en\n30,x\n60,2\n", "'x' is not a number"),
    (",en\n30,5\n60,2\n", "not 0 < head <= tail"),
    (",en,de\n30,1\n", "line 2 has 2 cells"),
    ("", "not a cutoff table"),
])
def test_a_bad_cutoff_file_is_a_clear_error(tmp_path, content, match):
    from pipeline.config import ConfigError

    (tmp_path / "c.csv").write_text(content)
    with pytest.raises(ConfigError, match=r"cc\.perplexity\.cutoffs_csv: .*" + match):
        read_cutoffs_csv(str(tmp_path / "c.csv"), (30.0, 60.0))
    with pytest.raises(ConfigError, match="cannot read"):
        read_cutoffs_csv(str(tmp_path / "missing.csv"), (30.0, 60.0))


def test_config_takes_cc_nets_published_model_and_cutoff_formats(tmp_path, cc_net_ppl):
    """cc_net publishes lm_sp/<lang>.sp.model (SentencePiece), lm_sp/<lang>.arpa.bin (a KenLM
    binary) and cutoff.csv. Its files cannot be fetched here (and the cutoff table is
    CC-BY-NC), so models trained here stand in, under cc_net's names and formats."""
    from pipeline.config import config_from
    from pipeline.models.perplexity import PerplexityTraining, estimate_kenlm, tokenize_corpus, train_sentencepiece

    lm_sp = tmp_path / "lm_sp"
    lm_sp.mkdir()
    corpus = tmp_path / "corpus.txt"
    words = "the river flows through the valley and the city was founded in the century by settlers".split()
    rng = random.Random(0)
    corpus.write_text("\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(400)) + "\n")
    sp_bytes, _ = train_sentencepiece(corpus, vocab_size=60)
    (lm_sp / "en.sp.model").write_bytes(sp_bytes)
    tokenize_corpus(lm_sp / "en.sp.model", corpus, tmp_path / "corpus.tok")
    estimate_kenlm(tmp_path / "corpus.tok", tmp_path / "en.arpa", lm_sp / "en.arpa.bin",
                   PerplexityTraining(order=3, memory="50M"), tmp_path)
    cutoffs = write_cutoff_csv(tmp_path / "cutoff.csv", {"fr": [1.0 + q for q in range(100)],
                                                         "en": [20.0 + q for q in range(100)]})
    config = config_from({
        "models": {"kenlm": {"en": str(lm_sp / "en.arpa.bin")}, "sentencepiece": {"en": str(lm_sp / "en.sp.model")}},
        "cc": {"perplexity": {"cutoffs_csv": str(cutoffs)}},
    })
    from pipeline.models.perplexity import perplexity_models

    cards = perplexity_models(config, tmp_path / "models", config.models.train.perplexity)
    assert cards["en"]["kenlm"]["path"] == str(lm_sp / "en.arpa.bin")  # used in place, not retrained
    models = {"en": (cards["en"]["sentencepiece"]["path"], cards["en"]["kenlm"]["path"])}
    docs = [Document(id=f"cc/{i}", source="cc", lang="en",
                     text="\n".join(" ".join(rng.choice(words + ["zebra", "quartz"]) for _ in range(8))
                                    for _ in range(3)))
            for i in range(12)]
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor()
    sp.load(str(lm_sp / "en.sp.model"))
    lm = kenlm.Model(str(lm_sp / "en.arpa.bin"))
    want = {d.id: round(ref.perplexity(sp, lm, d.text), 1) for d in docs}
    head, tail = 50.0, 80.0  # the en column's rows 30 and 60
    buckets = {i: "head" if v < head else "middle" if v < tail else "tail" for i, v in want.items()}
    assert set(buckets.values()) == {"head", "middle", "tail"}, str(sorted(want.values()))  # 30.1 ... 90.5
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | Perplexity("cc", config.cc.perplexity, models)
        everything = (result.kept, result.rejected | beam.Map(lambda r: r.doc)) | beam.Flatten()
        assert_that(everything | beam.Map(lambda d: (d.id, d.perplexity, d.bucket)),
                    equal_to([(i, want[i], buckets[i]) for i in want]), label="scored")
        assert_that(result.stats | "Cut" >> beam.Filter(lambda kv: kv[0][2].startswith("cutoff")),
                    equal_to([(("cc", "perplexity", "cutoff:en:head"), (head, 0)),
                              (("cc", "perplexity", "cutoff:en:tail"), (tail, 0)),
                              (("cc", "perplexity", "cutoff_source:en:csv"), (1, 0))]), label="cutoffs")
