# NeuNeu — two commands do all the set-up on a fresh machine:
#   make book   [PROFILE=smoke|cpu|full]  venv + pinned toolchain, fetch data, execute notebooks, build HTML
#   make test                             venv + data, unit tests and strict nbval over smoke-executed notebooks
#   make notebook NB=06_results [PROFILE=cpu] [NB_DEST=dir]   rerun one notebook (default into book/_executed)
# Offline: NEUNEU_MIRROR=<dir> make …   (a directory with the same layout as the data URLs)
# Everything is incremental: the venv is rebuilt only when requirements change, data only when sources.toml
# changes, a notebook only when it, the package or the profile changed.

PROFILE ?= cpu
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
FETCHED := data/cache/.fetched
NB_OUT  := book/_executed
NB_SMOKE := _build/nb-smoke
NB_DEST ?= $(NB_OUT)
export PYTHONHASHSEED := 0

.PHONY: book test notebook notebooks fetch bench speed weights clean help

help:
	@sed -n '1,8p' Makefile

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

$(FETCHED): data/sources.toml $(STAMP)
	$(PY) -m neuneu fetch
	touch $@

fetch: $(FETCHED)

JOBS ?= 2

notebooks: $(FETCHED)
	$(PY) -m neuneu.runbook --profile $(PROFILE) --out $(NB_OUT) --jobs $(JOBS)

# One notebook, always re-executed, through the same runner (and so the same quiet environment) as `make book`.
notebook: $(FETCHED)
	$(if $(NB),,$(error name the notebook: make notebook NB=06_results [PROFILE=cpu] [NB_DEST=dir]))
	$(PY) -m neuneu.runbook --profile $(PROFILE) --out $(NB_DEST) --force $(NB)

book: notebooks
	$(VENV)/bin/jupyter-book build . --toc book/_toc.yml -W -n --keep-going
	$(PY) -m neuneu.bookcheck _build/html
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: $(FETCHED)
	$(PY) -m neuneu.runbook --profile smoke --out $(NB_SMOKE) --jobs $(JOBS)
	$(PY) -m pytest tests $(NB_SMOKE) --nbval --nbval-sanitize-with tests/sanitize.cfg -q -n $(JOBS) --dist loadscope

bench: $(FETCHED)
	$(PY) -m neuneu.bench --profile cpu --jobs $(JOBS)

# Seconds per training step of PROFILE's model on this machine, recorded in data/bench/speed.json (chapter 4).
speed: $(STAMP)
	$(PY) -m neuneu.speed --profile $(PROFILE) --record

weights: $(FETCHED)
	$(PY) -m neuneu.zoo --profile cpu --jobs $(JOBS)

clean:
	rm -rf _build
