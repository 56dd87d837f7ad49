"""The wikiref stage on Beam's FnApiRunner, with a tiny fastText classifier (tests/pipeline/conftest.py);
expected scores come from fastText's own predict."""
from __future__ import annotations

import math

import apache_beam as beam
import fasttext
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # pytest would collect Test*
from apache_beam.testing.util import assert_that, equal_to

from filters.document import Document
from pipeline.stages.wikiref import WikiRef, WikirefSettings, summary_lines


def nbytes(*docs) -> int:
    return sum(len(d.text.encode()) for d in docs)


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


def test_wikiref_scores_drops_below_threshold_and_counts_score_bins(quality_models):
    _, model_path = quality_models
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
    for cut in ("0.25", "0.5"):  # the threshold, and "classified as a reference"
        reached = [d for d in docs if scores[d.id] >= float(cut)]
        expected_stats.append((("cc", "wikiref", f"at_least:{cut}"), (len(reached), nbytes(*reached))))
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | WikiRef("cc", WikirefSettings(threshold=0.25), model_path)
        assert_that(result.kept | "K" >> beam.Map(lambda d: (d.id, d.wikiref_score)),
                    equal_to([(d.id, scores[d.id]) for d in kept]), label="kept")
        assert_that(result.rejected | "R" >> beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.wikiref_score)),
                    equal_to([(d.id, "wikiref", "wikiref", scores[d.id]) for d in dropped]), label="rejected")
        assert_that(result.stats, equal_to(expected_stats), label="stats")
    assert all(d.wikiref_score is None for d in docs)  # inputs untouched




def test_summary_lines_show_the_score_histogram_in_bin_order():
    from pipeline.summary import assemble_stats

    rows = [(("cc", "wikiref", "in"), (4, 400)), (("cc", "wikiref", "kept"), (4, 400)),
            (("cc", "wikiref", "score_bin:0.9"), (3, 300)), (("cc", "wikiref", "score_bin:0.2"), (1, 100)),
            (("cc", "wikiref", "at_least:0.25"), (3, 300)), (("cc", "wikiref", "at_least:0.5"), (3, 300))]
    entry = assemble_stats(rows)["sources"]["cc"]["wikiref"]
    assert [line.strip() for line in summary_lines(entry)] == [
        "P(wiki) >= 0.25 (cc.wikiref.threshold): 3 of 4 (75.0%)",
        "P(wiki) >= 0.5 (classified as a reference): 3 of 4 (75.0%)",
        "P(wiki) of every document scored:",
        "0.2-0.3       1 #######",
        "0.9-1.0       3 ####################",
    ]
