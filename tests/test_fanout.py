"""Fan-out across regions and endpoints: discovery, subquery params, concurrency, failures."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from processes import started

import vpnsql
from vpnsql.errors import ProviderError
from vpnsql.fetch import FetchFailed, FetchStats
from vpnsql.progress import Progress
from vpnsql.session import Session
from vpnsql.tables import THROTTLING_ATTEMPTS
from vpnsql_providers.alibaba.client import MAX_ATTEMPTS as ALIBABA_ATTEMPTS
from vpnsql_providers.aws.client import ec2

CONNS = "aws.ec2_api.client_vpn_connections"


def endpoint_id() -> str:
    return f"cvpn-endpoint-{uuid.uuid4().hex[:17]}"


@pytest.fixture
def quiet_region(sandbox: Any) -> str:
    """A region no other test uses: two endpoints with 3 and 4 connections, one deleted."""
    from vpnsql.sandbox import create_endpoint, seed_connections

    region = "ap-southeast-2"
    seed_connections(region, endpoint_id(), 3)
    seed_connections(region, endpoint_id(), 4)
    create_endpoint(region, endpoint_id(), status="deleted")
    return region


def describe_calls(session: Session, region: str) -> list[str]:
    names: list[str] = []
    ec2(region, session.settings).meta.events.register(
        "before-call.ec2.*", lambda model, **_: names.append(model.name)
    )
    return names


def test_without_an_endpoint_id_every_endpoint_of_the_region_answers(
    session: Session, quiet_region: str
) -> None:
    calls = describe_calls(session, quiet_region)
    rows = session.sql(
        f"SELECT clientVpnEndpointId, count(*) AS n FROM {CONNS} WHERE region = '{quiet_region}' "
        "GROUP BY ALL ORDER BY n"
    ).fetchall()
    assert [n for _, n in rows] == [3, 4]
    assert sorted(calls) == ["DescribeClientVpnConnections"] * 2 + ["DescribeClientVpnEndpoints"]
    assert session.last_stats.calls == 3


def test_params_from_a_subquery(session: Session, new_endpoint: Callable[..., str]) -> None:
    from vpnsql.sandbox import create_endpoint, seed_connections

    vpc = f"vpc-{uuid.uuid4().hex[:8]}"
    inside = [create_endpoint("us-east-1", endpoint_id(), VpcId=vpc) for _ in range(2)]
    for index, endpoint in enumerate(inside):
        seed_connections("us-east-1", endpoint, index + 2)
    new_endpoint(5)  # another VPC's endpoint, which must not be read
    rows = session.sql(
        f"SELECT clientVpnEndpointId, count(*) FROM {CONNS} WHERE ClientVpnEndpointId IN "
        "(SELECT clientVpnEndpointId FROM aws.ec2_api.client_vpn_endpoints "
        f" WHERE region = 'us-east-1' AND vpcId = '{vpc}') AND region = 'us-east-1' "
        "GROUP BY ALL ORDER BY 2"
    ).fetchall()
    assert rows == [(inside[0], 2), (inside[1], 3)]
    # one DescribeClientVpnEndpoints, shared by the subquery and the statement, and 2 calls
    assert session.last_stats.calls == 3


def test_a_table_read_twice_is_fetched_once(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint = new_endpoint(6, users=2, seed=3)
    calls = describe_calls(session, "us-east-1")
    where = "{0}ClientVpnEndpointId = '" + endpoint + "' AND {0}region = 'us-east-1'"
    rows = session.sql(
        f"WITH c AS (SELECT * FROM {CONNS} WHERE {where.format('')}) "
        f"SELECT count(*) FROM c JOIN {CONNS} d USING (connectionId) WHERE {where.format('d.')}"
    ).fetchall()
    assert rows == [(6,)]
    assert calls == ["DescribeClientVpnConnections"]


def test_calls_overlap_in_time(aws_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a slowed sandbox, the calls of one statement are in flight together."""
    from vpnsql.sandbox import seed_connections, start

    region = "us-west-2"
    endpoints = [endpoint_id() for _ in range(6)]
    for endpoint in endpoints:
        seed_connections(region, endpoint, 2)
    slow = start(demo=False, latency=0.3)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", slow.endpoint_url)
        session = Session()
        in_flight = 0
        most = 0
        lock = threading.Lock()

        def begin(**_: Any) -> None:
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)

        def end(**_: Any) -> None:
            nonlocal in_flight
            with lock:
                in_flight -= 1

        events = ec2(region, session.settings).meta.events
        events.register("before-call.ec2.DescribeClientVpnConnections", begin)
        events.register("after-call.ec2.DescribeClientVpnConnections", end)
        listed = ", ".join(f"'{e}'" for e in endpoints)
        rows = session.sql(
            f"SELECT count(*) FROM {CONNS} WHERE ClientVpnEndpointId IN ({listed}) "
            f"AND region = '{region}'"
        ).fetchall()
    finally:
        slow.stop()
    assert rows == [(12,)]
    assert most >= 4


