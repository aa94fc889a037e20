# The two commands of the quick start:
#   make run    set up a virtualenv and run the server on its embedded defaults
#   make test   set up everything the tests need and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The example policy plugin is installed like a third party's, so the tests
# load it through its entry point (tests/plugins/example-policy).
$(VENV)/.installed-test: pyproject.toml tests/plugins/example-policy/pyproject.toml tests/plugins/example-policy/confchat_example_policy.py | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet ./tests/plugins/example-policy
	touch $@

run: $(VENV)/.installed
	$(BIN)/confchat serve $(ARGS)

test-deps: $(VENV)/.installed-test
	./scripts/install-test-deps

test: test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info
