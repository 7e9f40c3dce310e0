"""The DuckDB side on its own: both ways rows are loaded give the same typed table."""

from __future__ import annotations

from datetime import datetime

import pytest

from vpnsql import engine
from vpnsql.engine import Engine
from vpnsql.errors import QueryError
from vpnsql.registry import Registry
from vpnsql.tables import Column, Row

CONNECTIONS = Registry.discover().table("aws.ec2_api.client_vpn_connections")

ROWS: list[Row] = [
    {
        "clientVpnEndpointId": "cvpn-endpoint-0a1b2c3d4e5f60001",
        "timestamp": datetime(2026, 11, 24, 10, 0, 1),
        "connectionId": "cvpn-connection-1",
        "username": "Ünïcode 'quoted' \"name\"",
        "connectionEstablishedTime": datetime(2026, 11, 24, 9, 0, 0, 123456),
        "ingressBytes": 2**62,
        "egressBytes": 0,
        "ingressPackets": None,
        "status": {"code": "active", "message": None},
        "postureComplianceStatusSet": ["compliant", "unknown"],
        "region": "us-east-1",
    },
    {  # everything missing is NULL, in every type
        "connectionId": "cvpn-connection-2",
        "postureComplianceStatusSet": [],
    },
]


def loaded(rows: list[Row]) -> tuple[list[tuple[object, ...]], list[str]]:
    database = Engine()
    database.load(CONNECTIONS, rows)
    relation = database.sql(f"SELECT * FROM {CONNECTIONS.name} ORDER BY connectionId")
    assert relation is not None
    return relation.fetchall(), [str(t) for t in relation.types]


def test_bound_and_arrow_loads_give_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    bound = loaded(ROWS)
    monkeypatch.setattr(engine, "ARROW_ROWS", 1)
    assert loaded(ROWS) == bound
    values, types = bound
    assert types == [column.type for column in CONNECTIONS.columns]
    first = dict(zip([c.name for c in CONNECTIONS.columns], values[0], strict=True))
    assert first["ingressBytes"] == 2**62 and first["ingressPackets"] is None
    assert first["status"] == {"code": "active", "message": None}
    assert first["connectionEstablishedTime"] == datetime(2026, 11, 24, 9, 0, 0, 123456)
    second = dict(zip([c.name for c in CONNECTIONS.columns], values[1], strict=True))
    assert second["clientVpnEndpointId"] is None and second["postureComplianceStatusSet"] == []


def test_a_load_replaces_the_previous_rows() -> None:
    database = Engine()
    database.load(CONNECTIONS, ROWS)
    database.load(CONNECTIONS, ROWS[1:])
    assert database.rows(f"SELECT connectionId FROM {CONNECTIONS.name}") == [
        {"connectionId": "cvpn-connection-2"}
    ]
    database.load(CONNECTIONS, [])
    assert database.rows(f"SELECT count(*) AS n FROM {CONNECTIONS.name}") == [{"n": 0}]


def test_a_relation_has_the_declared_types() -> None:
    columns = (
        Column("name", "VARCHAR", ""),
        Column("n", "BIGINT", ""),
        Column("ok", "BOOLEAN", ""),
    )
    relation = Engine().relation(columns, [{"name": "a", "n": 1, "ok": True}, {"name": "b"}])
    assert [str(t) for t in relation.types] == ["VARCHAR", "BIGINT", "BOOLEAN"]
    assert relation.fetchall() == [("a", 1, True), ("b", None, None)]


@pytest.mark.parametrize("arrow_rows", [engine.ARROW_ROWS, 1], ids=["bound", "arrow"])
def test_a_value_that_does_not_fit_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, arrow_rows: int
) -> None:
    monkeypatch.setattr(engine, "ARROW_ROWS", arrow_rows)
    with pytest.raises(QueryError, match=f"cannot load {CONNECTIONS.name}") as caught:
        Engine().load(CONNECTIONS, [{"connectionId": "c", "ingressBytes": 2**64 - 1}])
    assert "UNNEST" not in caught.value.message and "declared type" in (caught.value.hint or "")


def test_duckdb_draws_no_progress_bar_on_stdout() -> None:
    """It would land in the data of a long query's output (DuckDB's default is on)."""
    engine = Engine()
    setting = engine.connection.sql("SELECT current_setting('enable_progress_bar')")
    assert setting.fetchall() == [(False,)]


def test_duckdb_spills_past_its_memory_limit_into_a_directory_it_removes() -> None:
    import os

    engine = Engine(memory_limit="64MB")
    limit = engine.connection.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    directory = engine.connection.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert limit == "61.0 MiB" and os.path.isdir(directory)
    assert oct(os.stat(directory).st_mode & 0o777) == "0o700"
    engine.connection.execute("CREATE TABLE big AS SELECT range AS n, repeat('x', 200) AS s "
                              "FROM range(600000)")  # fmt: skip
    assert engine.connection.sql("SELECT count(*) FROM big").fetchall() == [(600000,)]
    engine.close()
    assert not os.path.exists(directory)


def test_running_out_of_duckdbs_memory_says_how_to_give_it_more() -> None:
    engine = Engine(memory_limit="16MB")
    with pytest.raises(QueryError, match="Out of Memory") as caught:
        engine.sql("SELECT list(repeat('x', 100)) FROM range(1000000)", hold=True)
    assert "memory_limit" in (caught.value.hint or "") and "16MB" in (caught.value.hint or "")
    engine.close()
