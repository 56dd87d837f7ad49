import hashlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filters.line_dedup import distinct_line_hashes, remove_lines
from filters.normalize import (
    CC_NET_EMPTY_HASH, cc_net_line_hash, cc_net_line_hashes, document_key, line_hash, line_hashes, normalize_for_dedup,
    normalize_line,
)
from tests import cc_net_reference as ref


def reference_normalize(line: str) -> str:
    """The rule spelled out one character at a time, straight from unicodedata."""
    out = []
    for ch in unicodedata.normalize("NFD", line.casefold()):
        cat = unicodedata.category(ch)
        if cat == "Nd":
            out.append("0")
        elif ch.isspace():
            out.append(" ")
        elif cat[0] == "P" or cat in ("Mn", "Cf", "Cc"):
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def blake(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


# Every code point, surrogates included (they appear after lossy decodes upstream).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
ascii_text = st.text(st.characters(max_codepoint=127), max_size=60)


def test_examples():
    assert normalize_line("  Héllo,   WÖRLD!\t2024 ") == "hello world 0000"
    assert normalize_line("Ça coûte 12,50 €.") == "ca coute 0000 €"  # € is a symbol, not punctuation
    assert normalize_line("«Bonjour» — dit-il…") == "bonjour ditil"
    assert normalize_line("人人生而自由，在尊严。") == "人人生而自由在尊严"
    assert normalize_line("٣ apples \u0966") == "0 apples 0"  # Arabic-Indic and Devanagari digits
    assert normalize_line("soft\u00adhy\u200bphen") == "softhyphen"
    assert normalize_line("a\x00b\x1fc") == "ab c"  # NUL vanishes, unit separator is a space
    assert normalize_line("* * * --- ...") == ""
    assert normalize_line("") == ""


def test_line_hash_is_blake2b_of_the_normalised_utf8():
    assert line_hash("Hello, World 42!") == blake("hello world 00")
    assert line_hash("Été") == blake("ete")
    assert document_key("Line ONE.\nline two 7") == blake("line one line two 0")


def test_hash_ignores_case_digits_punctuation_spacing():
    assert line_hash("Page 3 of 10 - Next >>") == line_hash("page 7 of 99  next >>")
    assert line_hash("Copyright © 2019 ACME, Inc.") == line_hash("copyright © 2023 acme inc")
    assert line_hash("Page 3 of 10") != line_hash("Page 3 of 10 000")
    assert line_hash("cafe") != line_hash("cafes")
    assert line_hash("Straße") == line_hash("STRASSE")  # case folding, not just lower()


def test_hashes_are_signed_int64():
    for text in ("a", "b", "hello", "x" * 1000):
        assert -(2**63) <= line_hash(text) < 2**63


def test_line_hashes_skip_lines_with_no_content():
    text = "First line\n\n  \n* * *\nSecond 2"
    assert line_hashes(text) == [blake("first line"), None, None, None, blake("second 0")]


def test_distinct_line_hashes_counts_a_repeated_line_once():
    text = "Menu\nmenu!\nBody text\nMENU"
    assert distinct_line_hashes(text) == {blake("menu"), blake("body text")}


def test_remove_lines_keeps_everything_else_byte_for_byte():
    text = "Keep me\r\nShared Footer\n\nKeep too\n  shared footer!"
    out, n = remove_lines(text, {blake("shared footer")})
    assert (out, n) == ("Keep me\r\n\nKeep too", 2)
    assert remove_lines(text, set()) == (text, 0)
    assert remove_lines(text, {blake("unrelated")}) == (text, 0)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_matches_the_reference_rule_on_any_text(text):
    assert normalize_line(text) == reference_normalize(text)


@settings(max_examples=300, deadline=None)
@given(ascii_text)
def test_ascii_fast_path_matches_the_reference(text):
    assert normalize_line(text) == reference_normalize(text)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_normalisation_is_idempotent(text):
    once = normalize_line(text)
    assert normalize_line(once) == once


# Letters whose upper case folds back to them: not Turkish dotless "ı", whose upper
# case is the "I" of "i" (no case-insensitive rule can tell those apart).
cased_letters = st.characters(categories=["Ll", "Lu", "Zs"]).filter(lambda c: c.upper().casefold() == c.casefold())


@settings(max_examples=200, deadline=None)
@given(st.text(cased_letters, max_size=40), st.data())
def test_hash_invariant_to_case_digits_and_punctuation(text, data):
    # Upper-case the letters, change the digits, wrap in punctuation: the hash must not move.
    digits = data.draw(st.text(st.characters(categories=["Nd"]), min_size=1, max_size=5))
    other_digits = "".join(data.draw(st.sampled_from("0123456789")) for _ in digits)
    punct = data.draw(st.text(st.characters(categories=["Po", "Ps", "Pe", "Pd"]), max_size=3))
    variant = f"{punct}{text.upper()} {other_digits}{punct}"
    assert line_hash(f"{text} {digits}") == line_hash(variant)


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_no_crash_on_any_unicode(text):
    assert isinstance(line_hash(text), int)
    assert isinstance(document_key(text), int)
    assert len(line_hashes(text)) == text.count("\n") + 1


def test_line_positions_and_removing_them_agree_with_removal_by_hash():
    from filters.line_dedup import line_positions, remove_line_positions

    text = "Menu\nbody text\n\nmenu!\nfooter 2024\n* * *"
    positions = line_positions(text)
    assert positions[blake("menu")] == [0, 3] and positions[blake("footer 0000")] == [4]
    assert len(positions) == 3  # blank and punctuation-only lines take no part
    by_position = remove_line_positions(text, positions[blake("menu")] + positions[blake("footer 0000")])
    assert by_position == remove_lines(text, {blake("menu"), blake("footer 0000")}) == ("body text\n\n* * *", 3)
    assert remove_line_positions(text, []) == (text, 0)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
       | st.lists(st.sampled_from(["Page 1", "  ", "ÉTÉ", "a\tb", "…", "x\r", "日本", "", "\x1c", "٣"]),
                  max_size=8).map("\n".join))
