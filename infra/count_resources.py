"""Counts the resources of template.yaml after the SAM transform, the number that
CloudFormation's 500-resource limit applies to, and fails when the stack comes close.

Runs offline with SAM CLI's own translator (samtranslator, from the pinned SAM venv):
local code URIs become placeholder S3 URIs and managed policies are not looked up,
neither of which changes how many resources the transform makes.
"""
import sys
from collections import Counter

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

LIMIT = 500
# The budget every feature must fit in; past WARN_AT, split into nested applications.
BUDGET = 400
WARN_AT = 450


class NoManagedPolicies:
    def load(self):
        return {}


def main(path):
    tpl = yaml_parse(open(path).read())
    for res in tpl["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://placeholder/code.zip"
    out = transform(tpl, {}, NoManagedPolicies())
    counts = Counter(r["Type"] for r in out["Resources"].values())
    total = sum(counts.values())
    print(f"{path}: {total} resources after the SAM transform (budget {BUDGET}, fails past {WARN_AT}; CloudFormation's limit is {LIMIT})")
    for kind, n in counts.most_common():
        print(f"  {n:4d} {kind}")
    if total >= WARN_AT:
        print(f"too close to the limit: split the stack before adding more", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
