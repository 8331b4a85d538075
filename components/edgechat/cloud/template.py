"""Reading cloud/template.yaml: the topic rules and the table, so the local cloud
runs what the template declares rather than a copy of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

TEMPLATE: Final = Path(__file__).with_name("template.yaml")


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt...) as plain dicts."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader: no arbitrary objects


@dataclass(frozen=True, slots=True)
class LambdaTarget:
    function: str  # logical id
    handler: str  # module.function, as Lambda would import it


@dataclass(frozen=True, slots=True)
class KinesisTarget:
    stream: str  # logical id of the stream
    partition_key: str  # a substitution template


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    sql: str
    targets: tuple[LambdaTarget | KinesisTarget, ...]


def rules(template: dict[str, Any]) -> list[RuleSpec]:
    """Every IoT topic rule: SAM functions' IoTRule events and plain TopicRules."""
    out: list[RuleSpec] = []
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            for event_name, event in props.get("Events", {}).items():
                if event["Type"] == "IoTRule":
                    target = LambdaTarget(name, props["Handler"])
                    out.append(RuleSpec(f"{name}{event_name}", event["Properties"]["Sql"], (target,)))
        elif res["Type"] == "AWS::IoT::TopicRule":
            payload = props["TopicRulePayload"]
            targets: list[LambdaTarget | KinesisTarget] = []
            for action in payload["Actions"]:
                if "Kinesis" in action:
                    k = action["Kinesis"]
                    targets.append(KinesisTarget(k["StreamName"]["Ref"], k["PartitionKey"]))
                else:
                    raise ValueError(f"{name}: the local cloud runs Lambda and Kinesis actions only")
            out.append(RuleSpec(name, payload["Sql"], tuple(targets)))
    return out


def kinesis_consumers(template: dict[str, Any]) -> dict[str, str]:
    """Stream logical id -> the handler of the function its events feed."""
    out: dict[str, str] = {}
    for res in template["Resources"].values():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event in res["Properties"].get("Events", {}).values():
            if event["Type"] == "Kinesis":
                out[event["Properties"]["Stream"]["Fn::GetAtt"][0]] = res["Properties"]["Handler"]
    return out


def create_table_args(template: dict[str, Any], logical_id: str, table_name: str) -> dict[str, Any]:
    """boto3 ``create_table`` arguments for a table the template declares."""
    props = template["Resources"][logical_id]["Properties"]
    args: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
    }
    if "GlobalSecondaryIndexes" in props:
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return args


def ttl_attribute(template: dict[str, Any], logical_id: str) -> str:
    return template["Resources"][logical_id]["Properties"]["TimeToLiveSpecification"]["AttributeName"]
