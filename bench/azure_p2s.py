"""Azure: 3 subscriptions x 4 P2S gateways x 20 clients, the sandbox adding latency to every
call, the health operation answering after one poll.

The Azure branch of the view (subscriptions listed, every P2S gateway discovered, each asked)
against one fully named gateway, and the whole three-cloud view (AWS and Alibaba seeded in
their default regions too). Targets: the branch within 2x of one gateway's time, the
three-cloud view under 2 s wall.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from common import report, sandbox, seed, timed

SUBSCRIPTIONS = 3
GATEWAYS = 4  # per subscription, in two locations and two resource groups
CLIENTS = 20
LOCATIONS = ("westeurope", "eastus")


def _post(url: str, body: dict[str, Any], context: ssl.SSLContext | None = None) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=60, context=context) as response:
        assert response.status == 200


def seed_azure(env: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """The estate through the emulator's seed route (over HTTPS, trusting its CA); each
    gateway as (subscription, location, resource group, name)."""
    context = ssl.create_default_context(cafile=env["REQUESTS_CA_BUNDLE"])
    gateways = []
    for s in range(SUBSCRIPTIONS):
        subscription = f"0b5e1c2d-3e4f-4a5b-8c6d-{s:012d}"
        for g in range(GATEWAYS):
            location = LOCATIONS[g % 2]
            group, name = f"rg-net-{g // 2}", f"vgw-{s}-{g}"
            body = {"subscription_id": subscription, "resource_group": group, "gateway": name,
                    "count": CLIENTS, "location": location, "polls": 1, "seed": g}  # fmt: skip
            _post(f"{env['VPNSQL_AZURE_ENDPOINT']}/_vpnsql/seed", body, context)
            gateways.append((subscription, location, group, name))
    return gateways


@contextmanager
def using(env: dict[str, str]) -> Iterator[None]:
    """This process's environment set to the sandbox's, for in-process measurements."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main(repeat: int, latency: float) -> dict[str, float]:
    import vpnsql

    results: dict[str, list[float]] = {}
    with sandbox(latency) as env, using(env):
        gateways = seed_azure(env)
        seed(env, "us-east-1", "cvpn-endpoint-0f0000000000000a1", 50)
        alibaba = {"region": env["ALIBABA_CLOUD_REGION_ID"], "count": 50,
                   "gateway_id": "vpn-bench0000000000000001"}  # fmt: skip
        _post(f"{env['VPNSQL_ALIBABA_ENDPOINT']}/_vpnsql/seed", alibaba)
        subscription, location, group, name = gateways[0]
        one = (
            "SELECT count(*) FROM azure.network.vpn_client_connections "
            f"WHERE subscriptionId = '{subscription}' AND location = '{location}' "
            f"AND resourceGroupName = '{group}' AND virtualNetworkGatewayName = '{name}'"
        )
        branch = "SELECT count(*) FROM vpn.client_connections WHERE provider = 'azure'"
        everything = "SELECT provider, count(*) FROM vpn.client_connections GROUP BY ALL"
        expected = {"aws": 50, "alibaba": 50, "azure": SUBSCRIPTIONS * GATEWAYS * CLIENTS}
        for _ in range(repeat):
            seconds, answer = timed(lambda: vpnsql.connect().sql(one).fetchall())
            assert answer == [(CLIENTS,)], answer
            results.setdefault("one gateway (s)", []).append(seconds)
            seconds, answer = timed(lambda: vpnsql.connect().sql(branch).fetchall())
            assert answer == [(expected["azure"],)], answer
            results.setdefault("azure branch, 12 gateways (s)", []).append(seconds)
            seconds, answer = timed(lambda: dict(vpnsql.connect().sql(everything).fetchall()))
            assert answer == expected, answer
            results.setdefault("three-cloud view (s)", []).append(seconds)
    title = (
        f"azure: {SUBSCRIPTIONS} subscriptions x {GATEWAYS} gateways x {CLIENTS} clients, "
        f"{latency * 1000:.0f} ms per call, health answering after one poll"
    )
    median = report(title, results)
    spread = median["azure branch, 12 gateways (s)"] / median["one gateway (s)"]
    print(f"  azure branch / one gateway: {spread:.2f}x (target <= 2x)")
    print(f"  three-cloud view:           {median['three-cloud view (s)']:.2f} s (target < 2 s)")
    return {
        "azure branch / 1 gateway": spread,
        "three-cloud view (s)": median["three-cloud view (s)"],
    }
