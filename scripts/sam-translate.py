#!/usr/bin/env python3
"""Prints the plain CloudFormation (JSON) that AWS SAM makes of a template, offline.

Usage: sam-translate.py infra/template.yaml
Function code locations are replaced by a placeholder S3 URI, as `sam package` would.
The template's own roles are explicit, so no managed policy needs looking up (no network).
"""

import json
import os
import sys

from samtranslator.parser.parser import Parser
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The translator asks for managed policy ARNs only when a function names one; none does."""

    def load(self):
        return {}


def main():
    # The translator needs a region for ARNs it builds; no AWS call is made.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(sys.argv[1]) as f:
        template = yaml_parse(f.read())
    # `sam package` would upload the code and put its S3 location here; the translator insists
    # on one, and what it is does not matter to the resources it generates.
    template.get("Globals", {}).get("Function", {})["CodeUri"] = "s3://herald-build/code.zip"
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"].pop("CodeUri", None)
    parameters = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    cloudformation = transform(template, parameters, NoManagedPolicies(), Parser())
    json.dump(cloudformation, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
