# printwarden: `make demo` runs the whole system, `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3
DEBIAN_PACKAGES := slapd ldap-utils postgresql wrk cups-ipp-utils cups-client cups \
	avahi-daemon avahi-utils dbus-daemon ghostscript qpdf chromium fonts-dejavu-core \
	cups-filters bind9 bind9-dnsutils swaks python3-tk xvfb libnotify-bin tesseract-ocr \
	samba smbclient sane-airscan sane-utils zbar-tools poppler-utils haproxy
# Web Print's renderer: LibreOffice without its desktop, and UNO for the system Python that
# runs unoserver; Dovecot, the IMAP server the tests poll (installed without recommends: the
# desktop's hundreds of MB are not needed).
OFFICE_PACKAGES := libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui \
	python3-uno dovecot-imapd
DEMO_DIR ?= demo-data
PORT_BASE ?= 8000

.PHONY: demo demo-ha test lint typecheck unit system-deps venv bench chaos soak fuzz fuzz-api clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES) python3-venv; do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@missing=""; for p in $(OFFICE_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing >/dev/null; \
	fi
	@# Debian starts slapd when it is installed; the tests run their own throwaway one.
	@command -v service >/dev/null && service slapd stop >/dev/null 2>&1 || true
	@command -v service >/dev/null && service cups stop >/dev/null 2>&1 || true
	@# bind9 is only a peer for the DNS-SD tests (RFC 2136 updates, a query anchor): not a service.
	@command -v service >/dev/null && service named stop >/dev/null 2>&1 || true
	@# Dovecot likewise: the IMAP tests run their own on a free port.
	@command -v service >/dev/null && service dovecot stop >/dev/null 2>&1 || true

demo: system-deps venv
	$(BIN)/printwarden demo --data-dir $(DEMO_DIR) --port-base $(PORT_BASE)

# The scale-out set-up to try by hand: three App Server processes on a PostgreSQL primary
# with a synchronous standby, behind HAProxy (src/printwarden/testing/demo_ha.py).
demo-ha: system-deps venv
	$(PY) -m printwarden.testing.demo_ha --data-dir $(DEMO_DIR)-ha --port $$(( $(PORT_BASE) + 100 ))

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit -q

test: system-deps venv lint typecheck
	$(BIN)/pytest -q -n 4 --dist loadfile

bench: system-deps venv
	$(PY) bench/run_all.py
	$(PY) bench/analysis.py --runs 5
	$(PY) bench/provider_ingest.py
	$(PY) bench/provider_release.py
	$(PY) bench/provider_memory.py
	$(PY) bench/card_release.py
	$(PY) bench/site.py
	$(PY) bench/pipeline.py --backend both
	$(PY) bench/payment_notifications.py
	$(PY) bench/voucher_pdf.py
	$(PY) bench/greyscale.py --runs 9
	$(PY) bench/conversion.py --runs 25
	$(PY) bench/script_engines.py
	$(PY) bench/web_pages.py
	$(PY) bench/mdns_adverts.py
	$(PY) bench/dns_sd_query.py
	$(PY) bench/rendering.py
	$(PY) bench/web_print.py
	$(PY) bench/smtp_intake.py
	$(PY) bench/user_client_events.py
	$(PY) bench/scan_delivery.py --ocr --scans 20 --ocr-scans 5
	$(PY) bench/scan_ocr.py --repeat 3

# Long chaos: five seeds of 300 random steps (links cut, processes SIGKILLed), a link
# flapping every second for a minute, and 5,000 job lifecycle races at a provider (with a new
# seed). CI runs the short forms.
chaos: system-deps venv
	for seed in 1 2 3 4 5; do \
		PRINTWARDEN_CHAOS_SEED=$$seed PRINTWARDEN_CHAOS_STEPS=300 \
			$(BIN)/pytest -q tests/integration/test_chaos.py || exit 1; \
	done
	PRINTWARDEN_FLAP_SECONDS=60 $(BIN)/pytest -q tests/integration/test_site_links.py
	seed=$${PRINTWARDEN_RACE_SEED:-$$RANDOM}; echo "race seed $$seed"; \
	PRINTWARDEN_RACE_SEED=$$seed PRINTWARDEN_RACE_JOBS=5000 \
		$(BIN)/pytest -q tests/integration/test_provider_races.py -k storm

# Thirty minutes of mixed load with WAN cuts every three minutes (50 IPP clients, 200
# simulated sites, device logins, top-ups), then the invariants: bench/soak.py.
soak: system-deps venv
	$(PY) bench/soak.py --minutes $${SOAK_MINUTES:-30}

fuzz: system-deps venv
	$(PY) fuzz/run.py --seconds 3600 --corpus fuzz/corpus --artifacts fuzz/artifacts

# Long schemathesis runs against a real App Server and Site Server (every phase, stateful
# included, two minutes of each of the eight runs, a new seed each time unless
# PRINTWARDEN_FUZZ_SEED is set); `make test` runs the short form with a fixed seed.
fuzz-api: system-deps venv
	seed=$${PRINTWARDEN_FUZZ_SEED:-$$RANDOM}; echo "schemathesis seed $$seed"; \
	PRINTWARDEN_FUZZ_SEED=$$seed PRINTWARDEN_FUZZ_EXAMPLES=200 PRINTWARDEN_FUZZ_SECONDS=120 \
		PRINTWARDEN_FUZZ_PHASES=examples,coverage,fuzzing,stateful \
		$(BIN)/pytest -q tests/integration/test_api_schemathesis.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .mypy_cache .ruff_cache .pytest_cache .hypothesis
