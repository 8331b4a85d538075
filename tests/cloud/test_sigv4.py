"""The SigV4 signer against AWS's published examples."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from edgechat.cloud.sigv4 import Credentials, authorization_header, iot_websocket_url, presign

SUITE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
S3_DOCS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def _suite(url: str) -> str:
    headers = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
    return authorization_header(
        SUITE, "GET", url, headers, region="us-east-1", service="service", when="20150830T123600Z"
    )


def test_get_vanilla():
    assert _suite("https://example.amazonaws.com/") == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_get_vanilla_query_order_key_case():
    assert _suite("https://example.amazonaws.com/?Param2=value2&Param1=value1").endswith(
        "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    )


def test_s3_presigned_url_example():
    # docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (GET test.txt)
    url = presign(
        S3_DOCS,
        "https://examplebucket.s3.amazonaws.com/test.txt",
        region="us-east-1",
        service="s3",
        when="20130524T000000Z",
        expires_s=86400,
        payload_hash="UNSIGNED-PAYLOAD",
    )
    assert url.endswith("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


def test_iot_url_adds_the_session_token_after_signing():
    creds = Credentials("AKIDEXAMPLE", SUITE.secret_key, "tok/en+=")
    when = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    url = iot_websocket_url(creds, "abc-ats.iot.eu-west-1.amazonaws.com", "eu-west-1", when)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "abc-ats.iot.eu-west-1.amazonaws.com", "/mqtt")
    q = parse_qs(parts.query)
    assert q["X-Amz-Credential"] == ["AKIDEXAMPLE/20261129/eu-west-1/iotdevicegateway/aws4_request"]
    assert q["X-Amz-Security-Token"] == ["tok/en+="]
    assert parts.query.index("X-Amz-Signature") < parts.query.index("X-Amz-Security-Token")
    bare = Credentials("AKIDEXAMPLE", SUITE.secret_key)
    unsigned = iot_websocket_url(bare, parts.netloc, "eu-west-1", when)
    assert url.startswith(unsigned)  # the token is not part of what was signed
