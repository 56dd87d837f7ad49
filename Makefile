# The two commands: `make demo` and `make test`. Both set everything up first,
# idempotently: the virtualenv is rebuilt only when pyproject.toml changes, the
# sample data only when its builder changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SAMPLE := data/sample/MANIFEST.json
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: setup sample demo test clean help

help:
	@echo "make demo   set up, build the real sample, run the pipeline end to end, print the summary"
	@echo "make test   set up, build the real sample, run the test suite"
	@echo "make setup  only create .venv and install the project"
	@echo "make clean  remove outputs (keeps .venv and the download cache)"

setup: $(STAMP)

# torch first, pinned to the CPU wheel: anything else pulls GBs of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

sample: $(SAMPLE)

$(SAMPLE): $(STAMP) samples/build_sample.py samples/fixtures.py samples/fetch.py samples/SOURCES.json
	$(BIN)/python -m samples.build_sample --out data/sample

demo: setup sample
	$(BIN)/python -m pipeline run --config configs/sample.yaml --output $(DEMO_OUT)

test: setup sample
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf out/ data/ .pytest_cache
