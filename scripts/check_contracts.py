#!/usr/bin/env python3
"""Holds the published contracts to what the code produces.

1. `docs/contracts/lookup-api.openapi.yaml` is a valid OpenAPI 3.1 document and
   `docs/contracts/payment-event.schema.json` a valid JSON Schema (2020-12).
2. With a samples directory (`scripts/test.sh` collects one: every lookup and list
   answer and every event the tests produced, `testkit::contracts`), each sample
   validates against its schema, and each kind has at least a few samples.

3. The template's EventBridge schema registry holds the event contract, as OpenAPI
   3.0 (what the registry takes); `--registry-schema` prints it.

Usage: check_contracts.py [SAMPLES_DIR] | --registry-schema
"""
import json
import pathlib
import sys

import jsonschema
import yaml
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "docs" / "contracts"
BASE = "https://payment-webhooks.invalid/contracts/"

# The fewest samples of each kind a whole test run produces; fewer means the
# collection broke, and a check of nothing proves nothing.
MINIMUM = {"event": 50, "lookup": 5, "unresolved-list": 5, "unresolved-acknowledge": 1}
SUCCESS_SCHEMA = {
    "lookup": "LookupAnswer",
    "unresolved-list": "UnresolvedPage",
    "unresolved-acknowledge": "Acknowledged",
}


def load():
    openapi_path = CONTRACTS / "lookup-api.openapi.yaml"
    openapi = yaml.safe_load(openapi_path.read_text())
    validate_openapi(openapi, base_uri=openapi_path.as_uri())
    event = json.loads((CONTRACTS / "payment-event.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(event)
    registry = Registry().with_resources(
        [
            (event["$id"], Resource.from_contents(event, default_specification=DRAFT202012)),
            (BASE + "lookup-api.openapi.yaml", Resource(contents=openapi, specification=DRAFT202012)),
        ]
    )
    return registry, event


def registry_schema(event):
    """The event contract as the EventBridge schema registry takes it (OpenAPI 3.0, the
    event envelope `AWSEvent` around `PaymentEvent`), so consumers can download code
    bindings; the template's `PaymentEventSchema` holds it."""
    defs = event["$defs"]
    dropped = ("$schema", "$id", "$defs", "allOf", "unevaluatedProperties")

    def inline(node):
        if isinstance(node, dict):
            if node.get("$ref", "").startswith("#/$defs/"):
                base = inline(defs[node["$ref"].rsplit("/", 1)[1]])
                return {**base, **inline({k: v for k, v in node.items() if k != "$ref"})}
            return {k: inline(v) for k, v in node.items() if k not in dropped}
        if isinstance(node, list):
            return [inline(x) for x in node]
        return node

    payment = inline(defs["Payment"])
    detail = {
        "type": "object",
        "description": event["description"],
        "properties": {**payment["properties"], **inline(event["properties"])},
        "required": payment["required"] + event["required"],
    }
    text = {"type": "string"}
    envelope = {
        "type": "object",
        "x-amazon-events-source": "payment-webhooks",
        "required": ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"],
        "properties": {
            "version": text, "id": text, "detail-type": text, "source": text, "account": text,
            "time": {"type": "string", "format": "date-time"}, "region": text,
            "resources": {"type": "array", "items": text},
            "detail": {"$ref": "#/components/schemas/PaymentEvent"},
        },
    }
    return {
        "openapi": "3.0.0",
        "info": {"version": "1.0.0", "title": "PaymentEvent"},
        "paths": {},
        "components": {"schemas": {"AWSEvent": envelope, "PaymentEvent": detail}},
    }


def template_registry_content():
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    schema = template["Resources"]["PaymentEventSchema"]["Properties"]
    return schema["Type"], json.loads(schema["Content"])


def validator(registry, ref):
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)


def main():
    registry, event = load()
    derived = registry_schema(event)
    if sys.argv[1:] == ["--registry-schema"]:
        print(json.dumps(derived, indent=2))
        return 0
    validate_openapi(derived)
    kind, content = template_registry_content()
    if (kind, content) != ("OpenApi3", derived):
        print(
            "contracts: template.yaml's PaymentEventSchema is not the event contract: "
            "paste `scripts/check_contracts.py --registry-schema` into its Content",
            file=sys.stderr,
        )
        return 1
    print("contracts: the OpenAPI document and the event schema are valid; the schema registry's copy is current")
    if len(sys.argv) < 2:
        return 0
    samples = pathlib.Path(sys.argv[1])
    event_validator = validator(registry, event["$id"])
    component = lambda name: validator(registry, BASE + "lookup-api.openapi.yaml#/components/schemas/" + name)
    error_validator = component("Error")
    failures, counts = [], {}
    for kind in MINIMUM:
        files = sorted((samples / kind).glob("*.json")) if (samples / kind).is_dir() else []
        counts[kind] = len(files)
        for f in files:
            sample = json.loads(f.read_text())
            body, status = sample["body"], sample["status"]
            if kind == "event":
                detail = body.get("detail", {})
                problems = [e.message for e in event_validator.iter_errors(detail)]
                want = "payment.merged" if "merged_into" in detail else "payment." + str(detail.get("lifecycle"))
                if body.get("detail-type") != want:
                    problems.append(f"detail-type {body.get('detail-type')!r}, expected {want!r}")
                if body.get("source") != "payment-webhooks":
                    problems.append(f"source {body.get('source')!r}")
            else:
                v = component(SUCCESS_SCHEMA[kind]) if status == 200 else error_validator
                problems = [e.message for e in v.iter_errors(body)]
            if problems:
                failures.append(f"{kind}/{f.name} (status {status}): {problems[:3]}")
    summary = ", ".join(f"{k} {n}" for k, n in counts.items())
    print(f"contracts: samples held against them: {summary}")
    short = [k for k, n in counts.items() if n < MINIMUM[k]]
    if short:
        failures.append(f"too few samples of {short} (at least {MINIMUM}): was the run whole?")
    for f in failures[:20]:
        print("contracts: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
