"""SELECT over alibaba.vpc.* end to end: the real Alibaba SDK over HTTP to the sandbox emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import vpnsql
from vpnsql.answers import Answers
from vpnsql.errors import NotConfigured, ProviderError, VpnsqlError
from vpnsql.sandbox.alibaba import DEMO_GATEWAYS, DROP, Emulator
from vpnsql.session import Session
from vpnsql.tables import FetchRequest, Pages
from vpnsql_providers.alibaba.client import MAX_ATTEMPTS, NETWORK_ATTEMPTS, THROTTLING_CODES
from vpnsql_providers.alibaba.vpc import SSL_VPN_CLIENTS, _pages

CLIENTS = "alibaba.vpc.ssl_vpn_clients"
GATEWAYS = "alibaba.vpc.vpn_gateways"
DESCRIBE_CLIENTS = "DescribeSslVpnClients"
REGION = "cn-hangzhou"
HZ_OFFICE, HZ_CONTRACTORS, _, FRA_OFFICE, *_PARTNER = DEMO_GATEWAYS


@pytest.fixture
def emulator(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point the Alibaba provider at the sandbox; the emulator, to seed and to count calls."""
    for name in ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALIBABA_CLOUD_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sandbox.alibaba.env().items():
        monkeypatch.setenv(name, value)
    return sandbox.alibaba.emulator


@pytest.fixture
def session(emulator: Emulator) -> Session:
    return vpnsql.connect()


@pytest.fixture
def new_gateway(emulator: Emulator) -> Callable[..., str]:
    """A fresh gateway with `count` generated clients (and explicit `clients`); its ID."""

    def make(count: int = 0, *, region: str = REGION, **options: Any) -> str:
        return emulator.seed_clients(region, None, count, seed=7, **options)

    return make


def where(gateway_id: str, region: str = REGION) -> str:
    return f"WHERE VpnGatewayId = '{gateway_id}' AND region = '{region}'"


def provider_error(session: Session, sql: str) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        session.sql(sql)
    return raised.value


@pytest.mark.parametrize(("count", "pages"), [(123, 3), (1234, 25)])
def test_paging_reads_every_client_exactly_once(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str], count: int, pages: int
) -> None:
    gateway_id = new_gateway(count)
    rows = session.sql(
        f"SELECT count(*), count(DISTINCT privateIp) FROM {CLIENTS} {where(gateway_id)}"
    )
    assert rows.fetchall() == [(count, count)]
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == pages


def test_bytes_are_numbers_and_connected_time_is_utc(
    session: Session, new_gateway: Callable[..., str]
) -> None:
    gateway_id = new_gateway(
        clients=[
            {"CommonName": "alice", "SendBytes": 12_345_678_901, "ReceiveBytes": 60782,
             "ConnectedTime": 1670985008000, "Port": "4500"},
            {"CommonName": "bob", "SendBytes": 57144, "ReceiveBytes": 1,
             "ConnectedTime": 1670985008123},
        ]
    )  # fmt: skip
    rows = session.sql(
        f"SELECT sum(sendBytes), sum(receiveBytes), min(connectedTime), max(connectedTime), "
        f"typeof(any_value(connectedTime)), typeof(any_value(sendBytes)), "
        f"max(port) FILTER (WHERE commonName = 'alice') FROM {CLIENTS} {where(gateway_id)}"
    ).fetchall()
    assert rows == [
        (
            12_345_736_045,
            60783,
            datetime(2022, 12, 14, 2, 30, 8),
            datetime(2022, 12, 14, 2, 30, 8, 123000),
            "TIMESTAMP",
            "BIGINT",
            "4500",
        )
    ]


def test_region_id_is_an_alias_of_region(session: Session) -> None:
    rows = session.sql(
        f"SELECT count(*), any_value(region), any_value(regionId) FROM {CLIENTS} "
        f"WHERE VpnGatewayId = '{FRA_OFFICE.gateway_id}' AND RegionId = 'eu-central-1'"
    ).fetchall()
    assert rows == [(FRA_OFFICE.clients, "eu-central-1", "eu-central-1")]