def test_line_digests_is_document_key_and_line_hashes_in_one_pass(text):
    from filters.normalize import line_digests

    assert line_digests(text) == (document_key(text), line_hashes(text))


def test_lazy_translation_classifies_on_first_sight_and_stops_caching_at_its_cap(monkeypatch):
    from filters.normalize import LazyTranslation

    seen = []
    table = LazyTranslation(lambda cp: seen.append(cp) or (None if cp == ord("x") else cp))
    assert "axbxa".translate(table) == "aba" and sorted(seen) == [ord("a"), ord("b"), ord("x")]
    monkeypatch.setattr(LazyTranslation, "MAX_ENTRIES", 3)
    assert "cd".translate(table) == "cd" and len(table) == 3  # still right, no longer cached


# ---------------------------------------------------------------- cc_net's rule (mode cc_net)
# The reference is cc_net's text_normalizer.normalize_for_dedup and dedup.compute_hashes,
# re-implemented from its source with the same regular expressions (tests/cc_net_reference.py).


@pytest.mark.parametrize("line, expected", [
    ("  Café, NAÏVE 2023!  ", "café, naïve 0000!"),  # accents and ASCII punctuation stay
    ("Page 3  of   10", "page 0  of   00"),  # inner spacing is not collapsed
    ("«Bonjour» — dit-il…", "bonjour  dit-il"),  # listed marks go; the ASCII hyphen stays
    ("１２３。，", "000"),  # full-width digits are digits first
    ("tab\there\x07\x85", "tabhere"),  # controls go (C0, DEL, C1)
    ("İstanbul", "i\u0307stanbul"),  # lower(), not casefold(): the combining dot stays
    ("Straße", "straße"),
    ("\u3000 ideographic space \u3000", "ideographic space"),  # str.strip() strips it
    ("", ""),
    ("   ", ""),
])
def test_normalize_for_dedup_examples(line, expected):
    assert normalize_for_dedup(line) == expected == ref.normalize_for_dedup(line)


@settings(max_examples=400, deadline=None)
@given(any_text)
def test_normalize_for_dedup_matches_cc_nets_on_any_text(text):
    assert normalize_for_dedup(text) == ref.normalize_for_dedup(text)


@settings(max_examples=300, deadline=None)
@given(ascii_text)
def test_normalize_for_dedup_ascii_fast_path_matches_cc_nets(text):
    assert normalize_for_dedup(text) == ref.normalize_for_dedup(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
       | st.lists(st.sampled_from(["Page 1", "  ", "ÉTÉ", "a\tb", "…", "x\r", "日本", "", "\x1c", "٣", "—"]),
                  max_size=8).map("\n".join))
def test_cc_net_line_hashes_are_compute_hashes_as_signed_int64(text):
    ours = cc_net_line_hashes(text)
    assert [h % 2**64 for h in ours] == ref.compute_hashes(text) or (text == "" and ours == [CC_NET_EMPTY_HASH])
    assert all(-(2**63) <= h < 2**63 for h in ours)
    assert [cc_net_line_hash(line) for line in text.split("\n")] == ours


def test_cc_net_hashes_every_line_blank_ones_included():
    assert cc_net_line_hash("") == cc_net_line_hash("   ") == cc_net_line_hash("…—►") == CC_NET_EMPTY_HASH
    assert CC_NET_EMPTY_HASH % 2**64 == int.from_bytes(hashlib.sha1(b"").digest()[:8], "little")
    assert cc_net_line_hash("Page 3 of 10") == cc_net_line_hash("PAGE 7 of 12")  # case and digits
    assert cc_net_line_hash("Café") != cc_net_line_hash("Cafe")  # accents count, unlike normalize_line
    assert cc_net_line_hash("page 3 of 10") != cc_net_line_hash("page 3  of 10")  # so does spacing
    assert cc_net_line_hash("Hello, world") != cc_net_line_hash("Hello world")  # and ASCII punctuation
