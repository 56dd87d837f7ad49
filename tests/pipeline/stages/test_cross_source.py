"""Cross-source dedup on Beam: a copy in a lower-priority source goes, the top copy stays,
duplicates inside one source and unlisted sources are left alone; settings checked."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # not collected by pytest
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from filters.document import Document
from pipeline.config import ConfigError, config_from
from pipeline.curate import stage_order
from pipeline.sources import CROSS_SOURCE
from pipeline.stages.cross_source import apply, summary_lines
from tests.pipeline.beam_checks import check_balanced, stage_results
from tests.pipeline.stages.test_near_dedup_components import replaced, words

ARTICLE = words(0, 300)
MIRROR = " ".join(["Mirror site header line"] + replaced(ARTICLE, 150, 8, 9_000))  # ~0.9 of the article
PAGE = " ".join(words(5_000, 250))
OWN = " ".join(words(8_000, 250))


def doc(source: str, name: str, text: str) -> Document:
    return Document(id=f"{source}/{name}", source=source, text=text)


DOCS = {
    "wikipedia": [doc("wikipedia", "en/1", " ".join(ARTICLE)), doc("wikipedia", "en/2", OWN)],
    "c4": [doc("c4", "p1", PAGE), doc("c4", "p2", PAGE)],  # a duplicate inside C4: not this stage's job
    "cc": [doc("cc", "x1", MIRROR), doc("cc", "x2", PAGE), doc("cc", "x3", " ".join(words(20_000, 200)))],
    "github": [doc("github", "f1", PAGE)],  # not in the priority list below: takes no part
}


def test_a_lower_source_loses_its_copies_to_the_higher_one():
    config = config_from({"dedup": {"cross_source": {"enabled": True, "priority": ["wikipedia", "c4", "cc"]}}})
    [stage] = [s for s in CROSS_SOURCE if s.name == "cross_source"]
    assert stage.name == "cross_source" and stage.enabled(config) and not stage.enabled(config_from({}))
    with BeamTestPipeline(runner="FnApiRunner") as p:
        results = stage_results(p, DOCS)
        out = apply(results, config)
        ids = lambda name: out[name].kept | f"Ids_{name}" >> beam.Map(lambda d: d.id)  # noqa: E731
        assert_that(ids("wikipedia"), equal_to(["wikipedia/en/1", "wikipedia/en/2"]), label="wikipedia")
        assert_that(ids("c4"), equal_to(["c4/p1", "c4/p2"]), label="c4")
        assert_that(ids("cc"), equal_to(["cc/x3"]), label="cc")
        assert_that(ids("github"), equal_to(["github/f1"]), label="github")
        assert_that(out["cc"].rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta["duplicate_of"])),
                    equal_to([("cc/x1", "cross_source", "in_other_source", "wikipedia/en/1"),
                              ("cc/x2", "cross_source", "in_other_source", "c4/p1")]), label="rejected")

        def check_cc(rows):
            check_balanced(rows)
            got = {key[2]: value[0] for key, value in rows}
            want = {"in": 3, "kept": 1, "dropped:in_other_source": 2, "duplicate_of:wikipedia": 1,
                    "duplicate_of:c4": 1}
            if any(got.get(k) != v for k, v in want.items()) or any(key[0] != "cc" for key, _ in rows):
                raise BeamAssertException(f"cc rows {rows}")

        assert_that(out["cc"].stats, check_cc, label="cc stats")
        assert_that(out["github"].stats, equal_to([]), label="github untouched")


def test_with_one_source_taking_part_nothing_changes():
    config = config_from({"dedup": {"cross_source": {"enabled": True, "priority": ["cc"]}}})
    results = {"cc": object()}
    assert apply(results, config) is results


def test_the_stage_is_last_for_every_source_when_enabled():
    no_classifier = {"cc": {"wikiref": {"enabled": False}}}
    config = config_from({"inputs": {"cc": ["x.warc.wet.gz"], "wikipedia": ["w.xml.bz2"]},
                          "dedup": {"cross_source": {"enabled": True}}, **no_classifier})
    assert [stages[-1] for stages in stage_order(config).values()] == ["cross_source", "cross_source"]
    assert "cross_source" not in stage_order(config_from({"inputs": {"cc": ["x.warc.wet.gz"]}, **no_classifier}))["cc"]


def test_the_summary_names_the_source_that_kept_the_text():
    entry = {"duplicate_of": {"wikipedia": 1, "c4": 1}}
    assert summary_lines("cross_source", entry) == [
        " " * 15 + "in_other_source, by the source that keeps the text: wikipedia 1, c4 1"]


@pytest.mark.parametrize("override, message", [
    ({"enabled": "yes"}, "dedup.cross_source.enabled must be true or false"),
    ({"threshold": 0}, "dedup.cross_source.threshold must be in (0.0, 1.0]"),
    ({"priority": ["wikipedia", "web"]}, "dedup.cross_source.priority names unknown sources ['web']"),
    ({"priority": ["cc", "c4", "cc"]}, "dedup.cross_source.priority lists ['cc'] more than once"),
    ({"num_perm": 0}, "dedup.cross_source.num_perm must be >= 1"),
    ({"bands": 30}, "dedup.cross_source.bands * rows (30 * 6) must not exceed num_perm (128)"),
    ({"rows": 0}, "dedup.cross_source.rows must be >= 1"),
    ({"shingle_size": 0}, "dedup.cross_source.shingle_size must be >= 1"),
    ({"seed": "one"}, "dedup.cross_source.seed must be an integer"),
    ({"max_bucket_size": 1}, "dedup.cross_source.max_bucket_size must be >= 2"),
    ({"treshold": 0.5}, "did you mean 'threshold'"),
])
def test_bad_settings_name_their_key(override, message):
    with pytest.raises(ConfigError) as error:
        config_from({"dedup": {"cross_source": override}})
    assert message in str(error.value)
