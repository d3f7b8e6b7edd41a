# `sam build` runs one target per function here (BuildMethod: makefile, see
# template.yaml). The first target builds every function in one cargo invocation,
# so dependencies compile once with one feature set; the others find their binary
# built. arm64 release binaries, linked by zig through cargo-lambda (no Docker).

FUNCTIONS := ccpayment-webhook ccpayment-v2-webhook alchemypay-webhook citypay-webhook \
	publisher payments-api reconciler
LAMBDA_DIR := $(or $(CARGO_TARGET_DIR),target)/lambda

define artifact
	cargo lambda build --release --arm64 $(addprefix -p ,$(FUNCTIONS))
	cp "$(LAMBDA_DIR)/$(1)/bootstrap" "$(ARTIFACTS_DIR)/bootstrap"
endef

build-CcpaymentWebhookFunction:
	$(call artifact,ccpayment-webhook)
build-CcpaymentV2WebhookFunction:
	$(call artifact,ccpayment-v2-webhook)
build-AlchemypayWebhookFunction:
	$(call artifact,alchemypay-webhook)
build-CitypayWebhookFunction:
	$(call artifact,citypay-webhook)
build-PublisherFunction:
	$(call artifact,publisher)
build-PaymentsApiFunction:
	$(call artifact,payments-api)
# The operator's list on the API: the lookup's binary, with a role of its own.
build-UnresolvedApiFunction:
	$(call artifact,payments-api)
build-ReconcilerFunction:
	$(call artifact,reconciler)

.PHONY: build-CcpaymentWebhookFunction build-CcpaymentV2WebhookFunction \
	build-AlchemypayWebhookFunction build-CitypayWebhookFunction build-PublisherFunction \
	build-PaymentsApiFunction build-UnresolvedApiFunction build-ReconcilerFunction
