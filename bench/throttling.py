"""Throttling: how many runs at --max-concurrency 64 give their complete answer when the cloud
throttles every Nth call, per retry configuration.

A server of its own (a process apart, so it does not share the client's GIL) answers
DescribeClientVpnConnections (AWS XML) and DescribeSslVpnClients (Alibaba JSON) with a few
rows, and every Nth call, counted over both clouds, with the cloud's throttling error
(RequestLimitExceeded, HTTP 503; Throttling.User, HTTP 400). Each run is a fresh `vpnsql -e`
over ENDPOINTS endpoints of one region (one call each), with `region_concurrency = 64` in its
config file so that all 64 calls are in flight at once; a run passes when it exits 0 with
every row. botocore's legacy mode is there to show what standard mode's retry quota (500
tokens per client, 5 a retry) does to hard throttling.

    python bench/throttling.py --repeat 12 --every 5 --every 2 --adaptive-repeat 3

botocore's adaptive mode is run fewer times (`--adaptive-repeat`): its client-side rate limiter
makes each run take minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ENDPOINTS = 200
ROWS = 5
AWS_CONFIGS = {  # name: AWS_RETRY_MODE, AWS_MAX_ATTEMPTS ("" leaves vpnsql's default)
    "aws standard, 3 attempts (botocore's default)": ("standard", "3"),
    "aws standard, 5 attempts": ("standard", "5"),
    "aws adaptive, 3 attempts": ("adaptive", "3"),
    "aws adaptive, 5 attempts": ("adaptive", "5"),
    "aws legacy, 5 attempts (no retry quota)": ("legacy", "5"),
    "aws vpnsql's default": ("", ""),
}
AWS_ITEM = (
    "<item><clientVpnEndpointId>{endpoint}</clientVpnEndpointId>"
    "<connectionId>cvpn-connection-{index:017x}</connectionId><ingressBytes>1</ingressBytes>"
    "<status><code>active</code></status></item>"
)
AWS_PAGE = (
    '<DescribeClientVpnConnectionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
    "<requestId>r</requestId><connections>{items}</connections>"
    "</DescribeClientVpnConnectionsResponse>"
)
AWS_THROTTLED = (
    "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit "
    "exceeded.</Message></Error></Errors><RequestID>r</RequestID></Response>"
)


REGIONS = json.dumps({"RequestId": "r", "Regions": {"Region": [{"RegionId": "cn-hangzhou"}]}})


class Throttler(BaseHTTPRequestHandler):
    """Every `server.every`th request, over both clouds, is throttled."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        fields = parse_qs(body) | parse_qs(urlsplit(self.path).query)
        if self.headers.get("x-acs-action") == "DescribeRegions":  # vpnsql's region check
            self.send(200, "application/json", REGIONS)
            return
        throttled = self.server.count()  # type: ignore[attr-defined]
        if "ClientVpnEndpointId" in fields:
            endpoint = fields["ClientVpnEndpointId"][0]
            items = "".join(AWS_ITEM.format(endpoint=endpoint, index=i) for i in range(ROWS))
            answer = AWS_THROTTLED if throttled else AWS_PAGE.format(items=items)
            self.send(503 if throttled else 200, "text/xml", answer)
            return
        if throttled:
            error = {"Code": "Throttling.User", "Message": "flow control", "RequestId": "r"}
            self.send(400, "application/json", json.dumps(error))
            return
        clients = [{"CommonName": f"c{i}", "Status": "online", "SendBytes": 1} for i in range(ROWS)]
        page = {"RequestId": "r", "TotalCount": ROWS, "PageNumber": 1, "PageSize": 50,
                "ClientInfoList": clients}  # fmt: skip
        self.send(200, "application/json", json.dumps(page))

    do_GET = do_POST

    def send(self, status: int, kind: str, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class ThrottlingServer(ThreadingHTTPServer):
    request_queue_size = 256  # http.server's 5 would make 64 concurrent connects wait on SYNs
    daemon_threads = True

    def __init__(self, every: int) -> None:
        super().__init__(("127.0.0.1", 0), Throttler)
        self.every, self.served = every, 0
        self.lock = threading.Lock()

    def count(self) -> bool:
        with self.lock:
            self.served += 1
            return self.served % self.every == 0

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


def serve(every: int) -> None:
    server = ThrottlingServer(every)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def run_once(port: int, cloud: str, mode: str, attempts: str, config: str) -> tuple[bool, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALIBABA_"))}
    env |= {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_ACCOUNT_ID": "111122223333", "VPNSQL_CONFIG": config,
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ENDPOINT_URL_EC2": f"http://127.0.0.1:{port}",
            "VPNSQL_ALIBABA_ENDPOINT": f"http://127.0.0.1:{port}",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "x", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "x"}  # fmt: skip
    if mode:
        env["AWS_RETRY_MODE"] = mode
    if attempts:
        env["AWS_MAX_ATTEMPTS"] = attempts
    if cloud == "aws":
        ids = ", ".join(f"'cvpn-endpoint-{i:017x}'" for i in range(ENDPOINTS))
        sql = (f"SELECT count(*) FROM aws.ec2_api.client_vpn_connections "
               f"WHERE region = 'us-east-1' AND ClientVpnEndpointId IN ({ids})")  # fmt: skip
    else:
        ids = ", ".join(f"'vpn-{i:017x}'" for i in range(ENDPOINTS))
        sql = (f"SELECT count(*) FROM alibaba.vpc.ssl_vpn_clients "
               f"WHERE region = 'cn-hangzhou' AND VpnGatewayId IN ({ids})")  # fmt: skip
    argv = [sys.executable, "-m", "vpnsql.cli", "--max-concurrency", "64", "-o", "csv",
            "--no-header", "-e", sql]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    return result.returncode == 0 and result.stdout.strip() == str(ENDPOINTS * ROWS), elapsed


def main(repeat: int, everies: list[int], adaptive_repeat: int = 3) -> dict[str, float]:
    configs = [("aws", name, *config) for name, config in AWS_CONFIGS.items()]
    configs.append(("alibaba", "alibaba vpnsql's default", "", ""))
    figures: dict[str, float] = {}
    scratch = tempfile.TemporaryDirectory(prefix="vpnsql-bench-")
    config = Path(scratch.name) / "config.toml"
    config.write_text("[vpnsql]\nregion_concurrency = 64\n")
    for every in everies:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(every)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            print(f"\nthrottling every {every}th call, {ENDPOINTS} calls per run, "
                  "--max-concurrency 64")  # fmt: skip
            for cloud, name, mode, attempts in configs:
                runs = adaptive_repeat if mode == "adaptive" else repeat
                if not runs:
                    continue
                outcomes = [run_once(port, cloud, mode, attempts, str(config)) for _ in range(runs)]
                passed = sum(ok for ok, _ in outcomes)
                seconds = sorted(s for _, s in outcomes)[len(outcomes) // 2]
                print(f"  {name:<46} {passed:>3}/{runs} passed, median {seconds:6.2f} s")
                figures[f"every {every}: {name}"] = passed / runs
        finally:
            server.terminate()
            server.wait()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=12)
    parser.add_argument("--every", type=int, action="append", help="throttle every Nth call")
    parser.add_argument("--adaptive-repeat", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.serve)
    else:
        main(options.repeat, options.every or [5, 2], options.adaptive_repeat)
