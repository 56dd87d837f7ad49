"""Command line: ``python -m training_entry {train,generate,export} ...``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from model.config import PRESETS, total_params

_DESCRIPTION = """\
Train the LLaMA model on the pipeline's token shards, generate text from a
checkpoint, or export one in the Hugging Face Llama layout.

  python -m training_entry train --data OUT/shards --preset tiny --out RUN
  torchrun --nproc_per_node 2 -m training_entry train --data OUT/shards --preset tiny --out RUN --parallel fsdp
  python -m training_entry generate --checkpoint RUN --prompt "The history of"
  python -m training_entry export --checkpoint RUN --out RUN/hf
"""



def _size(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


_TRAIN_EPILOG = "presets:\n" + "\n".join(
    f"  {name:<11} dim {p.model.dim:>5}, {p.model.n_layers:>2} layers, {p.model.n_heads:>2} heads"
    f"{f' ({p.model.kv_heads} KV)' if p.model.kv_heads != p.model.n_heads else ''}, context {p.model.context}, "
    f"{_size(total_params(p.model))} params at 32k vocab, lr {p.peak_lr:g}, batch {p.batch_tokens:,} tokens"
    for name, p in PRESETS.items()
) + """

A run directory that already holds checkpoints is resumed from its latest one
(the recipe settings must match). Under torchrun each process reads a disjoint
part of every step's batch; the data order depends only on the global sample
index, so a run may be resumed with a different number of processes.
Outputs: RUN/checkpoints/, metrics.jsonl, loss.png, summary.json, verified_shards.json, hf/."""


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train or resume a model on token shards",
                       description="Train (or resume) a LLaMA model on the shards in --data.",
                       epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data and run")
    g.add_argument("--data", required=True, help="shard directory with manifest.json (OUT/shards)")
    g.add_argument("--out", required=True, help="run directory: new, empty, or an earlier run's (resumed from its "
                                                "latest checkpoint); any other directory is refused")
    g.add_argument("--tokenizer", help="SentencePiece model (default: tokenizer/tokenizer.model next to --data)")
    g.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip checking every shard's sha256 against the manifest before training (done once per "
                        "run directory; token ids are still checked against the vocabulary as they are read)")
    g.add_argument("--preset", default="tiny", choices=list(PRESETS), metavar="NAME",
                   help="model shape and its recipe, see below (default tiny)")
    g = p.add_argument_group("recipe (defaults from the preset / LLaMA)")
    g.add_argument("--steps", type=int, default=1000, help="optimizer steps in the run (default 1000)")
    g.add_argument("--batch-tokens", type=int, help="global batch in tokens (LLaMA: 4M)")
    g.add_argument("--micro-batch-size", type=int, help="sequences per forward pass and process "
                                                        "(default: the largest divisor of the per-process batch <= 8)")
    g.add_argument("--context", type=int, help="sequence length (default: the preset's)")
    g.add_argument("--lr", type=float, help="peak learning rate (LLaMA: 3e-4 for 7B/13B, 1.5e-4 for 33B/65B)")
    g.add_argument("--min-lr-ratio", type=float, default=0.1, help="final lr / peak lr (default 0.1)")
    g.add_argument("--warmup-steps", type=int, help="linear warm-up steps (LLaMA: 2000)")
    g.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay, not on norms (default 0.1)")
    g.add_argument("--beta1", type=float, default=0.9)
    g.add_argument("--beta2", type=float, default=0.95)
    g.add_argument("--eps", type=float, default=1e-5)
    g.add_argument("--grad-clip", type=float, default=1.0, help="gradient norm clipping (default 1.0)")
    g.add_argument("--seed", type=int, default=0, help="weights and data order (default 0)")
    g = p.add_argument_group("evaluation, logging, checkpoints")
    g.add_argument("--eval-every", type=int, default=100, help="validation loss every N steps (default 100)")
    g.add_argument("--eval-sequences", type=int, default=64, help="validation sequences per evaluation (default 64)")
    g.add_argument("--log-every", type=int, default=10, help="log line every N steps (default 10)")
    g.add_argument("--ckpt-every", type=int, default=100, help="checkpoint every N steps (default 100)")
    g.add_argument("--keep-checkpoints", type=int, default=2, help="checkpoints kept (default 2)")
    g.add_argument("--stop-at-step", type=int, help="save and leave at this step (resume later with the same command)")
    g.add_argument("--record-samples", action="store_true",
                   help="write the global sample ids each step reads to RUN/samples/rank-N.jsonl")
    g.add_argument("--no-export", dest="export", action="store_false", help="skip the Hugging Face export at the end")
    g = p.add_argument_group("execution")
    g.add_argument("--parallel", choices=["ddp", "fsdp"], default="ddp",
                   help="under torchrun: DDP, or FSDP2 fully sharded (default ddp)")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    g.add_argument("--dtype", choices=["auto", "bf16", "fp32"], default="auto",
                   help="auto: bf16 autocast on GPUs that support it, else fp32")
    g.add_argument("--compile", action="store_true", help="torch.compile each transformer block")
    g.add_argument("--activation-checkpointing", action="store_true", help="recompute each block in the backward pass")
    g.add_argument("--peak-tflops", type=float, help="peak TFLOP/s per process for MFU (default: known GPUs, "
                                                     "else a measured CPU matmul rate)")
    g.add_argument("--no-memory-check", dest="memory_check", action="store_false",
                   help="skip the up-front memory estimate")


def _checkpoint_args(p: argparse.ArgumentParser) -> None:
    """What generate and export both read: a checkpoint and its tokenizer."""
    p.add_argument("--checkpoint", required=True, help="run directory (its latest checkpoint) or a checkpoint directory")
    p.add_argument("--tokenizer", help="SentencePiece model (default: the run's tokenizer.model)")


def _generate_parser(sub) -> None:
    p = sub.add_parser("generate", help="generate text from a checkpoint",
                       description="Continue a prompt with a trained model, greedily and by top-p sampling, "
                                   "using the run's tokenizer.")
    _checkpoint_args(p)
    p.add_argument("--prompt", required=True, help="text to continue")
    p.add_argument("--max-new-tokens", type=int, default=64, help="default 64")
    p.add_argument("--mode", choices=["greedy", "top-p", "both"], default="both", help="default both")
    p.add_argument("--top-p", type=float, default=0.9,
                   help="nucleus mass for sampling, in (0, 1]; 1 samples from the whole distribution (default 0.9)")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="sampling temperature, > 0 (default 0.8); for deterministic output use --mode greedy")
    p.add_argument("--num-samples", type=int, default=3, help="top-p samples to print (default 3)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--device", default="cpu", help="default cpu")
    p.add_argument("--save", metavar="FILE", help="also write the generations to FILE as JSON (the run report shows "
                                                  "RUN/generations.json)")


def _export_parser(sub) -> None:
    p = sub.add_parser("export", help="write a checkpoint in the Hugging Face Llama layout",
                       description="Write config.json, model.safetensors and the tokenizer so that "
                                   "transformers.LlamaForCausalLM.from_pretrained(OUT) loads the model.")
    _checkpoint_args(p)
    p.add_argument("--out", required=True, help="output directory: new, empty, or an earlier export (replaced); "
                                                "a directory holding other files is refused, never deleted")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training_entry", description=_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,generate,export}")
    _train_parser(sub)
    _generate_parser(sub)
    _export_parser(sub)
    return parser


def _run_tokenizer(checkpoint_dir, override):
    from pathlib import Path

    from training_entry import tokenizer

    path = Path(override) if override else Path(checkpoint_dir).parent.parent / "tokenizer.model"
    if not path.is_file():
        raise FileNotFoundError(f"no tokenizer at {path}; pass --tokenizer")
    return path, tokenizer.load(path)


def _check_sampling(args) -> None:
    """Before loading anything: values outside these ranges give NaN probabilities or meaningless text."""
    if not 0 < args.top_p <= 1:
        raise ValueError(f"--top-p must be in (0, 1], got {args.top_p:g}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature:g} (for greedy output: --mode greedy)")


def _generate(args) -> None:
    import torch

    from training_entry.generate import generate, load_model

    _check_sampling(args)
    model, ckpt = load_model(args.checkpoint, args.device)
    _, sp = _run_tokenizer(ckpt, args.tokenizer)
    prompt = [sp.bos_id(), *sp.encode(args.prompt)]
    print(f"checkpoint {ckpt}")
    print(f"prompt: {args.prompt}")
    samples = []
    if args.mode in ("greedy", "both"):
        ids = generate(model, prompt, max_new_tokens=args.max_new_tokens, eos_id=sp.eos_id())
        samples.append({"mode": "greedy", "prompt": args.prompt, "continuation": _continuation(sp, args.prompt, ids)})
        print(f"[greedy] {args.prompt}{samples[-1]['continuation']}")
    if args.mode in ("top-p", "both"):
        gen = torch.Generator().manual_seed(args.seed)
        for i in range(args.num_samples):
            ids = generate(model, prompt, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                           top_p=args.top_p, eos_id=sp.eos_id(), generator=gen)
            mode = f"top-p {args.top_p:g}, T {args.temperature:g}, #{i + 1}"
            samples.append({"mode": mode, "prompt": args.prompt, "continuation": _continuation(sp, args.prompt, ids)})
            print(f"[{mode}] {args.prompt}{samples[-1]['continuation']}")
    if args.save:
        import json

        from shard_format import atomic_write

        with atomic_write(args.save, "w") as f:
            f.write(json.dumps({"checkpoint": str(ckpt), "seed": args.seed, "samples": samples}, indent=2,
                               ensure_ascii=False) + "\n")


def _continuation(sp, prompt: str, ids: list[int]) -> str:
    """The text the new tokens add after the prompt (decoded together so word boundaries survive)."""
    full = sp.decode(sp.encode(prompt) + ids)
    return full[len(prompt):] if full.startswith(prompt) else " " + sp.decode(ids)


def _export(args) -> None:
    from training_entry import checkpoint, export_hf
    from model.config import ModelConfig

    ckpt = checkpoint.resolve(args.checkpoint)
    tok_path, sp = _run_tokenizer(ckpt, args.tokenizer)
    cfg = ModelConfig.from_dict(checkpoint.read_state(ckpt)["model"])
    out = export_hf.export(checkpoint.load_weights(ckpt), cfg, args.out, tokenizer_path=tok_path,
                           bos_id=sp.bos_id(), eos_id=sp.eos_id())
    print(f"exported {ckpt} to {out}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING, stream=sys.stdout,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from shard_format import ShardFormatError
    from training_entry.resources import InsufficientMemoryError

    try:
        if args.command == "train":
            from training_entry.config import TrainConfig
            from training_entry.loop import train

            fields = vars(args).copy()
            del fields["command"]
            train(TrainConfig(**fields))
        elif args.command == "generate":
            _generate(args)
        else:
            _export(args)
    except (ShardFormatError, InsufficientMemoryError, FileNotFoundError, ValueError) as e:
        # Problems with the user's data, settings or machine: the message says what to do.
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
