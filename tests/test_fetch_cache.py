"""Fetch statistics and the result cache the shell uses, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vpnsql.fetch import FetchCache
from vpnsql.session import Session

CONNS = "aws.ec2_api.client_vpn_connections"


def query(endpoint_id: str, extra: str = "") -> str:
    return (
        f"SELECT count(*) FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}' "
        f"AND region = 'us-east-1'{extra}"
    )


def test_stats_count_calls_pages_and_rows(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(2100)
    session.sql(query(endpoint_id))
    stats = session.last_stats
    assert (stats.calls, stats.pages, stats.rows, stats.cached) == (1, 3, 2100, 0)
    assert stats.seconds > 0


def test_cache_answers_a_repeated_call_without_the_api(
    aws_env: Any, new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox import seed_connections

    endpoint_id = new_endpoint(10)
    session = Session(cache=FetchCache(ttl=60))
    assert session.sql(query(endpoint_id)).fetchall() == [(10,)]
    seed_connections("us-east-1", endpoint_id, 5)  # the cloud changes, the cache does not
    assert session.sql(query(endpoint_id, " AND ingressBytes >= 0")).fetchall() == [(10,)]
    assert (session.last_stats.calls, session.last_stats.cached) == (0, 1)
    session.cache.clear()
    assert session.sql(query(endpoint_id)).fetchall() == [(15,)]
    assert session.last_stats.calls == 1


def test_expired_entries_are_fetched_again(aws_env: Any, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(3)
    session = Session(cache=FetchCache(ttl=0))
    session.sql(query(endpoint_id))
    session.sql(query(endpoint_id))
    assert (session.last_stats.calls, session.last_stats.cached) == (1, 0)


def test_sessions_without_a_cache_always_fetch(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(3)
    session.sql(query(endpoint_id))
    session.sql(query(endpoint_id))
    assert session.last_stats.calls == 1
    assert session.cache is None


def test_discovered_endpoints_are_cached_too(aws_env: Any) -> None:
    from vpnsql.sandbox import seed_connections

    region = "sa-east-1"  # no other test uses it
    for index in range(2):
        seed_connections(region, f"cvpn-endpoint-0ca{index:014x}", 4)
    session = Session(cache=FetchCache(ttl=60))
    sql = f"SELECT count(*) FROM aws.ec2_api.client_vpn_connections WHERE region = '{region}'"
    assert session.sql(sql).fetchall() == [(8,)]
    assert (session.last_stats.calls, session.last_stats.cached) == (3, 0)
    assert session.sql(sql).fetchall() == [(8,)]
    assert (session.last_stats.calls, session.last_stats.cached) == (0, 3)
