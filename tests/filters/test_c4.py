"""C4's page rules: every rule with a kept and a dropped case, expectations written by hand."""
from pathlib import Path

import pytest

from filters.base import Drop
from filters.c4 import C4Rules, dedup_units, load_bad_words, remove_units, split_sentences
from filters.document import Document
from filters.normalize import line_hash

ROOT = Path(__file__).resolve().parents[2]

# Three good lines, one sentence each: a page that passes every rule on its own.
GOOD = [
    "The river rose quickly after three days of rain.",
    "Farmers moved their animals to the higher fields.",
    "By Friday the water had gone back down again.",
]


def clean(*extra: str, rules: C4Rules | None = None, good=GOOD):
    return (rules or C4Rules()).clean("\n".join(list(good) + list(extra)))


def kept_text(*lines: str) -> str:
    return "\n".join(lines)


# ---------------------------------------------------------------- line rules

def test_good_page_is_kept_whole():
    result = clean()
    assert result.reason is None
    assert result.text == kept_text(*GOOD)
    assert result.sentences == 3 and result.lines_in == 3 and not result.removed


def test_no_end_mark_line_removed_and_each_end_mark_kept():
    result = clean(
        "Home | About us | Contact the team",  # no end mark
        "And then the story went on and on...",  # an ellipsis is not an end mark
        "Did the farmers get their animals back?",
        "What a week it was for everyone there!",
        'He said "the water is going down now."',
    )
    assert result.reason is None
    assert result.text == kept_text(*GOOD, "Did the farmers get their animals back?",
                                    "What a week it was for everyone there!",
                                    'He said "the water is going down now."')
    assert result.removed == {"no_end_mark": 2}


def test_line_with_fewer_than_five_words_removed():
    result = clean("Four words only here.", "Five words are just enough.")
    assert result.text == kept_text(*GOOD, "Five words are just enough.")
    assert result.removed == {"too_few_words": 1}


def test_min_words_per_line_is_configurable():
    result = clean("Four words only here.", rules=C4Rules(min_words_per_line=4))
    assert result.text.endswith("\nFour words only here.")
    assert not result.removed


def test_line_with_a_too_long_word_removed():
    ok = "a" * 20
    result = clean(f"This line has a word {'x' * 21} in it.", f"This line has a word {ok} in it.",
                   rules=C4Rules(max_word_length=20))
    assert result.text == kept_text(*GOOD, f"This line has a word {ok} in it.")
    assert result.removed == {"too_long_word": 1}


def test_citation_marks_are_cut_before_the_end_mark_check():
    result = clean("The flood was the worst in forty years.[1]", "It was widely reported at the time.[citation needed]")
    assert result.text == kept_text(*GOOD, "The flood was the worst in forty years.",
                                    "It was widely reported at the time.")


def test_javascript_line_removed_page_kept():
    result = clean("Please enable JavaScript to view the comments.")
    assert result.reason is None
    assert result.text == kept_text(*GOOD)
    assert result.removed == {"javascript": 1}


@pytest.mark.parametrize("line", [
    "Read our terms of use before you continue.",
    "This site uses cookies to improve your visit.",
    "See our privacy policy for all the details.",
    "We use cookies for analytics and for ads.",
    "Our cookie policy explains what we store here.",
    "You agree to the use of cookies on this site.",
])
def test_policy_line_removed_page_kept(line):
    result = clean(line)
    assert result.reason is None
    assert result.text == kept_text(*GOOD)
    assert result.removed == {"policy": 1}


def test_line_mentioning_cookies_without_policy_words_is_kept():
    result = clean("She baked cookies for the whole village.")
    assert result.text.endswith("\nShe baked cookies for the whole village.")


# ---------------------------------------------------------------- page rules

def test_lorem_ipsum_drops_the_page():
    assert clean("Lorem ipsum dolor sit amet, consectetur adipiscing.").reason == "lorem_ipsum"
    assert isinstance(C4Rules().apply(Document("c4/x", "c4", "\n".join(GOOD + ["Lorem ipsum dolor sit amet, sed do."]))),
                      Drop)


def test_lorem_ipsum_in_a_removed_line_does_not_drop_the_page():
    # TFDS checks lorem ipsum only on lines that passed the end-mark and word-count rules.
    result = clean("Lorem ipsum dolor sit amet")
    assert result.reason is None and result.text == kept_text(*GOOD)


def test_curly_bracket_drops_the_page():
    assert clean("Use the format {name} to print the value.").reason == "curly_bracket"


def test_curly_bracket_in_a_removed_line_does_not_drop_the_page():
    result = clean("function f() { return 1; }", "Enable javascript: function() { works here.")
    assert result.reason is None
    assert result.removed == {"no_end_mark": 1, "javascript": 1}


def test_too_few_sentences_drops_the_page():
    assert clean(good=GOOD[:2]).reason == "too_few_sentences"
    # Two sentences on one line count as two.
    assert clean(good=[GOOD[0], "The farmers moved. The water went back down later."]).reason is None


