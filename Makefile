# The two commands: `make demo` and `make test`. Both set everything up first,
# idempotently: the virtualenv is rebuilt only when pyproject.toml changes, the
# sample data only when its builder changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SAMPLE := data/sample/MANIFEST.json
DEMO_OUT ?= out/demo
DEMO_RUN ?= $(DEMO_OUT)/train
DEMO_STEPS ?= 600
DEMO_CONFIG ?= configs/sample-modern.yaml
PYTEST_ARGS ?=
KENLM := .cache/kenlm/bin/lmplz
# Remote-runner workers as tests run them: apache-beam and the worker sdist, not the checkout.
WORKER_VENV := .cache/worker-venv/.built

.PHONY: setup browser sample demo test golden worker-venv clean help

help:
	@echo "make demo   set up, build the real sample, run the pipeline end to end, train a tiny model"
	@echo "make test   set up, build the real sample, run the test suite"
	@echo "make setup  only create .venv and install the project"
	@echo "make golden run the pipeline on the sample and compare its outputs with tests/golden/sample.json"
	@echo "make clean  remove outputs (keeps .venv and the download cache)"

setup: $(STAMP) $(KENLM) browser

# torch first, pinned to the CPU wheel: anything else pulls GBs of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

# lmplz and build_binary (the KenLM wheel only queries models); apt-get when root.
$(KENLM): tools/build_kenlm.sh
	tools/build_kenlm.sh

# Chromium + chromedriver for the report's screenshot and browser test; apt-get when root, else a hint.
browser:
	@tools/install_chromium.sh

sample: $(SAMPLE)

# Its dependencies once; each test run installs the current sdist into it (--no-deps).
worker-venv: $(WORKER_VENV)

$(WORKER_VENV): $(STAMP) beam_setup.py
	rm -rf .cache/worker-venv .cache/worker-dist
	$(PYTHON) -m venv .cache/worker-venv
	$(BIN)/python beam_setup.py sdist --dist-dir .cache/worker-dist > /dev/null
	.cache/worker-venv/bin/python -m pip install --quiet 'apache-beam[aws]==2.77.0' .cache/worker-dist/*.tar.gz
	touch $@

$(SAMPLE): $(STAMP) samples/*.py samples/SOURCES.json registries/*.py
	$(BIN)/python -m samples.build_sample --out data/sample
	$(BIN)/python -m samples.build_c4_books --out data/sample
	$(BIN)/python -m samples.build_code_qa_tex --out data/sample
	$(BIN)/python -m samples.build_planted --out data/sample
	$(BIN)/python -m samples.build_eval_planted --out data/sample
	touch $@

# The pipeline (models, curate, tokenizer, shards), then a tiny LLaMA trained on the
# shards; its summary compares the validation loss with the unigram entropy. Last, the
# run report again with the training in it, and its screenshot (skipped without Chromium).
demo: setup sample
	$(BIN)/python -m pipeline run --config $(DEMO_CONFIG) --output $(DEMO_OUT)
	$(BIN)/python -m training_entry train --data $(DEMO_OUT)/shards --preset tiny \
		--steps $(DEMO_STEPS) --out $(DEMO_RUN)
	$(BIN)/python -m training_entry generate --checkpoint $(DEMO_RUN) \
		--prompt "The Universal Declaration of Human Rights" --max-new-tokens 40 --num-samples 1 \
		--save $(DEMO_RUN)/generations.json
	$(BIN)/python -m pipeline report --output $(DEMO_OUT) --train $(DEMO_RUN) --screenshot

test: setup sample worker-venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A refactor must leave the demo's outputs byte-identical: the pipeline's outputs on
# the sample against the committed digest (tools/output_digest.py says what it covers).
golden: setup sample
	rm -rf out/golden
	$(BIN)/python -m pipeline run --config configs/sample.yaml --output out/golden --quiet > /dev/null
	$(BIN)/python tools/output_digest.py out/golden --check tests/golden/sample.json

clean:
	rm -rf out/ data/ .pytest_cache
