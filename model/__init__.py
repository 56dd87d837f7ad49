"""The LLaMA transformer (llama.py) and its presets, parameter and FLOP counts (config.py)."""
