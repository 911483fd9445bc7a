"""Tenants on a Citus cluster: each tenant schema a distributed schema.

Citus 12 and later shard by schema: a schema created while
`citus.enable_schema_based_sharding` is on becomes a *distributed schema*,
whose tables live together on one worker node; the coordinator routes every
query and DDL statement to it. That is schema-per-tenant over many servers,
with no change to the service's SQL: the service only has to create each
tenant schema with the setting on, say where each tenant lives, and move one.

Citus is found on its own (the extension installed in the database, at a
version with schema-based sharding); on a plain PostgreSQL nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import psycopg

from ..database.postgresql import PostgresSession
from ..errors import ConfigError, ServiceError, first_line
from .schemas import UnknownTenantError, tenant_schema

# Schema-based sharding arrived in Citus 12.0.
FIRST_VERSION: Final = (12, 0)
NODE_PATTERN: Final = re.compile(r"^(?P<host>[^\s:]+|\[[0-9a-fA-F:]+\]):(?P<port>[0-9]{1,5})$")
# citus_schema_move's transfer modes, by the name the command line takes.
MoveMode = Literal["block_writes", "force_logical", "auto"]
MOVE_MODES: Final[tuple[MoveMode, ...]] = ("block_writes", "force_logical", "auto")


class NotCitusError(ConfigError):
    """A Citus-only command against a database without Citus."""


class TenantMoveError(ServiceError):
    """Citus refused to move a tenant; the tenant stays where it was."""


@dataclass(frozen=True)
class Citus:
    """The Citus extension of a database."""

    version: str

    def describe(self) -> str:
        return f"Citus {self.version}"


def detect(session: PostgresSession) -> Citus | None:
    """The database's Citus, if it is installed at a version that shards by schema."""
    rows = session.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
    if not rows:
        return None
    # extversion reads like 13.2-1: major.minor, then Citus's own revision.
    numbers = re.findall(r"[0-9]+", str(rows[0][0]))
    version = tuple(int(n) for n in numbers[:2])
    if len(version) < 2 or version < FIRST_VERSION:
        return None
    return Citus(f"{version[0]}.{version[1]}")


def require(session: PostgresSession, command: str, where: str) -> Citus:
    """The database's Citus, or one line saying the command needs it."""
    citus = detect(session)
    if citus is None:
        raise NotCitusError(
            f"{command} needs a Citus cluster (12 or later), but {where} has no Citus extension: "
            "point DATABASE_URL at the coordinator of a Citus cluster"
        )
    return citus


def distribute_schemas_created_now(session: PostgresSession) -> None:
    """Make the schema the current transaction creates a distributed schema."""
    session.execute("SELECT set_config('citus.enable_schema_based_sharding', 'on', true)")


def nodes_of(session: PostgresSession, tenant_ids: Sequence[str]) -> dict[str, str]:
    """Each tenant's node as host:port. A tenant whose schema is not
    distributed (created before Citus, or with distribution off) is on the
    coordinator; a distributed schema with no table yet is on no node."""
    rows = session.execute(
        "SELECT t.id, CASE WHEN s.colocation_id IS NULL THEN 'coordinator' "
        "  ELSE coalesce((SELECT n.nodename || ':' || n.nodeport FROM pg_dist_partition AS p"
        "    JOIN pg_dist_shard AS sh ON sh.logicalrelid = p.logicalrelid"
        "    JOIN pg_dist_placement AS pl ON pl.shardid = sh.shardid"
        "    JOIN pg_dist_node AS n ON n.groupid = pl.groupid"
        "    WHERE p.colocationid = s.colocation_id LIMIT 1), 'no tables yet') END "
        "FROM unnest(%s::text[], %s::text[]) AS t(id, schema_name) "
        "LEFT JOIN (SELECT ds.schemaid::regnamespace::text AS schema_name, ds.colocationid AS colocation_id "
        "  FROM pg_dist_schema AS ds) AS s ON s.schema_name = t.schema_name",
        (list(tenant_ids), [tenant_schema(t) for t in tenant_ids]),
    )
    return {str(tenant): str(node) for tenant, node in rows}


def parse_node(node: str) -> tuple[str, int]:
    """host:port, as tenants-status shows a node."""
    match = NODE_PATTERN.fullmatch(node.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ConfigError(f"NODE {node!r} is not host:port (tenants-status shows each tenant's node)")
    return match["host"].strip("[]"), int(match["port"])


@dataclass(frozen=True)
class Move:
    """Where a tenant was and where it is now; `moved` is false when it was there already."""

    before: str
    after: str

    @property
    def moved(self) -> bool:
        return self.before != self.after


def move_tenant(session: PostgresSession, tenant_id: str, node: str, mode: MoveMode) -> Move:
    """Move the tenant's schema, with all its data, to `node` (nothing to do
    if it is there already)."""
    host, port = parse_node(node)
    before, after = nodes_of(session, [tenant_id])[tenant_id], f"{host}:{port}"
    if before == after:
        return Move(before, after)
    if before == "coordinator":
        raise UnknownTenantError(
            f"tenant {tenant_id!r} is not a distributed schema, so Citus cannot move it "
            "(it was created before Citus, or with DISTRIBUTE_TENANT_SCHEMAS=false)"
        )
    known = session.execute(
        "SELECT 1 FROM pg_dist_node WHERE nodename = %s AND nodeport = %s AND shouldhaveshards AND isactive",
        (host, port),
    )
    if not known:
        raise ConfigError(
            f"NODE {node!r} is not an active worker of this cluster (tenants-status shows the nodes in use)"
        )
    try:
        session.execute(
            "SELECT citus_schema_move(%s::regnamespace, %s, %s, %s::citus.shard_transfer_mode)",
            (tenant_schema(tenant_id), host, port, mode),
        )
    except psycopg.Error as error:
        # Citus says why in its first line; the tenant stays where it was.
        raise TenantMoveError(
            f"tenant {tenant_id!r} was not moved from {before}: {first_line(error)}"
        ) from None
    return Move(before, after)
