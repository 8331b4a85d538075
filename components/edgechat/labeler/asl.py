"""The tag-cloud expression, as data, compiled to an Amazon States Language definition.

``TAG_CLOUD`` is ``render_html(count(map(get_labels, images)), params)`` written
as a tree; ``to_state_machine`` walks it: ``MapOver`` becomes a Map state (one
iteration per picture), each ``Apply`` a Task state, in evaluation order.
Which service runs a function is a separate choice (``resources``): a Lambda
function, or for ``get_labels`` Rekognition's DetectLabels called directly
through the Step Functions SDK integration (no Lambda at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgechat.labeler.pipeline import HtmlParams


@dataclass(frozen=True, slots=True)
class Images:
    """The state machine's input list of pictures ({"bucket", "key"} objects)."""

    path: str = "$.images"


@dataclass(frozen=True, slots=True)
class MapOver:
    fn: str
    over: Images


@dataclass(frozen=True, slots=True)
class Apply:
    fn: str
    arg: Apply | MapOver
    params: Mapping[str, Any] = field(default_factory=dict)


Expr = Images | MapOver | Apply


def tag_cloud_expression(params: HtmlParams | None = None) -> Apply:
    """``render_html(count(map(get_labels, images)), params)``."""
    html_params = (params or HtmlParams()).to_json()
    return Apply("render_html", Apply("count", MapOver("get_labels", Images())), html_params)


@dataclass(frozen=True, slots=True)
class LambdaFunction:
    arn: str


@dataclass(frozen=True, slots=True)
class DetectLabels:
    """Rekognition straight from Step Functions, on the picture's S3 object."""

    min_confidence: float = 50.0
    max_labels: int = 25


Resource = LambdaFunction | DetectLabels

_RETRY = [
    {
        "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException", "States.Timeout"],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }
]


def _task(name: str, resource: Resource, parameters: dict[str, Any]) -> dict[str, Any]:
    if isinstance(resource, DetectLabels):
        raise ValueError(f"{name}: DetectLabels can only be get_labels, inside the Map")
    # The function's ARN as the resource: the state's result is the function's
    # return value itself (no Payload envelope to unwrap).
    return {
        "Type": "Task",
        "Comment": name,
        "Resource": resource.arn,
        "Parameters": parameters,
        "Retry": _RETRY,
    }


def _labeller(name: str, resource: Resource) -> dict[str, Any]:
    """The Map's iteration: one picture in, ``{"picture", "Labels"}`` out."""
    if isinstance(resource, LambdaFunction):
        return {"StartAt": name, "States": {name: {**_task(name, resource, {"picture.$": "$"}), "End": True}}}
    detect = {
        "Type": "Task",
        "Comment": name,
        "Resource": "arn:aws:states:::aws-sdk:rekognition:detectLabels",
        "Parameters": {
            "Image": {"S3Object": {"Bucket.$": "$.bucket", "Name.$": "$.key"}},
            "MinConfidence": resource.min_confidence,
            "MaxLabels": resource.max_labels,
        },
        "ResultSelector": {"Labels.$": "$.Labels"},
        "ResultPath": "$.detected",
        "Next": "shape",
    }
    shape = {
        "Type": "Pass",
        "Parameters": {"picture.$": "$.key", "Labels.$": "$.detected.Labels"},
        "End": True,
    }
    return {"StartAt": name, "States": {name: detect, "shape": shape}}


def to_state_machine(
    expr: Apply,
    resources: Mapping[str, Resource],
    *,
    max_concurrency: int = 4,
    comment: str = "edgechat tag cloud: render_html(count(map(get_labels, images)), params)",
) -> dict[str, Any]:
    """The ASL definition (a dict; ``json.dumps`` it for CreateStateMachine)."""
    chain: list[tuple[str, dict[str, Any]]] = []

    def emit(node: Expr, *, last: bool) -> str:
        """Adds the states computing ``node``; returns the JSONPath its value is at."""
        if isinstance(node, Images):
            return node.path
        if isinstance(node, MapOver):
            items = emit(node.over, last=False)
            name = f"map_{node.fn}"
            chain.append(
                (
                    name,
                    {
                        "Type": "Map",
                        "ItemsPath": items,
                        "MaxConcurrency": max_concurrency,
                        "ItemProcessor": {
                            "ProcessorConfig": {"Mode": "INLINE"},
                            **_labeller(node.fn, resources[node.fn]),
                        },
                        "ResultPath": f"$.{name}",
                    },
                )
            )
            return f"$.{name}"
        value = emit(node.arg, last=False)
        payload = {"input.$": value, **({"params": dict(node.params)} if node.params else {})}
        state = _task(node.fn, resources[node.fn], payload)
        if last:
            state["End"] = True
        else:
            state["ResultPath"] = f"$.{node.fn}"
        chain.append((node.fn, state))
        return f"$.{node.fn}"

    emit(expr, last=True)
    states: dict[str, Any] = {}
    for (name, state), nxt in zip(chain, [*[n for n, _ in chain[1:]], None], strict=True):
        if nxt is not None:
            state["Next"] = nxt
        states[name] = state
    return {"Comment": comment, "StartAt": chain[0][0], "States": states}
