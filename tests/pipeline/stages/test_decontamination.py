"""The decontamination stage on Beam's FnApiRunner: eval files in, contaminated documents out of every
source, the corpus-wide too-common rule, the flag action."""
import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # not collected by pytest
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from filters.decontamination import normalize_words
from filters.document import Document
from pipeline.config import config_from
from pipeline.stages import decontamination
from tests.pipeline.beam_checks import b, check_balanced, stage_results

ORATION = ("Friends, Romans, countrymen, lend me your ears; I come to bury Caesar, not to praise him. "
           "The evil that men do lives after them; The good is oft interred with their bones.")
MOTTO = "Beware the ides of March, said the soothsayer to Caesar in the street of Rome."  # 16 words
STORM = "Against the Capitol I met a lion, who glared upon me and went surly by without annoying me."


@pytest.fixture
def eval_files(tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"text": f"Who says: {ORATION}", "answer": "Antony"}) + "\n"
                  + json.dumps({"text": "Et tu, Brute?", "answer": "Caesar"}) + "\n")
    passages = tmp_path / "passages.txt"
    passages.write_text(f"{STORM}\n\n{MOTTO}\n")
    return {"qa": [str(qa)], "passages": [str(tmp_path / "pass*.txt")]}


def doc(source: str, n: int, text: str) -> Document:
    return Document(id=f"{source}/{n:02d}", source=source, text=text, meta={"n": n})


def run(config, docs_by_source, checks):
    with BeamTestPipeline(runner="FnApiRunner") as p:
        results = stage_results(p, docs_by_source)
        out = decontamination.apply(results, config)
        checks(out)


def test_contaminated_documents_are_dropped_from_every_source(eval_files):
    config = config_from({"decontamination": {"eval_sets": eval_files}})
    web = [doc("cc", 1, "A blog: " + ORATION.upper().replace(";", " --")),
           doc("cc", 2, "Nothing to see here, only the weather in Rome today, sunny and warm."),
           doc("cc", 3, "He cried: et tu, Brute! and fell.")]
    books = [doc("books", 1, f"ACT I. {STORM} Exit all."), doc("books", 2, "A tale of two cities.")]

    def checks(out):
        assert_that(out["cc"].kept | "KeptCC" >> beam.Map(lambda d: d.id), equal_to(["cc/02"]), label="keptcc")
        assert_that(out["books"].kept | "KeptBooks" >> beam.Map(lambda d: d.id), equal_to(["books/02"]),
                    label="keptbooks")
        rejected = (out["cc"].rejected, out["books"].rejected) | beam.Flatten()
        assert_that(rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta["contaminated_by"],
                                                   r.doc.meta["n"])),
                    equal_to([("cc/01", "decontamination", "contaminated", [{"eval_set": "qa", "index": 0}], 1),
                              ("cc/03", "decontamination", "contaminated", [{"eval_set": "qa", "index": 1}], 3),
                              ("books/01", "decontamination", "contaminated",
                               [{"eval_set": "passages", "index": 0}], 1)]), label="rejected")

        def stats(rows):
            check_balanced(rows)
            got = dict(rows)
            want = {("cc", "decontamination", "in"): (3, b(*[d.text for d in web])),
                    ("cc", "decontamination", "dropped:contaminated"): (2, b(web[0].text, web[2].text)),
                    ("cc", "decontamination", "contaminated_by:qa"): (2, b(web[0].text, web[2].text)),
                    ("books", "decontamination", "contaminated_by:passages"): (1, b(books[0].text)),
                    ("books", "decontamination", "eval_examples:passages"): (2, 0),
                    ("books", "decontamination", "eval_examples:qa"): (2, 0)}
            for key, value in want.items():
                if got.get(key) != value:
                    raise BeamAssertException(f"{key}: {got.get(key)} != {value}")

        assert_that(tuple(o.stats for o in out.values()) | "AllStats" >> beam.Flatten(), stats, label="stats")

    run(config, {"cc": web, "books": books}, checks)


