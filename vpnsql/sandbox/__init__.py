"""Local sandbox: a moto server with EC2 Client VPN, an Alibaba Cloud VPC emulator and an Azure
(Entra ID + Resource Manager) emulator.

``start()`` serves moto on a loopback port from a background thread (one server thread per
request, so concurrent fan-out really runs concurrently) and, by default, loads the demo
data of :mod:`vpnsql.sandbox.demo`.  Beside it, on a port of its own, runs the Alibaba
Cloud emulator of :mod:`vpnsql.sandbox.alibaba` (``Sandbox.alibaba``), and on a third, over
HTTPS, the Azure emulator of :mod:`vpnsql.sandbox.azure` (``Sandbox.azure``).  Point boto3,
the AWS CLI, the Azure SDKs and vpnsql at all three with ``Sandbox.env()``.

Besides moto's own routes the server answers ``POST /_vpnsql/seed`` and
``POST /_vpnsql/generate-log`` (see :mod:`vpnsql.sandbox.aws`), ``POST /_vpnsql/inject``
(``inject_aws_error`` over HTTP), ``GET /_vpnsql/calls`` (the calls served per account and
Action, as ``aws_calls``) and ``POST /_vpnsql/member`` (another member account of the
Organization).  CloudWatch Logs is moto's, with FilterLogEvents as :mod:`vpnsql.sandbox.logs`
makes it; Client VPN endpoints log as :mod:`vpnsql.sandbox.connection_logs` describes.
``latency`` adds that many seconds to every AWS, Alibaba and Azure API request (not to the
admin routes), for benchmarking concurrent fan-out.

All sandboxes in one process share moto's state: ``reset()`` wipes it (as does
``POST /moto-api/reset``), and ``start(demo=True)`` reloads the demo endpoints afresh.
Each sandbox has Alibaba and Azure state of its own (``Sandbox.alibaba.emulator``,
``Sandbox.azure.emulator``).
This package imports moto, so import it only when a sandbox is wanted; without the sandbox
extra, importing it is a MissingExtra error that says what to install.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from vpnsql.extras import needs_extra

with needs_extra("sandbox", "the sandbox"):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
    from werkzeug.wrappers import Request, Response

    from .aws import (
        DEFAULT_ACCOUNT_ID,
        create_endpoint,
        generate_connection_log,
        generate_log_from_json,
        reset,
        seed_connection_log,
        seed_connections,
        seed_from_json,
    )
    from .demo import load as load_demo
    from .estate import add_member, config_text, load_organization

from .alibaba import AlibabaServer
from .alibaba import start as start_alibaba
from .azure import AzureServer
from .azure import start as start_azure
from .ports import listen

__all__ = [
    "Sandbox",
    "aws_calls",
    "clear_aws_errors",
    "create_endpoint",
    "generate_connection_log",
    "inject_aws_error",
    "reset",
    "seed_connection_log",
    "seed_connections",
    "start",
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ADMIN_PREFIX = "/_vpnsql/"


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: the AWS server at ``endpoint_url``, ``alibaba`` and ``azure``;
    ``stop()`` stops all three.

    ``config_path`` is a vpnsql config file for the sandbox's estate (the Organization's
    accounts, two Alibaba accounts), written with the Alibaba profiles it names into a
    directory of its own that ``stop()`` removes.
    """

    endpoint_url: str
    _server: BaseWSGIServer = field(repr=False, compare=False)
    _thread: threading.Thread = field(repr=False, compare=False)
    alibaba: AlibabaServer = field(compare=False)
    config_path: Path = field(compare=False)
    azure: AzureServer = field(compare=False)

    def env(self) -> dict[str, str]:
        """Environment that points AWS SDKs, the AWS CLI and vpnsql at this sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
            **self.alibaba.env(),
            **self.azure.env(),
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self.alibaba.stop()
        self.azure.stop()
        shutil.rmtree(self.config_path.parent, ignore_errors=True)


def start(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    demo: bool = True,
    latency: float = 0.0,
    alibaba_port: int = 0,
) -> Sandbox:
    """Start moto with Client VPN on a loopback port in a background thread, and the Alibaba
    emulator on `alibaba_port` and the Azure emulator on a free port; seed demo data if
    asked. A port of 0 lets the OS pick a free one (no probe-then-bind race); a port in use
    is a SandboxError."""
    if latency < 0:
        raise ValueError("latency must be >= 0")
    moto_app: WSGIApp = _injecting(_by_service(DomainDispatcherApplication(create_backend_app)))
    if latency:
        moto_app = _delayed(moto_app, latency)
    listening = listen(host, port, "AWS")
    port = listening.getsockname()[1]
    try:
        server = make_server(
            host,
            port,
            _with_admin(moto_app),
            threaded=True,
            request_handler=_QuietHandler,
            fd=listening.fileno(),
        )
    finally:
        listening.close()  # werkzeug serves on its own duplicate of the socket
    thread = threading.Thread(target=server.serve_forever, name="vpnsql-sandbox", daemon=True)
    thread.start()
    load_organization()
    if demo:
        load_demo()
    try:
        alibaba = start_alibaba(host=host, port=alibaba_port, demo=demo, latency=latency)
    except BaseException:
        server.server_close()
        raise
    try:
        azure = start_azure(host=host, demo=demo, latency=latency)
    except BaseException:
        alibaba.stop()
        server.server_close()
        raise
    netloc = f"[{host}]" if ":" in host else host
    config = _write_config(alibaba)
    return Sandbox(f"http://{netloc}:{port}", server, thread, alibaba, config, azure)


def _write_config(alibaba: AlibabaServer) -> Path:
    """The estate's config file and the Alibaba profiles it names, readable by the user only
    (the profiles hold the emulator's dummy keys, as a real one holds real keys)."""
    directory = Path(tempfile.mkdtemp(prefix="vpnsql-sandbox-"))
    profiles = directory / "aliyun.json"
    profiles.write_text(json.dumps(alibaba.profiles(), indent=2), encoding="utf-8")
    config = directory / "config.toml"
    config.write_text(config_text(profiles), encoding="utf-8")
    return config


class _QuietHandler(WSGIRequestHandler):
    """Keeps werkzeug's per-request access log off the CLI's stderr, and Nagle off the
    connection (a keep-alive answer in two writes would wait ~40 ms for an ACK)."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


FAST_SERVICES = frozenset({"ec2", "sts", "organizations", "logs", "iam"})
"""Services whose signing name is moto's backend name: their requests skip moto's dispatch."""


def _by_service(dispatch: WSGIApp) -> WSGIApp:
    """Send a signed request straight to its service's moto app.

    moto's dispatcher works out the service of every request (host, headers, body) under one
    process-wide lock; at 64 calls in flight that lock, not the services, was the sandbox's
    limit. A signed request names its service in its credential scope
    (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`); anything else goes the long way."""
    apps: dict[str, WSGIApp] = {}
    lock = threading.Lock()

    def by_service(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        scope = environ.get("HTTP_AUTHORIZATION", "").partition("Credential=")[2].split("/")
        service = scope[3] if len(scope) > 4 else None
        if service not in FAST_SERVICES:
            return dispatch(environ, start_response)
        app = apps.get(service)
        if app is None:
            with lock:
                app = apps.get(service) or apps.setdefault(service, create_backend_app(service))
        return app(environ, start_response)

    return by_service


def _delayed(app: WSGIApp, latency: float) -> WSGIApp:
    """Wrap only when latency is wanted, so the default path pays nothing."""

    def delayed_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        time.sleep(latency)
        return app(environ, start_response)

    return delayed_app


_injected: list[tuple[str, str | None]] = []  # (code, the Action it answers, or any)
_injected_lock = threading.Lock()
_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
    "<Message>{message}</Message></Error></Errors><RequestID>{request}</RequestID></Response>"
)
_INJECTABLE = {
    "RequestLimitExceeded": (503, "Request limit exceeded."),
    "UnauthorizedOperation": (403, "You are not authorized to perform this operation."),
    "InvalidAction": (400, "The action is not valid for this web service."),
    "ThrottlingException": (400, "Rate exceeded"),
    "AccessDeniedException": (400, "User is not authorized to perform this action."),
}
"""Codes `inject_aws_error` can answer; each is written as the request's protocol writes
errors (EC2's XML, or the JSON of CloudWatch Logs and other JSON services)."""


def inject_aws_error(
    code: str = "RequestLimitExceeded", count: int = 1, action: str | None = None
) -> None:
    """Make the next `count` AWS API calls (of any sandbox in this process), or the next calls
    of `action` only (e.g. TerminateClientVpnConnections, FilterLogEvents), answer `code`:
    throttling to check retries, the others to check how errors surface."""
    if code not in _INJECTABLE:
        raise ValueError(f"code must be one of {sorted(_INJECTABLE)}")
    if not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    with _injected_lock:
        _injected.extend([(code, action)] * count)


def clear_aws_errors() -> int:
    """Drop the injected errors not answered yet; how many there were."""
    with _injected_lock:
        left = len(_injected)
        _injected.clear()
    return left


_calls: Counter[tuple[str, str]] = Counter()  # (account ID, Action) -> API calls served


def aws_calls(action: str | None = None, account_id: str | None = None) -> int:
    """AWS API calls served so far (of any sandbox in this process), injected errors too:
    of one Action and/or one account, or all of them."""
    with _injected_lock:
        return sum(
            count
            for (account, name), count in _calls.items()
            if action in (None, name) and account_id in (None, account)
        )


def _injecting(app: WSGIApp) -> WSGIApp:
    """Count each call by account and Action; answer an injected error instead of moto while
    any is pending."""

    def injecting_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        action = _action(environ)
        account = _account(environ)
        with _injected_lock:
            _calls[(account, action or "")] += 1
            code = _take_injected(action) if _injected else None
        if code is None:
            return app(environ, start_response)
        status, message = _INJECTABLE[code]
        if _json_target(environ) is not None:
            body = json.dumps({"__type": code, "message": message})
            response = Response(body, status=status, mimetype="application/x-amz-json-1.1")
        else:
            body = _ERROR_XML.format(code=code, message=message, request=uuid.uuid4())
            response = Response(body, status=status, mimetype="text/xml")
        return response(environ, start_response)

    return injecting_app


def _take_injected(action: str | None) -> str | None:
    """The first pending error meant for this request's Action (call under the lock)."""
    for index, (code, wanted) in enumerate(_injected):
        if wanted is None or wanted == action:
            del _injected[index]
            return code
    return None


def _json_target(environ: dict[str, Any]) -> str | None:
    """A JSON-protocol request's operation (`Logs_20140328.FilterLogEvents`), else None."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    return target.rpartition(".")[2] if target else None


def _action(environ: dict[str, Any]) -> str | None:
    """The request's operation: a JSON service's X-Amz-Target, else the EC2 Query API's
    Action, from the form body (put back for moto) or the query."""
    if (target := _json_target(environ)) is not None:
        return target
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    fields = parse_qs(body.decode("utf-8", "replace")) | parse_qs(environ.get("QUERY_STRING", ""))
    return fields.get("Action", [None])[0]


def _account(environ: dict[str, Any]) -> str:
    """The account a request is signed for: its access key's, as moto attributes it."""
    from moto.iam.models import get_account_id_from

    authorization = environ.get("HTTP_AUTHORIZATION", "")
    _, _, credential = authorization.partition("Credential=")
    return get_account_id_from(credential.split("/", 1)[0])


def _with_admin(app: WSGIApp) -> WSGIApp:
    """Route ``/_vpnsql/*`` to the admin handlers and everything else to moto."""

    def routed_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "").startswith(ADMIN_PREFIX):
            return _admin(Request(environ))(environ, start_response)
        return app(environ, start_response)

    return routed_app


def _admin(request: Request) -> Response:
    name = request.path.removeprefix(ADMIN_PREFIX)
    if name == "calls" and request.method == "GET":
        with _injected_lock:
            counts = [
                {"account_id": account, "action": action, "count": count}
                for (account, action), count in sorted(_calls.items())
            ]
        return _json({"calls": counts}, 200)
    route = _ADMIN_ROUTES.get(name)
    if route is None:
        return _json({"error": f"no admin route {request.path}"}, 404)
    if request.method != "POST":
        return _json({"error": "use POST"}, 405)
    try:
        return _json(route(json.loads(request.get_data() or b"null")), 200)
    except (ValueError, TypeError, KeyError) as error:
        return _json({"error": str(error)}, 400)


def _inject_from_json(payload: Any) -> dict[str, Any]:
    """`POST /_vpnsql/inject` with {"code", "count", "action"}: inject_aws_error over HTTP."""
    if not isinstance(payload, dict):
        raise ValueError('send a JSON object: {"code": ..., "count": ..., "action": ...}')
    inject_aws_error(**payload)
    with _injected_lock:
        return {"pending": len(_injected)}


def _member_from_json(payload: Any) -> dict[str, Any]:
    """`POST /_vpnsql/member` with {"name", "account_id", "role"}: another member account of
    the sandbox's Organization (`role: false` leaves out its OrganizationAccountAccessRole)."""
    if not isinstance(payload, dict) or not {"name", "account_id"} <= set(payload):
        raise ValueError('send a JSON object: {"name": ..., "account_id": ..., "role": true}')
    add_member(**payload)
    return {"account_id": payload["account_id"]}


_ADMIN_ROUTES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "seed": seed_from_json,
    "generate-log": generate_log_from_json,
    "inject": _inject_from_json,
    "member": _member_from_json,
}


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
