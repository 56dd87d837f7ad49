"""The trainer: LLaMA's recipe on the pipeline's token shards.

    config.py       TrainConfig (every CLI option) and the resolved Plan (batch arithmetic)
    data.py         memory-mapped shard stream (token ids checked as read), seeded order, validation split
    verify.py       every shard's sha256 against the manifest before training, split over ranks, once per run
    optim.py        AdamW parameter groups and the warm-up + cosine schedule
    loop.py         train_step (one optimizer step) and train (the run)
    distributed.py  torchrun process groups; activation checkpointing, compile, FSDP2 / DDP from outside the model
    checkpoint.py   atomic save, resume on any number of processes (falling back past damaged ones), no unpickling
    export_hf.py    Hugging Face Llama layout (q/k permuted for their RoPE), tokenizer.json for AutoTokenizer
    generate.py     greedy and top-p generation
    metrics.py      log lines, metrics.jsonl, loss.png
    resources.py    memory check before allocating, peak FLOP/s for MFU
    tokenizer.py    the run's SentencePiece model and its agreement with the shards
    cli.py          python -m training_entry {train,generate,export}
"""
