# The two fresh-machine commands of the README:
#   make demo   set up, then train the tiny preset briefly on the built-in data
#   make test   set up, then lint and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/canvasmar train tiny --out outputs/demo --force train.steps=120 train.eval_every=60 \
		train.save_every=60
	@echo "look at: outputs/demo/preview.mp4 outputs/demo/preview.png outputs/demo/losses.png"

lint: $(STAMP)
	$(BIN)/ruff check src tests

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) outputs
