"""CommonCrawl's dedup stages on Beam's FnApiRunner, with hand-built documents: mode
`normalized` (exact_dedup, line_dedup) and mode `cc_net` (min_length, line_dedup).

Every expected text and stat below is written out by hand from the documents'
literal contents; byte counts are `len(s.encode())` of those literals.
"""
import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import (
    TestPipeline as BeamTestPipeline,  # alias: pytest would try to collect Test*
)
from apache_beam.testing.util import assert_that, equal_to

from filters.document import Document
from pipeline.stages.line_dedup import CcNetDedup, Dedup, LineDedupSettings, dedup_transform
from tests.pipeline.beam_checks import b, stats_equal

NORMALIZED = (("cc", "line_dedup", "mode:normalized"), (1, 0))


def normalized(**kw) -> LineDedupSettings:
    return LineDedupSettings(mode="normalized", **kw)


def cc(doc_id: str, text: str, **kw) -> Document:
    return Document(id=f"cc/{doc_id}", source="cc", text=text, **kw)


def rejection_summary(rejected):
    return rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason))


# ---------------------------------------------------------------- exact dedup

def test_exact_dedup_keeps_smallest_id_of_each_normalised_text():
    original = "Équipe de rédaction.\nPage 1 of 3"
    same_normalised = "equipe de REDACTION\npage 2 of 9!"
    other = "Something else entirely"
    docs = [
        cc("b", original),
        cc("c", original),  # a verbatim copy
        cc("a", same_normalised),  # the smallest id: this one stays
        cc("d", other, meta={"url_seen": 1}),
    ]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | Dedup("cc", normalized(min_chars=0))
        assert_that(result.kept, equal_to([cc("a", same_normalised), cc("d", other, meta={"url_seen": 1})]), label="kept")
        assert_that(
            result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta, r.doc.text)),
            equal_to([
                ("cc/b", "exact_dedup", "duplicate_document", {"duplicate_of": "cc/a"}, original),
                ("cc/c", "exact_dedup", "duplicate_document", {"duplicate_of": "cc/a"}, original),
            ]),
            label="rejected",
        )
        assert_that(result.stats, stats_equal([
            NORMALIZED,
            (("cc", "exact_dedup", "in"), (4, b(original, original, same_normalised, other))),
            (("cc", "exact_dedup", "kept"), (2, b(same_normalised, other))),
            (("cc", "exact_dedup", "dropped:duplicate_document"), (2, b(original, original))),
            # The copies' lines are in one distinct text only: line dedup removes nothing.
            (("cc", "line_dedup", "in"), (2, b(same_normalised, other))),
            (("cc", "line_dedup", "kept"), (2, b(same_normalised, other))),
            (("cc", "line_dedup", "lines_in"), (3, b(same_normalised, other))),
            (("cc", "line_dedup", "lines_removed"), (0, 0)),
        ]), label="stats")


def test_the_same_record_read_twice_is_kept_once():
    text = "A page that was read twice from the same crawl file."
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([cc("x", text), cc("x", text)]) | Dedup("cc", normalized(min_chars=0))
        assert_that(result.kept, equal_to([cc("x", text)]), label="kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta)),
                    equal_to([("cc/x", "exact_dedup", "duplicate_document", {"duplicate_of": "cc/x"})]),
                    label="rejected")


def test_exact_duplicates_do_not_make_their_lines_shared():
    # b is a copy of a: their lines count once, so only the line also in c goes.
    a = "Shared footer\nOwn line of a"
    c = "Shared footer\nOwn line of c"
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([cc("a", a), cc("b", a), cc("c", c)]) | Dedup("cc", normalized(min_chars=0))
        assert_that(result.kept, equal_to([cc("a", "Own line of a"), cc("c", "Own line of c")]), label="kept")


# ----------------------------------------------------------------- line dedup

