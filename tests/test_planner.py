"""The planner with literal SQL: which calls a statement needs, and which errors it raises."""

from __future__ import annotations

import os

import pytest

from vpnsql.errors import ParamError, SqlSyntaxError, UnknownTableError, UnsupportedStatementError
from vpnsql.planner import Call, plan, plan_statement, split_statements
from vpnsql.registry import Registry
from vpnsql.tables import Column, Param, Provider, Settings, Table
from vpnsql.views import PROVIDER as VIEWS
from vpnsql_providers.alibaba import PROVIDER as ALIBABA
from vpnsql_providers.aws import PROVIDER

EP = "cvpn-endpoint-0a1b2c3d4e5f60001"
EP2 = "cvpn-endpoint-0a1b2c3d4e5f60002"
CONNS = "aws.ec2_api.client_vpn_connections"
REGISTRY = Registry([PROVIDER])
BASE = f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' AND region = 'us-east-1'"
CLOUDS = Registry([PROVIDER, ALIBABA, VIEWS])
VIEW = "vpn.client_connections"


@pytest.fixture(autouse=True)
def no_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans must not depend on the machine's AWS configuration."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)


def calls(sql: str) -> tuple[Call, ...]:
    return plan_statement(sql, REGISTRY, Settings()).calls


def params(sql: str) -> list[dict[str, str]]:
    return [dict(c.params) for c in calls(sql)]


def test_equality_constraints_become_one_call() -> None:
    sql = f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' AND region = 'us-east-1'"
    assert params(sql) == [{"ClientVpnEndpointId": EP, "region": "us-east-1"}]


def test_column_names_match_case_insensitively_and_either_side() -> None:
    sql = f"SELECT * FROM {CONNS} WHERE '{EP}' = clientvpnendpointid AND REGION = 'eu-west-1'"
    assert params(sql) == [{"ClientVpnEndpointId": EP, "region": "eu-west-1"}]


def test_in_lists_fan_out_as_cartesian_product() -> None:
    sql = (
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId IN ('{EP}', '{EP2}') "
        "AND region IN ('us-east-1', 'eu-west-1')"
    )
    assert len(calls(sql)) == 4
    assert {(p["ClientVpnEndpointId"], p["region"]) for p in params(sql)} == {
        (e, r) for e in (EP, EP2) for r in ("us-east-1", "eu-west-1")
    }


def test_contradictory_constraints_make_no_call() -> None:
    sql = (
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' "
        "AND region = 'us-east-1' AND region = 'eu-west-1'"
    )
    assert calls(sql) == ()


GATEWAYS = Table(
    provider="acme",
    service="vpn",
    resource="sessions",
    description="A table whose gateway only a user can name.",
    columns=(Column("gatewayId", "VARCHAR", "The gateway."),),
    params=(Param("gatewayId", "The gateway.", required=True, example="gw-0abc"),),
    fetch=lambda request: iter(()),
)


def test_missing_required_param_names_it_with_an_example() -> None:
    registry = Registry([Provider("acme", "ACME.", (GATEWAYS,))])
    with pytest.raises(ParamError) as caught:
        plan_statement("SELECT * FROM acme.vpn.sessions", registry, Settings())
    assert "needs gatewayId" in caught.value.message
    assert "gatewayId = 'gw-0abc'" in (caught.value.hint or "")


def test_an_open_endpoint_id_is_left_to_discovery() -> None:
    found = calls(f"SELECT * FROM {CONNS} WHERE region IN ('us-east-1', 'eu-west-1')")
    assert [dict(c.params) for c in found] == [{"region": "eu-west-1"}, {"region": "us-east-1"}]
    assert all([p.name for p in c.discover] == ["account", "ClientVpnEndpointId"] for c in found)


