"""The LID stage on Beam's FnApiRunner, with the real lid.176 model."""
import apache_beam as beam
from apache_beam.testing.test_pipeline import (
    TestPipeline as BeamTestPipeline,  # alias: pytest would try to collect Test*
)
from apache_beam.testing.util import assert_that, equal_to

from filters.document import Document
from pipeline.stages.lid import LanguageId, LidSettings
from tests.pipeline.beam_checks import b, stats_equal


def cc(doc_id: str, text: str, **kw) -> Document:
    return Document(id=f"cc/{doc_id}", source="cc", text=text, **kw)


def rejection_summary(rejected):
    return rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason))


# ------------------------------------------------------------ language id

ENGLISH = (
    "The library opens at nine in the morning and closes at six in the evening. "
    "Members can borrow up to five books at a time and renew them online."
)
FRENCH = (
    "La bibliothèque ouvre à neuf heures du matin et ferme à six heures du soir. "
    "Les membres peuvent emprunter jusqu'à cinq livres à la fois."
)
NUMBERS = "12 345\n678 90\n2024"


def test_language_id_keeps_english_and_reports_languages(lid_model):
    docs = [cc("en", ENGLISH), cc("fr", FRENCH), cc("num", NUMBERS), cc("empty", " \n ")]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | LanguageId("cc", LidSettings(), lid_model)
        assert_that(
            result.kept | beam.Map(lambda d: (d.id, d.text, d.lang, d.lang_score > 0.5)),
            equal_to([("cc/en", ENGLISH, "en", True)]),
            label="kept",
        )
        assert_that(
            result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.lang)),
            equal_to([
                ("cc/fr", "lid", "lang", "fr"),
                ("cc/num", "lid", "lang_score_low", "en"),
                ("cc/empty", "lid", "empty", None),
            ]),
            label="rejected",
        )
        assert_that(result.stats, stats_equal([
            (("cc", "lid", "in"), (4, b(ENGLISH, FRENCH, NUMBERS, " \n "))),
            (("cc", "lid", "kept"), (1, b(ENGLISH))),
            (("cc", "lid", "dropped:lang"), (1, b(FRENCH))),
            (("cc", "lid", "dropped:lang_score_low"), (1, b(NUMBERS))),
            (("cc", "lid", "dropped:empty"), (1, b(" \n "))),
            (("cc", "lid", "lang_before:en"), (2, b(ENGLISH, NUMBERS))),
            (("cc", "lid", "lang_before:fr"), (1, b(FRENCH))),
            (("cc", "lid", "lang_after:en"), (1, b(ENGLISH))),
        ]), label="stats")


def test_language_id_does_not_mutate_its_input(lid_model):
    original = cc("en", ENGLISH)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        docs = p | beam.Create([original])
        result = docs | LanguageId("cc", LidSettings(), lid_model)
        # The input PCollection, read after the stage ran on the same elements.
        assert_that(docs | beam.Map(lambda d: d.lang), equal_to([None]), label="input")
        assert_that(result.kept | beam.Map(lambda d: d.lang), equal_to(["en"]), label="kept")