def test_min_sentences_is_configurable():
    assert clean(good=GOOD[:1], rules=C4Rules(min_sentences=1)).reason is None
    assert clean(good=GOOD[:1], rules=C4Rules(min_sentences=2)).reason == "too_few_sentences"


def test_empty_page_with_min_sentences_zero():
    assert C4Rules(min_sentences=0).clean("menu\nhome").reason == "empty"


def test_bad_words_drop_the_page_only_as_whole_words():
    rules = C4Rules(bad_words=["badword", "two words"])
    assert clean("Here the badword stands on its own.", rules=rules).reason == "bad_words"
    assert clean("Two words at the start count too.", rules=rules).reason == "bad_words"
    assert clean("This is a badwords compound, not the word.", rules=rules).reason is None
    assert clean("A notbadword inside a longer word is fine.", rules=rules).reason is None
    # Only kept lines are checked: a bad word in a removed line does not drop the page.
    assert clean("menu badword", rules=rules).reason is None


def test_shipped_bad_words_list():
    words = load_bad_words(ROOT / "configs" / "c4_badwords_en.txt")
    assert len(words) == 403  # LDNOOBW English, as naughty-words 1.2.0 ships it
    assert "2g1c" in words and "2 girls 1 cup" in words
    assert not any(w.startswith("#") for w in words)
    rules = C4Rules(bad_words=words)
    assert clean("They talked about anal fissures at the clinic.", rules=rules).reason == "bad_words"
    assert clean("The analysis of the flood took a long time.", rules=rules).reason is None


def test_apply_returns_a_new_document_with_the_cleaned_text():
    doc = Document("c4/a", "c4", "menu\n" + "\n".join(GOOD), url="https://example.org/a")
    out = C4Rules().apply(doc)
    assert out.text == kept_text(*GOOD) and out.url == doc.url
    assert doc.text.startswith("menu\n")  # the input is not mutated


def test_invalid_settings_are_clear_errors():
    with pytest.raises(ValueError, match="min_words_per_line"):
        C4Rules(min_words_per_line=-1)
    with pytest.raises(ValueError, match="max_word_length"):
        C4Rules(max_word_length=0)


def test_rules_pickle_with_their_bad_words():
    import pickle

    rules = pickle.loads(pickle.dumps(C4Rules(bad_words=["badword"])))
    assert clean("Here the badword stands on its own.", rules=rules).reason == "bad_words"


# ---------------------------------------------------------------- sentences

@pytest.mark.parametrize("text, expected", [
    ("He left. She stayed.", ["He left.", "She stayed."]),
    ("Dr. Smith came. Then he left!", ["Dr. Smith came.", "Then he left!"]),
    ("It was 5 p.m. and late.", ["It was 5 p.m. and late."]),
    ("J. R. R. Tolkien wrote books. They sold.", ["J. R. R. Tolkien wrote books.", "They sold."]),
    ('"Go home." He did.', ['"Go home."', "He did."]),
    ("Version 3.11 is out. Get it? Yes.", ["Version 3.11 is out.", "Get it?", "Yes."]),
    ("", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


# ---------------------------------------------------------------- dedup units

def test_span_units_are_three_sentence_windows_across_lines():
    text = "One sun. Two moons.\nThree stars.\nFour clouds."
    units = dedup_units(text, "span", 3)
    assert [(h, list(r)) for h, r in units] == [
        (line_hash("One sun. Two moons. Three stars."), [0, 1]),
        (line_hash("Two moons. Three stars. Four clouds."), [0, 1, 2]),
    ]
    assert dedup_units("One sun. Two moons.", "span", 3) == []


def test_span_hash_ignores_case_and_punctuation():
    [(a, _)] = dedup_units("One sun. Two moons. Three stars.", "span", 3)
    [(b, _)] = dedup_units("ONE SUN! Two moons? THREE stars", "span", 3)
    assert a == b


def test_line_units():
    assert [(h, list(r)) for h, r in dedup_units("First line.\n\nSecond line.", "line")] == [
        (line_hash("First line."), [0]), (line_hash("Second line."), [2])]


def test_remove_units_drops_the_lines_a_span_covers():
    text = "One sun. Two moons.\nThree stars.\nFour clouds. Five winds.\nSix rains."
    # position 0 = "One sun. Two moons. Three stars." on lines 0-1
    assert remove_units(text, {0}) == ("Four clouds. Five winds.\nSix rains.", 2, 3)
    # position 2 = "Three stars. Four clouds. Five winds." on lines 1-2
    assert remove_units(text, {2}) == ("One sun. Two moons.\nSix rains.", 2, 3)
    assert remove_units(text, set()) == (text, 0, 6)


def test_unknown_unit_is_an_error():
    with pytest.raises(ValueError, match="c4.dedup.unit"):
        dedup_units("x", "paragraph")
