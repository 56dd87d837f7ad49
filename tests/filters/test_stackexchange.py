"""StackExchange text rules: HTML to text, numeric answer order, the Q:/A: layout, drop reasons,
and the site ranking."""
import pytest

from filters.base import Drop
from filters.document import Document
from filters.stackexchange import (
    Answer, StackExchangeFilter, format_thread, html_to_text, largest_sites, rank_sites, sort_answers,
)


def test_html_tags_removed_entities_decoded():
    body = "<p>Use <code>a &amp;&amp; b</code> or <a href='x'>the &lt;docs&gt;</a>&nbsp;&#8212; <em>really</em>.</p>"
    assert html_to_text(body) == "Use a && b or the <docs> — really."  # &nbsp; is a space like any other


def test_paragraphs_lists_and_code_blocks():
    body = ("<p>First.</p>\n<p>Second\nline.</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
            "<pre><code>def f():\n    return  1\n</code></pre>\n<p>End<br>here</p>")
    assert html_to_text(body) == "First.\n\nSecond line.\n\n- one\n- two\n\ndef f():\n    return  1\n\nEnd\nhere"


def test_script_and_style_dropped():
    assert html_to_text("<p>a</p><script>alert(1)</script><style>p{}</style><p>b</p>") == "a\n\nb"


def test_answers_sorted_by_numeric_score():
    answers = [Answer(1, "9", "<p>nine</p>"), Answer(2, "10", "<p>ten</p>"), Answer(3, "100", "<p>hundred</p>"),
               Answer(4, "-1", "<p>minus</p>")]
    # As strings, "9" > "100" > "10" > "-1": the wrong order.
    assert sorted(["9", "10", "100", "-1"], reverse=True) == ["9", "100", "10", "-1"]
    assert [a.post_id for a in sort_answers(answers)] == [3, 2, 1, 4]


def test_ties_accepted_first_then_older():
    answers = [Answer(5, 3, "x"), Answer(9, 3, "y", accepted=True), Answer(7, 3, "z")]
    assert [a.post_id for a in sort_answers(answers)] == [9, 5, 7]


def test_thread_layout():
    text = format_thread("Why &quot;10&quot; &lt; &quot;9&quot;?", "<p>Sorting strings.</p>",
                         [Answer(2, 1, "<p>Low.</p>"), Answer(3, 12, "<p>High.</p>")])
    assert text == 'Q: Why "10" < "9"?\n\nSorting strings.\n\nA: High.\n\nA: Low.'


def thread(site="stackoverflow.com", kind="thread", answers=1):
    return Document(id=f"stackexchange/{site}/1", source="stackexchange", text="Q: x\n\nA: y",
                    meta={"site": site, "kind": kind, "answer_count": answers})


def reason(result):
    return result.reason if isinstance(result, Drop) else None


SITES = ["stackoverflow.com"]


@pytest.mark.parametrize("doc,expected", [
    (thread(), None),
    (thread(site="cooking.stackexchange.com"), "site_not_selected"),
    (thread(kind="other_post", answers=0), "post_type"),
    (thread(kind="duplicate_post"), "duplicate_post"),
    (thread(kind="orphan_answer", answers=0), "orphan_answer"),
    (thread(answers=0), None),  # kept by default, as RedPajama keeps unanswered questions
])
def test_filter_reasons(doc, expected):
    assert reason(StackExchangeFilter(SITES).apply(doc)) == expected


def test_unanswered_questions_dropped_only_when_asked():
    assert reason(StackExchangeFilter(SITES, keep_unanswered=False).apply(thread(answers=0))) == "no_answers"
    assert reason(StackExchangeFilter(SITES, keep_unanswered=False).apply(thread(answers=2))) is None
    assert reason(StackExchangeFilter(SITES, keep_unanswered=True).apply(thread(answers=0))) is None


def test_all_sites_when_none():
    assert reason(StackExchangeFilter(None).apply(thread(site="cooking.stackexchange.com"))) is None
    assert reason(StackExchangeFilter(["StackOverflow.com"]).apply(thread())) is None  # names compare lowercased


def test_ranking_by_posts_ties_by_name():
    counts = [("b.stackexchange.com", 5), ("a.stackexchange.com", 5), ("c.stackexchange.com", 9),
              ("d.stackexchange.com", 1)]
    assert rank_sites(counts) == [("c.stackexchange.com", 9), ("a.stackexchange.com", 5),
                                  ("b.stackexchange.com", 5), ("d.stackexchange.com", 1)]
    assert largest_sites(counts, 2) == ("c.stackexchange.com", "a.stackexchange.com")  # the tie: a before b
    assert largest_sites(counts, 28) == ("c.stackexchange.com", "a.stackexchange.com", "b.stackexchange.com",
                                         "d.stackexchange.com")
    assert largest_sites([], 28) == ()
