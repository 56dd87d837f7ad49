"""Text generation from a checkpoint: greedy decoding and top-p (nucleus) sampling.

Each new token reruns the model over the last ``context`` tokens (no key/value
cache): simple, and fast enough for the small models trained here.
"""

from __future__ import annotations

from pathlib import Path

import torch

from model.config import ModelConfig
from model.llama import Llama
from training_entry import checkpoint


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Llama, Path]:
    """The model of a checkpoint (or of a run's latest one) in eval mode, and the checkpoint's directory."""
    ckpt = checkpoint.resolve(path)
    cfg = ModelConfig.from_dict(checkpoint.read_state(ckpt)["model"])
    with torch.device("meta"):
        model = Llama(cfg)
    model.load_state_dict(checkpoint.load_weights(ckpt), assign=True)
    return model.to(device).eval(), ckpt


@torch.no_grad()
def generate(model: Llama, prompt: list[int], *, max_new_tokens: int, temperature: float = 0.0,
             top_p: float = 1.0, eos_id: int | None = None, generator: torch.Generator | None = None) -> list[int]:
    """New token ids after ``prompt``. ``temperature == 0`` is greedy; else sample from the top-p nucleus."""
    if not (temperature >= 0 and 0 < top_p <= 1):  # else NaN probabilities, or logits scaled backwards
        raise ValueError(f"need temperature >= 0 and top_p in (0, 1], got {temperature} and {top_p}")
    device = next(model.parameters()).device
    tokens = torch.tensor([prompt], dtype=torch.long, device=device)  # (1, T)
    new: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(tokens[:, -model.cfg.context:])[0, -1].float()  # (V,)
        if temperature == 0:
            next_id = int(logits.argmax())
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            sorted_probs, order = probs.sort(descending=True)  # (V,)
            # Keep the smallest set of most likely tokens whose mass reaches top_p (always the first).
            outside = sorted_probs.cumsum(-1) - sorted_probs >= top_p
            sorted_probs[outside] = 0.0
            choice = torch.multinomial(sorted_probs.cpu() / sorted_probs.sum().cpu(), 1, generator=generator)
            next_id = int(order[choice.item()])
        if next_id == eos_id:
            break
        new.append(next_id)
        tokens = torch.cat([tokens, torch.tensor([[next_id]], device=device)], dim=1)
    return new