def test_subquery_params_are_run_first_then_planned_with_their_values() -> None:
    inner = (
        "SELECT clientVpnEndpointId FROM aws.ec2_api.client_vpn_endpoints "
        "WHERE region = 'us-east-1' AND vpcId = 'vpc-1'"
    )
    sql = f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId IN ({inner}) AND region = 'us-east-1'"
    first = plan_statement(sql, REGISTRY, Settings())
    assert first.calls == ()
    assert len(first.pending) == 1
    (pending,) = first.pending
    second = plan_statement(sql, REGISTRY, Settings(), {pending: [EP, EP2]})
    endpoints = {dict(c.params).get("ClientVpnEndpointId") for c in second.calls}
    assert endpoints == {EP, EP2, None}  # None: the endpoints table the subquery reads
    with pytest.raises(ParamError, match="not a valid"):
        plan_statement(sql, REGISTRY, Settings(), {pending: ["nope"]})


def test_accounts_and_regions_left_open_are_filled_in_by_the_fetcher() -> None:
    """The plan does not depend on the configuration: the fetcher resolves the configured
    accounts and regions (or the defaults), in the table's declared order."""
    [call] = calls(f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}'")
    assert dict(call.params) == {"ClientVpnEndpointId": EP}
    assert [p.name for p in call.discover] == ["account", "region"]


def test_required_param_under_or_is_refused_not_defaulted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sql = (
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' "
        "AND (region = 'us-east-1' OR region = 'eu-west-1')"
    )
    with pytest.raises(ParamError, match="cannot plan"):
        calls(sql)


@pytest.mark.parametrize(
    "predicate",
    [
        "region = 'us-east'",
        "region = 5",
        "ClientVpnEndpointId = 'endpoint-1' AND region = 'us-east-1'",
        "region IN ('us-east-1', 'Robert''); DROP TABLE x')",
    ],
)
def test_invalid_literals_are_errors(predicate: str) -> None:
    sql = f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' AND {predicate}"
    with pytest.raises(ParamError, match=r"valid|string literal"):
        calls(sql)


def test_username_and_connection_id_push_down_as_filters() -> None:
    sql = (
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' AND region = 'us-east-1' "
        "AND username = 'bob' AND connectionId IN ('cvpn-connection-1', 'cvpn-connection-2')"
    )
    (call,) = calls(sql)
    assert dict(call.filters) == {
        "connectionId": ("cvpn-connection-1", "cvpn-connection-2"),
        "username": ("bob",),
    }


def test_null_in_a_list_is_dropped_since_it_matches_nothing() -> None:
    sql = (
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId IN ('{EP}', NULL) "
        "AND region IN ('us-east-1', NULL) AND username IN ('alice.ng', NULL)"
    )
    (call,) = calls(sql)
    assert dict(call.params) == {"ClientVpnEndpointId": EP, "region": "us-east-1"}
    assert dict(call.filters) == {"username": ("alice.ng",)}


@pytest.mark.parametrize(
    "predicate",
    [
        "region = NULL",
        "NULL = region",
        "region IN (NULL)",
        "region = 'us-east-1' AND username = NULL",
        "region = 'us-east-1' AND username IN (NULL, NULL)",
    ],
)
def test_a_param_equal_only_to_null_needs_no_call(predicate: str) -> None:
    planned = plan_statement(
        f"SELECT count(*) FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' AND {predicate}",
        REGISTRY,
        Settings(),
    )
    assert planned.calls == ()
    assert [t.name for t in planned.tables] == [CONNS]  # still loaded, empty: count(*) is 0


def test_contradictory_filters_need_no_call_rather_than_an_empty_api_filter() -> None:
    sql = f"{BASE} AND username = 'ann' AND username = 'bob'"
    assert calls(sql) == ()


def test_other_predicates_are_not_pushed_down() -> None:
    sql = (
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' AND region = 'us-east-1' "
        "AND username LIKE 'b%' AND ingressBytes > 10"
    )
    (call,) = calls(sql)
    assert call.filters == ()
    assert call.limit is None


