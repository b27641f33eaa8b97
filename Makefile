# The two commands the README promises, and the steps behind them.
.PHONY: run test tools catalog bench-guard bench-peer bench-pattern bench-dev package measure fuzz
SHELL := /bin/bash

## The main job: the order system's and payment service's sample events through every function
## of infra/template.yaml, locally (real binaries, in-memory stores), printing each causation trace.
run:
	cargo herald dev --env STOCK_SEED=SKU-LAPTOP-14=5,SKU-MOUSE-01=10,SKU-PHONE-X=3 events/shop.orders events/shop.payments

## Every test: installs the pinned tools into .tools/, starts moto server, runs the workspace tests.
test:
	scripts/test.sh

## The event catalog as a static site in target/catalog (checked first; open target/catalog/index.html).
catalog:
	cargo herald catalog build

## Only install the test tools.
tools:
	scripts/tools.sh

## Idempotency guard figures: CPU per event in memory, events/s and DynamoDB calls per path on moto.
bench-guard: tools
	PATH="$(CURDIR)/.tools/bin:$$PATH" cargo bench -p herald-tests --bench guard

## Herald's consumer against Powertools for AWS Lambda (Python) @idempotent, same events, same moto
## server (keep-alive), one run: CPU µs and DynamoDB calls per event per path, and their ratio.
## Then every function's cold start (release build) against a hello-world and Powertools' import.
bench-peer: tools
	.tools/bin/pip install --quiet --disable-pip-version-check -r scripts/bench-peer-requirements.txt
	PATH="$(CURDIR)/.tools/bin:$$PATH" cargo bench -p herald-tests --bench peer
	cargo bench -p herald-tests --bench cold

## Every function built for Lambda (arm64, release) as target/lambda/<function>/bootstrap.zip, with sizes.
package:
	scripts/package.sh

## Peak memory of each function's release binary over 1,000 events (moto server + cargo lambda watch).
measure: tools
	.tools/bin/python scripts/measure-functions.py

## Pattern matcher figures: events/s for 10,000 events against 50 rules.
bench-pattern:
	cargo bench -p event-pattern

## herald dev end to end: events/s through the real functions, in-memory stores.
bench-dev:
	scripts/bench-dev.sh

## A million generated events through the decoder and every function's handler (release build;
## `make test` runs a thousand of each). HERALD_FUZZ_CASES sets the count.
fuzz:
	set -o pipefail; HERALD_FUZZ_CASES=$${HERALD_FUZZ_CASES:-1000000} cargo test --release -p herald-tests --test fuzz -- --nocapture --test-threads 1 | grep -v '^{"_aws"'

