"""The DuckDB side: typed tables built from Arrow, and the user's SQL run unchanged.

Virtual tables live at their own names (`ATTACH ':memory:' AS aws`, schema `ec2_api`) so the
statement resolves exactly as written, and DuckDB re-applies every predicate itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from vpnsql.errors import QueryError
from vpnsql.tables import Row, Table

if TYPE_CHECKING:
    from collections.abc import Sequence


def quote(identifier: str) -> str:
    """A DuckDB identifier in double quotes, so names like `timestamp` are safe."""
    return '"' + identifier.replace('"', '""') + '"'


def qualified(table: Table) -> str:
    return ".".join(quote(part) for part in (table.provider, table.service, table.resource))


class Engine:
    """One DuckDB connection holding the materialized virtual tables of a session."""

    def __init__(self, database: str = ":memory:") -> None:
        self.connection = duckdb.connect(database)
        self._schemas: dict[Table, pa.Schema] = {}
        self._catalogs: set[str] = set()

    def load(self, table: Table, rows: Sequence[Row]) -> None:
        """Replace the table's content with `rows`, typed as declared, column-wise via Arrow."""
        schema = self._schemas.get(table) or self._create(table)
        columns = {name: [row.get(name) for row in rows] for name in schema.names}
        data = pa.Table.from_pydict(columns, schema=schema)
        name = qualified(table)
        self.connection.execute(f"DELETE FROM {name}")
        self.connection.register("__vpnsql_load", data)
        try:
            self.connection.execute(f"INSERT INTO {name} SELECT * FROM __vpnsql_load")
        finally:
            self.connection.unregister("__vpnsql_load")

    def _create(self, table: Table) -> pa.Schema:
        if table.provider not in self._catalogs:
            self.connection.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {quote(table.provider)}")
            self._catalogs.add(table.provider)
        schema = f"{quote(table.provider)}.{quote(table.service)}"
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        columns = ", ".join(f"{quote(c.name)} {c.type}" for c in table.columns)
        self.connection.execute(f"CREATE OR REPLACE TABLE {qualified(table)} ({columns})")
        arrow_schema = self.connection.sql(f"SELECT * FROM {qualified(table)} LIMIT 0").arrow()
        self._schemas[table] = arrow_schema.schema
        return arrow_schema.schema

    def sql(self, text: str) -> duckdb.DuckDBPyRelation | None:
        """Run the user's statement as written; a relation for queries, None otherwise."""
        try:
            return self.connection.sql(text)
        except duckdb.Error as err:
            raise QueryError(str(err)) from None
