"""Every DELETE accounted for: it selects exactly what the SELECT of the same text selects, a
WITH is kept, and an interrupted DELETE says what it did and what it did not."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from misbehaving import Asked, MisbehavingServer, aws_answer, aws_connection
from processes import started

import vpnsql
from vpnsql.errors import VpnsqlError
from vpnsql.planner.delete import as_select
from vpnsql.session import Session

CONNS = "aws.ec2_api.client_vpn_connections"
ENDPOINT = "cvpn-endpoint-0123456789abcdef0"

PREDICATES = [
    "len(list_filter(postureComplianceStatusSet, x -> x = 'compliant')) > 0",  # DuckDB 2.0
    "list_contains(postureComplianceStatusSet, 'compliant')",
    "username LIKE 'a%' OR username ILIKE 'B%'",
    "username ~~ 'c%'",
    "username SIMILAR TO '[d-m].*'",
    "username GLOB '*.*'",
    "lower(username) ^@ 'e'",
    "regexp_matches(coalesce(username, commonName), '^[a-f]')",
    "username IS DISTINCT FROM 'alice.mueller'",
    "NOT (username LIKE 'a%' OR ingressBytes > 1e9)",
    "ingressBytes // 1000000 > 50",
    "ingressBytes % 3 = 1",
    "ingressBytes / egressBytes > 2",
    "ingressBytes BETWEEN 1e6 AND 5e8",
    "clientIp LIKE '10.100.%'",
    "status['code'] = 'active'",
    "status.code = 'active' AND egressBytes > ingressBytes",
    "connectionEstablishedTime > now()::TIMESTAMP - INTERVAL 6 HOUR",
    "epoch(connectionEstablishedTime) % 2 = 0",
    "strftime(connectionEstablishedTime, '%H')::INT < 12",
    "username = $$bob.ng$$ OR username = e'carol\\x2ekim' OR username = 'it''s'",
    "commonName COLLATE NOCASE LIKE 'CONTRACTOR%'",
    "username IN (SELECT username FROM (VALUES ('bob.ng'), ('dave.li')) v(username))",
    "EXISTS (SELECT 1 WHERE ingressBytes > 1e8) /* a comment */",
    "hash(connectionId) % 2 = 0",
    "#3 LIKE '%a%'",
]


def column(relation: Any, name: str) -> list[Any]:
    index = relation.columns.index(name)
    return [row[index] for row in relation.fetchall()]


def targets(session: Session, where: str) -> set[str] | str:
    """The connections the SELECT of `where` selects that a DELETE would end (the active
    ones), or the error it gives."""
    try:
        relation = session.sql(f"SELECT * FROM {CONNS} {where}")
    except VpnsqlError as err:
        return f"error: {type(err).__name__}"
    assert relation is not None
    rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    return {row["connectionId"] for row in rows if row["status"]["code"] == "active"}


def terminated(session: Session, where: str) -> set[str] | str:
    try:
        relation = session.sql(f"DELETE FROM {CONNS} {where}")
    except VpnsqlError as err:
        return f"error: {type(err).__name__}"
    assert relation is not None
    return set(column(relation, "connectionId"))


NAMES = ["alice.mueller", "bob.ng", "carol.kim", "dave.li", "Eve", "frank.o", None, "mallory"]
POSTURES = [["compliant"], ["non-compliant"], None, ["compliant", "unknown"]]


@pytest.fixture(scope="module")
def corpus_endpoint(sandbox: Any) -> str:
    """48 connections that the corpus's predicates split in many ways (some terminated)."""
    from vpnsql.sandbox import seed_connections

    endpoint_id = "cvpn-endpoint-0c0a1b2c3d4e5f601"
    records = [
        {
            "Username": NAMES[i % len(NAMES)],
            "CommonName": f"contractor-{i}" if NAMES[i % len(NAMES)] is None else None,
            "ClientIp": f"10.{100 if i % 3 else 0}.{i}.{i * 7 % 250}",
            "IngressBytes": 37 ** (i % 7) + i,
            "EgressBytes": 11 ** (i % 9) + 3 * i,
            "PostureComplianceStatuses": POSTURES[i % len(POSTURES)],
            "Status": "terminated" if i % 5 == 0 else "active",
        }
        for i in range(48)
    ]
    seed_connections("us-east-1", endpoint_id, connections=records, seed=3)
    return endpoint_id


@pytest.mark.parametrize("predicate", PREDICATES)
def test_delete_selects_exactly_what_the_select_of_the_same_text_selects(
    aws_env: Any, corpus_endpoint: str, predicate: str
) -> None:
    where = (
        f"WHERE ClientVpnEndpointId = '{corpus_endpoint}' AND region = 'us-east-1' "
        f"AND ({predicate})"
    )
    session = vpnsql.connect(dry_run=True, confirm=lambda preview: True)
    assert terminated(session, where) == targets(session, where)


