"""Client VPN connection logging for the sandbox: AWS's log entries, in moto's CloudWatch Logs.

An endpoint whose ``ConnectionLogOptions`` are enabled publishes, as AWS documents
(https://docs.aws.amazon.com/vpn/latest/clientvpn-admin/connection-logging.html):

* a ``connection-attempt`` entry when a client connects (``successful``) or is refused
  (``failed``, with a reason such as ``client-connect-failed``; the client got no address);
* a ``connection-reset`` entry when the connection ends (terminated, or seeded as ended), with
  the final byte and packet counts, the end time and the duration.

Every value is a string and ``NA`` stands for none; ``posture-compliance-statuses`` (only when
the client connect handler returned some) is a JSON array of strings, and ``client-ipv6`` is
written only for connections with an IPv6 address, as a key newer than the others.  An entry is
published (its CloudWatch timestamp) a moment after what it describes.  Without a
``CloudwatchLogStream`` the endpoint writes to a stream of its own naming, which
DescribeClientVpnEndpoints does not report.

``generate_log`` fills a stream with a synthetic, position-computed history (benchmarks).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from moto.ec2.exceptions import EC2ClientError
from moto.logs.models import logs_backends

from .logs import generated_stream, log_stream

__all__ = ["generate_log", "log_attempt", "log_reset", "log_stream", "open_log"]

if TYPE_CHECKING:
    from .aws import Connection, Endpoint

NA = "NA"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAILURE_REASONS = (
    "client-connect-failed",
    "client-connect-handler-timed-out",
    "authorization-policy-deny",
    "client-connect-handler-other-execution-error",
)
DEVICE_TYPES = ("mac", "windows", "linux", "ios", "android")


def destination(endpoint: Endpoint) -> tuple[str, str] | None:
    """(log group, log stream) the endpoint publishes to, or None with logging off."""
    options = endpoint.fields.get("ConnectionLogOptions") or {}
    if not options.get("Enabled"):
        return None
    stream = options.get("CloudwatchLogStream") or endpoint.log_stream
    return options["CloudwatchLogGroup"], stream


def open_log(endpoint: Endpoint, rng: Any) -> None:
    """Check a new endpoint's ConnectionLogOptions as AWS does (the group must exist) and
    create its stream: the one named, else one named like Client VPN names its own."""
    options = endpoint.fields.get("ConnectionLogOptions") or {}
    if not options.get("Enabled"):
        return
    group = options.get("CloudwatchLogGroup")
    if not group:
        raise EC2ClientError(
            "InvalidParameterValue",
            "CloudwatchLogGroup is required when connection logging is enabled.",
        )
    if group not in logs_backends[endpoint.account_id][endpoint.region].groups:
        raise EC2ClientError(
            "InvalidParameterValue", f"The specified log group '{group}' does not exist."
        )
    stream = options.get("CloudwatchLogStream")
    if not stream:
        suffix = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(12))
        stream = endpoint.log_stream = (
            f"{endpoint.endpoint_id}-{endpoint.region}-{endpoint.created:%Y/%m/%d}-{suffix}"
        )
    log_stream(endpoint.account_id, endpoint.region, group, stream)


def log_attempt(endpoint: Endpoint, connection: Connection, failure: str | None = None) -> None:
    """The connection-attempt entry of a connection (refused with `failure`, if given)."""
    document = _document(endpoint, connection, failure=failure)
    _publish(endpoint, connection, connection.established, document)


def log_reset(endpoint: Endpoint, connection: Connection) -> None:
    """The connection-reset entry of a connection that ended."""
    assert connection.ended is not None
    _publish(endpoint, connection, connection.ended, _document(endpoint, connection, reset=True))


def _publish(
    endpoint: Endpoint, connection: Connection, moment: datetime, document: dict[str, Any]
) -> None:
    target = destination(endpoint)
    if target is None:
        return
    delay = random.Random(f"{connection.connection_id}{document['connection-log-type']}")
    published = min(moment + timedelta(milliseconds=delay.randint(40, 2500)), datetime.now(UTC))
    stream = log_stream(endpoint.account_id, endpoint.region, *target)
    stream.put_log_events([{"timestamp": millis(published), "message": json.dumps(document)}])


def millis(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _document(
    endpoint: Endpoint, connection: Connection, *, failure: str | None = None, reset: bool = False
) -> dict[str, Any]:
    """The entry, keys in AWS's order; device details are stable per connection."""
    device = random.Random(connection.connection_id)
    ended = connection.ended if reset else None
    counted = reset or failure is None
    document: dict[str, Any] = {
        "connection-log-type": "connection-reset" if reset else "connection-attempt",
        "connection-attempt-status": NA if reset else ("failed" if failure else "successful"),
        "connection-reset-status": NA,
        "connection-attempt-failure-reason": failure or NA,
        "connection-id": connection.connection_id,
        "client-vpn-endpoint-id": endpoint.endpoint_id,
        "transport-protocol": endpoint.fields.get("TransportProtocol", "udp"),
        "connection-start-time": _time(connection.established),
        "connection-last-update-time": _time(ended or connection.established),
        "client-ip": NA if failure else connection.client_ip,
        "common-name": connection.common_name,
        "device-type": device.choice(DEVICE_TYPES),
        "device-ip": f"{device.choice((198, 203))}.{device.choice((51, 0))}."
        f"{device.choice((100, 113))}.{device.randint(1, 254)}",
        "port": str(device.randint(1024, 65535)),
        "ingress-bytes": str(connection.ingress_bytes if reset else 0),
        "egress-bytes": str(connection.egress_bytes if reset else 0),
        "ingress-packets": str(connection.ingress_packets if reset else 0),
        "egress-packets": str(connection.egress_packets if reset else 0),
        "connection-end-time": _time(ended) if ended else NA,
    }
    if connection.client_ipv6 and counted:
        document["client-ipv6"] = connection.client_ipv6
    if connection.posture is not None:
        document["posture-compliance-statuses"] = list(connection.posture)
    document["username"] = connection.username or NA
    document["connection-duration-seconds"] = (
        str(int((ended - connection.established).total_seconds())) if ended else NA
    )
    return document


