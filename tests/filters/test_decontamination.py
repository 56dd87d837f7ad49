"""GPT-3's decontamination rule, Beam-free: normalisation, n-gram hashes, the eval index, eval files."""
import pickle

import numpy as np
import pytest

from filters.decontamination import (EvalIndex, Example, contaminated_by, example_ngrams, ngram_hash,
                                     normalize_words, parse_examples, window_hashes, word_hashes)

ORATION = ("Friends, Romans, countrymen, lend me your ears; I come to bury Caesar, not to praise him. "
           "The evil that men do lives after them; The good is oft interred with their bones.")


def test_normalisation_lowercases_removes_punctuation_and_splits_on_whitespace():
    assert normalize_words("Friends, Romans--countrymen!\n  Lend") == ["friends", "romans", "countrymen", "lend"]
    assert normalize_words("“Don’t”—said Ünïcode… «¿qué?»") == ["dont", "said", "ünïcode", "qué"]
    assert normalize_words("girl.--Ye gods") == normalize_words("GIRL. — YE GODS")
    assert normalize_words("$5 + 3 = 8") == ["$5", "+", "3", "=", "8"]  # symbols are not punctuation
    assert normalize_words("") == [] and normalize_words(" ,.; ") == []


def test_window_hashes_are_the_hash_of_each_window():
    words = normalize_words(ORATION)
    windows = window_hashes(word_hashes(words), 13)
    assert len(windows) == len(words) - 12 and windows.dtype == np.int64
    assert [int(h) for h in windows] == [ngram_hash(words[i:i + 13]) for i in range(len(windows))]
    assert len(window_hashes(word_hashes(words[:12]), 13)) == 0
    # the same words as a window of another length never share its hash
    assert ngram_hash(words[:3]) != int(window_hashes(word_hashes(words[:3]), 3)[0]) ^ 1
    assert ngram_hash(["a", "b"]) != ngram_hash(["b", "a"])


def test_an_example_is_its_13_grams_or_whole_when_shorter():
    k, grams = example_ngrams(ORATION)
    assert k == 13 and len(grams) == len(normalize_words(ORATION)) - 12
    k, grams = example_ngrams("Et tu, Brute?")
    assert k == 3 and [int(g) for g in grams] == [ngram_hash(["et", "tu", "brute"])]
    assert example_ngrams("?!")[0] == 0


@pytest.fixture(scope="module")
def index():
    return EvalIndex.build([
        Example("speakers", 0, ORATION),
        Example("speakers", 1, "Et tu, Brute?"),
        Example("passages", 0, ORATION),  # the same text in two sets
        Example("passages", 1, "..."),  # no word: nothing to look for
    ])


def test_the_index_counts_examples_and_ngrams_per_set(index):
    assert index.sets == ("passages", "speakers")
    assert index.examples == {"passages": 2, "speakers": 2} and index.empty == {"passages": 1, "speakers": 0}
    assert index.ngrams["speakers"] == index.ngrams["passages"] + 1
    assert index.lengths == (3, 13)


def test_a_document_quoting_an_example_in_another_case_and_punctuation_is_found(index):
    doc = "Antony spoke: FRIENDS ROMANS COUNTRYMEN -- lend me your ears! I come to bury Caesar... not to praise him"
    found = index.find(doc)
    assert found and all(len(text.split()) == 13 for _, text in found)
    assert found[0][1] in " ".join(normalize_words(doc))
    assert contaminated_by(index, [h for h, _ in found], set()) == [("passages", 0), ("speakers", 0)]
    assert index.refs(found[0][0]) == [("passages", 0), ("speakers", 0)]


def test_a_short_example_is_found_only_whole_and_in_order(index):
    assert [text for _, text in index.find("And then: et tu brute! Then fall, Caesar.")] == ["et tu brute"]
    assert index.find("Brute, et tu? Then fall.") == []
    assert index.find("et tu brutes") == []


def test_a_clean_document_shares_nothing(index):
    assert index.find("Friends, Romans and countrymen gathered to hear the news from the forum today.") == []
    assert index.find("") == [] and index.refs(12345) == []


def test_too_common_ngrams_do_not_make_a_document_contaminated(index):
    found = [h for h, _ in index.find(ORATION)]
    assert contaminated_by(index, found, set(found)) == []
    assert contaminated_by(index, found, set(found[1:])) == [("passages", 0), ("speakers", 0)]


def test_the_index_pickles_as_arrays(index):
    again = pickle.loads(pickle.dumps(index))
    assert again.find(ORATION) == index.find(ORATION)
    assert EvalIndex.build([]).find(ORATION) == []


def test_eval_files_are_json_lines_or_plain_text_numbered_across_files():
    jsonl = ['{"text": "first question", "answer": "a"}', "", '{"text": "second"}']
    assert [(e.index, e.text) for e in parse_examples("qa.jsonl", jsonl, "qa", 0)] == [(0, "first question"),
                                                                                      (1, "second")]
    plain = ["one passage\n", "\n", "another passage\r\n"]
    assert [(e.eval_set, e.index, e.text) for e in parse_examples("p.txt.gz", plain, "p", 5)] == [
        ("p", 5, "one passage"), ("p", 6, "another passage")]
    other_field = parse_examples("q.jsonl", ['{"question": "q?"}'], "q", 0, text_field="question")
    assert [e.text for e in other_field] == ["q?"]


@pytest.mark.parametrize("line", ['{"answer": "a"}', "not json", '["text"]', '{"text": 3}'])
def test_a_bad_json_example_is_an_error_naming_file_and_line(line):
    with pytest.raises(ValueError, match=r"qa\.jsonl:2: "):
        list(parse_examples("qa.jsonl", ['{"text": "fine"}', line], "qa", 0))
