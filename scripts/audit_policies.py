"""Audits every IAM policy in template.yaml with parliament (offline).

parliament reads policy documents, not CloudFormation: each intrinsic function is
resolved first to an ARN of the right shape for its resource type, and every `Fn::If`
is taken both ways (each combination of the conditions a policy uses), so a finding
is about the policy, never an artifact of the template syntax.

The operator's policies (docs/operator-permissions/*.json) name their resources
with `${...}` placeholders, the stack's outputs and pseudo parameters: each is
filled with a value of the shape the stack gives it before the audit.

Exit status 1 when any finding is not listed in ALLOWED with its reason.
Usage: audit_policies.py TEMPLATE [EXTRA_POLICY.json ...]
"""
import itertools
import json
import re
import sys

import yaml
from parliament import analyze_policy_string

ACCOUNT = "123456789012"
REGION = "us-east-1"

# (policy name, issue) -> why it is acceptable. Empty: nothing is silenced.
ALLOWED = {}


class Tagged:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def construct(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


class Loader(yaml.SafeLoader):
    pass


Loader.add_multi_constructor("!", construct)


def arn_of(name, resource):
    kind = resource["Type"]
    if kind == "AWS::DynamoDB::Table":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    if kind == "AWS::SecretsManager::Secret":
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
    if kind == "AWS::SQS::Queue":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if kind == "AWS::Events::EventBus":
        return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
    if kind == "AWS::S3::Bucket":
        return f"arn:aws:s3:::{name.lower()}"
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    if kind == "AWS::Serverless::Function":
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    if kind == "AWS::Logs::LogGroup":
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    raise SystemExit(f"no ARN shape for {name} ({kind})")


def attribute(name, attr, resources):
    resource = resources[name]
    if attr == "Arn":
        return arn_of(name, resource)
    if attr == "StreamArn":
        return arn_of(name, resource) + "/stream/2026-01-01T00:00:00.000"
    raise SystemExit(f"no value for {name}.{attr}")


def ref(name, resources):
    pseudo = {
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
        "AWS::StackName": "shop",
        "AWS::URLSuffix": "amazonaws.com",
    }
    if name in pseudo:
        return pseudo[name]
    resource = resources[name]
    kind = resource["Type"]
    if kind == "AWS::SQS::Queue":
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
    if kind in ("AWS::S3::Bucket", "AWS::Events::EventBus", "AWS::DynamoDB::Table"):
        return name.lower() if kind == "AWS::S3::Bucket" else name
    return arn_of(name, resource)


NO_VALUE = object()


def resolve(node, resources, choice):
    """choice: condition name -> bool, for every Fn::If met."""
    if isinstance(node, list):
        out = [resolve(n, resources, choice) for n in node]
        return [n for n in out if n is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref":
            return NO_VALUE if value == "AWS::NoValue" else ref(value, resources)
        if key == "Fn::GetAtt":
            return attribute(value[0], value[1], resources)
        if key == "Fn::If":
            cond, yes, no = value
            return resolve(yes if choice[cond] else no, resources, choice)
        if key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            out, i = "", 0
            while True:
                j = text.find("${", i)
                if j < 0:
                    return out + text[i:]
                k = text.index("}", j)
                out += text[i:j]
                name = text[j + 2 : k]
                if "." in name:
                    res, attr = name.split(".", 1)
                    out += attribute(res, attr, resources)
                else:
                    out += ref(name, resources)
                i = k + 1
    out = {}
    for k, v in node.items():
        r = resolve(v, resources, choice)
        if r is not NO_VALUE:
            out[k] = r
    return out


def conditions_in(node, found):
    if isinstance(node, list):
        for n in node:
            conditions_in(n, found)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "Fn::If":
                found.add(v[0])
            conditions_in(v, found)
    return found


def policies(template):
    resources = template["Resources"]
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            for i, doc in enumerate(props.get("Policies", [])):
                if isinstance(doc, dict) and "Statement" in doc:
                    yield f"{name}.Policies[{i}]", doc
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield name, props["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::Role":
            for p in props.get("Policies", []):
                yield f"{name}.{p['PolicyName']}", p["PolicyDocument"]


# What a stack named "shop" gives each placeholder of the operator's policies.
PLACEHOLDERS = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": "shop",
    "TableName": "shop-PaymentsTable-1A2B3C4D5E6F",
    "PaymentEventBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/shop-payments",
    "AlarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:shop-AlarmTopic-1A2B3C4D5E6F",
    "ReconcilerFunctionName": "shop-ReconcilerFunction-1A2B3C4D5E6F",
    "PaymentsLookupInvokeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/*/GET/payments/*",
    "UnresolvedListInvokeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/*/GET/unresolved",
}


def fill(path):
    text = open(path).read()
    unknown = set(re.findall(r"\$\{([^}]+)\}", text)) - PLACEHOLDERS.keys()
    if unknown:
        raise SystemExit(f"{path}: no value for {', '.join(sorted(unknown))}")
    return json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: PLACEHOLDERS[m.group(1)], text))


def main():
    template = yaml.load(open(sys.argv[1]), Loader=Loader)
    resources = template["Resources"]
    docs = list(policies(template))
    for path in sys.argv[2:]:
        docs.append((path, fill(path)))
    audited, findings = 0, []
    for name, doc in docs:
        conds = sorted(conditions_in(doc, set()))
        for values in itertools.product([True, False], repeat=len(conds)):
            choice = dict(zip(conds, values))
            resolved = resolve(doc, resources, choice)
            audited += 1
            for f in analyze_policy_string(json.dumps(resolved)).findings:
                if (name, f.issue) in ALLOWED:
                    continue
                where = ", ".join(f"{c}={v}" for c, v in choice.items()) or "as written"
                findings.append(f"{name} ({where}): {f.issue} {f.detail}")
    for f in findings:
        print(f"parliament: {f}")
    print(
        f"parliament: {len(docs)} policies, {audited} variants audited, "
        f"{len(findings)} findings, {len(ALLOWED)} silenced"
    )
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
