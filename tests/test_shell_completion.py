"""Shell completion with literal text: what `suggest()` offers where, and the Enter rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from vpnsql.lexing import is_complete
from vpnsql.planner import Call
from vpnsql.registry import Registry
from vpnsql.script import parts
from vpnsql.shell import meta
from vpnsql.shell.completion import ShellCompleter, ValueBook, Vocabulary, suggest
from vpnsql_providers.aws import PROVIDER

CONNS = "aws.ec2_api.client_vpn_connections"
EP = "cvpn-endpoint-0a1b2c3d4e5f60001"
REGISTRY = Registry([PROVIDER])
TERMINATE = f"{CONNS}.client_vpn_connections_Terminate"


@pytest.fixture
def vocabulary() -> Vocabulary:
    return Vocabulary(REGISTRY, ValueBook(REGISTRY), meta.choices(REGISTRY), meta.file_commands())


def texts(before: str, vocabulary: Vocabulary, after: str = "") -> list[str]:
    return suggest(before, after, vocabulary).texts


def test_a_partial_table_name_completes_to_the_table(vocabulary: Vocabulary) -> None:
    found = suggest("SELECT * FROM aws.ec2_api.client_vpn_con", "", vocabulary)
    assert found.word == "aws.ec2_api.client_vpn_con"  # what the completion replaces
    assert found.texts == [CONNS]


def test_table_names_complete_one_segment_at_a_time(vocabulary: Vocabulary) -> None:
    assert texts("SELECT * FROM a", vocabulary) == ["aws"]
    assert texts("SELECT * FROM aws.", vocabulary) == ["aws.ec2_api", "aws.logs"]
    assert texts("select * from AWS.EC2_API.", vocabulary) == [
        CONNS,
        "aws.ec2_api.client_vpn_endpoints",
    ]
    assert texts("SELECT * FROM client_vpn_e", vocabulary) == ["aws.ec2_api.client_vpn_endpoints"]
    assert texts(f"SELECT * FROM {CONNS} c JOIN aws.ec2_api.client_vpn_en", vocabulary) == [
        "aws.ec2_api.client_vpn_endpoints"
    ]


def test_after_where_the_required_params_come_first(vocabulary: Vocabulary) -> None:
    found = texts(f"SELECT * FROM {CONNS} WHERE ", vocabulary)
    assert found[:3] == ["account = ", "region = ", "ClientVpnEndpointId = "]  # declared order
    assert "connectionId" in found and "clientVpnEndpointId" not in found
    # a param already set is not offered again; the others still are, first
    after_region = texts(f"SELECT * FROM {CONNS} WHERE region = 'us-east-1' AND ", vocabulary)
    assert after_region[:2] == ["account = ", "ClientVpnEndpointId = "]
    assert "region = " not in after_region
    endpoints = texts("SELECT * FROM aws.ec2_api.client_vpn_endpoints WHERE re", vocabulary)
    assert endpoints[0] == "region = "


def test_a_param_set_later_in_the_statement_counts(vocabulary: Vocabulary) -> None:
    before = f"SELECT * FROM {CONNS} WHERE "
    after = f" AND ClientVpnEndpointId = '{EP}' AND account = 'default';"
    assert texts(before, vocabulary, after)[0] == "region = "


def test_columns_come_from_the_tables_in_the_statement(vocabulary: Vocabulary) -> None:
    # the FROM is after the cursor
    assert texts("SELECT ingress", vocabulary, f" FROM {CONNS}") == [
        "ingressBytes",
        "ingressPackets",
    ]
    assert texts("SELECT bytes", vocabulary, f" FROM {CONNS}") == ["ingressBytes", "egressBytes"]
    assert texts(f"SELECT c.user FROM {CONNS} AS c WHERE c.connection", vocabulary) == [
        "c.connectionId",
        "c.connectionEstablishedTime",
        "c.connectionEndTime",
    ]
    assert "vpcId" in texts("SELECT ", vocabulary, " FROM aws.ec2_api.client_vpn_endpoints")
    assert "vpcId" not in texts("SELECT ", vocabulary, f" FROM {CONNS}")


def test_keywords_follow_the_case_being_typed(vocabulary: Vocabulary) -> None:
    assert texts("sel", vocabulary) == ["select"]
    assert texts("SEL", vocabulary) == ["SELECT"]
    assert texts("SELECT sin", vocabulary) == []  # keywords match by prefix only (not USING)
    assert texts(f"SELECT * FROM {CONNS} ORD", vocabulary) == ["ORDER BY"]
    assert texts("SELECT 1; sh", vocabulary) == ["show"]


def test_values_seen_are_offered_where_a_value_goes(vocabulary: Vocabulary) -> None:
    vocabulary.values.add_rows(["clientVpnEndpointId", "ingressBytes"], [(EP, 5)])
    vocabulary.values.add_calls([Call(PROVIDER.tables[0], (("region", "eu-west-1"),))])
    vocabulary.values.add("region", "us-east-1")
    where = f"SELECT * FROM {CONNS} WHERE "
    assert texts(where + "region = '", vocabulary)[:2] == ["us-east-1'", "eu-west-1'"]
    assert texts(where + "region = 'eu-west-1", vocabulary) == ["eu-west-1'"]
    assert texts(where + "region IN ('us-east-1', ", vocabulary)[:2] == [
        "'us-east-1'",
        "'eu-west-1'",
    ]
    assert texts(where + "ClientVpnEndpointId = ", vocabulary)[0] == f"'{EP}'"
    assert texts(where + "connectionId = '", vocabulary) == []  # nothing seen for it
    vocabulary.values.add("username", "o'brien")
    assert texts(where + "username = ", vocabulary)[0] == "'o''brien'"
    assert texts(where + "region = 'us' -- '", vocabulary) == []  # in a comment


def test_exec_offers_methods_then_their_params(vocabulary: Vocabulary) -> None:
    assert texts("EXEC aws.ec2_api.client_vpn_connections.client", vocabulary) == [TERMINATE]
    params = texts(f"EXEC {TERMINATE} ", vocabulary)
    assert params[:3] == ["@account=", "@ClientVpnEndpointId=", "@region="]
    assert {"@ConnectionId=", "@Username=", "@DryRun="} <= set(params)
    rest = texts(f"EXEC {TERMINATE} @account='default', @ClientVpnEndpointId='{EP}', @", vocabulary)
    assert rest[0] == "@region=" and "@ClientVpnEndpointId=" not in rest


def test_show_and_describe(vocabulary: Vocabulary) -> None:
    assert "RESOURCES" in texts("SHOW ", vocabulary)
    assert texts("SHOW RESOURCES IN ", vocabulary) == ["aws.ec2_api", "aws.logs"]
    assert texts("DESCRIBE aws.ec2_api.client_vpn_e", vocabulary) == [
        "aws.ec2_api.client_vpn_endpoints"
    ]


def test_meta_commands_and_their_arguments(vocabulary: Vocabulary) -> None:
    assert texts(".ti", vocabulary) == [".timer"]
    assert texts(".timer o", vocabulary) == ["on", "off"]
    assert "json" in texts(".output ", vocabulary)
    assert texts(".describe aws.ec2_api.client_vpn_c", vocabulary) == [CONNS]


def test_the_completer_replaces_the_word_at_the_cursor(vocabulary: Vocabulary) -> None:
    document = Document("SELECT * FROM aws.ec2_api.client_vpn_con")
    (completion,) = ShellCompleter(vocabulary).get_completions(document, CompleteEvent())
    assert completion.text == CONNS
    assert completion.start_position == -len("aws.ec2_api.client_vpn_con")
    assert completion.display_meta_text == "table"


def test_read_and_once_complete_file_paths(vocabulary: Vocabulary, tmp_path: Path) -> None:
    (tmp_path / "audit.sql").write_text("")
    (tmp_path / "audit-old.sql").write_text("")
    (tmp_path / "other.txt").write_text("")
    completer = ShellCompleter(vocabulary)

    def completed(line: str) -> list[str]:
        found = completer.get_completions(Document(line), CompleteEvent())
        return sorted(line[: len(line) + c.start_position] + c.text for c in found)

    for command in (".read", ".once", ".READ"):
        assert completed(f"{command} {tmp_path}/aud") == [
            f"{command} {tmp_path}/audit-old.sql",
            f"{command} {tmp_path}/audit.sql",
        ]
    assert completed(".output j") == [".output json", ".output jsonl"]
    assert meta.file_commands() == {".read", ".once"}


def test_a_script_splits_into_statements_and_meta_commands() -> None:
    script = (
        ".output csv\nSELECT 1;\n  .timer on\nSELECT 2\n.5 AS half,\n'x';\n.read more.sql\nSELECT 3"
    )
    found = list(parts(script))
    assert [(p.kind, p.text) for p in found] == [
        ("meta", ".output csv"),
        ("sql", "SELECT 1;"),
        ("meta", ".timer on"),
        ("sql", "SELECT 2\n.5 AS half,\n'x';"),  # a line in an open statement is SQL
        ("meta", ".read more.sql"),
        ("sql", "SELECT 3"),
    ]
    # each part knows where it starts, for FILE:LINE:COL errors
    assert all(script[p.offset :].startswith(p.text) for p in found)
    commented = (
        "-- a comment\n.output csv\nSELECT 1; -- trailing\n/* block\n.not meta */\n.timer on"
    )
    assert [(p.kind, p.text) for p in parts(commented)] == [
        ("sql", "-- a comment"),
        ("meta", ".output csv"),
        ("sql", "SELECT 1; -- trailing\n/* block\n.not meta */"),
        ("meta", ".timer on"),
    ]


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("SELECT 1;", True),
        ("SELECT 1", False),
        ("SELECT ';'", False),
        ("SELECT 'it''s;", False),
        ("SELECT 1 /* ; */", False),
        ("SELECT 1; -- done", True),
        ("  .tables", True),
        ("", True),
    ],
)
def test_enter_runs_only_complete_input(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


def test_no_menu_on_an_empty_continuation_line_unless_tab(vocabulary: Vocabulary) -> None:
    completer = ShellCompleter(vocabulary)
    typed = CompleteEvent(text_inserted=True)
    for text in (f"SELECT *\nFROM {CONNS}\n", "SELECT *\n   ", ""):
        assert list(completer.get_completions(Document(text), typed)) == [], repr(text)
    tab = CompleteEvent(completion_requested=True)
    assert list(completer.get_completions(Document(f"SELECT *\nFROM {CONNS}\n"), tab))
    assert list(completer.get_completions(Document(f"SELECT *\nFROM {CONNS}\nW"), typed))


def test_accepting_a_param_then_a_quote_leaves_one_space(vocabulary: Vocabulary) -> None:
    before = f"SELECT * FROM {CONNS} WHERE "
    [param] = [
        c for c in suggest(before, "", vocabulary).candidates if c.display == "ClientVpnEndpointId"
    ]
    assert param.kind == "param (discovered)"
    typed = before + param.text + "'"
    assert typed.endswith("ClientVpnEndpointId = '") and "  " not in typed
    vocabulary.values.add("ClientVpnEndpointId", EP)
    after_quote = suggest(typed, "", vocabulary)
    assert (after_quote.word, after_quote.texts[:1]) == ("", [f"{EP}'"])


def test_values_discovery_found_are_offered(vocabulary: Vocabulary) -> None:
    """Endpoints found while fanning out (FetchStats.discovered), not only shown ones."""
    vocabulary.values.add_discovered([("ClientVpnEndpointId", "cvpn-endpoint-00000000000000777")])
    before = f"SELECT * FROM {CONNS} WHERE region = 'us-east-1' AND ClientVpnEndpointId = "
    assert "'cvpn-endpoint-00000000000000777'" in texts(before, vocabulary)


def test_known_regions_come_from_the_sdk_data_after_the_seen_ones(vocabulary: Vocabulary) -> None:
    before = f"SELECT * FROM {CONNS} WHERE region = "
    vocabulary.values.add("region", "eu-west-1")
    offered = texts(before, vocabulary)
    assert offered[0] == "'eu-west-1'"  # seen this session: first
    assert {"'us-east-1'", "'ap-southeast-2'", "'cn-north-1'", "'us-gov-west-1'"} <= set(offered)
    assert offered.count("'eu-west-1'") == 1
    assert "'us-esat-1'" not in offered and "'aws-global'" not in offered
    inside = suggest(before + "'ap-south", "", vocabulary).texts
    assert "ap-south-1'" in inside and "ap-southeast-1'" in inside
