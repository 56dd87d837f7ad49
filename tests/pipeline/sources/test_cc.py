"""The CommonCrawl source's chain on Beam's FnApiRunner: dedup, LID, then the quality stages
with the models the cards name (tiny real ones, tests/pipeline/conftest.py)."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import (
    TestPipeline as BeamTestPipeline,  # alias: pytest would try to collect Test*
)
from apache_beam.testing.util import assert_that, equal_to

from filters.document import Document
from pipeline.sources.cc import CCSettings, CurateCC, quality_stages
from pipeline.stages.line_dedup import LineDedupSettings
from pipeline.stages.perplexity import PerplexitySettings
from pipeline.stages.wikiref import WikirefSettings
from pipeline.stats import run_stages
from tests.pipeline.beam_checks import b, stats_equal
from tests.pipeline.stages.test_wikiref import nbytes, wiki_docs, wiki_scores

ENGLISH = (
    "The library opens at nine in the morning and closes at six in the evening. "
    "Members can borrow up to five books at a time and renew them online."
)
FRENCH = (
    "La bibliothèque ouvre à neuf heures du matin et ferme à six heures du soir. "
    "Les membres peuvent emprunter jusqu'à cinq livres à la fois."
)
def cc(doc_id: str, text: str, **kw) -> Document:
    return Document(id=f"cc/{doc_id}", source="cc", text=text, **kw)


def rejection_summary(rejected):
    return rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason))



# ------------------------------------------------------------- the chain

def test_curate_cc_in_mode_normalized_chains_exact_and_line_dedup_and_lid(lid_model):
    footer = "Subscribe to our newsletter for weekly updates"
    en1 = ENGLISH + "\n" + footer
    en2 = "Our bakery sells fresh bread, cakes and pastries every day of the week.\n" + footer + " !"
    fr = FRENCH + "\n" + footer
    docs = [cc("1", en1), cc("2", en1.upper()), cc("3", en2), cc("4", fr)]
    en1_out, en2_out = ENGLISH, "Our bakery sells fresh bread, cakes and pastries every day of the week."
    with BeamTestPipeline(runner="FnApiRunner") as p:
        settings = CCSettings(line_dedup=LineDedupSettings(mode="normalized", min_chars=50))
        result = p | beam.Create(docs) | CurateCC(settings, {"lid": {"path": lid_model}})  # no quality models
        assert_that(result.kept | beam.Map(lambda d: (d.id, d.text, d.lang)),
                    equal_to([("cc/1", en1_out, "en"), ("cc/3", en2_out, "en")]), label="kept")
        assert_that(rejection_summary(result.rejected), equal_to([
            ("cc/2", "exact_dedup", "duplicate_document"),
            ("cc/4", "lid", "lang"),
        ]), label="rejected")
        assert_that(result.stats, stats_equal([
            (("cc", "line_dedup", "mode:normalized"), (1, 0)),
            (("cc", "exact_dedup", "in"), (4, b(en1, en1.upper(), en2, fr))),
            (("cc", "exact_dedup", "kept"), (3, b(en1, en2, fr))),
            (("cc", "exact_dedup", "dropped:duplicate_document"), (1, b(en1.upper()))),
            (("cc", "line_dedup", "in"), (3, b(en1, en2, fr))),
            (("cc", "line_dedup", "kept"), (3, b(en1_out, en2_out, FRENCH))),
            (("cc", "line_dedup", "lines_in"), (6, b(en1, en2, fr))),
            (("cc", "line_dedup", "lines_removed"), (3, b(en1, en2, fr) - b(en1_out, en2_out, FRENCH))),
            (("cc", "lid", "in"), (3, b(en1_out, en2_out, FRENCH))),
            (("cc", "lid", "kept"), (2, b(en1_out, en2_out))),
            (("cc", "lid", "dropped:lang"), (1, b(FRENCH))),
            (("cc", "lid", "lang_before:en"), (2, b(en1_out, en2_out))),
            (("cc", "lid", "lang_before:fr"), (1, b(FRENCH))),
            (("cc", "lid", "lang_after:en"), (2, b(en1_out, en2_out))),
        ]), label="stats")


def test_curate_cc_in_mode_cc_net_chains_min_length_line_dedup_and_lid(lid_model):
    footer = "Subscribe to our newsletter for weekly updates"
    en1 = ENGLISH + "\n" + footer + "\n"  # as the cc_net reading leaves a WET page: a final empty line
    en2 = "Our bakery sells fresh bread, cakes and pastries every day of the week.\n" + footer + "\n"
    fr = FRENCH + "\n" + footer + "\n"
    short = "Too short"
    docs = [cc("1", en1), cc("2", en1.upper()), cc("3", en2), cc("4", fr), cc("5", short)]
    en2_out = "Our bakery sells fresh bread, cakes and pastries every day of the week."
    with BeamTestPipeline(runner="FnApiRunner") as p:
        settings = CCSettings(line_dedup=LineDedupSettings(min_chars=50))  # mode cc_net: the default
        result = p | beam.Create(docs) | CurateCC(settings, {"lid": {"path": lid_model}})
        # 1 and 2 differ only in case: every line shared, both go. The footer and the final
        # empty line are in every page.
        assert_that(result.kept | beam.Map(lambda d: (d.id, d.text, d.lang)), equal_to([("cc/3", en2_out, "en")]),
                    label="kept")
        assert_that(rejection_summary(result.rejected), equal_to([
            ("cc/1", "line_dedup", "empty"), ("cc/2", "line_dedup", "empty"),
            ("cc/4", "lid", "lang"), ("cc/5", "min_length", "too_short"),
        ]), label="rejected")
        assert_that(result.stats | beam.Filter(lambda kv: kv[0][2] in ("in", "kept")), equal_to([
            (("cc", "min_length", "in"), (5, b(en1, en1.upper(), en2, fr, short))),
            (("cc", "min_length", "kept"), (4, b(en1, en1.upper(), en2, fr))),
            (("cc", "line_dedup", "in"), (4, b(en1, en1.upper(), en2, fr))),
            (("cc", "line_dedup", "kept"), (2, b(en2_out, FRENCH))),
            (("cc", "lid", "in"), (2, b(en2_out, FRENCH))),
            (("cc", "lid", "kept"), (1, b(en2_out))),
        ]), label="stats")


def test_the_stage_list_and_the_reader_follow_the_mode():
    from pipeline.config import config_from
    from pipeline.sources.cc import SOURCE

    cc_net, normalized = config_from({}).cc, config_from({"cc": {"line_dedup": {"mode": "normalized"}}}).cc
    assert SOURCE.stages(cc_net) == ("min_length", "line_dedup", "lid", "perplexity", "wikiref")
    assert SOURCE.stages(normalized) == ("exact_dedup", "line_dedup", "lid", "perplexity", "wikiref")
    assert SOURCE.parser(cc_net).keywords["cc_net"] is True
    assert SOURCE.parser(normalized).keywords["cc_net"] is False


def test_the_summary_names_the_modes_that_ran():
    from pipeline.summary import assemble_stats, format_summary

    rows = [
        (("cc", "read", "documents"), (2, 20)),
        (("cc", "min_length", "in"), (2, 20)), (("cc", "min_length", "kept"), (2, 20)),
        (("cc", "line_dedup", "in"), (2, 20)), (("cc", "line_dedup", "kept"), (2, 20)),
        (("cc", "line_dedup", "mode:cc_net"), (1, 0)),
        (("cc", "perplexity", "in"), (2, 20)), (("cc", "perplexity", "kept"), (2, 20)),
        (("cc", "perplexity", "scoring:cc_net"), (1, 0)),
    ]
    text = format_summary(assemble_stats(rows, {"cc": ["read", "min_length", "line_dedup", "perplexity"]}))
    assert "mode cc_net: cc_net's deduplicate_two_pass" in text
    assert "scoring cc_net: cc_net's SentencePiece.do + DocLM.do" in text


# ---------------------------------------------------------------- the quality stages, from the cards

def test_the_quality_stages_follow_with_the_models_of_the_cards(quality_models, lid_model):
    lms, model_path = quality_models
    sp, lm = lms["en"]
    cards = {"perplexity": {"en": {"sentencepiece": {"path": sp}, "kenlm": {"path": lm}}},
             "wikiref": {"path": model_path}, "lid": {"path": lid_model}}
    perplexity = PerplexitySettings(cutoffs={"en": (1e9, 1e9)}, sample_size=100)
    docs = wiki_docs()  # no "a"/"b" words: all head with these cutoffs
    scores = wiki_scores(model_path, docs)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | run_stages_of(quality_stages("cc", perplexity, WikirefSettings(threshold=0.5),
                                                                      cards))
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


def test_a_stage_without_a_model_is_skipped_not_faked(quality_models):
    lms, model_path = quality_models
    sp, lm = lms["en"]
    assert quality_stages("cc", PerplexitySettings(), WikirefSettings(), {}) == []
    only_lm = quality_stages("cc", PerplexitySettings(), WikirefSettings(),
                             {"perplexity": {"en": {"sentencepiece": {"path": sp}, "kenlm": {"path": lm}}}})
    assert [label for label, _ in only_lm] == ["Perplexity"]
    only_classifier = quality_stages("cc", PerplexitySettings(), WikirefSettings(), {"wikiref": {"path": model_path}})
    assert [label for label, _ in only_classifier] == ["WikiRef"]


class run_stages_of(beam.PTransform):  # noqa: N801 (reads as a function at the call site)
    def __init__(self, stages):
        super().__init__()
        self._stages = stages

    def expand(self, docs):
        return run_stages(docs, self._stages)