@pytest.mark.parametrize(
    ("sql", "limit"),
    [
        (f"{BASE} LIMIT 5", 5),
        (f"{BASE} AND username = 'bob' LIMIT 5 OFFSET 10", 15),
        (f"{BASE} ORDER BY ingressBytes DESC LIMIT 5", None),
        (f"{BASE} AND ingressBytes > 0 LIMIT 5", None),
        (f"SELECT count(*) FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' "
         "AND region = 'us-east-1' LIMIT 5", None),
        (f"SELECT DISTINCT username FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' "
         "AND region = 'us-east-1' LIMIT 5", None),
        (BASE, None),
    ],
)  # fmt: skip
def test_limit_stops_paging_only_when_nothing_else_filters(sql: str, limit: int | None) -> None:
    (call,) = calls(sql)
    assert call.limit == limit


def test_alias_qualified_constraints_apply_to_their_own_reference() -> None:
    sql = (
        f"SELECT * FROM {CONNS} a JOIN {CONNS} b ON a.username = b.username "
        f"WHERE a.ClientVpnEndpointId = '{EP}' AND a.region = 'us-east-1' "
        f"AND b.ClientVpnEndpointId = '{EP2}' AND b.region = 'us-east-1' AND b.username = 'bob'"
    )
    by_endpoint = {dict(c.params)["ClientVpnEndpointId"]: c for c in calls(sql)}
    assert by_endpoint[EP].filters == ()
    assert dict(by_endpoint[EP2].filters) == {"username": ("bob",)}


def test_references_with_the_same_params_share_one_unfiltered_call() -> None:
    sql = (
        f"SELECT * FROM {CONNS} a, {CONNS} b WHERE a.ClientVpnEndpointId = '{EP}' "
        f"AND a.region = 'us-east-1' AND b.ClientVpnEndpointId = '{EP}' "
        "AND b.region = 'us-east-1' AND b.username = 'bob'"
    )
    (call,) = calls(sql)
    assert call.filters == ()


def test_tables_are_found_in_ctes_subqueries_and_unions() -> None:
    where = "WHERE ClientVpnEndpointId = '{}' AND region = 'us-east-1'"
    sql = (
        f"WITH c AS (SELECT * FROM {CONNS} {where.format(EP)}) "
        f"SELECT * FROM c WHERE username IN (SELECT username FROM {CONNS} {where.format(EP2)}) "
        "UNION ALL SELECT * FROM aws.ec2_api.client_vpn_endpoints WHERE region = 'eu-west-1'"
    )
    found = {(c.table.resource, tuple(sorted(dict(c.params).values()))) for c in calls(sql)}
    assert found == {
        ("client_vpn_connections", (EP, "us-east-1")),
        ("client_vpn_connections", (EP2, "us-east-1")),
        ("client_vpn_endpoints", ("eu-west-1",)),
    }


def test_unknown_table_suggests_the_nearest_name() -> None:
    with pytest.raises(UnknownTableError) as caught:
        calls("SELECT * FROM aws.ec2_api.client_vpn_connection WHERE region = 'us-east-1'")
    assert CONNS in (caught.value.hint or "")


def test_writing_into_a_virtual_table_is_refused() -> None:
    with pytest.raises(UnsupportedStatementError):
        calls(f"INSERT INTO {CONNS} SELECT * FROM {CONNS}")


def test_syntax_error_reports_line_and_column() -> None:
    with pytest.raises(SqlSyntaxError, match="line 2, column"):
        calls(f"SELECT *\nFROM {CONNS} WHERE (region = 'x'")


def test_a_view_over_a_virtual_table_is_refused() -> None:
    """Its rows would be whatever a later statement fetched (a table keeps them)."""
    where = f"WHERE ClientVpnEndpointId = '{EP}' AND region = 'us-east-1'"
    with pytest.raises(UnsupportedStatementError, match="a view over") as caught:
        calls(f"CREATE VIEW v AS SELECT * FROM {CONNS} {where}")
    assert "CREATE TABLE" in (caught.value.hint or "")
    assert len(calls(f"CREATE TABLE t AS SELECT * FROM {CONNS} {where}")) == 1
    assert calls("CREATE VIEW w AS SELECT 1 AS one") == ()


