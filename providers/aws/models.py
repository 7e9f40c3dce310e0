"""The slices of botocore's service models that vpnsql calls, kept in vpnsql's cache directory.

EC2's service model is the largest botocore ships (a 4 MB JSON document with some 700
operations), and reading it costs about 0.1 s on every run, a fifth of a one-liner; CloudWatch
Logs' costs about 0.01 s. vpnsql calls a few of those operations. The first run cuts them and
the shapes they reach out of the installed model and stores that (kB) under
$XDG_CACHE_HOME/vpnsql; later runs read it instead. The key is botocore's version and the model
files' size and time, so an upgrade or a model of the user's own (~/.aws/models) is cut again,
never served stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import Loader

from vpnsql.dirs import cache_dir

log = logging.getLogger("vpnsql")

OPERATIONS = {
    "ec2": (
        "DescribeClientVpnConnections",
        "DescribeRegions",
        "DescribeClientVpnEndpoints",
        "TerminateClientVpnConnections",
    ),
    "logs": ("FilterLogEvents",),
}
"""Every operation the AWS tables and methods call, by service; a client has only these."""


class SlimLoader(Loader):
    """A botocore data loader that gives the services of OPERATIONS as those operations only."""

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if type_name != "service-2" or service_name not in OPERATIONS:
            return super().load_service_model(service_name, type_name, api_version)
        version = api_version or self.determine_latest_version(service_name, type_name)
        key = self._key(service_name, version)
        path = cache_dir() / "botocore" / f"{service_name}-{version}-{key}.json"
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError):
            pass
        whole = super().load_service_model(service_name, type_name, version)
        model = slim(whole, OPERATIONS[service_name])
        _store(path, json.dumps(model, separators=(",", ":")).encode())
        return model

    def _key(self, service: str, version: str) -> str:
        """What the cut depends on: botocore's version and every model file it may read."""
        parts = [botocore.__version__, *OPERATIONS[service]]
        for base in self.search_paths:
            for name in ("service-2.json", "service-2.json.gz", "service-2.sdk-extras.json"):
                try:
                    stat = os.stat(os.path.join(base, service, version, name))
                except OSError:
                    continue
                parts.append(f"{base}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def slim(model: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The model with the operations `names` and the shapes they reach; documentation
    dropped."""
    operations = {name: model["operations"][name] for name in names}
    shapes: dict[str, Any] = {}
    pending = [ref for operation in operations.values() for ref in _operation_refs(operation)]
    while pending:
        name = pending.pop()
        if name in shapes:
            continue
        shape = shapes[name] = _undocumented(model["shapes"][name])
        pending.extend(_shape_refs(shape))
    return {
        "version": model.get("version"),
        "metadata": model["metadata"],
        "operations": {name: _undocumented(op) for name, op in operations.items()},
        "shapes": shapes,
    }


def _operation_refs(operation: dict[str, Any]) -> Iterator[str]:
    for key in ("input", "output"):
        if key in operation:
            yield operation[key]["shape"]
    for error in operation.get("errors", []):
        yield error["shape"]


def _shape_refs(shape: dict[str, Any]) -> Iterator[str]:
    for member in shape.get("members", {}).values():
        yield member["shape"]
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]


def _undocumented(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _undocumented(v) for k, v in node.items() if k != "documentation"}
    return node


def _store(path: Path, data: bytes) -> None:
    """Write atomically, or not at all: a cache that cannot be written costs time, not answers."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", delete=False) as handle:
            handle.write(data)
    except OSError as err:
        log.debug("could not cache a botocore model slice in %s: %s", path.parent, err)
        return
    try:
        os.replace(handle.name, path)
    except OSError as err:
        log.debug("could not cache a botocore model slice at %s: %s", path, err)
        Path(handle.name).unlink(missing_ok=True)
