"""The models stage's reference models, trained for real on gensim's English Wikipedia
sample and the bundled CommonCrawl sample: SentencePiece + KenLM (lmplz), the
fastText wikiref classifier, the cache, the URL join, lmplz's discount fallback.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
import time
from pathlib import Path

import fasttext
import pytest
from warcio.archiveiterator import ArchiveIterator

from filters.perplexity import load_language_model
from filters.wikiref import LABEL_CC, LABEL_WIKI
from pipeline.config import ConfigError, config_from
from pipeline.models.lid import default_lid_model
from pipeline.models.cards import format_cards
from pipeline.models.perplexity import PerplexityTraining, estimate_kenlm
from pipeline.models.stage import resolve_cards, train_reference_models
from pipeline.models.wikipedia_text import wikipedia_articles
from pipeline.models.wikiref_examples import collect_cc_examples
from samples.fixtures import gensim_wiki_files

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_WET = ROOT / "data" / "sample" / "cc" / "crawl-00000.warc.wet.gz"
MAX_BYTES = 600_000  # of gensim's ~2.8 MB of article text: quick, and leaves unseen articles


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_config(wiki: Path, models: dict | None = None, **train):
    return config_from({
        "inputs": {"cc": [str(SAMPLE_WET)], "wikipedia": [str(wiki)]},
        "sample": {"max_records_per_file": 150},  # CC pages; Wikipedia stops at max_bytes anyway
        "models": {**(models or {}), "train": {
            "perplexity": {"max_bytes": MAX_BYTES, "vocab_size": 2000, "order": 5, "discount_fallback": "auto",
                           "memory": "200M", "kenlm_bin": None, **train.get("perplexity", {})},
            "wikiref": {"positives": "wikipedia", "reference_urls": [], "max_per_class": 40, "heldout_fraction": 0.25,
                        "epoch": 50, "lr": 0.5, "word_ngrams": 2, "dim": 50, "bucket": 100_000, "min_count": 1,
                        "threads": 1, **train.get("wikiref", {})},
        }},
    })


@pytest.fixture(scope="module")
def wiki() -> Path:
    if not SAMPLE_WET.exists():
        pytest.fail("data/sample is missing: `make test` builds it (make sample)")
    return gensim_wiki_files()["enwiki"]


@pytest.fixture(scope="module")
def trained(wiki, tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("out") / "models"
    config = make_config(wiki)
    recorded = train_reference_models(config, models_dir, lid_model=default_lid_model())
    return config, models_dir, resolve_cards(recorded, models_dir.parent), recorded


# ---------------------------------------------------------------- the KenLM pair

def test_language_model_files_match_their_card(trained):
    _, models_dir, cards, recorded = trained
    # Recorded relative to OUT, so another OUT never loads these files by mistake.
    assert recorded["perplexity"]["en"]["sentencepiece"]["path"] == "models/perplexity/en/sentencepiece.model"
    assert set(cards["perplexity"]) == {"en"}  # cc.lid.languages, with Wikipedia data
    card = cards["perplexity"]["en"]
    sp, lm = Path(card["sentencepiece"]["path"]), Path(card["kenlm"]["path"])
    assert sp == models_dir / "perplexity" / "en" / "sentencepiece.model"
    assert sha256(sp) == card["sentencepiece"]["sha256"] and sha256(lm) == card["kenlm"]["sha256"]
    assert sorted(p.name for p in sp.parent.iterdir()) == ["card.json", "kenlm.binary", "sentencepiece.model"]
    assert card["kenlm"]["lmplz"].startswith("lmplz -o 5 ")
    assert load_language_model(sp, lm).lm.order == 5
    data = card["training_data"]
    assert data["truncated_at_max_bytes"] and MAX_BYTES - 20_000 < data["bytes"] <= MAX_BYTES
    assert card["sentencepiece"]["vocab_size"] <= 2000


def _unseen_paragraphs(config) -> list[str]:
    """Long paragraphs of articles that start after the training text was full."""
    seen = 0
    out = []
    for article in wikipedia_articles(config, ["en"]):
        if seen > MAX_BYTES:
            out += [p for p in article.text.split("\n") if len(p) > 400]
            if len(out) >= 5:
                return out[:5]
        seen += len(article.text.encode())
    raise AssertionError("gensim's sample has fewer unseen articles than expected")


BOILERPLATE = (
    "Home | About us | Contact | Login | Register | Cart (0) | Privacy Policy | Terms of Use | "
    "Cookie settings | Subscribe to our newsletter | Follow us on Facebook Twitter Instagram | "
    "Copyright 2024 All rights reserved | Powered by WordPress"
)


def test_wikipedia_text_is_less_perplexing_than_shuffled_words_and_boilerplate(trained):
    config, _, cards, _ = trained
    card = cards["perplexity"]["en"]
    model = load_language_model(card["sentencepiece"]["path"], card["kenlm"]["path"])
    boilerplate = model.perplexity(BOILERPLATE)
    rng = random.Random(0)
    for paragraph in _unseen_paragraphs(config):
        words = paragraph.split()
        rng.shuffle(words)
        real = model.perplexity(paragraph)
        assert real < model.perplexity(" ".join(words)), paragraph[:80]
        assert real < boilerplate, paragraph[:80]


# ---------------------------------------------------------------- the classifier

def test_classifier_has_equal_classes_and_its_heldout_numbers_check_out(trained):
    _, models_dir, cards, recorded = trained
    card = cards["wikiref"]
    path = models_dir / "wikiref" / "wikiref.bin"
    assert recorded["wikiref"]["path"] == "models/wikiref/wikiref.bin"
    assert card["path"] == str(path) and sha256(path) == card["sha256"]
    data = card["training_data"]
    assert data["train"]["wiki"] + data["heldout"]["wiki"] == data["train"]["cc"] + data["heldout"]["cc"] == 40
    assert "Wikipedia article text" in card["positives"]
    # Recount the held-out confusion matrix with fastText directly.
    model = fasttext.load_model(str(path))
    tp = fp = fn = 0
    lines = (models_dir / "wikiref" / "heldout.txt").read_text().splitlines()
    assert len(lines) == data["heldout"]["wiki"] + data["heldout"]["cc"] >= 10
    for line in lines:
        label, text = line.split(" ", 1)
        got, probs = model.predict([text], k=-1)
        wiki = dict(zip(got[0], probs[0]))[LABEL_WIKI] >= 0.25
        tp += wiki and label == LABEL_WIKI
        fp += wiki and label == LABEL_CC
        fn += not wiki and label == LABEL_WIKI
    metrics = card["heldout"]["at_threshold"]
    assert (metrics["tp"], metrics["fp"], metrics["fn"]) == (tp, fp, fn)
    assert metrics["precision"] == round(tp / (tp + fp), 4) and metrics["recall"] == round(tp / (tp + fn), 4)
    # Encyclopedia vs. web pages is easy, even from 30 pages a class (fastText's own decision: 0.5).
    assert metrics["recall"] >= 0.8
    assert card["heldout"]["at_0.5"]["precision"] >= 0.8 and card["heldout"]["at_0.5"]["recall"] >= 0.8
    summary = "\n".join(format_cards(cards))
    assert f"precision {metrics['precision']}, recall {metrics['recall']}" in summary
    assert json.loads((models_dir / "wikiref" / "card.json").read_text())["heldout"] == card["heldout"]


# ---------------------------------------------------------------- cache

def test_rerun_reuses_models_and_a_changed_setting_retrains_only_its_model(trained, wiki):
    config, models_dir, cards, recorded = trained
    files = [Path(cards["perplexity"]["en"]["kenlm"]["path"]), Path(cards["wikiref"]["path"])]
    before = [f.stat().st_mtime_ns for f in files]
    start = time.perf_counter()
    again = train_reference_models(config, models_dir, lid_model=default_lid_model())
    assert time.perf_counter() - start < 5
    assert again == recorded and [f.stat().st_mtime_ns for f in files] == before
    changed = train_reference_models(make_config(wiki, perplexity={"vocab_size": 1500}), models_dir,
                                     lid_model=default_lid_model())
    assert changed["perplexity"]["en"]["cache_key"] != cards["perplexity"]["en"]["cache_key"]
    assert changed["perplexity"]["en"]["sentencepiece"]["vocab_size"] <= 1500
    assert files[0].stat().st_mtime_ns != before[0] and files[1].stat().st_mtime_ns == before[1]
    assert not list(models_dir.glob(".tmp-*")) and not list((models_dir / "perplexity").glob(".*"))


def test_given_models_are_used_in_place(trained, wiki, tmp_path):
    _, _, cards, _ = trained
    en = cards["perplexity"]["en"]
    given = {"kenlm": {"en": en["kenlm"]["path"]}, "sentencepiece": {"en": en["sentencepiece"]["path"]},
             "wikiref": cards["wikiref"]["path"]}
    config = make_config(wiki, given)
    got = train_reference_models(config, tmp_path / "models", lid_model=default_lid_model())
    assert got["perplexity"]["en"]["kenlm"]["path"] == en["kenlm"]["path"]
    assert got["perplexity"]["en"]["kenlm"]["sha256"] == sha256(en["kenlm"]["path"])
    assert got["perplexity"]["en"]["sentencepiece"]["sha256"] == sha256(en["sentencepiece"]["path"])
    assert got["wikiref"]["sha256"] == sha256(cards["wikiref"]["path"])
    assert not (tmp_path / "models").exists()  # nothing trained
    config = make_config(wiki, {**given, "sentencepiece": {}})
    with pytest.raises(ValueError, match="models.sentencepiece.en"):
        train_reference_models(config, tmp_path / "models", lid_model=default_lid_model())


# ---------------------------------------------------------------- production inputs

def _wet_pages(path: Path, limit: int) -> list[tuple[str, str]]:
    """(url, text) of the first `limit` conversion records, read with warcio."""
    pages = []
    with open(path, "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "conversion":
                pages.append((record.rec_headers.get_header("WARC-Target-URI"),
                              record.content_stream().read().decode("utf-8")))
                if len(pages) == limit:
                    break
    return pages


def _externallinks_sql(urls: list[str]) -> str:
    """Wikipedia's externallinks table as mysqldump writes it (MediaWiki 1.40 schema)."""
    def lit(u):
        return "'" + u.replace("\\", "\\\\").replace("'", "\\'") + "'"
    rows = ",".join(f"({i},{100 + i},{lit(u)},{lit(u)},'')" for i, u in enumerate(urls, 1))
    return ("-- MySQL dump 10.19  Distrib 10.5.19-MariaDB\n"
            "DROP TABLE IF EXISTS `externallinks`;\n"
            "CREATE TABLE `externallinks` (\n"
            "  `el_id` int(10) unsigned NOT NULL AUTO_INCREMENT,\n"
            "  `el_from` int(8) unsigned NOT NULL DEFAULT 0,\n"
            "  `el_to` blob NOT NULL,\n"
            "  PRIMARY KEY (`el_id`)\n"
            ") ENGINE=InnoDB DEFAULT CHARSET=binary;\n"
            f"INSERT INTO `externallinks` VALUES {rows};\n")