@pytest.mark.parametrize("limit", ["LIMIT 50 PERCENT", "LIMIT 50%", "LIMIT 100%"])
def test_a_percent_limit_needs_every_row(limit: str) -> None:
    (call,) = calls(
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{EP}' AND region = 'us-east-1' {limit}"
    )
    assert call.limit is None


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (f"SELECT * FROM {CONNS} WHERE region = 'us-east-1' AND", "AND needs something after it"),
        ("SELECT 1 -- it's a comment\n, 'open", "string that starts at line 2, column 3 never"),
        ("SELECT 'it''s' AS a, \"open", "quoted name that starts at line 1, column 22 never"),
        ("SELECT 1 /* open", "the /\\* comment that starts at line 1, column 10 never ends"),
    ],
)
def test_syntax_errors_say_what_is_wrong_in_words(sql: str, message: str) -> None:
    with pytest.raises(SqlSyntaxError, match=message) as caught:
        plan(sql, REGISTRY)
    assert "sqlglot" not in caught.value.message and "tokenizing" not in caught.value.message


def test_statements_without_virtual_tables_need_no_calls() -> None:
    assert calls("SELECT 42 AS answer") == ()
    assert calls("SUMMARIZE SELECT 1") == ()


def test_split_keeps_each_statement_exactly_as_written() -> None:
    text = "SELECT 'a;b' AS x; -- a comment; with a semicolon\nSELECT 2 ;\n;"
    assert split_statements(text) == [
        "SELECT 'a;b' AS x",
        "-- a comment; with a semicolon\nSELECT 2",
    ]
    assert [s.text for s in plan(text, REGISTRY)] == split_statements(text)


def test_param_aliases_set_the_same_param() -> None:
    from vpnsql.tables import Column, Param, Provider, Table

    table = Table(
        provider="demo",
        service="vpc",
        resource="clients",
        description="A table whose region may also be written RegionId.",
        columns=(Column("region", "VARCHAR", "Region."), Column("regionId", "VARCHAR", "Alias.")),
        params=(Param("region", "Region.", required=True, aliases=("RegionId",)),),
        fetch=lambda request: iter(()),
    )
    registry = Registry([Provider("demo", "Demo.", (table,))])
    sql = "SELECT * FROM demo.vpc.clients WHERE RegionId IN ('a', 'b') AND region = 'b'"
    (call,) = plan_statement(sql, registry, Settings()).calls
    assert dict(call.params) == {"region": "b"}
    with pytest.raises(ValueError, match="not a column"):
        Table("demo", "vpc", "bad", "", table.columns[:1], table.params, table.fetch)


JOINED = (
    "SELECT count(*) FROM aws.ec2_api.client_vpn_endpoints e "
    "{join} aws.ec2_api.client_vpn_connections c ON c.clientVpnEndpointId = e.clientVpnEndpointId "
    "WHERE e.region = 'eu-west-1' AND c.region = 'eu-west-1'"
)


@pytest.mark.parametrize("join", ["JOIN", "INNER JOIN", "LEFT JOIN"])
def test_a_join_on_a_required_param_leaves_it_to_discovery(join: str) -> None:
    found = {c.table.resource: c for c in calls(JOINED.format(join=join))}
    assert dict(found["client_vpn_endpoints"].params) == {"region": "eu-west-1"}
    connections = found["client_vpn_connections"]
    assert dict(connections.params) == {"region": "eu-west-1"}
    assert [p.name for p in connections.discover] == ["account", "ClientVpnEndpointId"]


def test_an_alibaba_join_on_the_gateway_leaves_it_to_discovery() -> None:
    sql = (
        "SELECT count(*) FROM alibaba.vpc.vpn_gateways g JOIN alibaba.vpc.ssl_vpn_clients c "
        "ON c.VpnGatewayId = g.VpnGatewayId WHERE g.region = 'cn-hangzhou' "
        "AND c.region = 'cn-hangzhou'"
    )
    found = {c.table.resource: c for c in plan_statement(sql, CLOUDS, Settings()).calls}
    assert dict(found["ssl_vpn_clients"].params) == {"region": "cn-hangzhou"}
    assert [p.name for p in found["ssl_vpn_clients"].discover] == ["account", "VpnGatewayId"]
    assert dict(found["vpn_gateways"].params) == {"region": "cn-hangzhou"}


