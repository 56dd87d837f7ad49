"""StackExchange reader (real FAQ sample, plain and .7z; broken files) and pairing on Beam."""
import html
import io
import re
import shutil

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.readers.base import Malformed
from pipeline.readers.stackexchange import parse_posts, parse_tags, site_of
from pipeline.config import config_from
from pipeline.curate import curate_source
from samples import build_code_qa_tex as sample

FAQ = sample.FAQ_SITE
EDGE = sample.EDGE_SITE


@pytest.fixture(scope="module")
def out():
    return sample.build()  # cached: a no-op when data/sample is up to date


def parse(path, data=None):
    if data is None:
        with open(path, "rb") as f:
            return list(parse_posts(str(path), f))
    return list(parse_posts(str(path), io.BytesIO(data)))


def split(items):
    return [i for i in items if not isinstance(i, Malformed)], [i for i in items if isinstance(i, Malformed)]


def test_site_from_path():
    assert site_of("/dumps/stackoverflow.com/Posts.xml") == "stackoverflow.com"
    assert site_of("gs://b/math.stackexchange.com.7z") == "math.stackexchange.com"
    assert site_of("stackoverflow.com-Posts.7z") == "stackoverflow.com"
    assert site_of("Posts.xml") is None
    assert parse_tags("<python><regex>") == ["python", "regex"] and parse_tags("|a|b-c|") == ["a", "b-c"]


def test_faq_sample_plain_and_7z_agree_and_match_the_xml(out):
    plain = out / "stackexchange_plain" / FAQ / "Posts.xml"
    docs, bad = split(parse(plain))
    docs7, bad7 = split(parse(out / "stackexchange" / f"{FAQ}.7z"))
    assert bad == bad7 == []
    assert [(d.id, d.text, d.meta["score"]) for d in docs] == [(d.id, d.text, d.meta["score"]) for d in docs7]
    # Independently of the reader: count rows and read the first title with a regex.
    raw = plain.read_text(encoding="utf-8")
    assert len(docs) == raw.count("<row ") == 2 * sample.faq_posts_xml()[1]
    first_title = html.unescape(re.search(r'Title="([^"]*)"', raw).group(1))
    assert docs[0].meta["title"] == first_title and docs[0].meta["post_type"] == 1
    assert docs[1].meta["parent_id"] == docs[0].meta["post_id"] and docs[1].text.startswith("<")


def test_malformed_rows_are_counted_with_offsets(tmp_path):
    good = b'  <row Id="1" PostTypeId="1" Score="2" Title="T" Body="&lt;p&gt;q&lt;/p&gt;" />\r\n'
    bad_xml = b'  <row Id="2" PostTypeId="2" ParentId="1" Body="unterminated />\r\n'
    bad_utf8 = b'  <row Id="3" PostTypeId="2" ParentId="1" Score="1" Body="caf\xe9" />\r\n'
    no_id = b'  <row PostTypeId="2" ParentId="1" Body="x" />\r\n'
    bad_score = b'  <row Id="5" PostTypeId="2" ParentId="1" Score="ten" Body="x" />\r\n'
    answer = b'  <row Id="6" PostTypeId="2" ParentId="1" Score="1" Body="a" />\r\n'
    head = b'<?xml version="1.0" encoding="utf-8"?>\r\n<posts>\r\n'
    data = head + good + bad_xml + bad_utf8 + no_id + bad_score + answer + b"</posts>\r\n"
    docs, bad = split(parse(tmp_path / "s.stackexchange.com" / "Posts.xml", data))
    assert [d.meta["post_id"] for d in docs] == [1, 6]
    offsets = [len(head + good), len(head + good + bad_xml), len(head + good + bad_xml + bad_utf8),
               len(head + good + bad_xml + bad_utf8 + no_id)]
    assert [m.offset for m in bad] == offsets
    assert "bad <row>" in bad[0].error and "not valid UTF-8" in bad[1].error
    assert "no Id" in bad[2].error and "Score='ten' is not an integer" in bad[3].error
    assert all(m.error.startswith(f"byte {o}:") for m, o in zip(bad, offsets))


