"""A fake cloud that misbehaves on purpose: answers no real cloud should give, or none at all.

Tests point both providers at it (the `misbehaving` fixture) and drive it with the real SDKs
through vpnsql, for failures the sandbox cannot produce: repeated page tokens, 200 answers
without their list, malformed values, calls that hang.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Asked:
    """One request a misbehaving server received: its API action and parameters."""

    action: str | None
    fields: dict[str, str]


Reply = tuple[int, str]
"""What a misbehaving server answers: HTTP status and body (XML for AWS, JSON for Alibaba)."""


class MisbehavingServer(ThreadingHTTPServer):
    """A fake cloud on 127.0.0.1 that answers each request with `answer(asked)`, or never
    answers at all when that returns None; it records what it was asked."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, answer: Callable[[Asked], Reply | None]) -> None:
        super().__init__(("127.0.0.1", 0), _MisbehavingHandler)
        self.answer = answer
        self.asked: list[Asked] = []
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Variables that point both providers here, with dummy keys and no machine config."""
        keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET")  # fmt: skip
        return {
            "AWS_ENDPOINT_URL_EC2": self.url,
            "VPNSQL_ALIBABA_ENDPOINT": self.url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ACCOUNT_ID": "111122223333",  # no sts:GetCallerIdentity to ask
            **dict.fromkeys(keys, "testing"),
        }

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


ALIBABA_REGIONS = json.dumps(
    {
        "RequestId": "r",
        "Regions": {"Region": [{"RegionId": "cn-hangzhou"}, {"RegionId": "eu-central-1"}]},
    }
)
"""Alibaba's DescribeRegions, which vpnsql asks before a region's first call: answered as a
real cloud would, so a test reaches the call it misbehaves on."""

OTHER_SETTINGS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION",
                  "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "ALIBABA_CLOUD_SECURITY_TOKEN",
                  "ALIBABA_CLOUD_PROFILE")  # fmt: skip
"""The machine's settings that would change what a test of a misbehaving server sees."""


class _MisbehavingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MisbehavingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        query = parse_qs(urlsplit(self.path).query) | parse_qs(body)
        fields = {name: values[0] for name, values in query.items()}
        asked = Asked(fields.get("Action") or self.headers.get("x-acs-action"), fields)
        if asked.action == "DescribeRegions" and "x-acs-action" in self.headers:
            reply: Reply | None = (200, ALIBABA_REGIONS)  # the estate's check of the region
        else:
            self.server.asked.append(asked)
            reply = self.server.answer(asked)
        if reply is None:  # hang until the test is over
            self.server.stopping.wait()
            return
        status, text = reply
        data = text.encode()
        self.send_response(status)
        json_body = text.startswith(("{", "["))
        self.send_header("content-type", "application/json" if json_body else "text/xml")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


def aws_answer(action: str, inner: str) -> str:
    """An EC2 Query API answer of `action` holding `inner` (XML elements)."""
    return (
        f'<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>r</requestId>{inner}</{action}Response>"
    )


def aws_connection(index: int = 0, **fields: str) -> str:
    """One <item> of DescribeClientVpnConnections; `fields` replace or add elements."""
    values = {"clientVpnEndpointId": "cvpn-endpoint-0123456789abcdef0",
              "connectionId": f"cvpn-connection-{index:017x}", "ingressBytes": "1",
              "connectionEstablishedTime": "2024-05-01 12:00:00", **fields}  # fmt: skip
    elements = "".join(f"<{name}>{value}</{name}>" for name, value in values.items())
    return f"<item>{elements}<status><code>active</code></status></item>"