@pytest.mark.parametrize(
    "predicate",
    [
        f"c.ClientVpnEndpointId = '{EP}' OR c.ClientVpnEndpointId = '{EP2}'",
        "c.ClientVpnEndpointId LIKE 'cvpn-endpoint-0a%'",
        "c.ClientVpnEndpointId = upper(e.clientVpnEndpointId)",
    ],
)
def test_a_join_does_not_hide_an_unplannable_constraint(predicate: str) -> None:
    with pytest.raises(ParamError, match="ClientVpnEndpointId is constrained in a way"):
        calls(f"{JOINED.format(join='JOIN')} AND ({predicate})")


def view_calls(sql: str) -> dict[str, dict[str, str]]:
    """The view's calls by provider (one each in these tests): their params."""
    planned = plan_statement(sql, CLOUDS, Settings()).calls
    return {c.table.provider: dict(c.params) for c in planned}


@pytest.mark.parametrize(
    ("predicate", "param"),
    [
        ("region = 'eu-west-1' OR region = 'eu-central-1'", "region"),
        ("region LIKE 'eu-%'", "region"),
        ("region <> 'us-east-1'", "region"),
        ("region = 'eu-west-1' AND (endpointId = 'a' OR endpointId = 'b')", "endpointId"),
        ("region = 'eu-west-1' AND endpointId LIKE 'cvpn-%'", "endpointId"),
    ],
)
def test_view_params_constrained_unplannably_are_refused_not_defaulted(
    monkeypatch: pytest.MonkeyPatch, predicate: str, param: str
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
    with pytest.raises(ParamError, match=f"{param} is constrained in a way vpnsql cannot plan"):
        view_calls(f"SELECT * FROM {VIEW} WHERE {predicate}")


@pytest.mark.parametrize(
    "predicate", ["provider = 'aws' OR status = 'active'", "provider NOT IN ('aws')"]
)
def test_a_provider_constraint_the_planner_cannot_read_asks_every_cloud(
    monkeypatch: pytest.MonkeyPatch, predicate: str
) -> None:
    """Unlike a region, it falls back to no default: every cloud is a superset to filter."""
    monkeypatch.setenv("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
    calls = view_calls(f"SELECT * FROM {VIEW} WHERE region = 'eu-west-1' AND ({predicate})")
    assert calls == {"aws": {"region": "eu-west-1"}, "alibaba": {"region": "eu-west-1"}}


def test_view_regions_are_filled_in_when_unconstrained_and_follow_equalities() -> None:
    defaults: dict[str, dict[str, str]] = {"aws": {}, "alibaba": {}}
    assert view_calls(f"SELECT * FROM {VIEW} WHERE status = 'active'") == defaults
    assert view_calls(f"SELECT * FROM {VIEW} v JOIN {VIEW} w ON v.region = w.region") == defaults
    assert view_calls(
        f"SELECT * FROM {VIEW} WHERE region IN ('eu-west-1', NULL) AND provider = 'aws'"
    ) == {"aws": {"region": "eu-west-1"}}
    assert view_calls(f"SELECT * FROM {VIEW} WHERE region = NULL") == {}


@pytest.mark.parametrize("provider", ["gcp", "AWS"])
def test_an_unknown_view_provider_is_an_error_naming_the_known_ones(provider: str) -> None:
    with pytest.raises(ParamError, match=r"not a known provider \(known: alibaba, aws\)"):
        view_calls(f"SELECT * FROM {VIEW} WHERE provider = '{provider}' AND region = 'eu-west-1'")


ENDPOINTS = "aws.ec2_api.client_vpn_endpoints"


def regions_of(sql: str, resource: str = "client_vpn_connections") -> set[str]:
    """The regions the calls on a table ask ({'open'} where the fetcher fills them in)."""
    found = set()
    for call in calls(sql):
        if call.table.resource == resource:
            found.add(dict(call.params).get("region", "open"))
    return found


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT e.description, count(c.connectionId) FROM {ENDPOINTS} e JOIN {CONNS} c "
        "ON c.clientVpnEndpointId = e.clientVpnEndpointId AND c.region = e.region "
        "WHERE e.region = 'eu-west-1' GROUP BY 1",
        f"SELECT * FROM {ENDPOINTS} e JOIN {CONNS} c USING (region) WHERE e.region = 'eu-west-1'",
        f"SELECT * FROM {ENDPOINTS} e, {CONNS} c WHERE c.region = e.region "
        "AND e.region = 'eu-west-1'",
        f"WITH eps AS (SELECT * FROM {ENDPOINTS} WHERE region = 'eu-west-1') "
        f"SELECT * FROM eps JOIN {CONNS} c ON c.region = eps.region",
        f"SELECT * FROM {CONNS} c JOIN (SELECT region AS r FROM {ENDPOINTS} "
        "WHERE region = 'eu-west-1') s ON c.region = s.r",
        f"SELECT * FROM (SELECT * FROM {CONNS}) s WHERE s.region = 'eu-west-1'",
        f"WITH x AS (SELECT * FROM {CONNS}) SELECT count(*) FROM x WHERE region = 'eu-west-1'",
        f"SELECT * FROM (SELECT region, count(*) AS n FROM {CONNS} GROUP BY region) s "
        "WHERE s.region = 'eu-west-1'",
    ],
    ids=["on", "using", "where", "cte", "subquery", "outer", "outer-cte", "group-key"],
)
def test_an_equality_carries_the_other_sides_values(sql: str) -> None:
    assert regions_of(sql) == {"eu-west-1"}


