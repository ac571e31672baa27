# Two commands do all the set-up on a fresh machine (see README):
#   make app   installs what the app needs and starts it
#   make test  installs what the tests need and runs them all
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: app test bench system-packages

# Debian packages the tests need: the Fashion-MNIST files (real data) and Chromium (the browser
# tests drive it through Playwright; Playwright never downloads a browser of its own).
SYSTEM_FILES := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

system-packages:
	@for f in $(SYSTEM_FILES); do [ -e $$f ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			dataset-fashion-mnist chromium >/dev/null; \
	fi

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.app-installed: $(VENV)/bin/python requirements.txt pyproject.toml
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.app-installed requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

app: $(VENV)/.app-installed
	$(VENV)/bin/streamlit run app.py

test: system-packages $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(PY) scripts/build_docs.py build/docs
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(VENV)/.app-installed
	$(PY) bench/bench_recurrence.py
