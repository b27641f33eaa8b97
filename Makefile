# The two commands the README promises, and the steps behind them.
.PHONY: run test tools bench-guard package measure

## The main job: decode the order-lifecycle sample events and print each flow's causation tree.
run:
	cargo herald show events

## Every test: installs the pinned tools into .tools/, starts moto server, runs the workspace tests.
test:
	scripts/test.sh

## Only install the test tools.
tools:
	scripts/tools.sh

## Idempotency guard figures: CPU per event in memory, events/s and DynamoDB calls per path on moto.
bench-guard: tools
	PATH="$(CURDIR)/.tools/bin:$$PATH" cargo bench -p herald-tests --bench guard

## Every function built for Lambda (arm64, release) as target/lambda/<function>/bootstrap.zip, with sizes.
package:
	scripts/package.sh

## Peak memory of each function's release binary over 1,000 events (moto server + cargo lambda watch).
measure: tools
	.tools/bin/python scripts/measure-functions.py
