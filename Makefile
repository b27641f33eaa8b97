# The two commands the README promises, and the steps behind them.
.PHONY: run test tools bench-guard

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
