"""The SAM template lints clean and transforms, offline."""

import json

from edgechat.cloud import template


def test_cfn_lint_reports_no_errors():
    from cfnlint.api import lint_file

    matches = [str(m) for m in lint_file(template.TEMPLATE)]
    assert matches == []  # not even warnings


def test_sam_translator_transforms_it(monkeypatch):
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    doc = json.loads(json.dumps(template.load()))
    doc["Globals"]["Function"]["CodeUri"] = "s3://bucket/edgechat.zip"  # what `sam package` does

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    out = transform(doc, {}, NoManagedPolicies())
    types = [r["Type"] for r in out["Resources"].values()]
    assert types.count("AWS::IoT::TopicRule") == 4
    assert types.count("AWS::Lambda::Function") == 5
    assert "AWS::Lambda::EventSourceMapping" in types
    mapping = next(r for r in out["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_nothing_is_hard_coded_to_a_region_or_account():
    text = template.TEMPLATE.read_text()
    for needle in ("us-east-1", "eu-west-1", "123456789012", "arn:aws:"):
        assert needle not in text


def test_the_rules_are_in_the_sql_subset_the_local_cloud_runs():
    from edgechat.cloud import iotsql

    specs = template.rules(template.load())
    assert {s.name for s in specs} == {
        "RouterFunctionRequests", "PresenceFunctionDisconnected", "SyncFunctionUp", "StreamRule",
    }  # fmt: skip
    for spec in specs:
        iotsql.parse(spec.sql)