D1 = "Welcome to our site\nAlpha unique content here\nRepeat me\nREPEAT me!"
D2 = "Beta unique content here\n\nwelcome to our SITE.\n"
D3 = "Welcome, to our site\nhi"
D4 = "Gamma unique content\n\n"
# Listed with the smallest id last: "first" must come from the ids, not input order.
LINE_DOCS = [cc("2", D2), cc("3", D3), cc("4", D4), cc("1", D1)]
NO_EXACT_DUPLICATES = [
    NORMALIZED,
    (("cc", "exact_dedup", "in"), (4, b(D1, D2, D3, D4))),
    (("cc", "exact_dedup", "kept"), (4, b(D1, D2, D3, D4))),
]


def test_line_dedup_removes_lines_shared_by_documents_from_all_of_them():
    d1_out = "Alpha unique content here\nRepeat me\nREPEAT me!"  # repeated only here: stays
    d2_out = "Beta unique content here\n\n"  # blank lines take no part
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(LINE_DOCS) | Dedup("cc", normalized(min_chars=10))
        assert_that(result.kept, equal_to([cc("1", d1_out), cc("2", d2_out), cc("4", D4)]), label="kept")
        assert_that(
            result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.text, r.doc.meta)),
            equal_to([("cc/3", "line_dedup", "too_short", "hi", {"lines_removed": 1})]),
            label="rejected",
        )
        assert_that(result.stats, stats_equal(NO_EXACT_DUPLICATES + [
            (("cc", "line_dedup", "in"), (4, b(D1, D2, D3, D4))),
            (("cc", "line_dedup", "kept"), (3, b(d1_out, d2_out, D4))),
            (("cc", "line_dedup", "dropped:too_short"), (1, b("hi"))),
            (("cc", "line_dedup", "lines_in"), (4 + 4 + 2 + 3, b(D1, D2, D3, D4))),
            (("cc", "line_dedup", "lines_removed"), (3, b(D1, D2, D3) - b(d1_out, d2_out, "hi"))),
        ]), label="stats")


def test_line_dedup_keep_first_leaves_the_line_in_the_smallest_id():
    d2_out = "Beta unique content here\n\n"
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(LINE_DOCS) | Dedup("cc", normalized(keep_first=True, min_chars=10))
        assert_that(result.kept, equal_to([cc("1", D1), cc("2", d2_out), cc("4", D4)]), label="kept")
        assert_that(rejection_summary(result.rejected), equal_to([("cc/3", "line_dedup", "too_short")]), label="rejected")
        assert_that(result.stats, stats_equal([(("cc", "line_dedup", "mode:normalized, keep_first"), (1, 0))]
                                              + NO_EXACT_DUPLICATES[1:] + [
            (("cc", "line_dedup", "in"), (4, b(D1, D2, D3, D4))),
            (("cc", "line_dedup", "kept"), (3, b(D1, d2_out, D4))),
            (("cc", "line_dedup", "dropped:too_short"), (1, b("hi"))),
            (("cc", "line_dedup", "lines_in"), (13, b(D1, D2, D3, D4))),
            (("cc", "line_dedup", "lines_removed"), (2, b(D2, D3) - b(d2_out, "hi"))),
        ]), label="stats")


def test_line_dedup_default_min_chars_is_300_after_stripping():
    long_enough = "x" * 300
    too_short = "  " + "y" * 299 + "\n"
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([cc("long", long_enough), cc("short", too_short)]) | Dedup("cc", normalized())
        assert_that(result.kept | beam.Map(lambda d: d.id), equal_to(["cc/long"]), label="kept")
        assert_that(rejection_summary(result.rejected), equal_to([("cc/short", "line_dedup", "too_short")]), label="rejected")


@pytest.mark.parametrize("keep_first", [False, True])
def test_line_dedup_verdicts_do_not_depend_on_shards_or_flushes(monkeypatch, keep_first):
    """One shard or many, rows and orders flushed after every few lines or documents:
    the same documents come out (the flushes send a shard's rows in several parts)."""
    import pipeline.stages.shard_dedup as shard_dedup

    def run(**kwargs):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            result = p | beam.Create(LINE_DOCS) | Dedup("cc", normalized(keep_first=keep_first, min_chars=10, **kwargs))
            assert_that(result.kept | beam.Map(lambda d: (d.id, d.text)), equal_to(expected))

    expected = [(d.id, d.text) for d in (
        [cc("1", D1 if keep_first else "Alpha unique content here\nRepeat me\nREPEAT me!"),
         cc("2", "Beta unique content here\n\n"), cc("4", D4)])]
    run(shards=1)
    run(shards=7)
    monkeypatch.setattr(shard_dedup, "FLUSH_ROWS", 2)
    monkeypatch.setattr(shard_dedup, "FLUSH_DOCS", 1)
    run(shards=3)


