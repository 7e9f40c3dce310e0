"""The AWS provider: declarations only here; boto3 is imported when a table is queried."""

from vpnsql.tables import Provider
from vpnsql_providers.aws import ec2_api, estate, logs
from vpnsql_providers.aws.client import credential_source, endpoint_override, prepare

PROVIDER = Provider(
    name="aws",
    description=(
        "Amazon Web Services: EC2 Client VPN endpoints, their client connections and their "
        "connection logs (CloudWatch Logs)."
    ),
    tables=(*ec2_api.TABLES, *logs.TABLES),
    credentials=credential_source,
    endpoint=endpoint_override,
    view_branches=ec2_api.VIEW_BRANCHES,
    config=estate.CONFIG,
    accounts=estate.all_accounts,
    identity=estate.identity,
    regions=estate.regions_of,
    summary=estate.summary,
    prepare=prepare,
)
