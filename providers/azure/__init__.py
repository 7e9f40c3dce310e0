"""The Azure provider: declarations only here; the Azure SDKs are imported when a table is read."""

from vpnsql.tables import Provider
from vpnsql_providers.azure import estate, network
from vpnsql_providers.azure.client import credential_source, prepare

PROVIDER = Provider(
    name="azure",
    description="Microsoft Azure: VPN gateways and their point-to-site client connections.",
    tables=network.TABLES,
    credentials=credential_source,
    view_branches=network.VIEW_BRANCHES,
    config=estate.CONFIG,
    accounts=estate.all_accounts,
    identity=estate.identity,
    prepare=prepare,
)
