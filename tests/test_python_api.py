"""The Python API as a notebook meets it: what `import vpnsql` offers, and a sandbox session."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest

import vpnsql

DEMO = (
    "SELECT count(*) FROM aws.ec2_api.client_vpn_connections "
    "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'"
)


def test_dir_offers_connect_session_and_the_errors() -> None:
    names = dir(vpnsql)
    assert {"connect", "Session", "VpnsqlError", "ParamError", "ProviderError"} <= set(names)
    assert vpnsql.Session.__name__ == "Session" and callable(vpnsql.connect)
    assert issubclass(vpnsql.CredentialsError, vpnsql.VpnsqlError)
    assert all(hasattr(vpnsql, name) for name in vpnsql.__all__)
    with pytest.raises(AttributeError):
        vpnsql.no_such_thing  # noqa: B018


def test_connect_sandbox_runs_on_a_fresh_sandbox_until_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod-that-must-not-be-used")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with vpnsql.connect(sandbox=True) as session:
        assert session.sandbox is not None
        url = session.sandbox.endpoint_url
        assert session.sql(DEMO).fetchall() == [(180,)]
        assert "AWS_PROFILE" not in os.environ
        # the sandbox's estate, as --sandbox has it: its config file was found
        accounts = session.sql("SELECT DISTINCT account FROM aws.ec2_api.client_vpn_endpoints")
        assert {a for (a,) in accounts.fetchall()} == {"management", "prod", "research"}
    # closed: the sandbox stopped and the real configuration is back
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)
    assert os.environ["AWS_PROFILE"] == "prod-that-must-not-be-used"
    assert "AWS_ENDPOINT_URL" not in os.environ
    session.close()  # twice is harmless


def test_close_without_a_sandbox_closes_duckdb() -> None:
    session = vpnsql.connect()
    assert session.sandbox is None
    assert session.sql("SELECT 42").fetchall() == [(42,)]
    session.close()
    with pytest.raises(vpnsql.QueryError):
        session.sql("SELECT 1")