@pytest.mark.parametrize("fmt", ["tsv", "sql"])
def test_reference_urls_are_joined_against_the_crawl(wiki, tmp_path, fmt):
    # Three long docs.python.org pages (English: they pass LID) cited in other spellings.
    pages = [(u, t) for u, t in _wet_pages(SAMPLE_WET, 150) if "docs.python.org" in u and len(t) > 3000][:3]
    assert len(pages) == 3
    cited = [pages[0][0].replace("https://", "http://www."), pages[1][0].rstrip("/") + "/#intro",
             pages[2][0].replace("docs.python.org", "DOCS.python.org"), "https://nowhere.example/never-crawled"]
    urls = tmp_path / f"externallinks.{fmt}.gz"
    with gzip.open(urls, "wt") as f:
        f.write("".join(f"{u}\t12345\n" for u in cited) if fmt == "tsv" else _externallinks_sql(cited))
    config = make_config(wiki, wikiref={"positives": "urls", "reference_urls": [str(urls)]})
    collect_cc_examples(config, default_lid_model(), 40, (str(urls),), tmp_path)
    rows = {name: [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
            for name in ("wiki", "cc")}
    assert sorted(r["url"] for r in rows["wiki"]) == sorted(u for u, _ in pages)
    assert all(r["line"].startswith(LABEL_WIKI + " ") for r in rows["wiki"])
    assert len(rows["cc"]) == 40 and not {r["url"] for r in rows["cc"]} & {u for u, _ in pages}
    assert all(r["line"].startswith(LABEL_CC + " ") for r in rows["cc"])


@pytest.mark.parametrize("key, value, message", [
    ("perplexity.order", 9, "models.train.perplexity.order must be in [2, 6]"),
    ("wikiref.positives", "urls", "reference_urls lists no file"),
    ("wikiref.positives", "web", "models.train.wikiref.positives must be one of wikipedia, urls"),
])
def test_settings_are_validated(key, value, message):
    with pytest.raises(ConfigError) as error:
        config_from({"inputs": {"cc": ["crawl/*.warc.wet.gz"]}}, [f"models.train.{key}={value}"])
    assert message in str(error.value)


def test_the_default_positives_are_pages_wikipedia_cites_and_need_the_externallinks_dumps():
    """Safe by default: the article-text stand-in is opt-in; without reference URLs a CC run stops."""
    crawl = {"inputs": {"cc": ["crawl/*.warc.wet.gz"]}}
    assert config_from({}).models.train.wikiref.positives == "urls"
    with pytest.raises(ConfigError, match="reference_urls lists no file: .*externallinks"):
        config_from(crawl)
    # Each way out works: the dumps, a trained classifier, no wikiref stage, or the stand-in.
    config_from(crawl, ["models.train.wikiref.reference_urls=[links.txt]"])
    config_from(crawl, ["models.wikiref=classifier.bin"])
    config_from(crawl, ["cc.wikiref.enabled=false"])
    config_from(crawl, ["models.train.wikiref.positives=wikipedia"])
    config_from({})  # no CommonCrawl input: no classifier needed


# ---------------------------------------------------------------- lmplz on tiny data

def test_lmplz_gets_discount_fallback_only_when_it_asks(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("a b c\nb c d\na b d\n")  # too little data for Kneser-Ney discounts
    info = estimate_kenlm(corpus, tmp_path / "x.arpa", tmp_path / "x.bin",
                          PerplexityTraining(order=3, memory="50M"), tmp_path)
    assert info["discount_fallback"] and "--discount_fallback" in info["lmplz"]
    assert (tmp_path / "x.bin").exists()
    with pytest.raises(RuntimeError, match="discount_fallback"):
        estimate_kenlm(corpus, tmp_path / "y.arpa", tmp_path / "y.bin",
                       PerplexityTraining(order=3, memory="50M", discount_fallback=False), tmp_path)


def _passing_pages(config) -> list:
    """The sample pages the CC curation's length floor and LID let through, read as the models stage reads them."""
    from filters.lid import LanguageIdFilter
    from pipeline.models.wikiref_examples import _PassesLid
    from pipeline.read import iter_file
    from pipeline.readers.base import Malformed, Skipped
    from pipeline.readers.warc import make_parser

    passes = _PassesLid(LanguageIdFilter(default_lid_model(), config.cc.lid.languages, config.cc.lid.threshold))
    parse = make_parser(main_content=config.cc.main_content, source="cc")
    return [d for d in iter_file(str(SAMPLE_WET), parse, config.sample)
            if not isinstance(d, (Malformed, Skipped))
            and len(d.text.strip()) >= config.cc.line_dedup.min_chars and passes(d)]


def test_candidates_skip_lid_yet_keep_every_page_that_can_be_picked(wiki):
    """`_Candidates` runs LID only on pages whose id hash may still be among the n smallest, in any
    order of arrival, and lets through every page of the n smallest of all passing pages."""
    from filters.document import id_hash
    from filters.lid import LanguageIdFilter
    from pipeline.models.wikiref_examples import _Candidates

    config = make_config(wiki)
    passing = _passing_pages(config)
    n = 5
    smallest = {d.id for d in sorted(passing, key=lambda d: (id_hash(d.id), d.id))[:n]}
    from pipeline.read import iter_file
    from pipeline.readers.base import Malformed, Skipped
    from pipeline.readers.warc import make_parser

    pages = [d for d in iter_file(str(SAMPLE_WET), make_parser(main_content=True, source="cc"), config.sample)
             if not isinstance(d, (Malformed, Skipped))]
    for seed in range(3):
        random.Random(seed).shuffle(pages)
        lid = LanguageIdFilter(default_lid_model(), config.cc.lid.languages, config.cc.lid.threshold)
        calls = []
        apply = lid.apply
        lid.apply = lambda doc: calls.append(doc.id) or apply(doc)
        candidates = _Candidates(lid, config.cc.line_dedup.min_chars, n)
        out = [d.id for page in pages for d in candidates(page)]
        assert smallest <= set(out)
        assert len(calls) < len(pages) * 0.5, (len(calls), len(pages))


def test_the_cc_examples_are_the_n_passing_pages_with_the_smallest_id_hashes(wiki, tmp_path):
    from filters.document import id_hash

    config = make_config(wiki)
    n = 25
    collect_cc_examples(config, default_lid_model(), n, (), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "cc.jsonl").read_text().splitlines()]
    want = sorted(_passing_pages(config), key=lambda d: (id_hash(d.id), d.id))[:n]
    assert sorted(r["id"] for r in rows) == sorted(d.id for d in want)