def test_the_lambda_duckdb_refuses_in_a_select_is_refused_in_a_delete(
    aws_env: Any, corpus_endpoint: str
) -> None:
    """sqlglot regenerates `x -> ...` as `LAMBDA x : ...`, which DuckDB 2.0 accepts: a DELETE
    planned from the regeneration selected rows the SELECT refused to."""
    where = (
        f"WHERE ClientVpnEndpointId = '{corpus_endpoint}' AND region = 'us-east-1' "
        f"AND {PREDICATES[0]}"
    )
    session = vpnsql.connect(dry_run=True, confirm=lambda preview: True)
    assert terminated(session, where) == targets(session, where) == "error: QueryError"


@pytest.mark.parametrize(
    ("text", "select"),
    [
        ("DELETE FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 1"),
        ("delete  from t AS c where c.a -> 'x'", "SELECT *  from t AS c where c.a -> 'x'"),
        (
            "WITH d AS (SELECT 1) DELETE FROM t WHERE a IN (FROM d)",
            "WITH d AS (SELECT 1) SELECT * FROM t WHERE a IN (FROM d)",
        ),
    ],
)
def test_the_select_of_a_delete_is_the_users_text(text: str, select: str) -> None:
    assert as_select(text) == select


def test_a_delete_keeps_its_with(aws_env: Any, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(
        connections=[{"Username": "eve"}, {"Username": "eve"}, {"Username": "mallory"}]
    )
    where = f"WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = 'us-east-1'"
    session = vpnsql.connect(dry_run=True, confirm=lambda preview: True)
    selected = session.sql(f"SELECT connectionId FROM {CONNS} {where} AND username = 'eve'")
    eve = {row[0] for row in selected.fetchall()} if selected is not None else set()
    relation = session.sql(
        f"WITH x AS (SELECT connectionId FROM {CONNS} {where} AND username = 'eve') "
        f"DELETE FROM {CONNS} {where} AND connectionId IN (SELECT connectionId FROM x)"
    )
    assert relation is not None
    assert set(column(relation, "connectionId")) == eve and len(eve) == 2
    names = session.sql(
        f"WITH w AS (SELECT 'mallory' AS who) "
        f"DELETE FROM {CONNS} {where} AND username IN (SELECT who FROM w)"
    )
    assert names is not None and column(names, "username") == ["mallory"]


TOTAL = 40


def slow_terminations(server_seconds: float) -> Callable[[Asked], tuple[int, str]]:
    """A cloud with TOTAL active connections whose terminations take `server_seconds` each."""

    def answer(asked: Asked) -> tuple[int, str]:
        if asked.action == "DescribeClientVpnConnections":
            items = "".join(aws_connection(i) for i in range(TOTAL))
            inner = f"<connections>{items}</connections>"
            return 200, aws_answer("DescribeClientVpnConnections", inner)
        time.sleep(server_seconds)
        status = (
            f"<item><connectionId>{asked.fields['ConnectionId']}</connectionId>"
            "<previousStatus><code>active</code></previousStatus>"
            "<currentStatus><code>terminating</code></currentStatus></item>"
        )
        inner = f"<clientVpnEndpointId>{ENDPOINT}</clientVpnEndpointId>"
        inner += f"<connectionStatuses>{status}</connectionStatuses>"
        return 200, aws_answer("TerminateClientVpnConnections", inner)

    return answer


@pytest.mark.parametrize(
    ("sent", "code", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_an_interrupted_delete_prints_what_it_did_and_what_it_did_not(
    misbehaving: Callable[..., MisbehavingServer], sent: int, code: int, said: str
) -> None:
    server = misbehaving(slow_terminations(0.3))
    asked = lambda: [a for a in server.asked if a.action == "TerminateClientVpnConnections"]  # noqa: E731
    sql = f"DELETE FROM {CONNS} WHERE ClientVpnEndpointId = '{ENDPOINT}' AND region = 'us-east-1'"
    argv = [sys.executable, "-m", "vpnsql.cli", "--yes", "--max-concurrency", "2", "-o", "csv",
            "-e", sql]  # fmt: skip
    with started(
        argv, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 60
        while len(asked()) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sent)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    sent_ids = {a.fields["ConnectionId"] for a in asked()}
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {row["connectionId"] for row in rows} == sent_ids  # the calls in flight finished
    assert all(row["currentStatus"] == "terminating" for row in rows)
    assert 4 <= len(sent_ids) < TOTAL
    summary = re.search(r"(\d+) of 40 terminations completed, (\d+) not attempted", err)
    assert summary is not None, err
    assert (int(summary[1]), int(summary[2])) == (len(sent_ids), TOTAL - len(sent_ids))
    assert err.rstrip().endswith(f"vpnsql: {said}") and "Traceback" not in err
