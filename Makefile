# The README's two commands. Both create .venv on first use and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU wheel first: a bare torch requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,ray,onnx]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m rtretinex.demo

test: $(STAMP)
	$(PY) -m ruff check rtretinex tests benchmarks run_stream.py
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check rtretinex tests benchmarks run_stream.py

clean:
	rm -rf $(VENV) build *.egg-info
