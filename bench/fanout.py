"""Fan-out: 8 regions x 2 endpoints x 50 connections on a sandbox adding latency to each call.

The 8-region query (discovery included: list each region's endpoints, then ask each) against
the 1-region query, and against a sequential boto3 loop making the same calls. Targets: the
8-region query within 2.5x of the 1-region one, and at least 4x faster than the loop.

Also Alibaba's paging: one gateway with 500 SSL-VPN clients (10 pages of 50), whose pages
after the first are fetched side by side once it has told TotalCount, against the SDK paging
one page after another.
"""

from __future__ import annotations

from common import report, sandbox, seed, seed_alibaba, timed, using

REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "eu-west-1", "eu-west-2", "eu-central-1", "ap-southeast-1",
)  # fmt: skip
ENDPOINTS_PER_REGION = 2
CONNECTIONS = 50
TABLE = "aws.ec2_api.client_vpn_connections"


def sequential_loop() -> int:
    """What a script does today: one region, one endpoint, one page at a time."""
    import boto3

    total = 0
    for region in REGIONS:
        client = boto3.client("ec2", region_name=region)
        endpoints = client.get_paginator("describe_client_vpn_endpoints").paginate()
        for page in endpoints:
            for endpoint in page["ClientVpnEndpoints"]:
                connections = client.get_paginator("describe_client_vpn_connections").paginate(
                    ClientVpnEndpointId=endpoint["ClientVpnEndpointId"]
                )
                total += sum(len(p["Connections"]) for p in connections)
    return total


ALIBABA_GATEWAY, ALIBABA_REGION, ALIBABA_CLIENTS = "vpn-benchpages00001", "cn-hangzhou", 500


def alibaba_sequential(env: dict[str, str]) -> int:
    """The SDK's own paging: PageNumber 1, 2, ... until TotalCount."""
    from alibabacloud_tea_openapi.utils_models import Config
    from alibabacloud_vpc20160428 import models
    from alibabacloud_vpc20160428.client import Client

    client = Client(
        Config(
            access_key_id=env["ALIBABA_CLOUD_ACCESS_KEY_ID"],
            access_key_secret=env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
            region_id=ALIBABA_REGION,
            endpoint=env["VPNSQL_ALIBABA_ENDPOINT"].split("://", 1)[1],
            protocol="http",
        )
    )
    seen, number, total = 0, 1, 1
    while seen < total:
        request = models.DescribeSslVpnClientsRequest(
            region_id=ALIBABA_REGION, vpn_gateway_id=ALIBABA_GATEWAY, page_number=number,
            page_size=50,
        )  # fmt: skip
        body = client.describe_ssl_vpn_clients(request).body
        seen += len(body.client_info_list)
        total, number = body.total_count, number + 1
    return seen


def alibaba_paging(env: dict[str, str], repeat: int) -> dict[str, list[float]]:
    import vpnsql

    seed_alibaba(env, ALIBABA_REGION, ALIBABA_GATEWAY, ALIBABA_CLIENTS)
    sql = (
        "SELECT count(*) FROM alibaba.vpc.ssl_vpn_clients "
        f"WHERE VpnGatewayId = '{ALIBABA_GATEWAY}' AND region = '{ALIBABA_REGION}'"
    )
    results: dict[str, list[float]] = {}
    vpnsql.connect().sql(sql).fetchall()  # the SDK imported, as the loop below has it
    for _ in range(repeat):
        seconds, answer = timed(lambda: vpnsql.connect().sql(sql).fetchall())
        assert answer == [(ALIBABA_CLIENTS,)], answer
        results.setdefault("alibaba 10 pages, vpnsql (s)", []).append(seconds)
        seconds, count = timed(lambda: alibaba_sequential(env))
        assert count == ALIBABA_CLIENTS
        results.setdefault("alibaba 10 pages, SDK page by page (s)", []).append(seconds)
    return results


def main(repeat: int, latency: float) -> dict[str, float]:
    import vpnsql

    listed = ", ".join(f"'{r}'" for r in REGIONS)
    eight = f"SELECT count(*) FROM {TABLE} WHERE region IN ({listed})"
    one = f"SELECT count(*) FROM {TABLE} WHERE region = '{REGIONS[0]}'"
    expected = len(REGIONS) * ENDPOINTS_PER_REGION * CONNECTIONS
    results: dict[str, list[float]] = {}
    with sandbox(latency) as env, using(env):
        for region_index, region in enumerate(REGIONS):
            for endpoint_index in range(ENDPOINTS_PER_REGION):
                endpoint = f"cvpn-endpoint-0f{region_index:02x}{endpoint_index:013x}"
                seed(env, region, endpoint, CONNECTIONS)
        for _ in range(repeat):
            seconds, answer = timed(lambda: vpnsql.connect().sql(one).fetchall())
            assert answer == [(ENDPOINTS_PER_REGION * CONNECTIONS,)], answer
            results.setdefault("1 region (s)", []).append(seconds)
            seconds, answer = timed(lambda: vpnsql.connect().sql(eight).fetchall())
            assert answer == [(expected,)], answer
            results.setdefault("8 regions (s)", []).append(seconds)
            seconds, answer = timed(
                lambda: vpnsql.connect(max_concurrency=32).sql(eight).fetchall()
            )
            assert answer == [(expected,)], answer
            results.setdefault("8 regions, --max-concurrency 32 (s)", []).append(seconds)
            seconds, count = timed(sequential_loop)
            assert count == expected
            results.setdefault("sequential boto3 loop (s)", []).append(seconds)
        results |= alibaba_paging(env, repeat)
    title = (
        f"fan-out: {len(REGIONS)} regions x {ENDPOINTS_PER_REGION} endpoints x "
        f"{CONNECTIONS} connections, {latency * 1000:.0f} ms per call"
    )
    median = report(title, results)
    spread = median["8 regions (s)"] / median["1 region (s)"]
    speedup = median["sequential boto3 loop (s)"] / median["8 regions (s)"]
    print(f"  8 regions / 1 region:     {spread:.2f}x (target <= 2.5x)")
    print(f"  sequential loop / vpnsql: {speedup:.2f}x (target >= 4x)")
    paging = (
        median["alibaba 10 pages, SDK page by page (s)"] / median["alibaba 10 pages, vpnsql (s)"]
    )
    print(f"  alibaba pages, page by page / vpnsql: {paging:.2f}x")
    return {
        "fan-out 8/1 regions": spread,
        "fan-out speedup vs loop": speedup,
        "alibaba paging speedup": paging,
    }
