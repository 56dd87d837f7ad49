"""StackExchange reader (real FAQ sample, plain and .7z; broken files), pairing and site ranking on Beam."""
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
from pipeline.config import ConfigError, config_from
from pipeline.curate import curate_source
from pipeline.sources import stackexchange as se_source
from pipeline.summary import assemble_stats
from pipeline.store import Store
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


def config(inputs, **section):
    return config_from({"inputs": {"stackexchange": inputs}, "stackexchange": section})


def test_edge_cases_on_beam(out, tmp_path):
    # The fixture twice over would duplicate every post: give one copy of it plus the FAQ.
    inputs = [str(out / "stackexchange" / EDGE / "Posts.xml"), str(out / "stackexchange" / f"{FAQ}.7z")]
    with TestPipeline(runner="FnApiRunner") as p:
        result, read_stats = curate_source(p, config(inputs, sites=[EDGE, FAQ]), "stackexchange", {})
        edge_kept = result.kept | beam.Filter(lambda d: d.meta["site"] == EDGE)
        assert_that(edge_kept | beam.Map(lambda d: (d.id, d.meta["answer_ids"])), equal_to([
            (f"stackexchange/{EDGE}/10", [13, 12, 11, 14]),  # scores 100, 10, 9, -1: numeric order
            (f"stackexchange/{EDGE}/20", [22, 21]),  # tie at 5: the accepted answer first
            (f"stackexchange/{EDGE}/30", []),  # unanswered: kept by default, as RedPajama
            (f"stackexchange/{EDGE}/60", [62, 61]),  # -1 before -3
        ]), label="edge_kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason)), equal_to([
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
        result, _ = curate_source(p, config(both, sites=[EDGE], keep_unanswered=False), "stackexchange", {})
        reasons = result.rejected | beam.Map(lambda r: r.reason) | beam.combiners.Count.PerElement()
        # The second copy's 15 posts repeat the first's ids.
        assert_that(reasons, equal_to([("duplicate_post", 15), ("no_answers", 1), ("orphan_answer", 1),
                                       ("post_type", 2)]), label="dups")
        assert_that(result.kept | beam.combiners.Count.Globally(), equal_to([3]), label="kept")
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config([str(edge)], sites=["stackoverflow.com"]), "stackexchange", {})
        reasons = result.rejected | beam.Map(lambda r: r.reason) | beam.combiners.Count.PerElement()
        # 4 threads (one unanswered), 1 orphan, 2 tag wikis: all from another site.
        assert_that(reasons, equal_to([("site_not_selected", 7)]))


def test_unanswered_questions_kept_by_default_dropped_when_asked(out):
    edge = [str(out / "stackexchange" / EDGE / "Posts.xml")]
    q30 = f"stackexchange/{EDGE}/30"
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config(edge), "stackexchange", {})
        q = result.kept | beam.Filter(lambda d: d.id == q30)
        assert_that(q | beam.Map(lambda d: (d.text, d.meta["answer_count"])),
                    equal_to([("Q: Is there a standard library module for TOML writing?\n\n"
                               "Reading TOML works with tomllib; writing?", 0)]), label="kept")
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config(edge, keep_unanswered=False), "stackexchange", {})
        assert_that(result.rejected | beam.Filter(lambda r: r.reason == "no_answers") | beam.Map(lambda r: r.doc.id),
                    equal_to([q30]), label="dropped")


# ---------------------------------------------------------------- which sites

# Sites cut from the real FAQ dump (its first rows), sized so that largest:N has to
# leave some out; tie.stackexchange.com has as many posts as the edge-case site.
CUTS = {"alpha.stackexchange.com": 200, "beta.stackexchange.com": 100, "gamma.stackexchange.com": 16,
        "tie.stackexchange.com": 15}


