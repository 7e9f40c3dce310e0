"""What bounds a statement's fetch: its deadline, its budget of calls, failures summarised,
and a cancelled fetch that leaves nothing in the cache. Against the sandbox, and a server that
accepts connections and never answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import vpnsql
from vpnsql.fetch import FetchCache, FetchFailed, TooManyCalls
from vpnsql.session import Session

CONNS = "aws.ec2_api.client_vpn_connections"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts every connection, reads, and never answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_server_that_never_answers_fails_at_the_statements_deadline(
    aws_env: Any, silent_server: str
) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL_EC2": silent_server}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "--timeout", "2", "-e",
         f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = 'cvpn-endpoint-00000000000000001' "
         "AND region = 'us-east-1'"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and result.stdout == ""
    assert "Timeout: no answer within 2 s" in result.stderr
    assert "cvpn-endpoint-00000000000000001" in result.stderr and "us-east-1" in result.stderr
    assert "--timeout" in result.stderr  # the hint says how to wait longer
    assert elapsed < 15  # the deadline, plus start-up


def test_a_statement_over_the_call_budget_makes_no_call(aws_env: Any) -> None:
    from vpnsql.sandbox import aws_calls

    ids = ", ".join(f"'cvpn-endpoint-{index:017x}'" for index in range(50))
    before = aws_calls()
    with pytest.raises(TooManyCalls, match="more than 20 API calls") as caught:
        vpnsql.connect(max_calls=20).sql(
            f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId IN ({ids}) AND region = 'us-east-1'"
        )
    assert "--max-calls" in (caught.value.hint or "")
    assert aws_calls() == before


def test_discovery_past_the_budget_stops_the_statement(aws_env: Any) -> None:
    from vpnsql.sandbox import seed_connections

    region = "ca-west-1"  # no other test uses it
    for _ in range(4):
        seed_connections(region, f"cvpn-endpoint-{uuid.uuid4().hex[:17]}", 1)
    with pytest.raises(TooManyCalls):
        vpnsql.connect(max_calls=3).sql(f"SELECT * FROM {CONNS} WHERE region = '{region}'")


def test_many_failures_are_summarised(session: Session) -> None:
    ids = ", ".join(f"'cvpn-endpoint-{index:017x}'" for index in range(1, 31))
    with pytest.raises(FetchFailed) as caught:
        session.sql(
            f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId IN ({ids}) AND region = 'us-east-1'"
        )
    message = caught.value.message
    assert message.startswith("30 of 30 API calls failed:")
    assert message.count("does not exist") == 10
    assert "... and 20 more InvalidClientVpnEndpointId.NotFound" in message


def test_a_cancelled_fetch_caches_nothing(aws_env: Any) -> None:
    """Ctrl-C after the gateways were listed but before their clients answered: the next
    statement asks again, nothing of the cancelled one is reused."""
    emulator = aws_env.alibaba.emulator
    cache = FetchCache(ttl=60)
    session = Session(cache=cache)
    sql = "SELECT count(*) FROM alibaba.vpc.ssl_vpn_clients WHERE region = 'cn-hangzhou'"
    session.sql(sql)  # warm: imports, the region list
    cache.clear()
    emulator.latency = 0.4
    timer = threading.Timer(0.6, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            session.sql(sql)
            time.sleep(5)  # not reached unless the fetch ended first
    finally:
        timer.cancel()
        emulator.latency = 0.0
    assert cache.answers() == []
    session.sql(sql)
    assert session.last_stats.cached == 0 and session.last_stats.calls > 1