def test_truncated_plain_posts(tmp_path, out):
    data = (out / "stackexchange_plain" / FAQ / "Posts.xml").read_bytes()
    cut = data[: len(data) // 2]
    docs, bad = split(parse(tmp_path / FAQ / "Posts.xml", cut))
    assert 0 < len(docs) < 350 and len(bad) == 1
    assert bad[0].offset == cut.rindex(b"\n") + 1 and "not a <row>" not in bad[0].error
    assert "bad <row>" in bad[0].error or "truncated" in bad[0].error


def test_truncated_7z_is_one_malformed(tmp_path, out):
    data = (out / "stackexchange" / f"{FAQ}.7z").read_bytes()
    items = parse(tmp_path / f"{FAQ}.7z", data[: len(data) // 2])
    assert len(items) == 1 and isinstance(items[0], Malformed) and "cannot decompress" in items[0].error


def test_7z_without_posts_xml(tmp_path):
    sample.write_7z(tmp_path / "x.stackexchange.com.7z", "Users.xml", b"<users />")
    items = parse(tmp_path / "x.stackexchange.com.7z")
    assert len(items) == 1 and "no Posts.xml" in items[0].error


def test_stopping_early_ends_the_7z_thread(out):
    import threading
    before = threading.active_count()
    with open(out / "stackexchange" / f"{FAQ}.7z", "rb") as f:
        gen = parse_posts(f"{FAQ}.7z", f)
        next(gen)
        gen.close()
    assert threading.active_count() == before


def config(inputs, sites=None):
    return config_from({"inputs": {"stackexchange": inputs}, "stackexchange": {"sites": sites}})


def test_edge_cases_on_beam(out, tmp_path):
    # The fixture twice over would duplicate every post: give one copy of it plus the FAQ.
    inputs = [str(out / "stackexchange" / EDGE / "Posts.xml"), str(out / "stackexchange" / f"{FAQ}.7z")]
    with TestPipeline(runner="FnApiRunner") as p:
        result, read_stats = curate_source(p, config(inputs, sites=[EDGE, FAQ]), "stackexchange", {})
        edge_kept = result.kept | beam.Filter(lambda d: d.meta["site"] == EDGE)
        assert_that(edge_kept | beam.Map(lambda d: (d.id, d.meta["answer_ids"])), equal_to([
            (f"stackexchange/{EDGE}/10", [13, 12, 11, 14]),  # scores 100, 10, 9, -1: numeric order
            (f"stackexchange/{EDGE}/20", [22, 21]),  # tie at 5: the accepted answer first
            (f"stackexchange/{EDGE}/60", [62, 61]),  # -1 before -3
        ]), label="edge_kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason)), equal_to([
            (f"stackexchange/{EDGE}/30", "stackexchange", "no_answers"),
            (f"stackexchange/{EDGE}/41", "stackexchange", "orphan_answer"),
            (f"stackexchange/{EDGE}/50", "stackexchange", "post_type"),
            (f"stackexchange/{EDGE}/51", "stackexchange", "post_type"),
        ]), label="rejected")
        faq_count = result.kept | beam.Filter(lambda d: d.meta["site"] == FAQ) | beam.combiners.Count.Globally()
        assert_that(faq_count, equal_to([sample.faq_posts_xml()[1]]), label="faq")
        text20 = result.kept | beam.Filter(lambda d: d.id.endswith("/20")) | beam.Map(lambda d: d.text)
        assert_that(text20, equal_to([
            "Q: What do &, < and > mean in HTML?\n\n"
            "I see &amp; and &lt;p&gt; in pages \u2014 what are they?\n\n"
            "A: They are entities; browsers decode them.\n\n"
            "A: Character references: &amp; is &, &lt; is <, &#8212; is \u2014."]), label="text20")
        stats = result.stats | beam.Filter(lambda kv: kv[0][1] == "pairing")
        n_faq = sample.faq_posts_xml()[1]
        assert_that(stats | beam.Map(lambda kv: (kv[0][2], kv[1][0])), equal_to([
            ("posts", 15 + 2 * n_faq), ("answers_paired", 8 + n_faq)]), label="pair_stats")


def test_site_not_selected_and_duplicate_dump(out, tmp_path):
    edge = out / "stackexchange" / EDGE / "Posts.xml"
    (tmp_path / "copy" / EDGE).mkdir(parents=True)
    shutil.copy(edge, tmp_path / "copy" / EDGE / "Posts.xml")
    both = [str(edge), str(tmp_path / "copy" / EDGE / "Posts.xml")]
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config(both, sites=[EDGE]), "stackexchange", {})
        reasons = result.rejected | beam.Map(lambda r: r.reason) | beam.combiners.Count.PerElement()
        # The second copy's 15 posts repeat the first's ids.
        assert_that(reasons, equal_to([("duplicate_post", 15), ("no_answers", 1), ("orphan_answer", 1),
                                       ("post_type", 2)]), label="dups")
        assert_that(result.kept | beam.combiners.Count.Globally(), equal_to([3]), label="kept")
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config([str(edge)], sites=["stackoverflow.com"]), "stackexchange", {})
        reasons = result.rejected | beam.Map(lambda r: r.reason) | beam.combiners.Count.PerElement()
        # 3 threads, 1 unanswered question, 1 orphan, 2 tag wikis: all from another site.
        assert_that(reasons, equal_to([("site_not_selected", 7)]))
