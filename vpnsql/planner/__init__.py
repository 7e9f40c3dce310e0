"""SQL text -> what to fetch. Pure: no I/O, no DuckDB, no cloud.

The planner finds every virtual table a statement reads (in joins, CTEs, subqueries, unions),
reads the AND-ed `col = literal` / `col IN (literals)` constraints that apply to each reference,
and turns them into API calls: required params fan out (one call per combination of values),
optional params become API filters, and a LIMIT that nothing else could shrink stops paging
early. DuckDB later re-applies the whole statement, so a plan may fetch more rows than needed
but never fewer: a param that decides which calls are made (a required param, a view's region
or endpoint) and that the WHERE clause constrains in any other way is refused, not guessed.

Its modules, one concern each: `syntax` (statements and syntax errors), `references` (which
virtual tables a statement reads), `constraints` (what a WHERE clause says about one
reference), `calls` (fan-out and merging), `views` (cross-cloud view expansion), `delete`
(DELETE as a SELECT plus a method) and `statement` (tying them together).
"""

from vpnsql.planner.calls import merge
from vpnsql.planner.model import Call, Delete, Explain, Resolved, Statement
from vpnsql.planner.statement import plan, plan_statement
from vpnsql.planner.syntax import decoded, readable, split_statements, split_with_offsets

__all__ = [
    "Call",
    "Delete",
    "Explain",
    "Resolved",
    "Statement",
    "decoded",
    "merge",
    "plan",
    "plan_statement",
    "readable",
    "split_statements",
    "split_with_offsets",
]