def test_failed_calls_fail_the_statement_naming_each(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    good = new_endpoint(2)
    missing = [endpoint_id(), endpoint_id()]
    listed = ", ".join(f"'{e}'" for e in [good, *missing])
    sql = (
        f"SELECT count(*) FROM {CONNS} "
        f"WHERE ClientVpnEndpointId IN ({listed}) AND region = 'us-east-1'"
    )
    with pytest.raises(FetchFailed) as caught:
        session.sql(sql)
    assert "2 of 3 API calls failed" in caught.value.message
    for endpoint in missing:
        assert "InvalidClientVpnEndpointId.NotFound" in caught.value.message
        assert endpoint in caught.value.message
    with pytest.raises(FetchFailed) as one_of_two:
        session.sql(sql.replace(f"'{missing[1]}'", f"'{good}'"))
    assert "1 of 2 API calls failed" in one_of_two.value.message
    assert "--allow-partial" in (one_of_two.value.hint or "")
    with pytest.raises(ProviderError, match="NotFound"):  # the only call: its own error
        session.sql(
            f"SELECT count(*) FROM {CONNS} "
            f"WHERE ClientVpnEndpointId = '{missing[0]}' AND region = 'us-east-1'"
        )


def test_endpoints_of_several_regions_are_asked_where_they_are(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    """`ClientVpnEndpointId IN (a, b) AND region IN (r1, r2)` asks every pair; an endpoint
    missing from a region it is not in counts as zero rows there, and one found nowhere is
    still an error."""
    east, west = new_endpoint(2), new_endpoint(3, region="eu-west-1")
    where = "region IN ('us-east-1', 'eu-west-1')"
    sql = f"SELECT region, count(*) FROM {CONNS} WHERE ClientVpnEndpointId IN "
    rows = session.sql(f"{sql} ('{east}', '{west}') AND {where} GROUP BY ALL ORDER BY 1")
    assert rows.fetchall() == [("eu-west-1", 3), ("us-east-1", 2)]
    nowhere = endpoint_id()
    with pytest.raises(FetchFailed) as caught:
        session.sql(f"{sql} ('{east}', '{nowhere}') AND {where} GROUP BY ALL")
    failed = caught.value.message.splitlines()[1:]
    assert caught.value.message.startswith("2 of 4 API calls failed")
    assert len(failed) == 2 and all(nowhere in line for line in failed)
    assert east not in caught.value.message


def test_allow_partial_keeps_what_arrived(aws_env: Any, new_endpoint: Callable[..., str]) -> None:
    good = new_endpoint(2)
    missing = endpoint_id()
    session = Session(allow_partial=True)
    rows = session.sql(
        f"SELECT count(*) FROM {CONNS} WHERE ClientVpnEndpointId IN ('{good}', '{missing}') "
        "AND region = 'us-east-1'"
    ).fetchall()
    assert rows == [(2,)]
    (failure,) = session.last_stats.failures
    assert failure.error.code == "InvalidClientVpnEndpointId.NotFound"
    assert dict(failure.call.params)["ClientVpnEndpointId"] == missing


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_after_a_delay_and_is_erased() -> None:
    stats = FetchStats(calls=8, done=3, rows=1200)
    stream = Terminal()
    with Progress(lambda: stats, stream):
        time.sleep(1.5)  # well past the 0.5 s delay, even on a loaded machine
    text = stream.getvalue()
    assert "3/8 calls, 1,200 rows" in text
    assert text.endswith("\r\x1b[K")


def test_progress_leaves_the_line_once_the_calls_are_done() -> None:
    """So a question asked after the fetch (DELETE's y/N) is not drawn over."""
    stats = FetchStats(calls=2, done=1, rows=10)
    stream = Terminal()
    with Progress(lambda: stats, stream):
        time.sleep(1.0)
        stats.done = 2
        time.sleep(0.5)
        stream.write("Terminate them? [y/N] ")
        time.sleep(0.5)
    text = stream.getvalue()
    assert "1/2 calls, 10 rows" in text
    assert text.split("Terminate them? [y/N] ")[1] == ""  # nothing after the question


def test_progress_is_silent_off_a_terminal_and_for_quick_work() -> None:
    stats = FetchStats(calls=1)
    piped = io.StringIO()
    with Progress(lambda: stats, piped):
        time.sleep(0.7)
    quick = Terminal()
    with Progress(lambda: stats, quick):
        pass
    assert piped.getvalue() == quick.getvalue() == ""


def test_aws_throttling_is_retried_until_the_complete_answer(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox import inject_aws_error

    endpoint = new_endpoint(1500)
    inject_aws_error("RequestLimitExceeded", 2)
    rows = session.sql(
        f"SELECT count(*) FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint}' "
        "AND region = 'us-east-1'"
    ).fetchall()
    assert rows == [(1500,)]


def test_aws_throttling_is_retried_a_bounded_number_of_times(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox import clear_aws_errors, inject_aws_error

    endpoint = new_endpoint(3)
    inject_aws_error("RequestLimitExceeded", 20)
    try:
        with pytest.raises(ProviderError) as caught:
            session.sql(
                f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint}' "
                "AND region = 'us-east-1'"
            )
    finally:
        left = clear_aws_errors()
    assert caught.value.code == "RequestLimitExceeded"
    # As many attempts as Alibaba's (botocore's default of 3 failed bursts Alibaba absorbed),
    # and then given up.
    assert 20 - left == THROTTLING_ATTEMPTS == ALIBABA_ATTEMPTS
    assert "--max-concurrency" in (caught.value.hint or "")


@pytest.mark.parametrize("where", ["environment", "profile"])
def test_the_users_own_aws_retry_settings_are_honoured(
    aws_env: Any,
    new_endpoint: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    where: str,
) -> None:
    from vpnsql.sandbox import clear_aws_errors, inject_aws_error

    if where == "environment":
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    else:
        config = tmp_path / "config"
        config.write_text("[default]\nmax_attempts = 2\nretry_mode = legacy\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    endpoint = new_endpoint(3)
    session = vpnsql.connect()
    inject_aws_error("RequestLimitExceeded", 10, "DescribeClientVpnConnections")
    try:
        with pytest.raises(ProviderError, match="RequestLimitExceeded"):
            session.sql(
                f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint}' "
                "AND region = 'us-east-1'"
            )
    finally:
        left = clear_aws_errors()
    assert 10 - left == 2
    assert ec2("us-east-1", session.settings).meta.config.retries["mode"] == "legacy"


def test_a_region_without_client_vpn_counts_as_zero_rows(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox import inject_aws_error

    endpoint = new_endpoint(3)
    inject_aws_error("InvalidAction", 1)
    rows = session.sql(
        f"SELECT count(*) FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint}' "
        "AND region = 'us-east-1'"
    ).fetchall()
    assert rows == [(0,)]


def test_permission_errors_keep_their_code_and_hint(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox import inject_aws_error

    endpoint = new_endpoint(3)
    inject_aws_error("UnauthorizedOperation", 1, action="DescribeClientVpnConnections")
    with pytest.raises(ProviderError) as caught:
        session.sql(
            f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint}' "
            "AND region = 'us-east-1'"
        )
    assert caught.value.code == "UnauthorizedOperation"
    assert "us-east-1" in caught.value.message and endpoint in caught.value.message
    assert "not allowed ec2:DescribeClientVpnConnections" in (caught.value.hint or "")


def test_ctrl_c_cancels_outstanding_calls_and_exits_130(
    aws_env: Any, new_endpoint: Callable[..., str]
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from vpnsql.sandbox import start

    endpoints = [new_endpoint(1) for _ in range(3)]
    slow = start(demo=False, latency=10.0)  # every call would take 10 s
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": slow.endpoint_url}
        listed = ", ".join(f"'{e}'" for e in endpoints)
        with started(
            [sys.executable, "-m", "vpnsql.cli", "--max-concurrency", "1", "-e",
             f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId IN ({listed}) "
             "AND region = 'us-east-1'"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as proc:  # fmt: skip
            time.sleep(3)  # started, and waiting on the first of three 10-second calls
            interrupted = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
            waited = time.monotonic() - interrupted
    finally:
        slow.stop()
    assert proc.returncode == 130
    assert out == "" and "interrupted" in err and "Traceback" not in err
    assert waited < 8  # not the 30 s the three calls would have taken


def test_a_join_carries_the_region_to_the_other_side(session: Session) -> None:
    """The connections side is asked in eu-west-1, not in the default region (us-east-1)."""
    from vpnsql.sandbox import demo

    rows = session.sql(
        "SELECT e.description, count(c.connectionId) "
        "FROM aws.ec2_api.client_vpn_endpoints e JOIN aws.ec2_api.client_vpn_connections c "
        "ON c.clientVpnEndpointId = e.clientVpnEndpointId AND c.region = e.region "
        "WHERE e.region = 'eu-west-1' AND e.clientVpnEndpointId = "
        f"'{demo.DEMO_EU_ENDPOINT_ID}' GROUP BY 1"
    ).fetchall()
    assert rows == [("EU office", 100)]