def test_default_region_comes_from_the_environment(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_REGION_ID", "eu-central-1")
    sql = f"SELECT count(*) FROM {CLIENTS} WHERE VpnGatewayId = '{FRA_OFFICE.gateway_id}'"
    assert session.sql(sql).fetchall() == [(FRA_OFFICE.clients,)]


def test_default_region_comes_from_the_aliyun_cli_profile(
    session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_REGION_ID")
    monkeypatch.setenv("HOME", str(tmp_path))
    sql = f"SELECT count(*) FROM {CLIENTS} WHERE VpnGatewayId = '{FRA_OFFICE.gateway_id}'"
    with pytest.raises(NotConfigured, match="no region configured"):
        session.sql(sql)
    profiles = [
        {"name": "default", "mode": "AK", "region_id": "cn-hangzhou"},
        {"name": "eu", "mode": "AK", "region_id": "eu-central-1"},
    ]
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(
        json.dumps({"current": "eu", "profiles": profiles})
    )
    assert session.sql(sql).fetchall() == [(FRA_OFFICE.clients,)]


def test_without_a_gateway_id_every_ssl_vpn_gateway_of_the_region_answers(
    session: Session, emulator: Emulator
) -> None:
    region = "ap-northeast-1"  # no other test uses it
    with_ssl = [emulator.seed_clients(region, None, n, seed=n) for n in (2, 5)]
    emulator.create_gateway(region, SslVpn="disable")
    rows = session.sql(
        f"SELECT vpnGatewayId, count(*) FROM {CLIENTS} WHERE region = '{region}' GROUP BY ALL"
    ).fetchall()
    assert sorted(rows, key=lambda r: r[1]) == [(with_ssl[0], 2), (with_ssl[1], 5)]
    assert emulator.calls("DescribeVpnGateways") >= 1


@pytest.mark.parametrize(
    "gateway_id", ["vpn-doesnotexist0000000000", FRA_OFFICE.gateway_id], ids=["unknown", "other"]
)
def test_unknown_gateway_keeps_the_alibaba_error_code(session: Session, gateway_id: str) -> None:
    error = provider_error(session, f"SELECT * FROM {CLIENTS} {where(gateway_id)}")
    assert error.code == "InvalidVpnGatewayInstanceId.NotFound"
    assert (error.provider, error.region, error.target) == ("alibaba", REGION, gateway_id)
    assert "does not exist" in error.message


@pytest.mark.parametrize(
    ("variable", "value", "code"),
    [
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret", "SignatureDoesNotMatch"),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAInobodyhasthiskey", "InvalidAccessKeyId.NotFound"),
    ],
)
def test_bad_credentials_fail_like_alibaba(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, code: str
) -> None:
    monkeypatch.setenv(variable, value)
    session = vpnsql.connect()
    error = provider_error(session, f"SELECT * FROM {CLIENTS} {where(HZ_OFFICE.gateway_id)}")
    assert error.code == code
    assert error.hint and "--sandbox" in error.hint
    assert value not in error.message


def test_throttling_is_retried_until_the_complete_answer(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str]
) -> None:
    gateway_id = new_gateway(120)
    emulator.inject("Throttling.User", 3, action=DESCRIBE_CLIENTS)
    assert session.sql(f"SELECT count(*) FROM {CLIENTS} {where(gateway_id)}").fetchall() == [(120,)]
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == 3 + 3


@pytest.mark.parametrize("code", THROTTLING_CODES[1:])
def test_every_throttling_code_is_retried(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str], code: str
) -> None:
    gateway_id = new_gateway(7)
    emulator.inject(code, 1, action=DESCRIBE_CLIENTS)
    assert session.sql(f"SELECT count(*) FROM {CLIENTS} {where(gateway_id)}").fetchall() == [(7,)]
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == 2


def test_throttling_is_retried_a_bounded_number_of_times(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str]
) -> None:
    gateway_id = new_gateway(7)
    emulator.inject("Throttling.User", MAX_ATTEMPTS, action=DESCRIBE_CLIENTS)
    error = provider_error(session, f"SELECT * FROM {CLIENTS} {where(gateway_id)}")
    assert error.code == "Throttling.User"
    assert f"after {MAX_ATTEMPTS} attempts" in error.message
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == MAX_ATTEMPTS


def test_an_unanswered_call_is_retried(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str]
) -> None:
    gateway_id = new_gateway(7)
    emulator.inject(DROP, NETWORK_ATTEMPTS - 1, action=DESCRIBE_CLIENTS)
    assert session.sql(f"SELECT count(*) FROM {CLIENTS} {where(gateway_id)}").fetchall() == [(7,)]
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == NETWORK_ATTEMPTS


def test_a_network_that_stays_down_is_a_clear_error(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str]
) -> None:
    gateway_id = new_gateway(7)
    emulator.inject(DROP, NETWORK_ATTEMPTS, action=DESCRIBE_CLIENTS)
    error = provider_error(session, f"SELECT * FROM {CLIENTS} {where(gateway_id)}")
    assert (error.code, error.target) == ("NetworkError", gateway_id)
    assert f"after {NETWORK_ATTEMPTS} attempts" in error.message
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == NETWORK_ATTEMPTS


@pytest.mark.parametrize("code", ["Forbidden", "Forbbiden.SubUser"])
def test_permission_errors_are_not_retried(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str], code: str
) -> None:
    gateway_id = new_gateway(3)
    emulator.inject(code, 1, action=DESCRIBE_CLIENTS)
    error = provider_error(session, f"SELECT * FROM {CLIENTS} {where(gateway_id)}")
    assert (error.code, error.target) == (code, gateway_id)
    assert error.hint and "vpc:DescribeSslVpnClients" in error.hint
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == 1


