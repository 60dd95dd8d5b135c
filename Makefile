# Set-up and the two jobs. Both targets install what they need first.
#   make demo   - the main job: `tfmodels demo` on the bundled all-MiniLM-L6-v2 checkpoint
#   make test   - the test suite (fast default; `make test-all` adds the slow tests)
#   make docs   - the documentation site (MkDocs, strict) into build/site
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
# CPU build of PyTorch (the test oracle). On our machines this pin resolves to a local
# CPU wheel; an unpinned `torch` would pull several GB of CUDA packages.
TORCH_PIN ?= torch==2.13.0
# The pinned test environment (oracle + toolchain); see the file's header for bumping it.
CONSTRAINTS ?= constraints.txt
LATEST_VENV ?= .venv-latest
# Test processes (pytest-xdist); CI machines have 2 cores. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
# Where `make docs` writes the site (git-ignored).
DOCS_SITE ?= build/site

.PHONY: install demo test test-all test-latest bench docs docs-install

install:
	$(PIP) install --quiet --disable-pip-version-check "$(TORCH_PIN)"
	$(PIP) install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e ".[test]"

demo: install
	tfmodels demo

test: install
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --durations=25

test-all: install
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) -m ""

# The newest releases, on purpose, in a separate virtual environment (the pinned one
# stays as it is); PyTorch stays at the CPU build. Used to try upgrades before bumping
# constraints.txt.
test-latest:
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "$(TORCH_PIN)"
	$(LATEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade -e ".[test]"
	$(LATEST_VENV)/bin/python -m pip freeze > $(LATEST_VENV)/freeze.txt
	$(LATEST_VENV)/bin/python -m pytest -q -n $(TEST_WORKERS)

# Every benchmark, full size (minutes each; quiet machine). `make bench BENCH_FLAGS=--quick`: smoke run only.
BENCHMARKS = encoder_inference.py embed_sentences.py generation.py seq2seq_generation.py train_step.py \
	relative_models.py deberta_inference.py convert_memory.py vision_speech.py profile_decoding.py
BENCH_FLAGS ?=
bench: install
	cd benchmarks && for script in $(BENCHMARKS); do \
		echo "== $$script $(BENCH_FLAGS)"; $(PYTHON) $$script $(BENCH_FLAGS) || exit 1; done

# The documentation site: guides in docs/, API reference from the docstrings (mkdocstrings reads the
# source statically; nothing is imported). Strict: a broken reference or docstring warning fails.
docs: docs-install
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir $(DOCS_SITE)

docs-install:
	$(PIP) install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e ".[docs]"
