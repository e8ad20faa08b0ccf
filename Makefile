# enginebench: `make run` sets everything up and runs the default suite; `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= all,dev
# the Rust runners built by `make setup` (needs cargo >= 1.95); RUNNERS= builds none
RUNNERS ?= candle burn
ARGS ?=

.PHONY: setup runners run test lint clean

setup: $(VENV)/.installed runners

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "enginebench needs Python 3.11+ (set PYTHON=...)"; exit 1; }
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	case ",$(EXTRAS)," in *,all,*|*,llamacpp,*) bash scripts/install_llamacpp.sh $(BIN)/python;; esac
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	case ",$(EXTRAS)," in *,all,*|*,openvino,*) bash scripts/install_openvino_export.sh $(BIN)/python;; esac
	# llama.cpp's GGUF converter, fetched once when llama.cpp is installed
	if $(BIN)/python -c 'import llama_cpp' 2>/dev/null; then \
		$(BIN)/python -m enginebench.engines.llamacpp.gguf; fi
	# actionlint for the workflow tests, built from its Go module when Go is here
	case ",$(EXTRAS)," in *,dev,*) bash scripts/install_actionlint.sh >/dev/null;; esac
	touch $@

# cargo rebuilds only what changed, so this runs every time
runners: $(VENV)/.installed
	$(if $(strip $(RUNNERS)),bash scripts/build_runners.sh $(RUNNERS))

run: setup
	$(BIN)/enginebench models --generate small
	$(BIN)/enginebench run --model small $(ARGS)

lint: setup
	$(BIN)/ruff check src tests scripts benchmarks

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache runners/rust/bin