def test_equalities_between_open_params_leave_both_open() -> None:
    sql = f"SELECT * FROM {ENDPOINTS} e JOIN {CONNS} c ON c.region = e.region"
    assert regions_of(sql) == {"open"} and regions_of(sql, "client_vpn_endpoints") == {"open"}


def test_a_cte_used_twice_asks_what_both_uses_need() -> None:
    sql = (
        f"WITH x AS (SELECT * FROM {CONNS}) SELECT * FROM x a JOIN x b "
        "ON a.connectionId = b.connectionId WHERE a.region = 'us-east-1' AND b.region = 'eu-west-1'"
    )
    assert regions_of(sql) == {"us-east-1", "eu-west-1"}


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT * FROM {CONNS} c JOIN my_regions t ON c.region = t.region",
        f"SELECT * FROM {CONNS} c JOIN (SELECT lower(region) AS r FROM {ENDPOINTS} "
        "WHERE region = 'eu-west-1') s ON c.region = s.r",
        f"SELECT * FROM (SELECT * FROM {CONNS} LIMIT 5) s WHERE s.region = 'eu-west-1'",
        f"SELECT * FROM (SELECT * FROM {CONNS}) s WHERE s.region LIKE 'eu-%'",
        f"SELECT * FROM {VIEW} v JOIN my_regions t ON v.region = t.region",
    ],
    ids=["duckdb-table", "computed", "through-limit", "like-outside", "view"],
)
def test_an_equality_the_plan_cannot_know_is_refused_not_defaulted(sql: str) -> None:
    with pytest.raises(ParamError, match="region"):
        plan_statement(sql, CLOUDS, Settings())


def test_an_equated_endpoint_is_discovered_when_its_values_cannot_be_known() -> None:
    """Discovery asks every endpoint: a superset DuckDB joins, never an answer from defaults."""
    sql = f"SELECT * FROM {CONNS} c JOIN my_endpoints t ON c.clientVpnEndpointId = t.id"
    [call] = plan_statement(sql, CLOUDS, Settings()).calls
    assert "ClientVpnEndpointId" in [p.name for p in call.discover]


def test_the_view_takes_an_equated_tables_regions() -> None:
    sql = (
        f"SELECT * FROM {VIEW} v JOIN {ENDPOINTS} e ON v.region = e.region "
        "WHERE e.region = 'eu-west-1'"
    )
    found = plan_statement(sql, CLOUDS, Settings()).calls
    regions = {(c.table.provider, dict(c.params).get("region")) for c in found if c.via}
    assert regions == {("aws", "eu-west-1"), ("alibaba", "eu-west-1")}
