"""The perplexity models: one SentencePiece + KenLM pair per CommonCrawl language, as cc_net.

    Wikipedia of the language ─ normalised paragraphs (`filters.perplexity.training_lines`)
        ─ SentencePiece (unigram) ─ tokenized corpus ─ lmplz -o 5 ─ build_binary -> perplexity/<lang>/

The paragraphs are normalised as `cc.perplexity.scoring` normalises the documents it
scores: cc_net's `text_normalizer.normalize` of each paragraph for `cc_net` (cc_net
trained on each Wikipedia article's opening text normalised so), `paragraphs` for
`paragraph`; the card says which.

Only the languages of `cc.lid.languages` that have Wikipedia inputs are trained; a
language given in `models.kenlm` + `models.sentencepiece` is used as is.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from filters.perplexity import training_lines
from pipeline.models.cache import (
    MODELS_VERSION, building, cached, card_path, digest, fingerprint, match_files, publish, write_card,
)
from pipeline.models.wikipedia_text import LangCorpus, wikipedia_articles
from pipeline.settings import as_plain, at_least, between
from shard_format import file_sha256

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, kw_only=True)
class PerplexityTraining:
    """Config `models.train.perplexity`: the SentencePiece + KenLM pair per language."""

    max_bytes: int = at_least(200_000_000, 1)  # normalised Wikipedia text per language
    vocab_size: int = at_least(32000, 16)
    order: int = between(5, 2, 6)  # cc_net's are 5-grams; tools/build_kenlm.sh allows up to 6
    discount_fallback: bool | Literal["auto"] = "auto"  # auto: only when lmplz says the data is too small
    memory: str = "1G"  # lmplz -S: its sort memory; raise it for a full Wikipedia
    kenlm_bin: str | None = None  # directory of lmplz/build_binary; None: .cache/kenlm/bin, then PATH

    def key(self, seed: int) -> dict:  # what changes the model (not where lmplz lives or its memory)
        return {"max_bytes": self.max_bytes, "vocab_size": self.vocab_size, "order": self.order,
                "discount_fallback": self.discount_fallback, "seed": seed}


def kenlm_binaries(settings: PerplexityTraining) -> tuple[Path, Path]:
    """lmplz and build_binary: the configured directory, .cache/kenlm/bin, then PATH."""
    candidates = [Path(settings.kenlm_bin)] if settings.kenlm_bin else [ROOT / ".cache" / "kenlm" / "bin"]
    for directory in candidates:
        lmplz, build = directory / "lmplz", directory / "build_binary"
        if lmplz.exists() and build.exists():
            return lmplz, build
    lmplz, build = shutil.which("lmplz"), shutil.which("build_binary")
    if lmplz and build:
        return Path(lmplz), Path(build)
    raise FileNotFoundError(
        f"KenLM's lmplz and build_binary not found in {candidates[0]} or on PATH: run tools/build_kenlm.sh "
        "(make setup does), set models.train.perplexity.kenlm_bin, or give pre-built models in models.kenlm "
        "and models.sentencepiece"
    )


def train_sentencepiece(corpus: Path, vocab_size: int, seed: int = 0) -> tuple[bytes, dict]:
    """A unigram SentencePiece model of the normalised corpus (one paragraph a line)."""
    import io

    import sentencepiece as spm

    settings = {
        "model_type": "unigram", "vocab_size": vocab_size, "character_coverage": 0.9999,
        # A small sample cannot fill a large vocabulary: take what it supports.
        "hard_vocab_limit": False,
        "input_sentence_size": 2_000_000, "shuffle_input_sentence": True,
        "num_threads": 1,  # deterministic
    }
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)

    def sentences():  # an iterator, not `input=`: the model would record the temporary path
        with open(corpus, encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")

    spm.SentencePieceTrainer.train(sentence_iterator=sentences(), model_writer=model, minloglevel=2, **settings)
    return model.getvalue(), settings


def tokenize_corpus(sp_model: Path, corpus: Path, out: Path) -> int:
    """Write the corpus as space-joined pieces, a paragraph a line; returns the token count."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    tokens = 0
    with open(corpus, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        batch: list[str] = []
        for line in src:
            batch.append(line.rstrip("\n"))
            if len(batch) == 10000:
                tokens += _write_pieces(sp, batch, dst)
                batch = []
        if batch:
            tokens += _write_pieces(sp, batch, dst)
    return tokens


def _write_pieces(sp, batch: list[str], dst) -> int:
    n = 0
    for pieces in sp.encode(batch, out_type=str):
        dst.write(" ".join(pieces) + "\n")
        n += len(pieces)
    return n


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def estimate_kenlm(tokenized: Path, arpa: Path, binary: Path, settings: PerplexityTraining,
                   tmp: Path) -> dict:
    """lmplz then build_binary; returns what was run, for the card."""
    lmplz, build = kenlm_binaries(settings)
    base = [str(lmplz), "-o", str(settings.order), "-S", settings.memory, "-T", str(tmp),
            "--text", str(tokenized), "--arpa", str(arpa)]
    fallback = settings.discount_fallback is True
    done = _run(base + (["--discount_fallback"] if fallback else []))
    if done.returncode != 0 and settings.discount_fallback == "auto" and "discount_fallback" in done.stderr:
        # lmplz cannot estimate Kneser-Ney discounts from too little data and says so.
        log.info("models: lmplz asks for --discount_fallback (small training data): retrying with it")
        fallback = True
        done = _run(base + ["--discount_fallback"])
    if done.returncode != 0:
        raise RuntimeError(f"lmplz failed ({done.returncode}): {' '.join(base)}\n{done.stderr[-3000:]}")
    built = _run([str(build), str(arpa), str(binary)])
    if built.returncode != 0:
        raise RuntimeError(f"build_binary failed ({built.returncode}):\n{built.stderr[-3000:]}")
    return {
        "lmplz": " ".join(["lmplz", "-o", str(settings.order), "-S", settings.memory]
                          + (["--discount_fallback"] if fallback else []) + ["<tokenized corpus"]),
        "build_binary": "build_binary <arpa> <binary>  (probing hash table)",
        "discount_fallback": fallback,
        "ngrams": _arpa_counts(arpa),
    }


def _arpa_counts(arpa: Path) -> dict[str, int]:
    counts = {}
    with open(arpa, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("ngram "):
                n, count = line[len("ngram "):].strip().split("=")
                counts[n] = int(count)
            elif line.startswith("\\1-grams"):
                break
    return counts


def _perplexity_key(config: dict, lang: str, settings: PerplexityTraining) -> str:
    return digest({
        "version": MODELS_VERSION, "lang": lang, "train": settings.key(config.seed),
        "wikipedia": fingerprint(config.inputs.wikipedia), "normalization": config.cc.perplexity.scoring,
        "min_chars": config.wikipedia.min_chars, "sample": as_plain(config.sample),
    })


def _given_perplexity_models(config: dict) -> dict[str, dict]:
    """Pre-built pairs from models.kenlm / models.sentencepiece, checked and carded."""
    kenlm_paths = config.models.kenlm
    sp_paths = config.models.sentencepiece
    cards = {}
    for lang, lm in kenlm_paths.items():
        if not lm:
            continue
        sp = sp_paths.get(lang)
        if not sp:
            raise ValueError(f"models.kenlm.{lang} is set but models.sentencepiece.{lang} is not: the LM's "
                             "tokens must come from the SentencePiece model it was trained with")
        for path in (lm, sp):
            if not Path(path).exists():
                raise FileNotFoundError(f"model not found: {path} (models.kenlm / models.sentencepiece.{lang})")
        cards[lang] = {
            "language": lang,
            "origin": f"config models.kenlm.{lang} and models.sentencepiece.{lang} (used in place, not copied)",
            "sentencepiece": {"path": str(Path(sp).resolve()), "sha256": file_sha256(Path(sp)),
                              "bytes": Path(sp).stat().st_size},
            "kenlm": {"path": str(Path(lm).resolve()), "sha256": file_sha256(Path(lm)),
                      "bytes": Path(lm).stat().st_size},
        }
    return cards


def perplexity_models(config: dict, models_dir: Path, settings: PerplexityTraining) -> dict[str, dict]:
    """{lang: card} for every CC language with a model, training the missing ones."""
    cards = _given_perplexity_models(config)
    wanted = [lang for lang in config.cc.lid.languages if lang not in cards]
    if not wanted:
        return cards
    if not config.inputs.wikipedia:
        log.warning("models: no KenLM model for %s and no inputs.wikipedia to train one on: their "
                    "documents stay unscored (set models.kenlm / models.sentencepiece)", ", ".join(wanted))
        return cards
    root = models_dir / "perplexity"
    keys = {lang: _perplexity_key(config, lang, settings) for lang in wanted}
    todo = []
    for lang in wanted:
        card = cached(root / lang, keys[lang], ["sentencepiece.model", "kenlm.binary"])
        if card is not None:
            log.info("models: perplexity model for %s is cached (%s)", lang, root / lang)
            cards[lang] = card
        else:
            todo.append(lang)
    if not todo:
        return cards

    start = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    tmps = {lang: building(root / lang) for lang in todo}
    scoring = config.cc.perplexity.scoring
    lines = functools.partial(training_lines, scoring=scoring)
    corpora = {lang: LangCorpus(tmps[lang] / "corpus.txt", settings.max_bytes, lines) for lang in todo}
    files = [Path(p).name for p in match_files(config.inputs.wikipedia)]
    for article in wikipedia_articles(config, todo, lambda lang: corpora[lang].full):
        corpora[article.meta["wiki_lang"]].add(article.text)
    for corpus in corpora.values():
        if corpus.file is not None:
            corpus.file.close()
    log.info("models: read Wikipedia text for %s in %.1fs", ", ".join(todo), time.perf_counter() - start)

    for lang in todo:
        corpus, tmp = corpora[lang], tmps[lang]
        if corpus.paragraphs == 0:
            log.warning("models: no Wikipedia text in %s for language %s: its documents stay unscored",
                        ", ".join(files), lang)
            shutil.rmtree(tmp)
            continue
        cards[lang] = _train_language(lang, corpus, tmp, root / lang, settings, keys[lang], files, config.seed,
                                      scoring)
    return cards


NORMALIZATION = {
    "cc_net": "cc_net's text_normalizer.normalize of each paragraph (filters.perplexity.normalize_cc_net: "
              "lowercase, accents stripped, digits -> 0, Unicode punctuation -> ASCII, control characters "
              "removed), as cc.perplexity.scoring cc_net normalises a document",
    "paragraph": "filters.perplexity.paragraphs (cc_net's mapping per line, tabs as spaces), as "
                 "cc.perplexity.scoring paragraph normalises a document",
}


def _train_language(lang: str, corpus: LangCorpus, tmp: Path, final: Path, settings: PerplexityTraining,
                    key: str, files: list[str], seed: int, scoring: str) -> dict:
    start = time.perf_counter()
    sp_bytes, sp_settings = train_sentencepiece(corpus.path, settings.vocab_size, seed)
    sp_path = tmp / "sentencepiece.model"
    sp_path.write_bytes(sp_bytes)
    tokenized = tmp / "corpus.tok"
    tokens = tokenize_corpus(sp_path, corpus.path, tokenized)
    arpa = tmp / "kenlm.arpa"
    kenlm_info = estimate_kenlm(tokenized, arpa, tmp / "kenlm.binary", settings, tmp)
    for scratch in (corpus.path, tokenized, arpa):  # the training text is large; its sha256 stays
        scratch.unlink()
    import sentencepiece as spm

    vocab = spm.SentencePieceProcessor(model_proto=sp_bytes).get_piece_size()
    card = {
        "language": lang,
        "origin": "trained by the models stage on the Wikipedia inputs (cc_net's recipe)",
        "normalization": NORMALIZATION[scoring],
        "sentencepiece": {"path": card_path(final / "sentencepiece.model", final.parents[1]),
                          "sha256": hashlib.sha256(sp_bytes).hexdigest(),
                          "bytes": len(sp_bytes), "vocab_size": vocab, "settings": sp_settings},
        "kenlm": {"path": card_path(final / "kenlm.binary", final.parents[1]), "sha256": file_sha256(tmp / "kenlm.binary"),
                  "bytes": (tmp / "kenlm.binary").stat().st_size, "order": settings.order, **kenlm_info},
        "training_data": {
            "source": "wikipedia", "files": files, "articles": corpus.articles, "paragraphs": corpus.paragraphs,
            "bytes": corpus.bytes, "tokens": tokens,
            "truncated_at_max_bytes": corpus.truncated,
            "sha256": corpus.sha256.hexdigest(),  # of the normalised paragraphs, each followed by "\n"
        },
        "cache_key": key,
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    write_card(tmp, card)
    publish(tmp, final)
    log.info("models: %s KenLM %d-gram, %d pieces, %s tokens of Wikipedia in %.1fs", lang, settings.order,
             vocab, f"{tokens:,}", card["train_seconds"])
    return card

