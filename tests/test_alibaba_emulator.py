"""The sandbox's Alibaba Cloud emulator, exercised over HTTP with the real Alibaba SDK."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi.utils_models import Config, OpenApiRequest, Params
from alibabacloud_vpc20160428.client import Client
from alibabacloud_vpc20160428.models import (
    DescribeSslVpnClientsRequest,
    DescribeVpnGatewaysRequest,
)
from darabonba.core import DaraCore
from darabonba.runtime import RuntimeOptions

from vpnsql.sandbox import alibaba
from vpnsql.sandbox.alibaba import ACCESS_KEY_ID, ACCESS_KEY_SECRET, DEMO_GATEWAYS, AlibabaServer

HZ_OFFICE = DEMO_GATEWAYS[0]


def sdk(server: AlibabaServer, secret: str = ACCESS_KEY_SECRET, **config: Any) -> Client:
    host = server.url.removeprefix("http://")
    return Client(
        Config(
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=secret,
            endpoint=host,
            protocol="http",
            region_id=HZ_OFFICE.region,
            **config,
        )
    )


def describe_clients(client: Client, **request: Any) -> dict[str, Any]:
    fields = {"region_id": HZ_OFFICE.region, "vpn_gateway_id": HZ_OFFICE.gateway_id, **request}
    response = client.describe_ssl_vpn_clients(DescribeSslVpnClientsRequest(**fields))
    return response.body.to_map()


def sdk_error(call: Any, *args: Any, **kwargs: Any) -> ClientException:
    with pytest.raises(ClientException) as raised:
        call(*args, **kwargs)
    return raised.value


def admin(server: AlibabaServer, route: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}/_vpnsql/{route}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def server(sandbox: Any) -> AlibabaServer:
    return sandbox.alibaba


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3", "v2"])
def test_both_signature_versions_are_verified(server: AlibabaServer, algorithm: str | None) -> None:
    page = describe_clients(sdk(server, signature_algorithm=algorithm), page_size=50, page_number=4)
    assert (page["TotalCount"], len(page["ClientInfoList"])) == (HZ_OFFICE.clients, 30)
    wrong = sdk(server, "wrong-secret", signature_algorithm=algorithm)
    error = sdk_error(describe_clients, wrong)
    assert (error.status_code, error.code) == (400, "SignatureDoesNotMatch")
    assert set(error.data) >= {"RequestId", "HostId", "Code", "Message"}


def tamper_query(request: Any) -> None:
    request.query["PageNumber"] = "2"


def tamper_header(request: Any) -> None:
    request.headers["user-agent"] = "someone else"


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3", "v2"])
@pytest.mark.parametrize("tamper", [tamper_query, tamper_header], ids=["query", "header"])
def test_a_request_changed_after_signing_is_refused(
    server: AlibabaServer,
    monkeypatch: pytest.MonkeyPatch,
    algorithm: str | None,
    tamper: Callable[[Any], None],
) -> None:
    """What the signature covers: the query always, the signed headers in V3."""
    compose_url = DaraCore.compose_url

    def tampered(request: Any) -> str:
        tamper(request)
        return compose_url(request)

    monkeypatch.setattr(DaraCore, "compose_url", staticmethod(tampered))
    client = sdk(server, signature_algorithm=algorithm)
    if algorithm == "v2" and tamper is tamper_header:  # V2 signs no header
        assert describe_clients(client)["TotalCount"] == HZ_OFFICE.clients
    else:
        assert sdk_error(describe_clients, client).code == "SignatureDoesNotMatch"


def test_stale_timestamps_and_reused_nonces_are_refused(
    server: AlibabaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sdk(server)
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: "2020-01-01T00:00:00Z"))
    assert sdk_error(describe_clients, client).code == "InvalidTimeStamp.Expired"
    monkeypatch.undo()
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "vpnsql-test-fixed-nonce"))
    assert describe_clients(client)["TotalCount"] == HZ_OFFICE.clients
    assert sdk_error(describe_clients, client).code == "SignatureNonceUsed"


def test_unsigned_requests_are_refused(server: AlibabaServer) -> None:
    request = urllib.request.Request(
        f"{server.url}/?RegionId=cn-hangzhou", data=b"", headers={"x-acs-action": "x"}
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 400
    assert json.loads(raised.value.read())["Code"] == "IncompleteSignature"


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"page_size": 51}, "InvalidParameter"),
        ({"page_number": 0}, "InvalidParameter"),
        ({"vpn_gateway_id": None}, "MissingVpnGatewayId"),
        ({"region_id": "eu-central-1"}, "InvalidVpnGatewayInstanceId.NotFound"),
    ],
)
def test_documented_request_errors(
    server: AlibabaServer, request_fields: dict[str, Any], code: str
) -> None:
    error = sdk_error(describe_clients, sdk(server), **request_fields)
    assert (error.status_code, error.code) == (400, code)


def test_pages_beyond_the_end_are_empty(server: AlibabaServer) -> None:
    page = describe_clients(sdk(server), page_size=50, page_number=5)
    assert (page["TotalCount"], page["ClientInfoList"], page["PageNumber"]) == (180, [], 5)


def test_default_page_size_is_ten_and_gateways_are_nested(server: AlibabaServer) -> None:
    client = sdk(server)
    assert len(describe_clients(client)["ClientInfoList"]) == 10
    body = client.describe_vpn_gateways(
        DescribeVpnGatewaysRequest(region_id="eu-central-1")
    ).body.to_map()
    gateways = body["VpnGateways"]["VpnGateway"]
    assert [g["VpnGatewayId"] for g in gateways] == [DEMO_GATEWAYS[3].gateway_id]
    assert isinstance(gateways[0]["SslMaxConnections"], int)


def test_admin_routes_seed_inject_and_count(server: AlibabaServer) -> None:
    status, seeded = admin(server, "seed", {"region": "cn-shanghai", "count": 3, "seed": 1})
    assert status == 200 and seeded["clients"] == 3
    gateway_id = seeded["gateway_id"]
    status, _ = admin(server, "inject", {"code": "Forbidden", "count": 1})
    assert status == 200
    client = sdk(server)
    fields = {"region_id": "cn-shanghai", "vpn_gateway_id": gateway_id}
    assert sdk_error(describe_clients, client, **fields).status_code == 403
    assert len(describe_clients(client, **fields)["ClientInfoList"]) == 3
    status, calls = admin(server, "calls")
    assert status == 200
    assert {"action": "DescribeSslVpnClients", "gateway_id": gateway_id, "count": 2} in calls[
        "calls"
    ]


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("inject", {"code": "NoSuchCode"}, 400),
        ("seed", {"region": "cn-shanghai", "clients": [{"Bogus": 1}]}, 400),
        ("seed", [1, 2], 400),
        ("nowhere", {}, 404),
    ],
)
def test_admin_routes_reject_bad_input(
    server: AlibabaServer, route: str, body: Any, status: int
) -> None:
    answer_status, answer = admin(server, route, body)
    assert answer_status == status
    assert answer["error"]


@pytest.mark.parametrize(
    ("action", "version", "status", "code"),
    [
        ("DescribeNothing", "2016-04-28", 404, "InvalidAction.NotFound"),
        ("DescribeVpnGateways", "2014-05-26", 400, "InvalidVersion"),
    ],
)
def test_unknown_actions_and_versions(
    server: AlibabaServer, action: str, version: str, status: int, code: str
) -> None:
    params = Params(
        action=action,
        version=version,
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = OpenApiRequest(query={"RegionId": HZ_OFFICE.region})
    error = sdk_error(sdk(server).call_api, params, request, RuntimeOptions())
    assert (error.status_code, error.code) == (status, code)


def test_a_server_of_its_own_with_latency_and_reset() -> None:
    server = alibaba.start(demo=False, latency=0.3)
    try:
        emulator = server.emulator
        gateway_id = emulator.seed_clients("cn-hangzhou", count=2)
        started = time.monotonic()
        assert len(describe_clients(sdk(server), vpn_gateway_id=gateway_id)["ClientInfoList"]) == 2
        assert time.monotonic() - started >= 0.3
        emulator.reset()
        assert emulator.calls("DescribeSslVpnClients", gateway_id) == 0
        error = sdk_error(describe_clients, sdk(server), vpn_gateway_id=gateway_id)
        assert error.code == "InvalidVpnGatewayInstanceId.NotFound"
    finally:
        server.stop()