def test_ngrams_in_more_than_max_ngram_docs_documents_are_ignored_and_reported(eval_files):
    """MOTTO's 13-grams are in 3 documents across two sources: with max_ngram_docs 2 they are too
    common, so only a document that also quotes STORM is contaminated."""
    config = config_from({"decontamination": {"eval_sets": eval_files, "max_ngram_docs": 2}})
    web = [doc("cc", 1, f"Motto: {MOTTO}"), doc("cc", 2, f"{MOTTO} And also: {STORM}")]
    books = [doc("books", 1, MOTTO)]
    first = " ".join(normalize_words(MOTTO)[:13])

    def checks(out):
        assert_that(out["cc"].kept | "KeptCC" >> beam.Map(lambda d: d.id), equal_to(["cc/01"]), label="keptcc")
        assert_that(out["books"].kept | "KeptBooks" >> beam.Map(lambda d: d.id), equal_to(["books/01"]),
                    label="keptbooks")
        assert_that(out["cc"].rejected | beam.Map(lambda r: (r.doc.id, r.doc.meta["contaminated_by"])),
                    equal_to([("cc/02", [{"eval_set": "passages", "index": 0}])]), label="rejected")

        def stats(rows):
            check_balanced(rows)
            got = dict(rows)
            if got.get(("cc", "decontamination", f"too_common:{first}")) != (2, 0):
                raise BeamAssertException(f"cc too_common: {sorted(k for k in got if 'too_common' in k[2])}")
            if got.get(("books", "decontamination", f"too_common:{first}")) != (1, 0):
                raise BeamAssertException("books too_common")

        assert_that(tuple(o.stats for o in out.values()) | "AllStats" >> beam.Flatten(), stats, label="stats")

    run(config, {"cc": web, "books": books}, checks)


def test_flag_keeps_the_document_and_marks_it(eval_files):
    config = config_from({"decontamination": {"eval_sets": eval_files, "action": "flag"}})
    docs = [doc("c4", 1, ORATION), doc("c4", 2, "clean text")]

    def checks(out):
        assert_that(out["c4"].kept | beam.Map(lambda d: (d.id, d.meta.get("contaminated_by"))),
                    equal_to([("c4/01", [{"eval_set": "qa", "index": 0}]), ("c4/02", None)]), label="kept")
        assert_that(out["c4"].rejected, equal_to([]), label="rejected")

        def stats(rows):
            check_balanced(rows)
            got = dict(rows)
            if got[("c4", "decontamination", "flagged")] != (1, b(ORATION)) or \
                    got[("c4", "decontamination", "kept")] != (2, b(ORATION, "clean text")):
                raise BeamAssertException(str(got))

        assert_that(out["c4"].stats, stats, label="stats")

    run(config, {"c4": docs}, checks)


def test_a_bad_eval_setting_names_its_key(tmp_path):
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="decontamination.eval_sets.qa lists no file"):
        config_from({"decontamination": {"eval_sets": {"qa": []}}})
    config = config_from({"decontamination": {"eval_sets": {"qa": [str(tmp_path / "missing*.jsonl")]}}})
    with pytest.raises(FileNotFoundError, match="decontamination.eval_sets.qa: no file matches"):
        decontamination.build_index(beam.Pipeline(), config.decontamination)


def test_the_summary_reports_sets_contamination_and_common_ngrams():
    lines = decontamination.summary_lines("decontamination", {
        "eval_examples": {"qa": 2}, "eval_ngrams": {"qa": 20}, "contaminated_by": {"qa": 3},
        "too_common": {"the quick brown fox": 12}})
    assert "qa (2 examples, 20 n-grams)" in lines[0]
    assert lines[1].strip() == "contaminated documents by eval set: qa 3"
    assert '"the quick brown fox" 12' in lines[2]
