"""`python -m pipeline shards`: tokenized, mixed shards in the DESIGN.md format, identical on every runner."""
from __future__ import annotations

import ast
import hashlib
import json
import math
import shutil
import sysconfig
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filters.document import Document
from pipeline.config import config_from
from pipeline.mix import copies, format_mixture_table, is_validation, shard_key
from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row
from pipeline.runner import make_options
from pipeline.shards import run_shards_stage
from pipeline.tokenizer_stage import run_tokenizer_stage
from pipeline.store import Store
from shard_format import HEADER_SIZE, MAGIC, ShardFormatError, open_shard, read_manifest
from tokenizer_training import load

SEED, VAL, TARGET = 11, 0.05, 60_000
STDLIB = Path(sysconfig.get_paths()["stdlib"])
MULTI = ["--runner", "DirectRunner", "--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]


def real_documents() -> dict[str, list[Document]]:
    """Real text from any Python install and Debian system: docstrings, code, licences."""
    docs = defaultdict(list)
    for path in sorted(STDLIB.glob("*.py"))[:40]:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for i, node in enumerate(n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))):
            doc = ast.get_docstring(node)
            if doc and len(doc) >= 200:
                docs["cc"].append(Document(id=f"cc/{path.stem}-{i}", source="cc", text=doc))
        lines = source.splitlines(keepends=True)
        for node in tree.body[:25]:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                text = "".join(lines[node.lineno - 1:node.end_lineno])
                docs["github"].append(Document(id=f"github/{path.stem}.{node.name}", source="github", text=text))
    for path in sorted(Path("/usr/share/common-licenses").iterdir()):
        if path.is_file() and not path.is_symlink():
            for i, para in enumerate(path.read_text(encoding="utf-8").split("\n\n")):
                if len(para) >= 100:
                    docs["wikipedia"].append(Document(id=f"wikipedia/{path.name}-{i}", source="wikipedia", text=para))
    return dict(docs)


def write_curated(out: Path, docs: dict[str, list[Document]]) -> None:
    for source, documents in docs.items():
        directory = out / "curated" / source
        directory.mkdir(parents=True)
        for i in range(2):
            rows = [document_to_row(d) for d in documents[i::2]]
            pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), directory / f"part-{i:05d}.parquet")


def config(val_fraction: float = VAL, **mixture):
    return config_from({"seed": SEED, "tokenizer": {"vocab_size": 500}, "mixture": mixture,
                        "shards": {"target_tokens_per_shard": TARGET, "val_fraction": val_fraction}})


@pytest.fixture(scope="module")
def docs():
    return real_documents()


@pytest.fixture(scope="module")
def base(tmp_path_factory, docs):
    """OUT with curated/ and a 500-piece tokenizer/, copied for each run below."""
    out = tmp_path_factory.mktemp("base")
    write_curated(out, docs)
    run_tokenizer_stage(config(), curated(out), Store(out))
    return out


def curated(out: Path) -> dict[str, list[Path]]:
    """What a finished curate stage's record lists: each source's Parquet files."""
    return {d.name: sorted(d.glob("*.parquet")) for d in sorted((out / "curated").iterdir())}


def shards_of(cfg, out: Path, options) -> dict:
    """The shards stage on OUT's curated files and tokenizer, writing OUT/shards; returns the manifest."""
    return run_shards_stage(cfg, curated(out), str(out / "tokenizer" / "tokenizer.model"), Store(out), options)


