"""The tag-cloud expression as a Step Functions state machine: shape,
asl-validator (npm), and a run in moto's Step Functions as far as moto can go."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from edgechat.labeler.asl import DetectLabels, LambdaFunction, tag_cloud_expression, to_state_machine
from edgechat.labeler.lambdas import count_handler, render_handler
from edgechat.labeler.pipeline import HtmlParams

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tools" / "asl-validator"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
LAMBDAS = {name: LambdaFunction(ARN + name) for name in ("get_labels", "count", "render_html")}


def test_the_expression_compiles_in_evaluation_order() -> None:
    definition = to_state_machine(tag_cloud_expression(HtmlParams(min_confidence=70)), LAMBDAS)
    states = definition["States"]
    assert definition["StartAt"] == "map_get_labels" and list(states) == [
        "map_get_labels",
        "count",
        "render_html",
    ]
    mapped = states["map_get_labels"]
    assert mapped["Type"] == "Map" and mapped["ItemsPath"] == "$.images" and mapped["Next"] == "count"
    inner = mapped["ItemProcessor"]["States"]["get_labels"]
    assert inner["Resource"] == ARN + "get_labels" and inner["End"]
    assert states["count"]["Parameters"] == {"input.$": "$.map_get_labels"}
    assert states["render_html"]["Parameters"]["input.$"] == "$.count"
    assert states["render_html"]["Parameters"]["params"]["minConfidence"] == 70
    assert states["render_html"]["End"]


def _validator() -> Path:
    exe = VALIDATOR / "node_modules" / ".bin" / "asl-validator"
    if not exe.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.skip("npm/node not installed: cannot run asl-validator")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=VALIDATOR, check=True)
    return exe


def test_asl_validator_accepts_both_forms(tmp_path) -> None:
    exe = _validator()
    args = []
    for name, get_labels in (("lambda", LAMBDAS["get_labels"]), ("rekognition", DetectLabels())):
        path = tmp_path / f"{name}.asl.json"
        path.write_text(
            json.dumps(to_state_machine(tag_cloud_expression(), {**LAMBDAS, "get_labels": get_labels}))
        )
        args += ["--json-path", str(path)]
    run = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.count("is valid") == 2, run.stdout + run.stderr


def test_asl_validator_catches_a_broken_definition(tmp_path) -> None:
    exe = _validator()
    broken = to_state_machine(tag_cloud_expression(), LAMBDAS)
    broken["States"]["count"]["Next"] = "nowhere"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    run = subprocess.run([str(exe), "--json-path", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode != 0


def test_it_runs_in_moto_up_to_the_first_lambda_then_the_handlers_finish_in_process() -> None:
    """moto runs the Map and Rekognition DetectLabels (its canned answer) through
    the SDK integration; it can't invoke a Lambda without Docker, so the count
    state fails there and the test hands that state's exact input to the
    handlers, in process, to finish the expression."""
    definition = to_state_machine(tag_cloud_expression(), {**LAMBDAS, "get_labels": DetectLabels()})
    images = [{"bucket": "pics", "key": f"{name}.jpg"} for name in ("a", "b", "<c>")]
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="pics")
        for image in images:
            s3.put_object(Bucket="pics", Key=image["key"], Body=b"jpeg")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="tag-cloud", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"images": images}))
        deadline = time.monotonic() + 30
        while (status := sfn.describe_execution(executionArn=execution["executionArn"]))[
            "status"
        ] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]

    kinds = [e["type"] for e in events]
    assert kinds.count("MapIterationSucceeded") == 3 and "MapStateSucceeded" in kinds
    assert [e["taskSucceededEventDetails"]["resource"] for e in events if e["type"] == "TaskSucceeded"] == [
        "detectLabels"
    ] * 3
    assert status["status"] == "FAILED" and "Function not found" in status["cause"]  # no Lambda here
    scheduled = next(e for e in events if e["type"] == "LambdaFunctionScheduled")
    assert scheduled["lambdaFunctionScheduledEventDetails"]["resource"] == ARN + "count"

    count_input = json.loads(scheduled["lambdaFunctionScheduledEventDetails"]["input"])
    assert sorted(item["picture"] for item in count_input["input"]) == ["<c>.jpg", "a.jpg", "b.jpg"]
    tally = count_handler(count_input)
    render_params = definition["States"]["render_html"]["Parameters"]
    html = render_handler({"input": tally, "params": render_params["params"]})["html"]
    assert html.startswith('<ul class="tag-cloud">') and 'data-count="3"' in html
    assert "<c>" not in html and "&lt;c&gt;.jpg" in html  # moto's canned labels, our escaping


def test_the_get_labels_lambda_reads_s3_and_calls_rekognition() -> None:
    from edgechat.labeler.lambdas import make_get_labels_handler

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="pics")
        s3.put_object(Bucket="pics", Key="cat.jpg", Body=b"jpeg")
        handler = make_get_labels_handler(s3, boto3.client("rekognition", region_name="us-east-1"))
        out = handler({"picture": {"bucket": "pics", "key": "cat.jpg"}}, None)
    assert out["picture"] == "cat.jpg" and out["Labels"]  # moto's canned labels, in our shape
    assert count_handler({"input": [out]})["pictures"] == ["cat.jpg"]
