"""Our model exported to the Hugging Face Llama layout gives transformers' LlamaForCausalLM the same logits."""

import json

import pytest
import torch

from model.config import ModelConfig
from model.llama import Llama
from training_entry import export_hf

transformers = pytest.importorskip("transformers")  # a test-only dependency


def random_model(cfg: ModelConfig) -> Llama:
    model = Llama(cfg)
    model.init_weights(seed=1)
    with torch.no_grad():  # larger weights than at init, so that logits differ clearly between positions
        gen = torch.Generator().manual_seed(2)
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * (0.1 if p.ndim == 2 else 0.2))
    return model.eval()


CONFIGS = {
    "mha": ModelConfig(dim=64, n_heads=4, n_layers=2, vocab_size=400, context=64, multiple_of=32),
    "gqa-theta": ModelConfig(dim=64, n_heads=4, n_kv_heads=2, n_layers=3, vocab_size=400, context=64,
                             multiple_of=32, rope_theta=500000.0),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_transformers_loads_export_with_same_logits(name, tokenizer_path, tmp_path):
    cfg = CONFIGS[name]
    ours = random_model(cfg)
    out = export_hf.export(ours.state_dict(), cfg, tmp_path / "hf", tokenizer_path=tokenizer_path, bos_id=1, eos_id=2)
    assert sorted(p.name for p in out.iterdir()) == \
        [".written-by.json", "config.json", "model.safetensors", "tokenizer.json", "tokenizer.model",
         "tokenizer_config.json"]

    theirs = transformers.LlamaForCausalLM.from_pretrained(out, local_files_only=True).eval()
    assert theirs.config.num_key_value_heads == cfg.kv_heads and theirs.config.intermediate_size == cfg.ffn_hidden_dim
    tokens = torch.randint(0, cfg.vocab_size, (2, 48), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        our_logits = ours(tokens)
        their_logits = theirs(tokens).logits
    assert our_logits.std() > 0.5  # far from uniform: the comparison means something
    assert (our_logits - their_logits).abs().max() < 1e-4


def test_without_the_qk_permutation_logits_differ(tokenizer_path, tmp_path):
    # The permutation is needed: our RoPE rotates adjacent pairs, transformers' rotates halves.
    cfg = CONFIGS["mha"]
    ours = random_model(cfg)
    hf = export_hf.hf_state_dict(ours.state_dict(), cfg)
    for i in range(cfg.n_layers):  # undo it
        hf[f"model.layers.{i}.self_attn.q_proj.weight"] = ours.layers[i].attention.wq.weight.detach()
        hf[f"model.layers.{i}.self_attn.k_proj.weight"] = ours.layers[i].attention.wk.weight.detach()
    config = transformers.LlamaConfig(**{k: v for k, v in export_hf.hf_config(cfg, bos_id=1, eos_id=2).items()
                                         if k not in ("architectures", "model_type", "torch_dtype")})
    theirs = transformers.LlamaForCausalLM(config).eval()
    theirs.load_state_dict(hf)
    tokens = torch.randint(0, cfg.vocab_size, (1, 32), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (ours(tokens) - theirs(tokens).logits).abs().max() > 1e-2


def test_permutation_moves_pairs_to_halves():
    # One head of dim 4: rows (x0, x1, x2, x3) = pairs (x0, x1), (x2, x3) -> halves (x0, x2 | x1, x3).
    w = torch.arange(4.0).view(4, 1)
    assert export_hf.interleaved_to_halves(w, n_heads=1).flatten().tolist() == [0.0, 2.0, 1.0, 3.0]


def test_config_json(tmp_path, tokenizer_path):
    cfg = CONFIGS["gqa-theta"]
    out = export_hf.export(random_model(cfg).state_dict(), cfg, tmp_path / "hf", tokenizer_path=tokenizer_path,
                           bos_id=1, eos_id=2)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["tie_word_embeddings"] is False
    assert (config["hidden_size"], config["num_attention_heads"], config["num_key_value_heads"]) == (64, 4, 2)
    assert config["rope_theta"] == 500000.0 and config["rms_norm_eps"] == 1e-6
    assert (out / "tokenizer.model").read_bytes() == tokenizer_path.read_bytes()
