"""The JobsTable of template.yaml (key, attribute definitions, indexes) created in the active moto mock, so tests of
code that reads it query the indexes the stack really has."""
from __future__ import annotations

from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def create_jobs_table(dynamodb, name: str = "jobs"):
    props = yaml_parse(TEMPLATE.read_text())["Resources"]["JobsTable"]["Properties"]
    return dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"], GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
