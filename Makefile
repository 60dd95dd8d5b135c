# Set-up and the two jobs. Both targets install what they need first.
#   make demo   - the main job: `tfmodels demo` on the bundled all-MiniLM-L6-v2 checkpoint
#   make test   - the test suite (fast default; `make test-all` adds the slow tests)
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
# CPU build of PyTorch (the test oracle). On our machines this pin resolves to a local
# CPU wheel; an unpinned `torch` would pull several GB of CUDA packages.
TORCH_PIN ?= torch==2.13.0

.PHONY: install demo test test-all bench

install:
	$(PIP) install --quiet --disable-pip-version-check "$(TORCH_PIN)"
	$(PIP) install --quiet --disable-pip-version-check -e ".[test]"

demo: install
	tfmodels demo

test: install
	$(PYTHON) -m pytest -q

test-all: install
	$(PYTHON) -m pytest -q -m ""

bench: install
	$(PYTHON) benchmarks/encoder_inference.py
	$(PYTHON) benchmarks/convert_memory.py
