"""The Alibaba Cloud provider: declarations only here; the SDK is imported when a table is read."""

from vpnsql.tables import Provider
from vpnsql_providers.alibaba import estate, vpc
from vpnsql_providers.alibaba.client import credential_source, endpoint_override, prepare

PROVIDER = Provider(
    name="alibaba",
    description="Alibaba Cloud: VPN gateways and the clients of their SSL-VPN connections.",
    tables=vpc.TABLES,
    credentials=credential_source,
    endpoint=endpoint_override,
    view_branches=vpc.VIEW_BRANCHES,
    config=estate.CONFIG,
    accounts=estate.all_accounts,
    identity=estate.identity,
    regions=estate.regions_of,
    summary=estate.summary,
    prepare=prepare,
)
