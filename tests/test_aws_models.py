"""The model slices (EC2, CloudWatch Logs): what they keep, that they are cached, and that a
cache it cannot write costs nothing but time. Real botocore models, no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from vpnsql_providers.aws.models import OPERATIONS, SlimLoader


def references(node: Any) -> set[str]:
    """Every shape name the model refers to, wherever it is."""
    if isinstance(node, dict):
        own = {node["shape"]} if isinstance(node.get("shape"), str) else set()
        return own.union(*(references(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(references(value) for value in node))
    return set()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "vpnsql" / "botocore"


@pytest.mark.parametrize(
    ("service", "shape"), [("ec2", "ClientVpnConnection"), ("logs", "FilteredLogEvent")]
)
def test_the_slice_has_the_operations_and_every_shape_they_reach(
    cache: Path, service: str, shape: str
) -> None:
    model = SlimLoader().load_service_model(service, "service-2")
    assert sorted(model["operations"]) == sorted(OPERATIONS[service])
    assert references(model) <= set(model["shapes"])  # closed: nothing dangles
    assert shape in model["shapes"]
    assert "documentation" not in json.dumps(model)
    full = botocore.session.Session().get_component("data_loader")
    whole = full.load_service_model(service, "service-2")
    assert model["metadata"] == whole["metadata"]
    for name, shape in model["shapes"].items():  # every kept shape means what botocore's does
        assert shape.get("members", {}).keys() == whole["shapes"][name].get("members", {}).keys()


def test_later_loads_read_the_cached_slice(cache: Path) -> None:
    SlimLoader().load_service_model("ec2", "service-2")
    (path,) = cache.iterdir()
    cached = json.loads(path.read_text())
    cached["metadata"]["serviceId"] = "marked by the test"
    path.write_text(json.dumps(cached))
    again = SlimLoader().load_service_model("ec2", "service-2")
    assert again["metadata"]["serviceId"] == "marked by the test"


def test_a_new_model_file_is_cut_again(cache: Path, tmp_path: Path) -> None:
    SlimLoader().load_service_model("ec2", "service-2")
    extra = tmp_path / "models"
    version = SlimLoader().determine_latest_version("ec2", "service-2")
    (extra / "ec2" / version).mkdir(parents=True)
    whole = botocore.session.Session().get_component("data_loader")
    model = whole.load_service_model("ec2", "service-2")
    model["metadata"]["serviceId"] = "a model of the user's own"
    (extra / "ec2" / version / "service-2.json").write_text(json.dumps(model))
    custom = SlimLoader(extra_search_paths=[str(extra)]).load_service_model("ec2", "service-2")
    assert custom["metadata"]["serviceId"] == "a model of the user's own"
    assert len(list(cache.iterdir())) == 2


def test_an_unwritable_cache_still_gives_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    model = SlimLoader().load_service_model("ec2", "service-2")
    assert sorted(model["operations"]) == sorted(OPERATIONS["ec2"])
    assert list(tmp_path.iterdir()) == [blocked]


def test_other_services_and_types_are_botocore_own(cache: Path) -> None:
    loader = SlimLoader()
    assert "DescribeInstances" in loader.load_service_model("ec2", "paginators-1")["pagination"]
    assert "GetCallerIdentity" in loader.load_service_model("sts", "service-2")["operations"]
    assert not cache.exists()
