import pytest

from pipeline.summary import AccountingError, assemble_stats, format_summary


def rows():
    return [
        (("cc", "read", "documents"), (10, 1000)),
        (("cc", "read", "files"), (2, 0)),
        (("cc", "read", "malformed_records"), (1, 0)),
        (("cc", "lid", "in"), (10, 1000)),
        (("cc", "lid", "kept"), (6, 700)),
        (("cc", "lid", "dropped:lang"), (3, 250)),
        (("cc", "lid", "dropped:empty"), (1, 50)),
        (("cc", "lid", "lang_before:en"), (7, 0)),
        (("cc", "lid", "lang_before:fr"), (3, 0)),
        (("cc", "line_dedup", "in"), (10, 1000)),
        (("cc", "line_dedup", "kept"), (10, 900)),
        (("cc", "line_dedup", "lines_in"), (40, 1000)),
        (("cc", "line_dedup", "lines_removed"), (10, 100)),
    ]


def test_stats_nest_in_stage_order_and_balance():
    stats = assemble_stats(rows(), {"cc": ["read", "line_dedup", "lid"]})
    cc = stats["sources"]["cc"]
    assert list(cc) == ["read", "line_dedup", "lid"]
    # Stages the order does not list follow in name order.
    assert list(assemble_stats(rows(), {"cc": ["read"]})["sources"]["cc"]) == ["read", "lid", "line_dedup"]
    assert cc["lid"]["dropped"] == {"empty": {"documents": 1, "bytes": 50}, "lang": {"documents": 3, "bytes": 250}}
    assert cc["lid"]["lang_before"] == {"en": 7, "fr": 3}
    assert cc["line_dedup"]["dropped"] == {}
    assert cc["read"]["malformed_records"] == {"count": 1, "bytes": 0}


def test_unbalanced_stage_is_an_error():
    bad = rows() + [(("cc", "exact_dedup", "in"), (5, 10)), (("cc", "exact_dedup", "kept"), (3, 6))]
    with pytest.raises(AccountingError, match="cc/exact_dedup: 5 in != 3 kept \\+ 0 dropped"):
        assemble_stats(bad)


def test_summary_shows_drops_lines_and_languages():
    text = format_summary(assemble_stats(rows(), sampled={"fraction": 0.1}))
    assert "sampled" in text
    assert "dropped lang" in text
    assert "lines removed 10 of 40 (25.0%)" in text
    assert "lang before LID (2 languages): en 7, fr 3" in text
    assert "1 malformed records skipped" in text
