"""Where tenants live on a Citus cluster: tenant-move, and each tenant's node
in tenants-status. On a plain PostgreSQL, tenant-move says it needs Citus and
tenants-status shows no nodes."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from ..config import Settings
from ..database.postgresql import PostgresSession
from ..errors import ConfigError
from ..tenants import citus, registry
from ..tenants.one_tenant import registered
from ..tenants.pending import TenantsSummary
from ..tenants.schemas import postgres_only
from .commands import Command, Commands
from .remedies import MakeTarget
from .tenants import shared_session


def tenant_move(args: argparse.Namespace, settings: Settings) -> int:
    mode = _mode(args.mode)
    with shared_session(settings) as session:
        shared = postgres_only(session)
        citus.require(shared, "tenant-move", settings.migration_database.describe())
        move = citus.move_tenant(registered(shared, args.tenant), args.tenant, args.node, mode)
    if move.moved:
        print(f"Moved tenant {args.tenant} from {move.before} to {move.after} ({mode}).")
    else:
        print(f"Tenant {args.tenant} is on {move.after} already: nothing moved.")
    return 0


def with_nodes(status: Command) -> Command:
    """tenants-status, then on Citus each tenant's node beside its state."""

    def status_with_nodes(args: argparse.Namespace, settings: Settings) -> int:
        code = status(args, settings)
        with shared_session(settings) as session:
            shared = postgres_only(session)
            found = citus.detect(shared)
            if found is None:
                return code
            summary: TenantsSummary = args.summary
            failed, pending = {f.tenant_id for f in summary.failed}, set(summary.pending)
            print(f"Nodes ({found.describe()}):")
            for tenant_id, node in _nodes(shared):
                print(f"  {tenant_id}  {node}  {_state(tenant_id, failed, pending)}")
        return code

    return status_with_nodes


def _nodes(session: PostgresSession) -> Iterator[tuple[str, str]]:
    table = registry.table_to_read(session)
    if table is None:
        return
    for page in registry.pages(session, table=table):
        nodes = citus.nodes_of(session, page)
        for tenant_id in page:
            yield tenant_id, nodes[tenant_id]


def _state(tenant_id: str, failed: set[str], pending: set[str]) -> str:
    if tenant_id in failed:
        return "failed last run"
    return "pending migrations" if tenant_id in pending else "up to date"


def _mode(value: str) -> citus.MoveMode:
    for mode in citus.MOVE_MODES:
        if mode == value:
            return mode
    raise ConfigError(f"MODE has value {value!r}: expected one of {', '.join(citus.MOVE_MODES)}")


def extend(commands: Commands) -> None:
    parser = commands.add(
        "tenant-move",
        tenant_move,
        "move a tenant, with its data, to another node of a Citus cluster",
        make=MakeTarget("tenant-move", {"tenant": "TENANT", "node": "NODE", "mode": "MODE"}),
    )
    parser.add_argument("tenant")
    parser.add_argument("node", help="host:port of a worker, as tenants-status shows it")
    parser.add_argument(
        "--mode",
        default="block_writes",
        help="citus_schema_move's transfer mode: block_writes (default), force_logical or auto",
    )
    commands.wrap("tenants", with_nodes)
