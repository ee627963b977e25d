# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv on first use and installs the project into it.

PYTHON ?= python3
VENV ?= .venv
# torch 2.13.0 is the CPU build on machines without a GPU that have its wheel cached; on a GPU
# machine set TORCH_SPEC (e.g. `make demo TORCH_SPEC=torch`) to get PyPI's CUDA build.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUTPUT ?= photostyle-demo.png

INSTALLED := $(VENV)/.installed

.PHONY: demo test install clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(INSTALLED)
	$(VENV)/bin/photostyle demo -o $(DEMO_OUTPUT)

# pytest exits 5 when it collects no test; that is not a failure of the set-up.
test: $(INSTALLED)
	$(VENV)/bin/python -m pytest; status=$$?; if [ $$status -eq 5 ]; then exit 0; fi; exit $$status

clean:
	rm -rf $(VENV) $(DEMO_OUTPUT)
