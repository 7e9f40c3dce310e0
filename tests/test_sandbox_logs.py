"""The sandbox's CloudWatch Logs and Client VPN connection logging, through the real boto3."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from vpnsql.sandbox import (
    clear_aws_errors,
    create_endpoint,
    generate_connection_log,
    inject_aws_error,
    seed_connection_log,
    seed_connections,
)
from vpnsql.sandbox.demo import DEMO_ACCOUNT_ID, DEMO_ENDPOINT_ID, DEMO_ENDPOINTS, HISTORY_DAYS
from vpnsql.sandbox.logs import MAX_PAGE_BYTES, SCAN_LIMIT

REGION = "us-east-1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = (datetime.now(UTC) - EPOCH) // timedelta(milliseconds=1) - 3_600_000
"""An hour ago in epoch milliseconds: CloudWatch refuses events older than 14 days."""


@pytest.fixture
def logs(aws_env: Any) -> Any:
    return boto3.client("logs", region_name=REGION)


@pytest.fixture
def group(logs: Any) -> str:
    name = f"/test/{uuid.uuid4().hex}"
    logs.create_log_group(logGroupName=name)
    return name


def put(logs: Any, group: str, stream: str, events: list[tuple[int, Any]]) -> None:
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    messages = [
        {"timestamp": stamp, "message": doc if isinstance(doc, str) else json.dumps(doc)}
        for stamp, doc in events
    ]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=messages)


def pages(logs: Any, group: str, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
    token = None
    while True:
        response = logs.filter_log_events(
            logGroupName=group, **kwargs, **({"nextToken": token} if token else {})
        )
        yield response["events"]
        token = response.get("nextToken")
        if not token:
            return


def messages(logs: Any, group: str, **kwargs: Any) -> list[Any]:
    return [json.loads(e["message"]) for page in pages(logs, group, **kwargs) for e in page]


DOCS = [
    {"username": "alice", "kind": "a", "n": 5, "tags": ["x", "y"], "nested": {"k": "v"}},
    {"username": "bob", "kind": "b", "n": 12, "gone": None},
    {"username": "alice.smith", "kind": "b", "n": 7},
    {"kind": "a"},
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.username = "alice" }', [0]),
        ('{ $.username = "alice*" }', [0, 2]),
        ('{$.username="bob"||$.username="alice"}', [0, 1]),
        ('{ ($.kind = "a" || $.kind = "b") && $.username = "alice*" }', [0, 2]),
        ('{ $.username != "bob" }', [0, 2]),
        ("{ $.username NOT EXISTS }", [3]),
        ("{ $.gone IS NULL }", [1]),
        ("{ $.n > 6 }", [1, 2]),
        ("{ $.n = 5 }", [0]),
        ('{ $.tags[1] = "y" && $.nested.k = "v" }', [0]),
        ("{ $.kind = a }", [0, 3]),
    ],
)
def test_json_filter_patterns_select_as_aws_documents(
    logs: Any, group: str, pattern: str, expected: list[int]
) -> None:
    put(logs, group, "s", [(T + i, doc) for i, doc in enumerate(DOCS)])
    assert messages(logs, group, filterPattern=pattern) == [DOCS[i] for i in expected]


@pytest.mark.parametrize(
    "pattern",
    ['{ $.username = "a\\"b" }', '{ $.username = "a\\\\b" }', "{ $.username = }", '{ "x" }'],
)
def test_a_pattern_it_cannot_read_is_refused_not_matched(
    logs: Any, group: str, pattern: str
) -> None:
    put(logs, group, "s", [(T, DOCS[0])])
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(logGroupName=group, filterPattern=pattern)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


def test_time_bounds_are_inclusive_milliseconds(logs: Any, group: str) -> None:
    put(logs, group, "s", [(T + at, {"at": at}) for at in (999, 1000, 1001, 2000, 2001)])
    found = messages(logs, group, startTime=T + 1000, endTime=T + 2000)
    assert [doc["at"] for doc in found] == [1000, 1001, 2000]


def test_pages_interleave_streams_in_time_order_and_stay_under_a_megabyte(
    logs: Any, group: str
) -> None:
    filler = "x" * 2000
    for stream, offset in (("b", 1), ("a", 0)):
        put(logs, group, stream, [(T + 2 * i + offset, {"i": 2 * i + offset, "f": filler})
                                  for i in range(600)])  # fmt: skip
    got = list(pages(logs, group))
    assert len(got) == 3
    assert all(sum(len(e["message"]) for e in page) <= MAX_PAGE_BYTES for page in got)
    order = [json.loads(e["message"])["i"] for page in got for e in page]
    assert order == list(range(1200))


def test_a_selective_pattern_answers_empty_pages_with_a_token(logs: Any, group: str) -> None:
    events = [(T + i, {"u": "rare" if i == SCAN_LIMIT + 5 else "common"}) for i in range(25000)]
    for start in range(0, len(events), 10000):
        put(logs, group, "s", events[start : start + 10000])
    got = list(pages(logs, group, filterPattern='{ $.u = "rare" }'))
    assert [len(page) for page in got] == [0, 1]


def test_limit_caps_a_page(logs: Any, group: str) -> None:
    put(logs, group, "s", [(T + i, {"i": i}) for i in range(7)])
    assert [len(page) for page in pages(logs, group, limit=3)] == [3, 3, 1]


def test_demo_endpoints_log_to_cloudwatch_except_one(aws_env: Any) -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    options = {
        e["ClientVpnEndpointId"]: e["ConnectionLogOptions"]
        for e in ec2.describe_client_vpn_endpoints()["ClientVpnEndpoints"]
    }
    demo = {
        spec.endpoint_id: spec
        for spec in DEMO_ENDPOINTS
        if spec.region == "eu-west-1" and spec.account_id == DEMO_ACCOUNT_ID
    }
    for endpoint_id, spec in demo.items():
        assert options[endpoint_id]["Enabled"] is (spec.log_group is not None)
    assert any(not options[endpoint_id]["Enabled"] for endpoint_id in demo)


def test_demo_log_is_aws_format_over_the_last_week(logs: Any) -> None:
    found = list(pages(logs, "/aws/clientvpn/corporate", logStreamNames=["vpn"]))
    events = [e for page in found for e in page]
    documents = [json.loads(e["message"]) for e in events]
    assert {d["client-vpn-endpoint-id"] for d in documents} == {DEMO_ENDPOINT_ID}
    assert list(documents[0])[:3] == [
        "connection-log-type",
        "connection-attempt-status",
        "connection-reset-status",
    ]
    for doc in documents:
        for key, value in doc.items():
            assert isinstance(value, list if key == "posture-compliance-statuses" else str), key
    kinds = {(d["connection-log-type"], d["connection-attempt-status"]) for d in documents}
    assert kinds == {
        ("connection-attempt", "successful"),
        ("connection-attempt", "failed"),
        ("connection-reset", "NA"),
    }
    failed = [d for d in documents if d["connection-attempt-status"] == "failed"]
    assert {d["connection-attempt-failure-reason"] for d in failed} >= {"client-connect-failed"}
    assert all(d["client-ip"] == "NA" and d["connection-end-time"] == "NA" for d in failed)
    span = (events[-1]["timestamp"] - events[0]["timestamp"]) / 86_400_000
    assert HISTORY_DAYS - 1 < span <= HISTORY_DAYS


def test_an_entry_is_published_after_what_it_describes(aws_env: Any) -> None:
    logs = boto3.client("logs", region_name="eu-west-1")
    for page in pages(logs, "/aws/clientvpn/eu-office"):
        for event in page:
            doc = json.loads(event["message"])
            moment = doc["connection-end-time"]
            if moment == "NA":
                moment = doc["connection-start-time"]
            described = datetime.fromisoformat(moment).replace(tzinfo=UTC)
            assert EPOCH + timedelta(milliseconds=event["timestamp"]) >= described


def test_seeding_ending_and_terminating_write_entries(logs: Any, group: str) -> None:
    endpoint_id = create_endpoint(
        REGION,
        status="available",
        ConnectionLogOptions={"Enabled": True, "CloudwatchLogGroup": group},
    )
    now = datetime.now(UTC).replace(microsecond=0)
    active, ended = seed_connections(
        REGION,
        endpoint_id,
        connections=[{"Username": "ann"}, {"Status": "terminated", "ConnectionEndTime": now}],
    )
    refused = seed_connection_log(
        REGION, endpoint_id, [{"Username": "eve", "FailureReason": "authorization-policy-deny"}]
    )
    boto3.client("ec2", region_name=REGION).terminate_client_vpn_connections(
        ClientVpnEndpointId=endpoint_id, ConnectionId=active
    )
    entries = [
        (d["connection-id"], d["connection-log-type"], d["connection-attempt-status"])
        for d in messages(logs, group)
    ]
    assert sorted(entries) == sorted(
        [
            (active, "connection-attempt", "successful"),
            (active, "connection-reset", "NA"),
            (ended, "connection-attempt", "successful"),
            (ended, "connection-reset", "NA"),
            (refused[0], "connection-attempt", "failed"),
        ]
    )


def test_an_endpoint_logging_to_a_missing_group_is_refused(aws_env: Any) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    with pytest.raises(ClientError) as caught:
        ec2.create_client_vpn_endpoint(
            ClientCidrBlock="10.0.0.0/16",
            ServerCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/x",
            AuthenticationOptions=[{"Type": "certificate-authentication"}],
            ConnectionLogOptions={"Enabled": True, "CloudwatchLogGroup": "/no/such/group"},
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_a_generated_log_is_computed_when_read(logs: Any) -> None:
    group = f"/test/{uuid.uuid4().hex}"
    endpoint_id = f"cvpn-endpoint-{uuid.uuid4().hex[:17]}"
    count = generate_connection_log(REGION, endpoint_id, days=2, per_day=1000, log_group=group)
    documents = messages(logs, group)
    assert len(documents) == count == 2000
    assert {d["client-vpn-endpoint-id"] for d in documents} == {endpoint_id}
    resets = [d for d in documents if d["connection-log-type"] == "connection-reset"]
    attempts = {
        d["connection-id"] for d in documents if d["connection-log-type"] != "connection-reset"
    }
    assert {d["connection-id"] for d in resets} <= attempts


def test_injected_json_errors_reach_botocore_with_their_code(logs: Any, group: str) -> None:
    inject_aws_error("AccessDeniedException", action="FilterLogEvents")
    try:
        with pytest.raises(ClientError) as caught:
            logs.filter_log_events(logGroupName=group)
    finally:
        clear_aws_errors()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
