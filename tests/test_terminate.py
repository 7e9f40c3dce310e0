"""EXEC and DELETE terminates end to end, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vpnsql.errors import Cancelled, ConfirmationRequired, ParamError, ProviderError
from vpnsql.session import Session
from vpnsql.statements import Preview
from vpnsql.tables import DRY_RUN_OK, Settings
from vpnsql_providers.aws.client import ec2

CONNS = "aws.ec2_api.client_vpn_connections"
TERMINATE = f"EXEC {CONNS}.client_vpn_connections_Terminate"


def count_terminate_calls(session: Session) -> list[int]:
    calls: list[int] = []
    ec2("us-east-1", session.settings).meta.events.register(
        "before-call.ec2.TerminateClientVpnConnections", lambda **_: calls.append(1)
    )
    return calls


def statuses(session: Session, endpoint_id: str) -> dict[str, tuple[str, bool]]:
    """connectionId -> (status code, has an end time)."""
    rows = session.sql(
        f"SELECT connectionId, status.code, connectionEndTime IS NOT NULL FROM {CONNS} "
        f"WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = 'us-east-1'"
    ).fetchall()
    return {cid: (code, ended) for cid, code, ended in rows}


def exec_args(endpoint_id: str, extra: str) -> str:
    return f"{TERMINATE} @ClientVpnEndpointId='{endpoint_id}', @region='us-east-1', {extra}"


def test_terminate_by_connection_id(session: Session, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(3)
    target, *others = sorted(statuses(session, endpoint_id))
    rows = session.sql(exec_args(endpoint_id, f"@ConnectionId='{target}'")).fetchall()
    assert rows == [
        (endpoint_id, "us-east-1", "default", None, target, "active", "terminating", None)
    ]
    after = statuses(session, endpoint_id)
    assert after[target] == ("terminated", True)
    assert all(after[other] == ("active", False) for other in others)
    assert session.last_failed == 0


def test_terminate_by_username(session: Session, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(connections=[{"Username": "eve"}] * 2 + [{"Username": "mallory"}])
    rel = session.sql(exec_args(endpoint_id, "@Username='eve'"))
    assert [(r[3], r[6]) for r in rel.fetchall()] == [("eve", "terminating")] * 2
    codes = sorted(code for code, _ in statuses(session, endpoint_id).values())
    assert codes == ["active", "terminated", "terminated"]


def test_aws_refuses_usernames_with_more_than_five(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(connections=[{"Username": "busy"}] * 6)
    with pytest.raises(ProviderError) as caught:
        session.sql(exec_args(endpoint_id, "@Username='busy'"))
    assert caught.value.code == "ClientVpnTerminateConnectionsLimitExceeded"
    assert {code for code, _ in statuses(session, endpoint_id).values()} == {"active"}


@pytest.mark.parametrize("how", ["argument", "setting"])
def test_dry_run_terminates_nothing(
    aws_env: Any, new_endpoint: Callable[..., str], how: str
) -> None:
    session = Session(settings=Settings(dry_run=how == "setting"))
    endpoint_id = new_endpoint(1)
    (target,) = statuses(session, endpoint_id)
    flag = ", @DryRun=true" if how == "argument" else ""
    rows = session.sql(exec_args(endpoint_id, f"@ConnectionId='{target}'{flag}")).fetchall()
    assert rows[0][-1] == DRY_RUN_OK
    assert statuses(session, endpoint_id)[target] == ("active", False)


def test_missing_target_makes_no_call(session: Session, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(1)
    calls = count_terminate_calls(session)
    with pytest.raises(ParamError, match="@ConnectionId or @Username"):
        session.sql(f"{TERMINATE} @ClientVpnEndpointId='{endpoint_id}', @region='us-east-1'")
    for empty in ("''", "'  '"):
        with pytest.raises(ParamError, match="@Username is empty"):
            session.sql(
                f"{TERMINATE} @ClientVpnEndpointId='{endpoint_id}', @region='us-east-1', "
                f"@Username={empty}"
            )
    assert calls == []


def delete(endpoint_id: str, predicate: str) -> str:
    return (
        f"DELETE FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}' "
        f"AND region = 'us-east-1' AND {predicate}"
    )


def test_delete_terminates_exactly_the_matching_active_connections(
    aws_env: Any, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(40, users=4, seed=11)
    from vpnsql.sandbox import seed_connections

    seed_connections("us-east-1", endpoint_id, 3, status="terminated", users=4, seed=12)
    session = Session(confirm=lambda preview: True)
    predicate = "(username = 'user0001' OR ingressBytes > 5e9) AND clientIp LIKE '10.%'"
    expected = {
        row[0]
        for row in session.sql(
            f"SELECT connectionId FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}' "
            f"AND region = 'us-east-1' AND {predicate} AND status.code = 'active'"
        ).fetchall()
    }
    before = statuses(session, endpoint_id)
    assert expected and len(expected) < len(before)

    users = dict(
        session.sql(
            f"SELECT connectionId, username FROM {CONNS} "
            f"WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = 'us-east-1'"
        ).fetchall()
    )
    rows = session.sql(delete(endpoint_id, predicate)).fetchall()

    assert {row[4] for row in rows} == expected
    assert {(row[5], row[6], row[7]) for row in rows} == {("active", "terminating", None)}
    assert all(row[3] == users[row[4]] and row[3] for row in rows)  # who, from the SELECT
    after = statuses(session, endpoint_id)
    for cid, status in after.items():
        assert status == (("terminated", True) if cid in expected else before[cid])


def test_delete_of_many_needs_confirmation_and_calls_nothing_without_it(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(3)
    calls = count_terminate_calls(session)
    with pytest.raises(ConfirmationRequired, match="would terminate 3 connections"):
        session.sql(delete(endpoint_id, "true"))
    assert calls == []
    assert {code for code, _ in statuses(session, endpoint_id).values()} == {"active"}


def test_delete_of_one_runs_without_confirmation(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(3)
    target = sorted(statuses(session, endpoint_id))[0]
    rows = session.sql(delete(endpoint_id, f"connectionId = '{target}'")).fetchall()
    assert [row[4] for row in rows] == [target]


def test_answering_no_terminates_nothing(aws_env: Any, new_endpoint: Callable[..., str]) -> None:
    seen: list[Preview] = []

    def refuse(preview: Preview) -> bool:
        seen.append(preview)
        return False

    session = Session(confirm=refuse)
    endpoint_id = new_endpoint(2)
    with pytest.raises(Cancelled):
        session.sql(delete(endpoint_id, "true"))
    assert seen[0].count == 2
    assert {row["ConnectionId"] for row in seen[0].targets} == set(statuses(session, endpoint_id))
    assert {code for code, _ in statuses(session, endpoint_id).values()} == {"active"}


def test_a_failed_terminate_does_not_hide_the_others(
    aws_env: Any, new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox.aws import DEFAULT_ACCOUNT_ID, client_vpn_backends

    endpoint_id = new_endpoint(3, users=2)
    endpoint = client_vpn_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].endpoints[endpoint_id]

    def vanish_one(preview: Preview) -> bool:
        """The cloud changes between the SELECT and the terminate calls."""
        gone = endpoint.by_id.pop(str(preview.targets[0]["ConnectionId"]))
        endpoint.connections.remove(gone)
        return True

    session = Session(confirm=vanish_one)
    rows = session.sql(delete(endpoint_id, "true")).fetchall()
    assert len(rows) == 3
    failures = [row for row in rows if row[-1] is not None]
    assert len(failures) == 1 and "does not exist" in failures[0][-1]
    assert all(row[3] for row in rows)  # the failed one names its user too
    assert [row[6] for row in rows if row[-1] is None] == ["terminating"] * 2
    assert session.last_failed == 1


def test_delete_on_a_table_without_a_terminate_method(session: Session) -> None:
    from vpnsql.errors import UnsupportedStatementError

    with pytest.raises(UnsupportedStatementError, match="read-only"):
        session.sql("DELETE FROM aws.ec2_api.client_vpn_endpoints WHERE region = 'us-east-1'")
