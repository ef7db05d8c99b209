# MicroHome. Every target runs in the project's environment (scripts/env), which it
# builds on first use.
ENV := scripts/env

.PHONY: test demo lint env clean

test:
	$(ENV) scripts/test

demo:
	$(ENV) microhome demo

lint:
	$(ENV) scripts/test lint

env:
	$(ENV) true

clean:
	rm -rf .venv .demo .mypy_cache .ruff_cache .coverage