@pytest.fixture(scope="module")
def many_sites(out, tmp_path_factory):
    """{site: its raw Posts.xml bytes} and the input paths: the sample's two sites and the cuts."""
    import py7zr  # the FAQ's .7z opened without our reader

    d = tmp_path_factory.mktemp("sites")
    with py7zr.SevenZipFile(out / "stackexchange" / f"{FAQ}.7z") as archive:
        archive.extractall(path=d / "faq")
    faq = (d / "faq" / "Posts.xml").read_bytes()
    lines = faq.split(b"\r\n")
    head, rows = lines[:2], [line for line in lines if line.lstrip().startswith(b"<row")]
    raw = {FAQ: faq, EDGE: (out / "stackexchange" / EDGE / "Posts.xml").read_bytes()}
    paths = [str(out / "stackexchange" / f"{FAQ}.7z"), str(out / "stackexchange" / EDGE / "Posts.xml")]
    for site, n in CUTS.items():
        (d / site).mkdir()
        raw[site] = b"\r\n".join(head + rows[:n] + [b"</posts>", b""])
        (d / site / "Posts.xml").write_bytes(raw[site])
        paths.append(str(d / site / "Posts.xml"))
    return raw, paths


def redpajama_ranking(raw: dict) -> list[tuple[str, int]]:
    """RedPajama's count.py, independently: a site's size is its Posts.xml rows, most first
    (ties, which count.py leaves to the directory listing, by site name)."""
    counts = {site: len(re.findall(rb"<row\s", xml)) for site, xml in raw.items()}
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def documents_per_site(xml: bytes) -> int:
    """The documents pairing makes of a dump: a question with its answers, an orphan answer, another post."""
    rows = re.findall(rb'<row [^>]*?Id="(\d+)" PostTypeId="(\d)"(?: ParentId="(\d+)")?', xml)
    questions = {i for i, t, _ in rows if t == b"1"}
    return sum(1 for i, t, parent in rows if t != b"2" or parent not in questions)


def per_site(pcoll, label):
    sites = pcoll | f"{label}Sites" >> beam.Map(lambda d: d.meta["site"])
    return sites | f"{label}Count" >> beam.combiners.Count.PerElement()


@pytest.mark.parametrize("n", [5, 2])
def test_largest_n_ranks_sites_by_posts_as_redpajama(many_sites, n):
    raw, paths = many_sites
    ranking = redpajama_ranking(raw)
    assert [c for _, c in ranking] == [350, 200, 100, 16, 15, 15]  # the tie sits at the cut of largest:5
    chosen = {site for site, _ in ranking[:n]}
    left_out = {site for site, _ in ranking[n:]}
    assert "tie.stackexchange.com" in left_out and (EDGE in chosen) == (n == 5)
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config(paths, sites=f"largest:{n}"), "stackexchange", {})
        kept_sites = result.kept | beam.Map(lambda d: d.meta["site"]) | beam.Distinct()
        assert_that(kept_sites, equal_to(sorted(chosen)), label="kept_sites")
        not_selected = per_site(result.rejected | beam.Filter(lambda r: r.reason == "site_not_selected")
                                | beam.Map(lambda r: r.doc), "NotSelected")
        assert_that(not_selected, equal_to([(site, documents_per_site(raw[site])) for site in left_out]),
                    label="not_selected")
        rank_rows = result.stats | beam.Filter(lambda kv: kv[0][2].startswith(("site_", "sites_")))
        assert_that(rank_rows | beam.Map(lambda kv: (kv[0], kv[1][0])), equal_to(
            [(("stackexchange", "stackexchange", "sites_largest"), n)]
            + [(("stackexchange", "stackexchange", f"site_posts:{site}"), c) for site, c in ranking]
            + [(("stackexchange", "stackexchange", f"site_chosen:{site}"), c) for site, c in ranking[:n]]),
            label="rank_rows")