def test_limit_stops_paging_early(
    session: Session, emulator: Emulator, new_gateway: Callable[..., str]
) -> None:
    gateway_id = new_gateway(1000)
    assert len(session.sql(f"SELECT * FROM {CLIENTS} {where(gateway_id)} LIMIT 5").fetchall()) == 5
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == 1
    rows = session.sql(f"SELECT * FROM {CLIENTS} {where(gateway_id)} LIMIT 120").fetchall()
    assert len(rows) == 120
    assert emulator.calls(DESCRIBE_CLIENTS, gateway_id) == 1 + 3


def test_vpn_gateways_pages_and_pushes_filters_down(session: Session, emulator: Emulator) -> None:
    region = "ap-southeast-5"
    ids = [emulator.create_gateway(region, Status="active", SslMaxConnections=i) for i in range(60)]
    emulator.create_gateway(region, Status="updating")
    rows = session.sql(
        f"SELECT count(*), sum(sslMaxConnections), typeof(any_value(sslMaxConnections)), "
        f"typeof(any_value(createTime)) FROM {GATEWAYS} WHERE region = '{region}' "
        f"AND status = 'active'"
    ).fetchall()
    assert rows == [(60, sum(range(60)), "INTEGER", "TIMESTAMP")]
    assert emulator.calls("DescribeVpnGateways") >= 2
    one = session.sql(
        f"SELECT vpnGatewayId, sslMaxConnections FROM {GATEWAYS} "
        f"WHERE region = '{region}' AND VpnGatewayId = '{ids[42]}'"
    ).fetchall()
    assert one == [(ids[42], 42)]


def test_join_gateways_with_their_clients(session: Session) -> None:
    rows = session.sql(
        f"SELECT g.name, g.sslMaxConnections, count(*) AS connected "
        f"FROM {GATEWAYS} g JOIN {CLIENTS} c ON c.vpnGatewayId = g.vpnGatewayId "
        f"WHERE g.region = '{REGION}' AND c.region = '{REGION}' "
        f"AND c.VpnGatewayId IN ('{HZ_OFFICE.gateway_id}', '{HZ_CONTRACTORS.gateway_id}') "
        f"GROUP BY ALL ORDER BY connected DESC"
    ).fetchall()
    assert rows == [
        (HZ_OFFICE.name, 500, HZ_OFFICE.clients),
        (HZ_CONTRACTORS.name, 500, HZ_CONTRACTORS.clients),
    ]


def test_an_unreachable_endpoint_is_a_network_error(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNSQL_ALIBABA_ENDPOINT", "http://127.0.0.1:1")
    session = vpnsql.connect()
    error = provider_error(session, f"SELECT * FROM {CLIENTS} {where(HZ_OFFICE.gateway_id)}")
    assert (error.code, error.region) == ("NetworkError", REGION)


@pytest.mark.parametrize(
    "statement",
    [
        f"DELETE FROM {CLIENTS} {where(HZ_OFFICE.gateway_id)}",
        f"EXEC {CLIENTS}.ssl_vpn_clients_Disconnect @VpnGatewayId = '{HZ_OFFICE.gateway_id}'",
    ],
    ids=["delete", "exec"],
)
def test_clients_cannot_be_disconnected(
    session: Session, emulator: Emulator, statement: str
) -> None:
    """No Alibaba API disconnects an SSL-VPN client, so the table declares no method."""
    before = emulator.calls(DESCRIBE_CLIENTS, HZ_OFFICE.gateway_id)
    with pytest.raises(VpnsqlError, match="ssl_vpn_clients"):
        session.sql(statement)
    assert emulator.calls(DESCRIBE_CLIENTS, HZ_OFFICE.gateway_id) == before


def _paged(answer: Callable[[int, int], dict[str, Any]]) -> list[list[Any]]:
    """Every page `_pages` gives, the side-by-side ones run in order."""
    request = FetchRequest({"account": "default", "region": REGION})
    pages: list[list[Any]] = []
    answers = Answers(SSL_VPN_CLIENTS, DESCRIBE_CLIENTS, REGION, "vpn-x")
    for page in _pages(answers, answer, lambda b: b["Items"], dict, request):
        pages.extend([fetch() for fetch in page.fetches] if isinstance(page, Pages) else [page])
    return pages


def test_paging_never_stops_short_of_total_count() -> None:
    """A page that ends before TotalCount, or a TotalCount that changes while the pages are
    read (rows would be skipped or repeated), is an error, never a short answer."""

    def whole(number: int, size: int) -> dict[str, Any]:
        return {"TotalCount": 120, "Items": [{}] * min(size, 120 - (number - 1) * size)}

    assert [len(page) for page in _paged(whole)] == [50, 50, 20]

    def shrinking(number: int, size: int) -> dict[str, Any]:
        return {"TotalCount": 120 if number == 1 else 70, "Items": [{}] * 20}

    with pytest.raises(ProviderError, match="changed while it was read") as raised:
        _paged(shrinking)
    assert raised.value.code == "ListChanged"

    def lying(number: int, size: int) -> dict[str, Any]:
        return {"TotalCount": 100, "Items": [{}] * 50 if number == 1 else []}

    with pytest.raises(ProviderError, match="page 2 had 0 of its 50 rows") as raised:
        _paged(lying)
    assert raised.value.code == "IncompletePaging"
