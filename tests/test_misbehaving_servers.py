"""Clouds that misbehave: every failure ends, and is an error naming table, region and target.

A fake cloud of the test's own (tests/misbehaving.py) answers the real SDKs through vpnsql with
what no real cloud should send: page tokens that repeat, pages that never end, 200 answers
without their list, malformed values, or no answer at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from misbehaving import Asked, MisbehavingServer, aws_answer, aws_connection

import vpnsql
from vpnsql import answers, tables
from vpnsql.errors import CallTimeout, ProviderError, VpnsqlError

ENDPOINT = "cvpn-endpoint-0123456789abcdef0"
GATEWAY = "vpn-bp1a2b3c4d5e6f7g80001"
CONNECTIONS = (
    "SELECT * FROM aws.ec2_api.client_vpn_connections "
    f"WHERE ClientVpnEndpointId = '{ENDPOINT}' AND region = 'us-east-1'"
)
CLIENTS = (
    "SELECT * FROM alibaba.vpc.ssl_vpn_clients "
    f"WHERE VpnGatewayId = '{GATEWAY}' AND region = 'cn-hangzhou'"
)
Start = Callable[..., MisbehavingServer]


def failure(sql: str, **options: object) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        vpnsql.connect(**options).sql(sql)  # type: ignore[arg-type]
    return raised.value


def connections_page(*items: str, token: str | None = None) -> tuple[int, str]:
    next_token = f"<nextToken>{token}</nextToken>" if token else ""
    inner = f"<connections>{''.join(items)}</connections>{next_token}"
    return 200, aws_answer("DescribeClientVpnConnections", inner)


def clients_page(asked: Asked, total: int, **record: object) -> tuple[int, str]:
    number = int(asked.fields.get("PageNumber", 1))
    clients = [{"CommonName": f"c{number}-{i}", "Status": "online", **record} for i in range(50)]
    body = {"RequestId": "r", "TotalCount": total, "PageNumber": number, "ClientInfoList": clients}
    return 200, json.dumps(body)


def test_a_repeated_next_token_is_an_error_not_endless_paging(misbehaving: Start) -> None:
    server = misbehaving(lambda asked: connections_page(aws_connection(), token="same"))
    error = failure(CONNECTIONS)
    assert error.code == "EndlessPaging"
    assert "repeated an earlier NextToken" in error.message
    for name in ("aws.ec2_api.client_vpn_connections", "us-east-1", ENDPOINT):
        assert name in error.message
    assert len(server.asked) == 2


def test_pages_past_the_bound_are_an_error(
    misbehaving: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answers, "MAX_PAGES", 20)
    pages = iter(range(1_000_000))
    server = misbehaving(lambda asked: connections_page(aws_connection(), token=str(next(pages))))
    error = failure(CONNECTIONS)
    assert (error.code, error.region, error.target) == ("EndlessPaging", "us-east-1", ENDPOINT)
    assert "vpnsql stops at 20" in error.message
    assert len(server.asked) == 20


def test_alibaba_paging_that_would_never_reach_total_count_is_refused_first(
    misbehaving: Start,
) -> None:
    """Pages are asked side by side once TotalCount is known: 10**9 would be 20 million."""
    server = misbehaving(lambda asked: clients_page(asked, total=10**9))
    error = failure(CLIENTS)
    assert (error.code, error.region, error.target) == ("EndlessPaging", "cn-hangzhou", GATEWAY)
    assert "would take 20,000,000 pages" in error.message
    assert "alibaba.vpc.ssl_vpn_clients" in error.message
    assert len(server.asked) == 1


def test_an_alibaba_page_that_is_not_the_page_asked_for_is_an_error(misbehaving: Start) -> None:
    """A server ignoring PageNumber would hand page 1 again and again: repeated rows."""
    misbehaving(lambda asked: clients_page(Asked(asked.action, {}), total=120))
    with pytest.raises(VpnsqlError, match=r"asked for page \d, the answer is page 1"):
        vpnsql.connect().sql(CLIENTS)


@pytest.mark.parametrize(
    "reply",
    [
        '<SomethingElse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x'
        "</requestId></SomethingElse>",
        aws_answer("DescribeClientVpnConnections", ""),
    ],
    ids=["unknown root", "no list"],
)
def test_an_aws_answer_without_its_list_is_an_error_not_zero_rows(
    misbehaving: Start, reply: str
) -> None:
    misbehaving(lambda asked: (200, reply))
    error = failure(CONNECTIONS)
    assert error.code == "MalformedResponse"
    assert "no Connections" in error.message
    assert error.target == ENDPOINT and "client_vpn_connections" in error.message


def test_an_empty_aws_list_is_zero_rows(misbehaving: Start) -> None:
    misbehaving(lambda asked: connections_page())
    assert vpnsql.connect().sql(CONNECTIONS).fetchall() == []


def test_discovery_and_terminate_answers_are_checked_too(misbehaving: Start) -> None:
    misbehaving(lambda asked: (200, aws_answer(str(asked.action), "")))
    error = failure("SELECT * FROM aws.ec2_api.client_vpn_connections WHERE region = 'us-east-1'")
    assert "DescribeClientVpnEndpoints: the answer has no ClientVpnEndpoints" in error.message
    with pytest.raises(ProviderError, match="no ConnectionStatuses"):
        vpnsql.connect().sql(
            "EXEC aws.ec2_api.client_vpn_connections.client_vpn_connections_Terminate "
            f"@ClientVpnEndpointId = '{ENDPOINT}', @region = 'us-east-1', "
            "@ConnectionId = 'cvpn-connection-0123456789abcdef0'"
        )


@pytest.mark.parametrize("body", ["{}", '{"RequestId": "r"}'])
def test_an_alibaba_answer_without_its_structure_is_an_error_not_zero_rows(
    misbehaving: Start, body: str
) -> None:
    misbehaving(lambda asked: (200, body))
    error = failure(CLIENTS)
    assert error.code == "MalformedResponse"
    assert "no TotalCount" in error.message and error.target == GATEWAY
    gateways = failure("SELECT * FROM alibaba.vpc.vpn_gateways WHERE region = 'cn-hangzhou'")
    assert gateways.code == "MalformedResponse" and "DescribeVpnGateways" in gateways.message


@pytest.mark.parametrize(
    ("field", "value", "column", "expected"),
    [
        ("ingressBytes", "abc", "ingressBytes", "not a whole number"),
        ("egressBytes", "1.5", "egressBytes", "not a whole number"),
        ("connectionEstablishedTime", "yesterday", "connectionEstablishedTime", "not a time"),
        ("ingressBytes", "1" * 40, "ingressBytes", "does not fit"),
    ],
)
def test_a_malformed_aws_value_names_table_column_region_and_endpoint(
    misbehaving: Start, field: str, value: str, column: str, expected: str
) -> None:
    misbehaving(lambda asked: connections_page(aws_connection(**{field: value})))
    error = failure(CONNECTIONS)
    assert error.code == "MalformedResponse"
    assert f"{column}:" in error.message and expected in error.message
    assert (error.table, error.region, error.target) == (
        "aws.ec2_api.client_vpn_connections",
        "us-east-1",
        ENDPOINT,
    )


@pytest.mark.parametrize(
    ("record", "column"),
    [
        ({"SendBytes": "abc"}, "sendBytes"),
        ({"ReceiveBytes": 2.5}, "receiveBytes"),
        ({"ConnectedTime": "yesterday"}, "connectedTime"),
        ({"SendBytes": 10**40}, "sendBytes"),
    ],
)
def test_a_malformed_alibaba_value_names_table_column_region_and_gateway(
    misbehaving: Start, record: dict[str, object], column: str
) -> None:
    misbehaving(lambda asked: clients_page(asked, total=50, **record))
    error = failure(CLIENTS)
    assert error.code == "MalformedResponse" and f"{column}:" in error.message
    assert (error.table, error.region, error.target) == (
        "alibaba.vpc.ssl_vpn_clients",
        "cn-hangzhou",
        GATEWAY,
    )


@pytest.mark.parametrize(
    ("sql", "operation"),
    [(CONNECTIONS, "DescribeClientVpnConnections"), (CLIENTS, "DescribeSslVpnClients")],
    ids=["aws", "alibaba"],
)
def test_a_call_that_never_answers_fails_within_its_time_naming_the_call(
    misbehaving: Start, monkeypatch: pytest.MonkeyPatch, sql: str, operation: str
) -> None:
    """A call's attempts share min(--timeout, CALL_TIMEOUT): a call fails on its own, before
    the statement's deadline (here 30 s), rather than after attempts x the SDK's default."""
    monkeypatch.setattr(tables, "CALL_TIMEOUT", 2.0)
    server = misbehaving(lambda asked: None)
    started = time.monotonic()
    error = failure(sql, timeout=30.0)
    elapsed = time.monotonic() - started
    assert isinstance(error, CallTimeout) and error.code == "Timeout"
    assert operation in error.message and server.url in error.message
    assert error.target in (ENDPOINT, GATEWAY)
    assert "--timeout" in (error.hint or "")
    assert len(server.asked) > 1  # every attempt got its share of the time
    assert elapsed < 30  # botocore's own defaults: 3 attempts of 60 s


@pytest.mark.parametrize(
    ("sql", "reply", "needle"),
    [
        (
            "SELECT * FROM aws.ec2_api.client_vpn_endpoints WHERE region = 'us-east-1'",
            aws_answer(
                "DescribeClientVpnEndpoints",
                "<clientVpnEndpoint><item><vpnPort>abc</vpnPort></item></clientVpnEndpoint>",
            ),
            "cannot read the answer (ValueError",
        ),
        (CLIENTS, "[1, 2]", "cannot read the answer"),
        (CLIENTS, '{"TotalCount": "many"}', "TotalCount is 'many', not a whole number"),
    ],
    ids=["botocore cannot parse", "json of another shape", "total count"],
)
def test_an_answer_the_sdk_cannot_read_is_an_error_naming_the_table(
    misbehaving: Start, sql: str, reply: str, needle: str
) -> None:
    misbehaving(lambda asked: (200, reply))
    error = failure(sql)
    assert error.code == "MalformedResponse" and needle in error.message
    assert error.table is not None and error.table in error.message