def copy_of(base: Path, dest: Path) -> Path:
    for name in ("curated", "tokenizer"):
        shutil.copytree(base / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def fn_out(base, tmp_path_factory):
    out = copy_of(base, tmp_path_factory.mktemp("fn"))
    shards_of(config(), out, make_options(["--runner", "FnApiRunner"]))
    return out


def split_documents(tokens: np.ndarray) -> list[np.ndarray]:
    """A shard's documents: each must be BOS ... EOS, with neither inside."""
    ends = np.flatnonzero(tokens == 2)
    starts = np.concatenate([[0], ends[:-1] + 1])
    assert ends[-1] == len(tokens) - 1, "the shard does not end with EOS"
    out = []
    for s, e in zip(starts, ends):
        assert tokens[s] == 1 and 1 not in tokens[s + 1:e]
        out.append(tokens[s + 1:e])
    return out


def shard_texts(shards_dir: Path, split: str, sp) -> list[list[str]]:
    files = sorted(shards_dir.glob(f"{split}-*.bin"))
    return [[sp.decode(d.tolist()) for d in split_documents(np.asarray(open_shard(f)[1]))] for f in files]


@pytest.mark.slow
def test_byte_identical_on_fnapi_and_multiprocess_direct_runner(base, fn_out, tmp_path):
    multi = copy_of(base, tmp_path)
    shards_of(config(), multi, make_options(MULTI))
    names = sorted(p.name for p in (fn_out / "shards").iterdir())
    assert names == sorted(p.name for p in (multi / "shards").iterdir())
    assert "train-00001.bin" in names and "val-00000.bin" in names and "manifest.json" in names
    for name in names:
        assert (fn_out / "shards" / name).read_bytes() == (multi / "shards" / name).read_bytes(), name


def test_shards_open_with_the_shared_reader_and_match_the_tokenizer(fn_out):
    manifest = read_manifest(fn_out / "shards", verify_sha256=True)
    model_sha = hashlib.sha256((fn_out / "tokenizer" / "tokenizer.model").read_bytes()).hexdigest()
    assert manifest["tokenizer_sha256"] == model_sha and manifest["vocab_size"] == 500
    for entry in manifest["shards"]["train"] + manifest["shards"]["val"]:
        path = fn_out / "shards" / entry["file"]
        header, tokens = open_shard(path)
        raw = path.read_bytes()
        assert raw[:8] == b"LLMSHARD" and len(raw) == 64 + 2 * len(tokens)
        assert header.tokenizer_sha256.hex() == model_sha and header.vocab_size == 500
        assert np.array_equal(np.frombuffer(raw[64:], dtype="<u2"), tokens)
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest()
    total = sum(e["tokens"] for e in manifest["shards"]["train"])
    assert len(manifest["shards"]["train"]) == math.ceil(total / TARGET)
    assert total == manifest["mixture"]["achieved_tokens"]


def test_the_trainer_reads_the_shards(fn_out):
    torch = pytest.importorskip("torch")  # the trainer needs torch; the pipeline does not
    from training_entry.data import TokenStream

    manifest = read_manifest(fn_out / "shards")
    stream = TokenStream([fn_out / "shards" / e["file"] for e in manifest["shards"]["train"]])
    assert len(stream) == manifest["mixture"]["achieved_tokens"]
    assert stream.read(0, 1)[0] == 1 and torch is not None


def test_each_document_is_bos_its_exact_tokens_eos(fn_out, docs):
    sp = load(fn_out / "tokenizer" / "tokenizer.model")
    texts = {d.text for ds in docs.values() for d in ds}
    for f in sorted((fn_out / "shards").glob("*.bin"))[:4]:
        for tokens in split_documents(np.asarray(open_shard(f)[1])):
            text = sp.decode(tokens.tolist())
            assert text in texts
            assert tokens.tolist() == sp.encode(text)  # sentencepiece itself, in this process


def test_validation_split_and_mixture_copies_and_order(fn_out, docs):
    """Recompute from DESIGN.md's rule which copies go to which shard in which order, and compare."""
    sp = load(fn_out / "tokenizer" / "tokenizer.model")
    manifest = read_manifest(fn_out / "shards")
    rates = {s: row["epochs"] for s, row in manifest["mixture"]["sources"].items()}
    all_docs = [d for ds in docs.values() for d in ds]

    val = [d for d in all_docs if is_validation(SEED, d.id, VAL)]
    got_val = shard_texts(fn_out / "shards", "val", sp)
    n_val = len(got_val)
    expected_val = [[] for _ in range(n_val)]
    for key, d in sorted((shard_key(SEED, d.id, 0), d) for d in val):
        expected_val[key % n_val].append(d.text)
    assert got_val == expected_val

    train_copies = [(shard_key(SEED, d.id, c), d) for d in all_docs if not is_validation(SEED, d.id, VAL)
                    for c in range(copies(rates[d.source], SEED, d.id))]
    got = shard_texts(fn_out / "shards", "train", sp)
    expected = [[] for _ in range(len(got))]
    for key, d in sorted(train_copies, key=lambda kd: kd[0]):
        expected[key % len(got)].append(d.text)
    assert got == expected

    # The manifest's counts, recounted from the copies.
    per_source = Counter()
    for _, d in train_copies:
        per_source[d.source] += len(sp.encode(d.text)) + 2
    for source, row in manifest["mixture"]["sources"].items():
        assert row["tokens"] == per_source[source]
        assert row["documents"] == sum(1 for _, d in train_copies if d.source == source)
    assert manifest["sources"]["wikipedia"]["val"]["documents"] == sum(1 for d in val if d.source == "wikipedia")


def test_manifest_reports_the_mixture_next_to_llama(fn_out):
    manifest = json.loads((fn_out / "shards" / "manifest.json").read_text())
    mix = manifest["mixture"]
    assert mix["mode"] == "max" and mix["renormalised"] and "renormalised over cc, github, wikipedia" in mix["note"]
    assert mix["missing"] == ["c4", "books", "arxiv", "stackexchange"]
    share = {"cc": 0.67 / 0.76, "github": 0.045 / 0.76, "wikipedia": 0.045 / 0.76}
    for source, row in mix["sources"].items():
        assert row["proportion"] == pytest.approx(share[source], abs=1e-6)
        assert row["achieved_proportion"] == pytest.approx(share[source], rel=0.15)  # a few hundred documents
        assert row["achieved_epochs"] == pytest.approx(row["epochs"], rel=0.15)
        assert row["epochs"] <= 2.5 + 1e-9
    assert max(row["epochs"] for row in mix["sources"].values()) == pytest.approx(2.5)
    assert (mix["sources"]["wikipedia"]["llama_proportion"], mix["sources"]["wikipedia"]["llama_epochs"]) == (0.045, 2.45)
    assert manifest["seed"] == SEED and manifest["config"]["shards"]["target_tokens_per_shard"] == TARGET
    table = format_mixture_table(manifest)
    assert "wikipedia" in table and "LLaMA" in table and "renormalised" in table


def test_a_token_budget_and_no_validation_split(base, tmp_path):
    out = copy_of(base, tmp_path)
    manifest = shards_of(config(val_fraction=0.0, total_tokens=150_000), out, make_options([]))
    assert manifest["shards"]["val"] == [] and not list((out / "shards").glob("val-*"))
    assert manifest["mixture"]["mode"] == "budget" and manifest["mixture"]["planned_tokens"] == 150_000
    assert manifest["mixture"]["achieved_tokens"] == pytest.approx(150_000, rel=0.05)
    assert len(manifest["shards"]["train"]) == math.ceil(manifest["mixture"]["achieved_tokens"] / TARGET)


def test_corrupt_and_foreign_shards_are_rejected(fn_out, tmp_path):
    shards = tmp_path / "shards"
    shutil.copytree(fn_out / "shards", shards)
    victim = shards / "train-00000.bin"
    original = victim.read_bytes()

    victim.write_bytes(original[:-3])
    with pytest.raises(ShardFormatError, match="truncated"):
        open_shard(victim)
    with pytest.raises(ShardFormatError, match="truncated"):
        read_manifest(shards)

    victim.write_bytes(b"PK\x03\x04" + original[4:])  # a zip file's magic
    with pytest.raises(ShardFormatError, match="foreign"):
        open_shard(victim)

    flipped = bytearray(original)
    flipped[HEADER_SIZE + 10] ^= 0xFF  # same size, valid header, different tokens
    victim.write_bytes(bytes(flipped))
    read_manifest(shards)  # headers alone cannot see it...
    with pytest.raises(ShardFormatError, match="sha256"):
        read_manifest(shards, verify_sha256=True)  # ...the manifest's sha256 does
    assert original.startswith(MAGIC)


def test_without_a_finished_tokenizer_stage_the_stage_refuses(tmp_path, docs):
    from pipeline.driver import run_stage
    from pipeline.state import StateError

    write_curated(tmp_path, docs)
    with pytest.raises(StateError, match="the tokenizer stage has not finished .*run `python -m pipeline tokenizer`"):
        run_stage("shards", config(), Store(tmp_path), [], force=False)