@pytest.mark.parametrize("values", [{"min_chars": -1}, {"min_chars": 1.5}, {"keep_first": "yes"},
                                    {"shards": 0}, {"shards": 2.0}, {"mode": "foo"},
                                    {"keep_first": True, "mode": "cc_net"}])
def test_line_dedup_bad_config_is_a_clear_error(values):
    from pipeline.config import ConfigError, config_from

    with pytest.raises(ConfigError, match=r"cc\.line_dedup\." + next(iter(values))):
        config_from({"cc": {"line_dedup": values}})


def test_the_mode_is_cc_net_unless_set_and_chooses_the_stages():
    from pipeline.config import ConfigError, config_from

    assert config_from({}).cc.line_dedup.mode == "cc_net"
    assert isinstance(dedup_transform("cc", LineDedupSettings()), CcNetDedup)
    assert isinstance(dedup_transform("cc", normalized()), Dedup)
    with pytest.raises(ConfigError, match=r"cc\.line_dedup\.mode must be one of cc_net, normalized, got 'foo'"):
        config_from({"cc": {"line_dedup": {"mode": "foo"}}})


# ----------------------------------------------------------------- mode cc_net

CC_NET = (("cc", "line_dedup", "mode:cc_net"), (1, 0))
# Texts as the cc_net reading leaves them: lines stripped, blank ones kept, a final "\n"
# where the WET block did not end with one.
C1 = "Home\nA page about cats.\n\nHome\ncats are small\n"
C2 = "HOME\nA page about 1999 dogs.\n"
C3 = "home\nA page about 2024 dogs."  # its dog line is C2's: digits count as one
C4 = "Home\nA page about cats.\n\nHome\ncats are small\n"  # C1 again under another id: both go
C5 = "A short one"


def cc_net(min_chars=0, **kw) -> LineDedupSettings:
    return LineDedupSettings(mode="cc_net", min_chars=min_chars, **kw)


def test_cc_net_mode_removes_shared_lines_from_every_document_and_drops_the_emptied():
    docs = [cc("2", C2), cc("3", C3), cc("1", C1), cc("4", C4), cc("5", C5)]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | CcNetDedup("cc", cc_net(min_chars=20))
        # "home" is in four documents, the dog line in two, the blank line in two (C1, C2's
        # final one, C4): all go. C1 and C4 share every line, so nothing of them is left.
        assert_that(result.kept, equal_to([]), label="kept")
        assert_that(
            result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.text, r.doc.meta)),
            equal_to([
                ("cc/1", "line_dedup", "empty", C1, {"lines_removed": 6}),
                ("cc/2", "line_dedup", "empty", C2, {"lines_removed": 3}),
                ("cc/3", "line_dedup", "empty", C3, {"lines_removed": 2}),
                ("cc/4", "line_dedup", "empty", C4, {"lines_removed": 6}),
                ("cc/5", "min_length", "too_short", C5, {}),
            ]),
            label="rejected",
        )
        assert_that(result.stats, stats_equal([
            CC_NET,
            (("cc", "min_length", "in"), (5, b(C1, C2, C3, C4, C5))),
            (("cc", "min_length", "kept"), (4, b(C1, C2, C3, C4))),
            (("cc", "min_length", "dropped:too_short"), (1, b(C5))),
            (("cc", "line_dedup", "in"), (4, b(C1, C2, C3, C4))),
            (("cc", "line_dedup", "dropped:empty"), (4, b(C1, C2, C3, C4))),
            (("cc", "line_dedup", "lines_in"), (17, b(C1, C2, C3, C4))),
            (("cc", "line_dedup", "lines_removed"), (17, b(C1, C2, C3, C4))),
        ]), label="stats")


