"""The wikiref classifier (LLaMA-1: "pages used as references in Wikipedia v.s. randomly sampled pages").

It gets equal counts of `wiki` and `cc` examples. In production (`positives: urls`)
the positives are the CommonCrawl pages whose URL is in the given reference-URL files
(Wikipedia's externallinks table), joined against the crawl in Beam
(pipeline.models.wikiref_examples); negatives are other crawl pages. The bundled
sample has too few such pages, so `positives: wikipedia` uses Wikipedia article text
instead. A held-out split (by id hash) gives the precision and recall on the card.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from filters.document import id_hash
from filters.wikiref import LABEL_CC, LABEL_WIKI, heldout_metrics, training_line
from pipeline.models.cache import MODELS_VERSION, building, cached, card_path, digest, fingerprint, publish, write_card
from pipeline.models.wikipedia_text import wikipedia_articles
from pipeline.models.wikiref_examples import collect_cc_examples
from pipeline.settings import as_plain, at_least, between
from shard_format import file_sha256

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class WikiRefTraining:
    """Config `models.train.wikiref`: the fastText wiki-vs-cc classifier."""

    # urls: CommonCrawl pages cited by Wikipedia (its externallinks dumps, in reference_urls),
    # LLaMA-1's positives. wikipedia: article text stands in for them: dry runs only.
    positives: Literal["wikipedia", "urls"] = "urls"
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

    def fasttext_args(self, seed: int) -> dict:
        return {"epoch": self.epoch, "lr": self.lr, "wordNgrams": self.word_ngrams, "dim": self.dim,
                "bucket": self.bucket, "minCount": self.min_count, "thread": self.threads, "seed": seed}

    def key(self, seed: int) -> dict:
        return {"positives": self.positives, "max_per_class": self.max_per_class,
                "heldout_fraction": self.heldout_fraction, **self.fasttext_args(seed)}


def is_heldout(doc_id: str, fraction: float) -> bool:
    # Its own hash, so the held-out split is not the sampling order.
    return id_hash(doc_id, "heldout") < fraction * 2**64


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


def _wikiref_key(config: dict, settings: WikiRefTraining, lid_model: Path) -> str:
    cc = config.cc
    return digest({
        "version": MODELS_VERSION, "train": settings.key(config.seed),
        "cc_inputs": fingerprint(config.inputs.cc),
        "wikipedia": fingerprint(config.inputs.wikipedia) if settings.positives == "wikipedia" else None,
        "min_chars_wikipedia": config.wikipedia.min_chars,
        "reference_urls": fingerprint(settings.reference_urls) if settings.positives == "urls" else None,
        "lid_sha256": file_sha256(lid_model), "lid": as_plain(cc.lid), "main_content": cc.main_content,
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
        return {"path": str(path.resolve()), "sha256": file_sha256(path), "bytes": path.stat().st_size,
                "origin": f"config models.wikiref = {given} (used in place)", "labels": [LABEL_WIKI, LABEL_CC]}
    if not config.inputs.cc or not config.cc.wikiref.enabled:
        return None
    if settings.positives == "wikipedia" and not config.inputs.wikipedia:
        log.warning("models: wikiref positives come from inputs.wikipedia, which is empty: no classifier "
                    "(set models.wikiref, or positives: urls with reference_urls)")
        return None
    directory = models_dir / "wikiref"
    key = _wikiref_key(config, settings, lid_model)
    card = cached(directory, key, ["wikiref.bin", "heldout.txt"])
    if card is None:
        card = _train_wikiref(config, directory, settings, lid_model, key, options)
        if card is None:
            return None
    else:
        log.info("models: wikiref classifier is cached (%s)", directory)
    # Held-out numbers at the configured threshold: recomputed, so changing it needs no retraining.
    import fasttext

    model = fasttext.load_model(str(directory / "wikiref.bin"))  # not the per-path cache: it may be new
    heldout = (directory / "heldout.txt").read_text(encoding="utf-8").splitlines()
    card["heldout"] = {
        "at_threshold": heldout_metrics(model, heldout, threshold),
        "at_0.5": heldout_metrics(model, heldout, 0.5),
    }
    write_card(directory, card)
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
    tmp = building(directory)
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
    train_sha = file_sha256(tmp / "train.txt")
    (tmp / "train.txt").unlink()

    def count(rows, label):
        return sum(1 for r in rows if r[2].startswith(label + " "))

    card = {
        "path": card_path(directory / "wikiref.bin", directory.parent),
        "sha256": file_sha256(tmp / "wikiref.bin"),
        "bytes": (tmp / "wikiref.bin").stat().st_size,
        "origin": "trained by the models stage (fastText supervised, LLaMA-1's Wikipedia-reference classifier)",
        "labels": [LABEL_WIKI, LABEL_CC],
        "positives": POSITIVES_NOTE[settings.positives],
        "negatives": "random CommonCrawl pages of inputs.cc (smallest id hashes) that pass the CC stage's LID "
                     "and minimum length",
        "training_data": {
            "train": {"wiki": count(train, LABEL_WIKI), "cc": count(train, LABEL_CC), "sha256": train_sha},
            "heldout": {"wiki": count(heldout, LABEL_WIKI), "cc": count(heldout, LABEL_CC),
                        "sha256": file_sha256(tmp / "heldout.txt"), "fraction": settings.heldout_fraction},
            "text": "filters.wikiref.classifier_text (lowercased, newlines as spaces)",
        },
        "fasttext": settings.fasttext_args(config.seed),
        "cache_key": key,
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    for scratch in ("wiki.jsonl", "cc.jsonl"):
        (tmp / scratch).unlink(missing_ok=True)
    write_card(tmp, card)
    publish(tmp, directory)
    log.info("models: wikiref classifier on %d + %d examples in %.1fs", n, n, card["train_seconds"])
    return card

