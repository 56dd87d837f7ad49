"""The url_filter stage on Beam's FnApiRunner, and its place at the head of the CC and C4 chains."""
import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # not collected by pytest
from apache_beam.testing.util import assert_that, equal_to

from filters.document import Document
from pipeline.config import config_from
from pipeline.curate import stage_order
from pipeline.stages.url_filter import UrlFilter, UrlFilterSettings, summary_lines
from tests.pipeline.beam_checks import b, stats_equal


def page(n: int, url: str | None, text: str) -> Document:
    return Document(id=f"cc/{n}", source="cc", text=text, url=url)


def test_listed_domains_and_their_subdomains_are_dropped_with_counts(tmp_path):
    (tmp_path / "adult").mkdir()
    (tmp_path / "adult" / "domains").write_text("ohchr.org\nexample.com\nnot a domain\n")
    (tmp_path / "extra.txt").write_text("# a hosts-style comment\n.198.51.100.7\n")
    docs = [page(1, "https://www.ohchr.org/en/udhr", "copy one"), page(2, "http://example.com/", "example"),
            page(3, "https://unicode.org/udhr/", "the original"), page(4, None, "no url"),
            page(5, "http://198.51.100.7/x", "by address"), page(6, "https://ohchr.org.evil.test/", "look-alike")]
    settings = UrlFilterSettings(blocklists=(str(tmp_path / "adult" / "domains"), str(tmp_path / "*.txt")))
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | UrlFilter("cc", settings)
        assert_that(result.kept | beam.Map(lambda d: d.id), equal_to(["cc/3", "cc/4", "cc/6"]), label="kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta["blocked_by"])),
                    equal_to([("cc/1", "url_filter", "url_blocklist", "ohchr.org"),
                              ("cc/2", "url_filter", "url_blocklist", "example.com"),
                              ("cc/5", "url_filter", "url_blocklist", "198.51.100.7")]), label="rejected")
        all_texts = [d.text for d in docs]
        assert_that(result.stats, stats_equal([
            (("cc", "url_filter", "in"), (6, b(*all_texts))),
            (("cc", "url_filter", "kept"), (3, b("the original", "no url", "look-alike"))),
            (("cc", "url_filter", "dropped:url_blocklist"), (3, b("copy one", "example", "by address"))),
            (("cc", "url_filter", "blocked_domain:ohchr.org"), (1, b("copy one"))),
            (("cc", "url_filter", "blocked_domain:example.com"), (1, b("example"))),
            (("cc", "url_filter", "blocked_domain:198.51.100.7"), (1, b("by address"))),
            (("cc", "url_filter", "no_url"), (1, b("no url"))),
            (("cc", "url_filter", "list_entries:adult/domains"), (3, 0)),  # "not a domain" is a line too
            (("cc", "url_filter", f"list_entries:{tmp_path.name}/extra.txt"), (1, 0)),
        ]), label="stats")


def test_the_stage_opens_the_cc_and_c4_chains_only_when_lists_are_given(tmp_path):
    inputs = {"cc": ["x.warc.wet.gz"], "c4": ["x.json.gz"], "books": ["x.txt"]}
    no_wikiref = {"wikiref": {"enabled": False}}  # it would ask for reference URLs
    off = config_from({"inputs": inputs, "cc": no_wikiref})
    assert "url_filter" not in sum(stage_order(off).values(), [])
    on = config_from({"inputs": inputs, "cc": no_wikiref, "url_filter": {"blocklists": ["domains"]}})
    order = stage_order(on)
    assert order["cc"][:3] == ["read", "url_filter", "min_length"]
    assert order["c4"][:2] == ["read", "url_filter"] and "url_filter" not in order["books"]
    books_too = config_from({"inputs": inputs, "cc": no_wikiref, "url_filter": {"blocklists": ["domains"], "sources": ["books"]}})
    assert "url_filter" in stage_order(books_too)["books"] and "url_filter" not in stage_order(books_too)["cc"]


def test_the_summary_lists_the_top_blocked_domains():
    lines = summary_lines("url_filter", {"list_entries": {"adult/domains": 3},
                                         "blocked_domain": {"ohchr.org": 6, "example.com": 4}})
    assert "adult/domains (3 entries)" in lines[0]
    assert lines[1].strip() == "top blocked domains: ohchr.org 6, example.com 4"