def test_cc_net_mode_keeps_a_documents_own_repeats_once_and_what_no_other_has():
    e1 = "Welcome\nOwn line one\nOwn line one\nfooter 2023"
    e2 = "welcome\nSomething else\n\nFooter 1999\n"
    e1_out, e2_out = "Own line one", "Something else\n"  # e2's blank lines: only e2 has any
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([cc("e1", e1), cc("e2", e2)]) | CcNetDedup("cc", cc_net())
        assert_that(result.kept, equal_to([cc("e1", e1_out), cc("e2", e2_out)]), label="kept")
        assert_that(result.rejected, equal_to([]), label="rejected")
        assert_that(result.stats, stats_equal([
            CC_NET,
            (("cc", "min_length", "in"), (2, b(e1, e2))),
            (("cc", "min_length", "kept"), (2, b(e1, e2))),
            (("cc", "line_dedup", "in"), (2, b(e1, e2))),
            (("cc", "line_dedup", "kept"), (2, b(e1_out, e2_out))),
            (("cc", "line_dedup", "lines_in"), (9, b(e1, e2))),
            (("cc", "line_dedup", "lines_removed"), (6, b(e1, e2) - b(e1_out, e2_out))),
        ]), label="stats")


def test_cc_net_mode_min_length_counts_characters_as_read_and_nothing_after():
    exactly = "é" * 299 + "\n"  # 300 characters (599 bytes): kept
    short = "x" * 299  # 299: too short
    left_short = "Shared line of text\n" + "y" * 5  # long enough when read; 5 characters after dedup
    other = "Shared line of text\n" + "z" * 300
    with BeamTestPipeline(runner="FnApiRunner") as p:
        docs = [cc("a", exactly), cc("b", short), cc("c", "x" * 280 + left_short), cc("d", other)]
        result = p | beam.Create(docs) | CcNetDedup("cc", cc_net(min_chars=300))
        assert_that(result.kept | beam.Map(lambda d: d.id), equal_to(["cc/a", "cc/c", "cc/d"]), label="kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason)),
                    equal_to([("cc/b", "min_length", "too_short")]), label="rejected")


def test_cc_net_mode_drops_an_empty_text_and_the_same_record_read_twice():
    page = "A page that was read twice\nfrom the same crawl file."
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([cc("x", page), cc("x", page), cc("t", "")]) | CcNetDedup("cc", cc_net())
        assert_that(result.kept, equal_to([]), label="kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason)),
                    equal_to([("cc/x", "line_dedup", "empty")] * 2 + [("cc/t", "line_dedup", "empty")]),
                    label="rejected")


@pytest.mark.parametrize("mode", ["cc_net", "normalized"])
def test_verdicts_do_not_depend_on_shards_or_flushes_in_either_mode(monkeypatch, mode):
    import pipeline.stages.shard_dedup as shard_dedup

    docs = [cc("2", C2), cc("3", C3), cc("1", C1), cc("5", C5), cc("6", "Other page\nHome\n\n"),
            cc("7", "Nothing shared here")]

    def run(**kwargs):
        with BeamTestPipeline(runner="FnApiRunner") as p:
            settings = LineDedupSettings(mode=mode, min_chars=0, **kwargs)
            result = p | beam.Create(docs) | dedup_transform("cc", settings)
            assert_that(result.kept | beam.Map(lambda d: (d.id, d.text)), equal_to(expected))

    expected = {
        "cc_net": [("cc/1", "A page about cats.\ncats are small"), ("cc/5", C5), ("cc/6", "Other page"),
                   ("cc/7", "Nothing shared here")],
        # C2 and C3 are one normalised text (the digits): exact_dedup keeps C2, whose dog line
        # is then in one text only. Blank lines take no part.
        "normalized": [("cc/1", "A page about cats.\n\ncats are small\n"), ("cc/2", "A page about 1999 dogs.\n"),
                       ("cc/5", C5), ("cc/6", "Other page\n\n"), ("cc/7", "Nothing shared here")],
    }[mode]
    run(shards=1)
    run(shards=7)
    monkeypatch.setattr(shard_dedup, "FLUSH_ROWS", 2)
    monkeypatch.setattr(shard_dedup, "FLUSH_DOCS", 1)
    run(shards=3)
