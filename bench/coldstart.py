"""Cold start: `vpnsql --help`, and one endpoint's connections by `vpnsql -e` against
`aws ec2 describe-client-vpn-connections` on the same sandbox. Targets: --help < 0.15 s; the
query no slower than the AWS CLI.

vpnsql keeps the slice of botocore's EC2 model it uses in its cache directory; the run that
makes it is reported on its own line, and the medians are of the runs after it, in a cache
directory of the benchmark's own.
"""

from __future__ import annotations

import shutil
import sys
import tempfile

from common import report, sandbox, seed, timed_process

ENDPOINT_ID = "cvpn-endpoint-0c0c0c0c0c0c0c0c0"
REGION = "us-east-1"


def main(repeat: int) -> dict[str, float]:
    vpnsql = shutil.which("vpnsql") or sys.exit("vpnsql is not installed (pip install -e .)")
    aws = shutil.which("aws")
    results: dict[str, list[float]] = {}
    with sandbox() as env, tempfile.TemporaryDirectory() as cache:
        env = {**env, "XDG_CACHE_HOME": cache}
        seed(env, REGION, ENDPOINT_ID, 50)
        query = (
            "SELECT * FROM aws.ec2_api.client_vpn_connections "
            f"WHERE ClientVpnEndpointId = '{ENDPOINT_ID}' AND region = '{REGION}'"
        )
        first, _, out = timed_process([vpnsql, "-o", "json", "-e", query], env)
        assert out.count("cvpn-connection-") == 50
        results["vpnsql -e, first run: cuts the EC2 model (s, once)"] = [first]
        for _ in range(repeat):
            results.setdefault("vpnsql --help (s)", []).append(
                timed_process([vpnsql, "--help"], env)[0]
            )
            seconds, _, out = timed_process([vpnsql, "-o", "json", "-e", query], env)
            assert out.count("cvpn-connection-") == 50
            results.setdefault("vpnsql -e, one endpoint (s)", []).append(seconds)
            if aws:
                argv = [aws, "ec2", "describe-client-vpn-connections", "--region", REGION,
                        "--client-vpn-endpoint-id", ENDPOINT_ID]  # fmt: skip
                seconds, _, out = timed_process(argv, env)
                assert out.count("cvpn-connection-") == 50
                results.setdefault("aws ec2 describe-client-vpn-connections (s)", []).append(
                    seconds
                )
    median = report("cold start", results)
    print(f"  vpnsql --help: {median['vpnsql --help (s)']:.3f} s (target < 0.15 s)")
    if not aws:
        print("  the AWS CLI is not installed (pip install awscli): no comparison")
        return {"--help (s)": median["vpnsql --help (s)"]}
    ratio = (
        median["vpnsql -e, one endpoint (s)"]
        / median["aws ec2 describe-client-vpn-connections (s)"]
    )
    print(f"  vpnsql -e / aws ec2 describe-client-vpn-connections: {ratio:.2f}x (target <= 1x)")
    return {"--help (s)": median["vpnsql --help (s)"], "cold query / AWS CLI": ratio}
