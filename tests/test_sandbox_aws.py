"""The sandbox's EC2 Client VPN, exercised over real HTTP with real boto3."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from vpnsql import sandbox
from vpnsql.sandbox import demo

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.Sandbox]:
    running = sandbox.start()
    yield running
    running.stop()


def ec2(sb: sandbox.Sandbox, region: str = REGION, **config: Any) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=sb.endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def client(sb: sandbox.Sandbox) -> Any:
    return ec2(sb)


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response


def connections(client: Any, endpoint_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    paginator = client.get_paginator("describe_client_vpn_connections")
    pages = paginator.paginate(ClientVpnEndpointId=endpoint_id, **kwargs)
    return [connection for page in pages for connection in page["Connections"]]


def test_create_and_describe_endpoint(client: Any) -> None:
    created = client.create_client_vpn_endpoint(
        ClientCidrBlock="10.50.0.0/22",
        ServerCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/server",
        AuthenticationOptions=[
            {
                "Type": "directory-service-authentication",
                "ActiveDirectory": {"DirectoryId": "d-1234567890"},
            }
        ],
        ConnectionLogOptions={"Enabled": False},
        Description="test endpoint",
        VpcId="vpc-0123456789abcdef0",
        TransportProtocol="tcp",
        VpnPort=1194,
        SplitTunnel=True,
        TagSpecifications=[
            {"ResourceType": "client-vpn-endpoint", "Tags": [{"Key": "team", "Value": "net"}]}
        ],
    )
    endpoint_id = created["ClientVpnEndpointId"]
    assert endpoint_id.startswith("cvpn-endpoint-") and len(endpoint_id) == 31
    assert created["Status"] == {"Code": "pending-associate"}
    assert endpoint_id in created["DnsName"] and REGION in created["DnsName"]

    [described] = client.describe_client_vpn_endpoints(ClientVpnEndpointIds=[endpoint_id])[
        "ClientVpnEndpoints"
    ]
    assert described["Description"] == "test endpoint"
    assert described["ClientCidrBlock"] == "10.50.0.0/22"
    assert described["VpcId"] == "vpc-0123456789abcdef0"
    assert (described["TransportProtocol"], described["VpnPort"]) == ("tcp", 1194)
    assert described["SplitTunnel"] is True
    assert described["Tags"] == [{"Key": "team", "Value": "net"}]
    assert described["AuthenticationOptions"][0]["ActiveDirectory"]["DirectoryId"] == (
        "d-1234567890"
    )
    datetime.strptime(described["CreationTime"], "%Y-%m-%dT%H:%M:%S")

    tcp = client.describe_client_vpn_endpoints(
        Filters=[{"Name": "transport-protocol", "Values": ["tcp"]}]
    )["ClientVpnEndpoints"]
    assert endpoint_id in {e["ClientVpnEndpointId"] for e in tcp}
    assert all(e["TransportProtocol"] == "tcp" for e in tcp)


def test_describe_endpoints_pages(client: Any) -> None:
    for _ in range(6):
        sandbox.create_endpoint(REGION, Description="paging")
    everything = client.describe_client_vpn_endpoints()["ClientVpnEndpoints"]
    pages = client.get_paginator("describe_client_vpn_endpoints").paginate(
        PaginationConfig={"PageSize": 5}
    )
    sizes = [len(page["ClientVpnEndpoints"]) for page in pages]
    assert len(sizes) > 1 and max(sizes) == 5 and sum(sizes) == len(everything)


def test_describe_endpoints_unknown_id(client: Any) -> None:
    response = error_of(
        client.describe_client_vpn_endpoints,
        ClientVpnEndpointIds=["cvpn-endpoint-0000000000000dead"],
    )
    assert response["Error"]["Code"] == "InvalidClientVpnEndpointId.NotFound"


def test_demo_data_present(client: Any, sb: sandbox.Sandbox) -> None:
    for spec in demo.DEMO_ENDPOINTS:
        if spec.account_id != demo.DEMO_ACCOUNT_ID:
            continue  # the Organization's members: see test_estate.py
        regional = ec2(sb, spec.region)
        [endpoint] = regional.describe_client_vpn_endpoints(
            ClientVpnEndpointIds=[spec.endpoint_id]
        )["ClientVpnEndpoints"]
        assert endpoint["Status"]["Code"] == spec.status
        assert len(connections(regional, spec.endpoint_id)) == spec.connections

    listed = connections(client, demo.DEMO_ENDPOINT_ID)
    assert demo.DEMO_ENDPOINT_ID == "cvpn-endpoint-0a1b2c3d4e5f60001"
    assert all("Username" in c for c in listed)
    terminated = [c for c in listed if c["Status"]["Code"] == "terminated"]
    assert terminated and all(c["ConnectionEndTime"] != "-" for c in terminated)
    assert any(c["Status"]["Code"] == "active" and c["ConnectionEndTime"] == "-" for c in listed)
    certificate_only = connections(client, demo.DEMO_CONTRACTORS_ENDPOINT_ID)
    assert all("Username" not in c for c in certificate_only)
    assert all(c["CommonName"].endswith(".domain.tld") for c in certificate_only)
    everything = (
        listed + certificate_only + connections(ec2(sb, "eu-west-1"), demo.DEMO_EU_ENDPOINT_ID)
    )
    assert len(everything) == demo.DEMO_CONNECTION_COUNT
    assert any("ClientIpv6Address" in c for c in everything)
    assert any(c.get("PostureComplianceStatuses") for c in everything)
    byte_counts = [int(c["IngressBytes"]) for c in everything]
    assert min(byte_counts) < 10**5 and max(byte_counts) > 10**8


def test_demo_is_deterministic(client: Any) -> None:
    before = [c["ConnectionId"] for c in connections(client, demo.DEMO_CONTRACTORS_ENDPOINT_ID)]
    demo.load()
    after = [c["ConnectionId"] for c in connections(client, demo.DEMO_CONTRACTORS_ENDPOINT_ID)]
    assert before == after


def test_paging_over_1000_connections(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a001"
    seeded = sandbox.seed_connections(REGION, endpoint_id, 2345, seed=1)
    paginator = client.get_paginator("describe_client_vpn_connections")
    pages = list(
        paginator.paginate(ClientVpnEndpointId=endpoint_id, PaginationConfig={"PageSize": 1000})
    )
    assert [len(page["Connections"]) for page in pages] == [1000, 1000, 345]
    assert [c["ConnectionId"] for page in pages for c in page["Connections"]] == seeded

    first = client.describe_client_vpn_connections(ClientVpnEndpointId=endpoint_id, MaxResults=1000)
    assert len(first["Connections"]) == 1000 and first["NextToken"]
    again = client.describe_client_vpn_connections(
        ClientVpnEndpointId=endpoint_id, MaxResults=1000, NextToken=first["NextToken"]
    )
    assert again["Connections"][0]["ConnectionId"] == seeded[1000]


def test_connection_fields_match_the_api(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a002"
    established = datetime(2024, 5, 1, 8, 30, 0)
    [connection_id] = sandbox.seed_connections(
        REGION,
        endpoint_id,
        connections=[
            {
                "Username": "zoe",
                "ClientIp": "10.0.0.9",
                "ClientIpv6Address": "2001:db8::9",
                "ConnectionEstablishedTime": established,
                "IngressBytes": 123,
                "EgressBytes": 456,
                "PostureComplianceStatuses": ["compliant"],
            }
        ],
    )
    [c] = connections(client, endpoint_id)
    assert c["ConnectionId"] == connection_id
    assert connection_id.startswith("cvpn-connection-") and len(connection_id) == 33
    assert c["ConnectionEstablishedTime"] == "2024-05-01 08:30:00"
    stamp = datetime.strptime(c["Timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)
    assert (c["IngressBytes"], c["EgressBytes"]) == ("123", "456")
    assert c["IngressPackets"].isdigit() and c["EgressPackets"].isdigit()
    assert (c["Username"], c["CommonName"], c["ClientIp"]) == ("zoe", "zoe", "10.0.0.9")
    assert c["ClientIpv6Address"] == "2001:db8::9"
    assert c["PostureComplianceStatuses"] == ["compliant"]
    assert (c["Status"], c["ConnectionEndTime"]) == ({"Code": "active"}, "-")


def test_connections_terminated_over_an_hour_ago_are_hidden(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a003"
    now = datetime.now(UTC)
    recent, _old = sandbox.seed_connections(
        REGION,
        endpoint_id,
        connections=[
            {"ConnectionEndTime": now - timedelta(minutes=59)},
            {"ConnectionEndTime": now - timedelta(minutes=61)},
        ],
        status="terminated",
    )
    assert [c["ConnectionId"] for c in connections(client, endpoint_id)] == [recent]


def test_filters_or_values_and_filters(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a004"
    ids = sandbox.seed_connections(REGION, endpoint_id, 30, users=3, seed=2)
    by_id = connections(
        client, endpoint_id, Filters=[{"Name": "connection-id", "Values": [ids[4], ids[17]]}]
    )
    assert [c["ConnectionId"] for c in by_id] == [ids[4], ids[17]]

    by_user = connections(
        client, endpoint_id, Filters=[{"Name": "username", "Values": ["user0000", "user0002"]}]
    )
    assert len(by_user) == 20
    assert {c["Username"] for c in by_user} == {"user0000", "user0002"}

    both = connections(
        client,
        endpoint_id,
        Filters=[
            {"Name": "username", "Values": ["user0001"]},
            {"Name": "connection-id", "Values": [ids[0], ids[1]]},
        ],
    )
    assert [c["ConnectionId"] for c in both] == [ids[1]]


def test_invalid_filter_name(client: Any) -> None:
    response = error_of(
        client.describe_client_vpn_connections,
        ClientVpnEndpointId=demo.DEMO_ENDPOINT_ID,
        Filters=[{"Name": "status", "Values": ["active"]}],
    )
    assert response["Error"]["Code"] == "InvalidParameterValue"
    assert "status" in response["Error"]["Message"]


@pytest.mark.parametrize("max_results", [4, 1001])
def test_max_results_out_of_range(sb: sandbox.Sandbox, max_results: int) -> None:
    unchecked = ec2(sb, parameter_validation=False)  # boto3 itself rejects values below 5
    response = error_of(
        unchecked.describe_client_vpn_connections,
        ClientVpnEndpointId=demo.DEMO_ENDPOINT_ID,
        MaxResults=max_results,
    )
    assert response["Error"]["Code"] == "InvalidParameterValue"


def test_bad_next_token_is_an_ec2_error(client: Any) -> None:
    other = client.describe_client_vpn_connections(
        ClientVpnEndpointId=demo.DEMO_CONTRACTORS_ENDPOINT_ID, MaxResults=5
    )["NextToken"]
    for token in ["not-a-token", other]:
        response = error_of(
            client.describe_client_vpn_connections,
            ClientVpnEndpointId=demo.DEMO_ENDPOINT_ID,
            NextToken=token,
        )
        assert response["Error"]["Code"] == "InvalidNextToken"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_endpoint(client: Any) -> None:
    response = error_of(
        client.describe_client_vpn_connections,
        ClientVpnEndpointId="cvpn-endpoint-0000000000000dead",
    )
    assert response["Error"]["Code"] == "InvalidClientVpnEndpointId.NotFound"


def test_terminate_by_connection_id(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a005"
    target, bystander = sandbox.seed_connections(REGION, endpoint_id, 2)
    response = client.terminate_client_vpn_connections(
        ClientVpnEndpointId=endpoint_id, ConnectionId=target
    )
    assert response["ClientVpnEndpointId"] == endpoint_id
    assert response["ConnectionStatuses"] == [
        {
            "ConnectionId": target,
            "PreviousStatus": {"Code": "active"},
            "CurrentStatus": {"Code": "terminating"},
        }
    ]
    after = {c["ConnectionId"]: c for c in connections(client, endpoint_id)}
    assert after[target]["Status"]["Code"] == "terminated"
    datetime.strptime(after[target]["ConnectionEndTime"], "%Y-%m-%d %H:%M:%S")
    assert after[bystander]["Status"]["Code"] == "active"


def test_terminate_by_username(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a006"
    dana = sandbox.seed_connections(REGION, endpoint_id, connections=[{"Username": "dana"}] * 3)
    [eve] = sandbox.seed_connections(REGION, endpoint_id, connections=[{"Username": "eve"}])
    response = client.terminate_client_vpn_connections(
        ClientVpnEndpointId=endpoint_id, Username="dana"
    )
    assert response["Username"] == "dana"
    assert sorted(s["ConnectionId"] for s in response["ConnectionStatuses"]) == sorted(dana)
    status = {c["ConnectionId"]: c["Status"]["Code"] for c in connections(client, endpoint_id)}
    assert [status[i] for i in dana] == ["terminated"] * 3
    assert status[eve] == "active"


def test_terminate_by_username_refused_above_five(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a007"
    sandbox.seed_connections(REGION, endpoint_id, connections=[{"Username": "frank"}] * 6)
    response = error_of(
        client.terminate_client_vpn_connections, ClientVpnEndpointId=endpoint_id, Username="frank"
    )
    assert response["Error"]["Code"] == "ClientVpnTerminateConnectionsLimitExceeded"
    assert "limited to 5" in response["Error"]["Message"]
    assert {c["Status"]["Code"] for c in connections(client, endpoint_id)} == {"active"}


def test_dry_run_leaves_connection_active(client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a008"
    [connection_id] = sandbox.seed_connections(REGION, endpoint_id, 1)
    response = error_of(
        client.terminate_client_vpn_connections,
        ClientVpnEndpointId=endpoint_id,
        ConnectionId=connection_id,
        DryRun=True,
    )
    assert response["Error"]["Code"] == "DryRunOperation"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 412
    [c] = connections(client, endpoint_id)
    assert c["Status"]["Code"] == "active"


def test_terminate_needs_connection_or_username(client: Any) -> None:
    response = error_of(
        client.terminate_client_vpn_connections, ClientVpnEndpointId=demo.DEMO_ENDPOINT_ID
    )
    assert response["Error"]["Code"] == "MissingParameter"


def test_terminate_unknown_connection(client: Any) -> None:
    response = error_of(
        client.terminate_client_vpn_connections,
        ClientVpnEndpointId=demo.DEMO_ENDPOINT_ID,
        ConnectionId="cvpn-connection-00000000000000000",
    )
    assert response["Error"]["Code"] == "InvalidClientVpnConnection.IdNotFound"


def test_http_seed_route(sb: sandbox.Sandbox, client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a009"
    body = {"region": REGION, "endpoint_id": endpoint_id, "count": 12, "users": 2, "seed": 3}
    answer = post_json(f"{sb.endpoint_url}/_vpnsql/seed", body)
    listed = connections(client, endpoint_id)
    # the count and the first few IDs, not every one (a seed of 100,000 would echo megabytes)
    assert answer == {
        "endpoint_id": endpoint_id,
        "seeded": 12,
        "first_ids": [c["ConnectionId"] for c in listed[:5]],
    }
    assert len(listed) == 12
    assert {c["Username"] for c in listed} == {"user0000", "user0001"}

    with pytest.raises(urllib.error.HTTPError) as raised:
        post_json(f"{sb.endpoint_url}/_vpnsql/seed", {"region": REGION, "count": 1})
    assert raised.value.code == 400


def test_http_inject_route_answers_one_action(sb: sandbox.Sandbox, client: Any) -> None:
    endpoint_id = "cvpn-endpoint-0000000000000a00b"
    (connection_id,) = sandbox.seed_connections(REGION, endpoint_id, 1)
    body = {"code": "UnauthorizedOperation", "action": "TerminateClientVpnConnections"}
    assert post_json(f"{sb.endpoint_url}/_vpnsql/inject", body) == {"pending": 1}
    assert len(connections(client, endpoint_id)) == 1  # another action is served as usual
    refused = error_of(
        client.terminate_client_vpn_connections,
        ClientVpnEndpointId=endpoint_id,
        ConnectionId=connection_id,
    )
    assert refused["Error"]["Code"] == "UnauthorizedOperation"
    assert connections(client, endpoint_id)[0]["Status"]["Code"] == "active"
    for wrong in ({"code": "NoSuchCode"}, {"code": "InvalidAction", "count": 0}, {"cnt": 1}):
        with pytest.raises(urllib.error.HTTPError) as raised:
            post_json(f"{sb.endpoint_url}/_vpnsql/inject", wrong)
        assert raised.value.code == 400, wrong
    assert sandbox.clear_aws_errors() == 0


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_seeding_100k_gives_distinct_ids() -> None:
    ids = sandbox.seed_connections(REGION, "cvpn-endpoint-0000000000000a00a", 100_000, users=9)
    assert len(set(ids)) == 100_000


def test_latency_delays_every_request() -> None:
    slow = sandbox.start(demo=False, latency=0.4)
    try:
        slow_client = ec2(slow)
        slow_client.describe_client_vpn_endpoints()  # warm connection
        started = time.perf_counter()
        slow_client.describe_client_vpn_endpoints()
        assert time.perf_counter() - started >= 0.4
    finally:
        slow.stop()


def test_env_points_boto3_at_the_sandbox(
    sb: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sb.env().items():
        monkeypatch.setenv(name, value)
    found = boto3.client("ec2").describe_client_vpn_endpoints(
        ClientVpnEndpointIds=[demo.DEMO_ENDPOINT_ID]
    )
    assert found["ClientVpnEndpoints"][0]["ClientVpnEndpointId"] == demo.DEMO_ENDPOINT_ID


def test_moto_reset_clears_client_vpn_state(sb: sandbox.Sandbox, client: Any) -> None:
    post_json(f"{sb.endpoint_url}/moto-api/reset", {})
    response = error_of(
        client.describe_client_vpn_connections, ClientVpnEndpointId=demo.DEMO_ENDPOINT_ID
    )
    assert response["Error"]["Code"] == "InvalidClientVpnEndpointId.NotFound"
    demo.load()
