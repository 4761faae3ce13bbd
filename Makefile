# Two commands do all the set-up on a fresh machine (Python 3.11 + pip):
#   make run    the bot (terminal chat over demo data when NEWSBOT_TOKEN is unset)
#   make test   the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast install eval bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	scripts/retry.sh $(PY) -m pip install --quiet --upgrade pip
	# the CPU build of torch that lies on this disk; an unpinned torch would pull a CUDA build of GBs
	scripts/retry.sh $(PY) -m pip install --quiet torch==2.13.0
	scripts/retry.sh $(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/newsbot run

test: $(STAMP)
	scripts/with-postgres.sh $(PY) -m pytest

test-fast: $(STAMP)  # the edit-test loop (tests/unit, under a minute): no model, no processes, no PostgreSQL
	$(PY) -m pytest -q -m "not slow"

eval: $(STAMP)
	$(VENV)/bin/newsbot eval

bench: $(STAMP)
	$(VENV)/bin/newsbot bench

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
