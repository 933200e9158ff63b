# BOLD: `make demo` runs the pipeline on synthetic data, `make test` runs the tests.
# Both create .venv and install the project into it on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := demo

.PHONY: install demo test bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

install: $(STAMP)

SOURCES := prison probation treatment hospital deaths homelessness mental_health

# Demo people all share one throwaway password; real workspaces give each person their own.
demo: export BOLD_PASSWORD = demo-only-password
demo: export BOLD_NEW_PASSWORD = demo-only-password
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/bold synth --people 20000 --seed 42 --out $(DEMO)/synth
	BOLD_USER=adam $(BIN)/bold init $(DEMO)/workspace --name demo
	for p in alex:admin cara:custodian lin:linker ana:analyst grace:governance oscar:output_checker olivia:output_checker; do \
	  BOLD_USER=adam $(BIN)/bold user add $${p%%:*} --role $${p##*:} --workspace $(DEMO)/workspace || exit 1; done
	@# Acting on data needs current training and approval; an admin never approves themself, so alex approves adam.
	set -e; for p in adam alex cara lin ana grace oscar olivia; do \
	  BOLD_USER=adam $(BIN)/bold user train $$p --course "data protection and safe researcher" \
	    --completed $$(date -u +%F) --expires $$(date -u -d '+1 year' +%F) --workspace $(DEMO)/workspace; \
	  A=adam; [ $$p = adam ] && A=alex; \
	  BOLD_USER=$$A $(BIN)/bold user approve $$p --expires $$(date -u -d '+1 year' +%F) \
	    --by-note "demo: approved by the programme board" --workspace $(DEMO)/workspace; done
	BOLD_USER=cara $(BIN)/bold optout add $(DEMO)/synth/optouts.csv --yes --workspace $(DEMO)/workspace
	for s in $(SOURCES); do BOLD_USER=cara $(BIN)/bold ingest $(DEMO)/synth/$$s.csv --source $$s --workspace $(DEMO)/workspace || exit 1; done
	BOLD_USER=cara $(BIN)/bold status --workspace $(DEMO)/workspace
	BOLD_USER=lin $(BIN)/bold link --workspace $(DEMO)/workspace
	BOLD_USER=lin $(BIN)/bold link report --workspace $(DEMO)/workspace --truth $(DEMO)/synth/truth
	BOLD_USER=ana $(BIN)/bold project submit docs/examples/continuity-of-care.yaml --workspace $(DEMO)/workspace
	BOLD_USER=ana $(BIN)/bold project submit docs/examples/bold-questions.yaml --workspace $(DEMO)/workspace
	@# For each project: grace records the DPIA and approves with the board's answers; cara, who sent every
	@# source, signs off each use; adam builds the extract.
	set -e; W=$(DEMO)/workspace; for p in continuity-of-care bold-questions; do \
	  BOLD_USER=grace $(BIN)/bold project dpia $$p docs/examples/dpia.yaml --workspace $$W; \
	  BOLD_USER=grace $(BIN)/bold project approve $$p --answers docs/examples/board-answers.yaml --workspace $$W; \
	  for s in $$(BOLD_USER=grace $(BIN)/bold project show $$p --json --workspace $$W | \
	    $(BIN)/python -c "import json,sys; print(' '.join(d for d in json.load(sys.stdin)['agreement']['datasets'] if d != 'person'))"); do \
	    BOLD_USER=cara $(BIN)/bold project sign-off $$p --source $$s --workspace $$W; done; \
	  BOLD_USER=adam $(BIN)/bold project build $$p --workspace $$W; \
	done
	BOLD_USER=ana $(BIN)/bold study run bold-questions all --workspace $(DEMO)/workspace
	BOLD_USER=ana $(BIN)/bold study run bold-questions pilot-evaluation --workspace $(DEMO)/workspace \
	  --param pilot_start=$$($(BIN)/python -c "import json; print(json.load(open('$(DEMO)/synth/truth/summary.json'))['pilot_start'])") \
	  --param pilot_areas=$$($(BIN)/python -c "import json; print(','.join(json.load(open('$(DEMO)/synth/truth/summary.json'))['pilot_local_authorities']))")
	BOLD_USER=ana $(BIN)/bold study run bold-questions docs/examples/study-continuity-by-ost.yaml --workspace $(DEMO)/workspace
	BOLD_USER=ana $(BIN)/bold outputs list bold-questions --workspace $(DEMO)/workspace
	BOLD_USER=oscar $(BIN)/bold outputs show bold-questions --workspace $(DEMO)/workspace \
	  $$(ls $(DEMO)/workspace/outputs/bold-questions | grep '^continuity-of-care' | head -1) --table by_financial_year
	BOLD_USER=ana $(BIN)/bold outputs report bold-questions --workspace $(DEMO)/workspace \
	  $$(ls $(DEMO)/workspace/outputs/bold-questions | grep '^deaths-after-release' | head -1) > /dev/null
	@# Release: ana asks for two checked outputs; oscar and olivia vote on each on their own; oscar decides and
	@# releases; the register lists them and the demo report is built from released files only.
	set -e; W=$(DEMO)/workspace; \
	  A=$$(ls $$W/outputs/bold-questions | grep '^continuity-of-care' | head -1); \
	  B=$$(ls $$W/outputs/bold-questions | grep '^homelessness-to-treatment' | head -1); \
	  R=$$(BOLD_USER=ana $(BIN)/bold outputs request bold-questions $$A $$B --workspace $$W --json \
	    --context "Continuity of care and homelessness pathways for the demo report" \
	    --controls "bold-standard profile; no breakdown below region" | $(BIN)/python -c "import json,sys; print(json.load(sys.stdin)['id'])"); \
	  for c in oscar olivia; do for o in $$A $$B; do \
	    BOLD_USER=$$c $(BIN)/bold outputs review bold-questions $$o --vote approve --comment "checked: no small cells" --workspace $$W; \
	  done; done; \
	  BOLD_USER=oscar $(BIN)/bold outputs decide bold-questions $$R --workspace $$W; \
	  for o in $$A $$B; do BOLD_USER=oscar $(BIN)/bold outputs release bold-questions $$o --workspace $$W; done
	BOLD_USER=ana $(BIN)/bold releases list bold-questions --workspace $(DEMO)/workspace
	BOLD_USER=ana $(BIN)/bold releases report bold-questions --out $(DEMO)/report.html --workspace $(DEMO)/workspace
	BOLD_USER=grace $(BIN)/bold register build --workspace $(DEMO)/workspace
	BOLD_USER=grace $(BIN)/bold audit verify --workspace $(DEMO)/workspace
	@echo
	@echo "The web application on the demo workspace:  $(BIN)/bold serve --workspace $(DEMO)/workspace"
	@echo "then open http://127.0.0.1:8000/ and sign in as adam or alex (admins), cara (custodian), lin (linker), ana (analyst),"
	@echo "grace (governance), oscar or olivia (output checkers), each with the password demo-only-password (docs/web.md)."

# Each test module runs on one worker (loadscope), so its module fixtures (linked workspaces, mostly) are made once.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadscope --durations=10

bench: $(STAMP)
	$(BIN)/python benchmarks/synth.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/linkage.py
	$(BIN)/python benchmarks/studies.py
	$(BIN)/python benchmarks/audit_state.py
	$(BIN)/python benchmarks/disclosure.py

docs: $(STAMP)
	$(BIN)/python -m bold.docs_tables

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(DEMO) bench-out .pytest_cache .ruff_cache
