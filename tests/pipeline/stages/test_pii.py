"""The pii stage on Beam's FnApiRunner: masks counted per type and source, only where pii.sources says."""
import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # not collected by pytest
from apache_beam.testing.util import assert_that, equal_to

from filters.document import Document
from pipeline.config import ConfigError, config_from
from pipeline.stages import pii
from tests.pipeline.beam_checks import b, stage_results, stats_equal

WEB = "Write to docs@python.org or call (801) 596-1887; Python 3.10.2 runs on 10.0.0.1."
MASKED = "Write to |||EMAIL_ADDRESS||| or call |||PHONE_NUMBER|||; Python 3.10.2 runs on |||IP_ADDRESS|||."
CODE = "# Copyright 2020 Jane Doe <jane@example.org>\n# Licensed under the MIT License.\n\nHOST = '127.0.0.1'\n"
CODE_MASKED = CODE.replace("127.0.0.1", "|||IP_ADDRESS|||")
CLEAN = "Nothing personal here, version 1.2.3 only."


def run(config, docs_by_source, checks):
    with BeamTestPipeline(runner="FnApiRunner") as p:
        results = stage_results(p, docs_by_source)
        checks(pii.apply(results, config))


def test_pii_is_masked_and_counted_per_type_in_the_sources_listed():
    config = config_from({"pii": {"emails": True, "ip_addresses": True, "phone_numbers": True,
                                  "sources": ["cc", "github"]}})
    web = [Document(id="cc/1", source="cc", text=WEB), Document(id="cc/2", source="cc", text=CLEAN)]
    code = [Document(id="github/1", source="github", text=CODE, meta={"path": "setup.py"})]
    books = [Document(id="books/1", source="books", text=WEB)]

    def checks(out):
        assert_that(out["cc"].kept | "TextCC" >> beam.Map(lambda d: (d.id, d.text, d.meta.get("pii_masked"))),
                    equal_to([("cc/1", MASKED, {"email_address": 1, "ip_address": 1, "phone_number": 1}),
                              ("cc/2", CLEAN, None)]), label="cc")
        assert_that(out["github"].kept | "TextGithub" >> beam.Map(lambda d: d.text), equal_to([CODE_MASKED]),
                    label="github")
        assert_that(out["books"].kept | "TextBooks" >> beam.Map(lambda d: d.text), equal_to([WEB]),
                    label="books untouched")
        assert_that(out["cc"].stats, stats_equal([
            (("cc", "pii", "in"), (2, b(WEB, CLEAN))),
            (("cc", "pii", "kept"), (2, b(MASKED, CLEAN))),
            (("cc", "pii", "documents_masked"), (1, b(WEB))),
            (("cc", "pii", "pii_masked:email_address"), (1, 0)),
            (("cc", "pii", "pii_masked:ip_address"), (1, 0)),
            (("cc", "pii", "pii_masked:phone_number"), (1, 0)),
        ]), label="cc stats")
        assert_that(out["github"].stats, stats_equal([
            (("github", "pii", "in"), (1, b(CODE))),
            (("github", "pii", "kept"), (1, b(CODE_MASKED))),
            (("github", "pii", "documents_masked"), (1, b(CODE))),
            (("github", "pii", "pii_masked:ip_address"), (1, 0)),
            (("github", "pii", "pii_kept_in_license_header:email_address"), (1, 0)),
        ]), label="github stats")
        assert_that(out["books"].stats, equal_to([]), label="books stats")

    run(config, {"cc": web, "github": code, "books": books}, checks)


def test_switches_and_sources_decide_whether_the_stage_runs():
    assert not config_from({}).pii.enabled
    assert not config_from({"pii": {"emails": True, "sources": []}}).pii.enabled
    every = config_from({"pii": {"ip_addresses": True}}).pii
    assert every.enabled and every.applies("wikipedia")
    with pytest.raises(ConfigError, match="pii.sources names unknown sources"):
        config_from({"pii": {"emails": True, "sources": ["web"]}})
