# Réemploi — `make run` to try it, `make test` before every commit.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the test suite drives for real (installed when running as root and missing).
DEBIAN_PACKAGES := postgresql postgresql-client chromium fonts-dejavu-core \
	hdparm nvme-cli smartmontools poppler-utils qpdf \
	openssh-server openssh-client zstd gdisk e2fsprogs iproute2 util-linux lshw dmidecode \
	nwipe bmap-tools

.PHONY: run test test-sqlite test-postgres lint format bench soak install system-packages clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Missing Debian packages (run as root to install):$$missing"; fi; \
	fi

run: install
	$(BIN)/reemploi migrate
	$(BIN)/reemploi demo --if-empty
	@# The deployment worker runs beside the server and stops with it.
	$(BIN)/reemploi worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/reemploi serve --host 127.0.0.1 --port 8000

# Style, formatting, types (pyright, basic mode: zero errors) and the layers between domains.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install system-packages lint test-sqlite test-postgres

test-sqlite: install
	$(BIN)/pytest -q

test-postgres: install system-packages
	REEMPLOI_TEST_ENGINE=postgres $(BIN)/pytest -q -m db

# Benchmarks print ratios against a baseline measured in the same run (wipe and deploy need
# root). A missed target is reported by its bench and does not stop the others.
bench: install system-packages
	-$(BIN)/python bench/labels_bench.py
	-$(BIN)/python bench/wipe_bench.py
	-$(BIN)/python bench/deploy_bench.py
	-$(BIN)/python bench/chain_bench.py
	-$(BIN)/python bench/report_bench.py
	-$(BIN)/python bench/pdf_bench.py
	-$(BIN)/python bench/db_bench.py

# The model-based test (tests/model_machine.py) run long against the real server; it prints its
# figures (steps, operations, violations). SOAK_STEPS=5000 make soak for a longer one.
SOAK_STEPS ?= 2000
soak: install system-packages
	REEMPLOI_SOAK_STEPS=$(SOAK_STEPS) $(BIN)/pytest -q -s tests/test_model_db.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# Refresh the translation catalogs after changing French strings (then translate the new entries).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --sort-output -o web/locale/messages.pot .
	$(BIN)/pybabel update -i web/locale/messages.pot -d web/locale --no-fuzzy-matching
