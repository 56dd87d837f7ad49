"""The export's tokenizer: AutoTokenizer.from_pretrained(RUN/hf) gives the run's SentencePiece ids, here
and in a clean virtualenv that holds only transformers and tokenizers (no sentencepiece, no protobuf)."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from model.config import ModelConfig
from model.llama import Llama
from registries import CACHE
from tests.tokenizer_training.llama_reference import llama_pieces, reference_cases, write_hf_dir
from training_entry import export_hf

from .helpers import is_val

transformers = pytest.importorskip("transformers")  # a test-only dependency

ROOT = Path(__file__).resolve().parents[2]
TRICKY = ["", " ", "   leading, trailing and  double  spaces   ", "tabs\tand\nnew\r\nlines\n\n",
          "digits 12345 3.14", "emoji 🦙👍🏽 CJK 漢字 Cyrillic Привет", "literal <s> and </s> and <unk> are text",
          "\u2581 marker"]


@pytest.fixture(scope="module")
def export_dir(tokenizer_path, tmp_path_factory):
    """RUN/hf of a tiny model with the run's LLaMA-settings tokenizer (conftest)."""
    cfg = ModelConfig(dim=64, n_heads=4, n_layers=2, vocab_size=400, context=64, multiple_of=32)
    model = Llama(cfg)
    model.init_weights(seed=1)
    return export_hf.export(model.state_dict(), cfg, tmp_path_factory.mktemp("run") / "hf",
                            tokenizer_path=tokenizer_path, bos_id=1, eos_id=2), model.eval()


@pytest.fixture(scope="module")
def texts(corpus):
    """The validation documents (text the shards hold out) and the tricky strings."""
    held_out = [doc for doc in corpus if is_val(doc)]
    assert len(held_out) > 30
    return held_out + TRICKY


def test_autotokenizer_gives_the_runs_sentencepiece_ids(export_dir, texts, tokenizer_path):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    hf = transformers.AutoTokenizer.from_pretrained(export_dir[0])
    assert hf.is_fast and (hf.bos_token_id, hf.eos_token_id, hf.model_max_length) == (1, 2, 64)
    assert [hf(t)["input_ids"] for t in texts] == [[sp.bos_id(), *sp.encode(t)] for t in texts]
    assert [hf.decode(sp.encode(t)) for t in texts] == [sp.decode(sp.encode(t)) for t in texts]


def test_text_to_logits_through_transformers_alone(export_dir, corpus):
    """The exported tokenizer and model together give our model's logits on SentencePiece's ids."""
    import sentencepiece as spm

    out, ours = export_dir
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    text = corpus[0][:60]
    ids = torch.tensor([[sp.bos_id(), *sp.encode(text)]])
    assert 20 < ids.shape[1] <= 64  # the context
    hf = transformers.AutoTokenizer.from_pretrained(out)
    model = transformers.LlamaForCausalLM.from_pretrained(out, local_files_only=True).eval()
    with torch.no_grad():
        theirs = model(**hf(text, return_tensors="pt")).logits
        assert (ours(ids) - theirs).abs().max() < 1e-4


def test_a_tokenizer_without_llama_settings_is_refused_before_writing(corpus, tmp_path):
    import io

    import sentencepiece as spm

    model = io.BytesIO()  # SentencePiece's defaults: NFKC normalisation, extra whitespace removed
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus[:50]), model_writer=model, vocab_size=300,
                                   model_type="bpe", minloglevel=2)
    (tmp_path / "nfkc.model").write_bytes(model.getvalue())
    cfg = ModelConfig(dim=64, n_heads=4, n_layers=1, vocab_size=300, context=64, multiple_of=32)
    with pytest.raises(ValueError, match="normalisation is not LLaMA's"):
        export_hf.export(Llama(cfg).state_dict(), cfg, tmp_path / "hf", tokenizer_path=tmp_path / "nfkc.model",
                         bos_id=1, eos_id=2)
    assert not (tmp_path / "hf").exists()


# ------------------------------------------------------------------ a clean virtualenv

def pinned(package: str) -> str:
    """The version pyproject.toml's test extra pins."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    return next(req.split("==")[1] for req in extra if req.startswith(f"{package}=="))


# pip's words for a registry it cannot reach (offline, no DNS, proxy refused).
_UNREACHABLE = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name resolution",
                "Network is unreachable", "ConnectTimeout", "ProxyError", "No matching distribution found")


def clean_venv() -> Path:
    """A virtualenv with only transformers and tokenizers (and what they need), built once under
    .cache/hf-clean-venv/ and reused; built aside and renamed into place, so one that exists is whole."""
    venv = CACHE / "hf-clean-venv" / f"transformers-{pinned('transformers')}-tokenizers-{pinned('tokenizers')}"
    if (venv / "bin" / "python").exists():
        return venv
    tmp = venv.with_name(f".{venv.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True)
    pip = subprocess.run([tmp / "bin" / "python", "-m", "pip", "install", "--quiet",
                          f"transformers=={pinned('transformers')}", f"tokenizers=={pinned('tokenizers')}"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        if any(words in pip.stderr for words in _UNREACHABLE):
            pytest.skip(f"pip cannot reach the package registry to build the clean virtualenv: {pip.stderr[-300:]}")
        raise AssertionError(pip.stderr[-3000:])
    try:
        tmp.rename(venv)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return venv


# Runs inside the clean virtualenv: AutoTokenizer on each directory, ids with and without BOS.
_SCRIPT = """
import importlib.util, json, sys
from transformers import AutoTokenizer

def installed(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False

jobs = json.load(open(sys.argv[1], encoding="utf-8"))
out = {"installed": [m for m in ("sentencepiece", "google.protobuf", "tiktoken", "torch") if installed(m)], "dirs": []}
for directory, texts in jobs:
    tok = AutoTokenizer.from_pretrained(directory)
    out["dirs"].append({"fast": tok.is_fast,
                        "bos": [tok(t)["input_ids"] for t in texts],
                        "plain": [tok(t, add_special_tokens=False)["input_ids"] for t in texts]})
print(json.dumps(out))
"""


def test_export_loads_in_a_clean_virtualenv(export_dir, texts, tokenizer_path, tmp_path):
    import sentencepiece as spm

    venv = clean_venv()
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    (tmp_path / "llama").mkdir()
    llama_dir = write_hf_dir(tmp_path / "llama", llama_pieces())
    cases = reference_cases()
    jobs = [[str(export_dir[0]), texts], [str(llama_dir), [text for text, _ in cases]]]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"HF_HUB_OFFLINE": "1"}
    run = subprocess.run([venv / "bin" / "python", "-c", _SCRIPT, tmp_path / "jobs.json"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["installed"] == []  # so tokenizer.model cannot be what it reads
    ours, llama = result["dirs"]
    assert ours["fast"] and llama["fast"]
    assert ours["plain"] == [sp.encode(t) for t in texts]
    assert ours["bos"] == [[1, *sp.encode(t)] for t in texts]
    assert llama["plain"] == [ids for _, ids in cases]  # llama.cpp's reference tokenizations
