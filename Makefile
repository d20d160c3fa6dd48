# vpnjob-operator. The two commands people need: `make demo` and `make test`.
# Everything else here is a building block of those two.

SHELL  := bash
.SHELLFLAGS := -euo pipefail -c
CARGO  ?= cargo
PYTHON ?= python3
# Caches live outside the repo so a fresh clone on the same machine is fast.
CACHE  ?= $(HOME)/.cache/vpnjob-operator
VENV   := $(CACHE)/venv-$(shell sha256sum tests/conformance/requirements.txt | cut -c1-12)
SIM    := target/debug/vpnjob-sim

.PHONY: test demo build lint fmt-check clippy unit conformance venv tools bench help

help:
	@echo "make demo   - run the whole thing end to end on this machine"
	@echo "make test   - every test tier, plus fmt and clippy"

## test: formatting, lints, every cargo test tier (the real control plane
## included), and the official-SDK conformance tier.
test: lint unit conformance e2e

lint: fmt-check clippy

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

unit:
	$(CARGO) test --locked

## e2e: the operator against a real kube-apiserver + etcd (tests/operator.rs).
e2e: tools
	hack/with-control-plane $(CARGO) test --locked --test operator -- --ignored
	hack/with-control-plane $(CARGO) test --locked --test chart -- --ignored

build:
	$(CARGO) build --locked --bins

## conformance: the official Huawei Cloud Python SDK against vpnjob-sim.
conformance: build venv
	VPNJOB_SIM=$(SIM) $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/conformance

venv: $(VENV)/.installed

$(VENV)/.installed: tests/conformance/requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/conformance/requirements.txt
	touch $@

## tools: kube-apiserver, etcd, kubectl, helm built from their pinned Go modules into bin/.
tools:
	hack/build-tools

## demo: see README.md (hack/demo builds what it needs itself).
demo:
	hack/demo

## bench: decoding benchmarks (docs/benchmarks.md).
bench:
	$(CARGO) bench --locked --bench decode