def test_the_ranking_is_the_same_on_two_worker_processes(many_sites, tmp_path):
    import pyarrow.parquet as pq

    from pipeline.curate import run_curate
    from pipeline.runner import make_options

    _, paths = many_sites

    def run(out, beam_args):
        stats = run_curate(config(paths, sites="largest:3"), {}, Store(out), make_options(beam_args))
        kept = sorted(r["id"] for f in (out / "curated" / "stackexchange").glob("*.parquet")
                      for r in pq.read_table(f, columns=["id"]).to_pylist())
        return stats["sources"], kept

    one = run(tmp_path / "one", [])
    two = run(tmp_path / "two", ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"])
    assert one == two
    assert list(one[0]["stackexchange"]["stackexchange"]["site_chosen"]) == [
        FAQ, "alpha.stackexchange.com", "beta.stackexchange.com"]


def test_an_explicit_site_list_still_works(many_sites):
    raw, paths = many_sites
    listed = ["beta.stackexchange.com", EDGE.upper(), "absent.stackexchange.com"]  # names compare lowercased
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config(paths, sites=listed), "stackexchange", {})
        assert_that(per_site(result.kept, "Kept"), equal_to([("beta.stackexchange.com", 50), (EDGE, 4)]),
                    label="kept")
        rows = result.stats | beam.Filter(lambda kv: kv[0][2].startswith(("site_chosen", "sites_")))
        assert_that(rows | beam.Map(lambda kv: (kv[0][2], kv[1][0])), equal_to([
            ("sites_listed", 3), ("site_chosen:beta.stackexchange.com", 100), (f"site_chosen:{EDGE}", 15)]),
            label="rows")
    with TestPipeline(runner="FnApiRunner") as p:
        result, _ = curate_source(p, config(paths, sites=None), "stackexchange", {})
        assert_that(per_site(result.kept, "Kept") | beam.Map(lambda kv: kv[0]), equal_to(sorted(raw)), label="all")


def test_summary_lists_the_chosen_sites_in_rank_order():
    rows = [(("stackexchange", "stackexchange", "in"), (10, 100)),
            (("stackexchange", "stackexchange", "kept"), (9, 90)),
            (("stackexchange", "stackexchange", "dropped:site_not_selected"), (1, 10)),
            (("stackexchange", "stackexchange", "sites_largest"), (2, 0))]
    for site, posts, chosen in [("b.stackexchange.com", 50, True), ("a.stackexchange.com", 50, True),
                                ("c.stackexchange.com", 7, False)]:
        rows.append((("stackexchange", "stackexchange", f"site_posts:{site}"), (posts, 0)))
        if chosen:
            rows.append((("stackexchange", "stackexchange", f"site_chosen:{site}"), (posts, 0)))
    entry = assemble_stats(rows)["sources"]["stackexchange"]["stackexchange"]
    assert [line.strip() for line in se_source.SOURCE.summary_lines("stackexchange", entry)] == [
        "sites: 2 of 3 kept by largest:2 (the 2 sites with the most posts); posts per site:",
        "1. a.stackexchange.com                                50 posts",  # the tie: by name
        "2. b.stackexchange.com                                50 posts",
        "not kept (1 sites, 7 posts): c.stackexchange.com 7",
    ]


@pytest.mark.parametrize("value, message", [
    ("largest:0", "stackexchange.sites must be largest:N with N >= 1, a list of sites, or null, got 'largest:0'"),
    ("largest", "stackexchange.sites must be largest:N"),
    ("[]", "stackexchange.sites must name at least one site"),
    ("[largest:3]", "stackexchange.sites takes largest:N alone, not in a list"),
])
def test_bad_sites_values_name_the_key(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from({}, [f"stackexchange.sites={value}"])


def test_sites_forms():
    assert config_from({}).stackexchange.largest == 28
    assert config_from({}, ["stackexchange.sites=math.stackexchange.com"]).stackexchange.sites == (
        "math.stackexchange.com",)
    assert config_from({}, ["stackexchange.sites=null"]).stackexchange.largest is None
    with pytest.raises(ConfigError, match="stackexchange.keep_unanswered must be true or false"):
        config_from({}, ["stackexchange.keep_unanswered=maybe"])


def test_an_unterminated_row_costs_only_itself(tmp_path):
    """A row whose attribute never closes must not swallow the good rows after it."""
    site = tmp_path / "broken.stackexchange.com"
    site.mkdir()
    posts = site / "Posts.xml"
    posts.write_bytes(
        b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
        b'  <row Id="1" PostTypeId="1" Title="a" Body="never closed\n'
        b'  <row Id="2" PostTypeId="1" Title="b" Body="a good row" />\n'
        b'  <row Id="3" PostTypeId="1" Title="c" Body="over\ntwo lines" />\n'
        b'</posts>\n')
    items = list(parse_posts(str(posts), io.BytesIO(posts.read_bytes())))
    bad = [i for i in items if isinstance(i, Malformed)]
    assert [i.meta["post_id"] for i in items if not isinstance(i, Malformed)] == [2, 3]
    assert len(bad) == 1 and bad[0].offset == len(b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
    assert "never ends" in bad[0].error