def _moment(stamp: int) -> datetime:
    return EPOCH + timedelta(milliseconds=stamp)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def generate_log(
    endpoint: Endpoint,
    *,
    days: float,
    per_day: int,
    seed: int = 0,
    until: datetime | None = None,
) -> int:
    """Fill the endpoint's log stream with `per_day` entries a day over the last `days` days,
    computed from their position when read (no memory per entry): evenly spaced pairs of a
    successful connection-attempt and its connection-reset, one pair in twenty two refused
    attempts instead. Returns how many entries there are."""
    target = destination(endpoint)
    if target is None:
        raise ValueError(f"{endpoint.endpoint_id} has connection logging off")
    count = int(days * per_day)
    end = millis(until or datetime.now(UTC))
    step = 86_400_000 / per_day
    start = end - int(count * step)
    template: Mapping[str, str] = {
        "client-vpn-endpoint-id": endpoint.endpoint_id,
        "transport-protocol": endpoint.fields.get("TransportProtocol", "udp"),
    }

    def timestamp(index: int) -> int:
        return start + int(index * step)

    def document(index: int) -> dict[str, Any]:
        pair, second = divmod(index, 2)
        rng = random.Random(seed * 1_000_003 + pair)
        failed = rng.random() < 0.05  # then both entries are refused attempts
        reset = second and not failed
        began = _moment(timestamp(index if failed else 2 * pair))
        ended = _moment(timestamp(2 * pair + 1))
        user = f"user{rng.randrange(500):03d}"
        received = rng.randrange(10**3, 10**9) if reset else 0
        sent = rng.randrange(10**3, 10**9) if reset else 0
        number = f"f{index:014x}" if failed else f"0{pair:014x}"
        return {
            "connection-log-type": "connection-reset" if reset else "connection-attempt",
            "connection-attempt-status": NA if reset else ("failed" if failed else "successful"),
            "connection-reset-status": NA,
            "connection-attempt-failure-reason": rng.choice(FAILURE_REASONS) if failed else NA,
            "connection-id": f"cvpn-connection-{seed % 256:02x}{number}",
            **template,
            "connection-start-time": _time(began),
            "connection-last-update-time": _time(ended if reset else began),
            "client-ip": NA if failed else f"10.{pair >> 16 & 255}.{pair >> 8 & 255}.{pair & 255}",
            "common-name": f"{user}.example.com",
            "device-type": rng.choice(DEVICE_TYPES),
            "device-ip": f"203.0.113.{rng.randint(1, 254)}",
            "port": str(rng.randint(1024, 65535)),
            "ingress-bytes": str(received),
            "egress-bytes": str(sent),
            "ingress-packets": str(received // 900),
            "egress-packets": str(sent // 900),
            "connection-end-time": _time(ended) if reset else NA,
            "username": user,
            "connection-duration-seconds": (
                str(int((ended - began).total_seconds())) if reset else NA
            ),
        }

    generated_stream(endpoint.account_id, endpoint.region, *target, count, timestamp, document)
    return count
