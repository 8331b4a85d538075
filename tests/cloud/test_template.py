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


def test_cloud_browsers_read_pictures_through_cloudfront_only():
    from edgechat.labeler.s3 import object_key
    from edgechat.web.pictures import PICTURE_HEADERS

    res = template.load()["Resources"]
    dist = res["WebDistribution"]["Properties"]["DistributionConfig"]
    origin = next(o for o in dist["Origins"] if o["Id"] == "pictures")
    assert origin["DomainName"] == {"Fn::GetAtt": ["PicturesBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["PicturesOriginAccessControl", "Id"]}
    (behaviour,) = dist["CacheBehaviors"]
    assert behaviour["PathPattern"] == "/pictures/*" and behaviour["TargetOriginId"] == "pictures"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["CachePolicyId"] == dist["DefaultCacheBehavior"]["CachePolicyId"]  # CachingOptimized
    # the keys Sync puts are the paths the app asks for (the behaviour's pattern)
    sha = "a" * 64
    assert f"/{object_key(sha, 'jpg')}".startswith("/pictures/")
    assert f"/{object_key(sha, 'jpg', thumbnail=True)}" == f"/pictures/{sha}/thumb"
    # the edge's picture headers: sandboxed, nosniff; the app's other security headers
    headers = res[behaviour["ResponseHeadersPolicyId"]["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert csp == PICTURE_HEADERS["Content-Security-Policy"]
    app_security = res["WebHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert {k: v for k, v in security.items() if k != "ContentSecurityPolicy"} == {
        k: v for k, v in app_security.items() if k != "ContentSecurityPolicy"
    }
    # the bucket lets only this distribution read, only pictures/*, and only over TLS
    statements = res["PicturesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (read,) = [s for s in statements if s["Effect"] == "Allow"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert read["Resource"] == {"Fn::Sub": "${PicturesBucket.Arn}/pictures/*"}
    source = read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${WebDistribution}")
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)  # fmt: skip
    # the app's pages may show them: same origin
    assert "img-src 'self'" in res["WebHeaders"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]  # fmt: skip


def test_stream_function_may_answer_a_reactions_query_on_the_asker_s_chat_in():
    (statement,) = [
        s
        for p in template.load()["Resources"]["StreamFunction"]["Properties"]["Policies"]
        for s in p["Statement"]
        if s["Action"] == "iot:Publish"
    ]
    topics = [r["Fn::Sub"].rsplit(":topic/", 1)[1] for r in statement["Resource"]]
    assert topics == ["chat/pub/*", "chat/in/*"]
