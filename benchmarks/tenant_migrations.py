"""Benchmark: migrating many tenant schemas, ours against yoyo and a raw floor.

Run from the template root with `make bench-tenants` (or
`poetry run python benchmarks/tenant_migrations.py --tenants 1000`). It bakes a
`postgresql` + `schema-per-tenant` service, and for each method below creates a
fresh database holding N registered tenants (not timed), then times migrating
all of them in a child process of its own. Each tenant's schema holds what
`tenant-create` puts there in a service with no migrations yet: the service's
empty bookkeeping table (a distributed table on Citus, so this matters there),
watched and marked up to date (on plain PostgreSQL); the migrations are then
those a later release adds. With --bare-schemas the schemas are empty, as a
schema adopted from outside the service is, and ours' first migration also
creates that table.

- ours: the baked service's `run_all_tenant_migrations` (migrate-all), with
  its default concurrency unless --concurrency says otherwise;
- the floor: raw psycopg executing the same migration SQL, one transaction per
  tenant in one round trip (BEGIN, the statements and COMMIT as one query, as
  ours sends a migration; on Citus pipelined, as ours sends it there), on as
  many connections as ours uses, with no bookkeeping at all;
- yoyo: its Python API in-process, one backend per tenant (`?schema=`),
  sequential, on the first --yoyo-tenants tenants (it is slow; the figure is
  per tenant either way).

Ours and the floor run --rounds times each (default 3), the order rotated
by one place each round (every method takes every place over as many
rounds as there are methods), each run on fresh tenants; the report gives
each method's median and the ratio of every round, with its median and
spread. With --baseline naming
another checkout of the template (an earlier version, say, from `git
worktree add`), that version's migrate-all runs in every round too, in turn
with ours and the floor, and the report adds ours against it, round by round:
a change too small for the spread of ours against the floor still shows.
With --bookkeeping-floor, the floor with the statements ours adds for a
tenant (child_bookkeeping) runs in every round too, and the report adds it
against the floor: what that SQL costs apart from ours' client code.

Every run's tenants are prepared before the first run is timed, and all are
dropped after the last, so that no run shares the machine with preparing or
dropping another's (it needs the disk space of all their databases at once:
2 x --rounds, one more per round with each of --baseline and
--bookkeeping-floor); an untimed run of the floor on up to 1,000 tenants of
their own goes first. Each run also
reports its CPU time per tenant, the client's and the whole machine's (from
/proc/stat: the server's and the client's together), and whether a
checkpoint ran during it. Then, on ours' first
migrated tenants, the no-op check across all N up-to-date
tenants (a whole `run_all_tenant_migrations` that finds nothing to do): the
median, the first right after migrating, and one with the marks emptied
(every tenant's history read, as on the first run after an upgrade); the
summary `tenants-status` prints (median, and with the marks emptied); and ours' peak memory (max RSS
of the child process) at N and at 10 tenants.
Last, the latency of 100 tenant creations one after another (the sign-up
path, in-process) with N tenants already there, p50 and p95, for a service
with 1 migration and for one with 30.
PostgreSQL comes from TEST_DATABASE_URL (default: the local server).

When CITUS_TEST_URL names a Citus cluster's coordinator (and --no-citus is not
given), ours and the floor also migrate N fresh *distributed* tenant schemas
there, in the same run: a fresh shared schema of the coordinator's database
holds the registry (a fresh database would need Citus set up in it on every
node), each method gets tenant schemas of its own, and all are dropped
afterwards. It prints both per-tenant costs, ours against the floor on the
cluster, against plain PostgreSQL, and the no-op check on the cluster.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import DEFAULT_SERVER, PACKAGE, bake, fresh_postgres_database

# Tenant schemas made per transaction while preparing (not timed).
PREPARE_CHUNK = 200
NOOP_RUNS = 5
# Tenants of the untimed run before the timed ones (at most N).
WARM_UP_TENANTS = 1000
# tenant-create latency: this many creations, for a service with each count of migrations.
CREATIONS = 100
CREATION_MIGRATIONS = (1, 30)


@dataclass(frozen=True)
class Place:
    """Where one run's tenants live: a database URL (whose search path holds
    the registry) and their ids' prefix, which keeps runs that share a
    database (on Citus) apart."""

    url: str
    prefix: str = "bench"


def tenant_ids(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{number:05d}" for number in range(count)]


@dataclass(frozen=True)
class Tenants:
    """How the benchmark's tenants are made: the service's registry (its
    CREATE TABLE and name), and whether their schemas are `bare`."""

    registry_sql: str
    registry_table: str
    bare: bool


def prepare(place: Place, count: int, tenants: Tenants, *, distributed: bool = False) -> None:
    """N registered tenants whose schemas hold what `tenant-create` puts in
    them in a service with no migrations yet: an empty bookkeeping table,
    watched and marked (with `bare`: nothing at all, as a schema adopted from
    outside the service). On Citus, with `distributed`, distributed schemas,
    as the service creates them there."""
    import psycopg
    from auth_service.database.postgresql import PostgresSession
    from auth_service.tenants import history_marks
    from psycopg import sql

    ids = tenant_ids(count, place.prefix)
    with psycopg.connect(place.url, autocommit=True) as connection:
        connection.execute(tenants.registry_sql)
        # As tenant-create does: the bookkeeping table watched (not on Citus).
        marks = None if tenants.bare else history_marks.prepare(PostgresSession(connection))
        for start in range(0, count, PREPARE_CHUNK):
            chunk = ids[start : start + PREPARE_CHUNK]
            with connection.transaction():
                if distributed:
                    connection.execute("SET LOCAL citus.enable_schema_based_sharding TO on")
                for tenant_id in chunk:
                    schema = sql.Identifier(f"tenant_{tenant_id}")
                    connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                    if not tenants.bare:
                        create_history_table(connection, schema)
                if marks is not None:
                    history_marks.watch(PostgresSession(connection), marks, [f"tenant_{t}" for t in chunk])
                    for tenant_id in chunk:
                        in_schema(connection, sql.Identifier(f"tenant_{tenant_id}"), mark_complete(marks))
                connection.execute(
                    sql.SQL(
                        "INSERT INTO {} (id, schema_name) "
                        "SELECT id, 'tenant_' || id FROM unnest(%s::text[]) AS id"
                    ).format(sql.Identifier(tenants.registry_table)),
                    (chunk,),
                )


def create_history_table(connection: Any, schema: Any) -> None:
    """The baked service's own bookkeeping table, in `schema`."""
    from auth_service.migrator import history

    in_schema(connection, schema, history.ensure_table)


def mark_complete(marks: Any) -> Callable[[Any], None]:
    """The tenant marked as holding all of no migrations, as tenant-create
    marks a tenant of a service with none yet: the benchmark's migration is
    one that a later release adds."""
    from auth_service.tenants import history_marks

    return lambda session: history_marks.mark_in_transaction(session, marks, [])


def in_schema(connection: Any, schema: Any, action: Callable[[Any], None]) -> None:
    """`action` on a session of the connection in `schema`, in the current
    transaction; the search path (where the registry is) is put back afterwards."""
    from auth_service.database.postgresql import PostgresSession
    from psycopg import sql

    shared_path = connection.execute("SELECT current_setting('search_path')").fetchone()[0]
    connection.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
    action(PostgresSession(connection))
    connection.execute("SELECT set_config('search_path', %s, true)", (shared_path,))


def checkpoint(url: str) -> None:
    """Write out what preparing dirtied, so that no run pays for the one
    before it (a checkpoint that falls inside one method's run moved its
    figure by a half; on Citus, the coordinator's)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        try:
            connection.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("note: CHECKPOINT needs a superuser or pg_checkpoint; runs may vary more", file=sys.stderr)


def migrated_tenants(place: Place, count: int) -> int:
    """How many tenant schemas hold the users table: proof that the work was done."""
    import psycopg

    schemas = [f"tenant_{tenant_id}" for tenant_id in tenant_ids(count, place.prefix)]
    with psycopg.connect(place.url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = ANY(%s) AND tablename = 'users'", (schemas,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def cpu_seconds() -> float:
    """CPU time this process has used, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def timed(figures: dict[str, Any]) -> Iterator[None]:
    """The block's wall time and this process's CPU time in it, into `figures`."""
    started, cpu_started = time.perf_counter(), cpu_seconds()
    yield
    figures["seconds"] = time.perf_counter() - started
    figures["client_cpu_seconds"] = cpu_seconds() - cpu_started


def child_ours(url: str, count: int, concurrency: int | None, noop: bool) -> dict[str, Any]:
    from auth_service.config import DEFAULT_TENANT_CONCURRENCY
    from auth_service.database.target import parse_database_url
    from auth_service.tenants.runner import run_all_tenant_migrations

    target = parse_database_url(url)
    workers = concurrency or DEFAULT_TENANT_CONCURRENCY
    figures: dict[str, Any] = {"concurrency": workers}
    with timed(figures):
        report = run_all_tenant_migrations(target, concurrency=workers)
    assert report.ok and len(report.migrated) == count, report.failed[:3]
    figures["max_rss_mb"] = max_rss_mb()
    if noop:
        samples = []
        for _ in range(NOOP_RUNS):
            started = time.perf_counter()
            again = run_all_tenant_migrations(target, concurrency=workers)
            samples.append(time.perf_counter() - started)
            assert again.up_to_date == count and not again.migrated
        figures["noop_seconds"] = statistics.median(samples)
        figures["noop_first_seconds"] = samples[0]
        figures["status_seconds"] = statistics.median(status_seconds(target, count) for _ in range(NOOP_RUNS))
        if empty_marks(target):
            figures["status_unmarked_seconds"] = status_seconds(target, count)
        figures["noop_unmarked_seconds"] = noop_without_marks(target, count, workers)
    return figures


def status_seconds(target: Any, count: int) -> float:
    """`tenants-status`'s summary of the N up-to-date tenants, on a connection
    of its own, as the command opens one."""
    from auth_service.database.postgresql import open_postgres_session
    from auth_service.migrator.sources import MigrationSource
    from auth_service.tenants.pending import summarize

    migration_ids = MigrationSource.for_dialect("postgresql").migration_ids()
    session = open_postgres_session(target)
    try:
        started = time.perf_counter()
        summary = summarize(session, migration_ids)
        seconds = time.perf_counter() - started
    finally:
        session.close()
    assert summary.total == count and not summary.pending
    return seconds


def empty_marks(target: Any) -> bool:
    """Empty every mark, as before the first run after an upgrade to marks
    (every history is read then); False where nothing is marked (Citus)."""
    from auth_service.database.postgresql import open_postgres_session
    from auth_service.tenants import history_marks

    session = open_postgres_session(target)
    try:
        marks = history_marks.prepare(session)
        if marks is not None:
            session.execute(sql_truncate(marks))
        return marks is not None
    finally:
        session.close()


def noop_without_marks(target: Any, count: int, workers: int) -> float | None:
    """The no-op check with every mark gone (as on the first run after an
    upgrade to marks): it reads, watches and marks every tenant. None on Citus."""
    from auth_service.tenants.runner import run_all_tenant_migrations

    if not empty_marks(target):
        return None
    started = time.perf_counter()
    again = run_all_tenant_migrations(target, concurrency=workers)
    assert again.up_to_date == count and not again.migrated
    return time.perf_counter() - started


def sql_truncate(marks: Any) -> Any:
    from psycopg import sql

    return sql.SQL("TRUNCATE {}").format(marks.table)


def child_floor(place: Place, count: int, concurrency: int, migrations: Path) -> dict[str, Any]:
    # One round trip per tenant, sent the way ours sends a migration: as one
    # query (one write to the socket) on plain PostgreSQL, each statement on
    # its own in psycopg's pipeline mode on Citus (which passes some DDL on to
    # a worker as the query's text, so that text must be one command). BEGIN
    # and COMMIT are statements of the pipeline too: psycopg's transaction()
    # around a pipeline costs a round trip each, and inside one it syncs more
    # than once (about half again per transaction here).
    from auth_service.database.postgresql_one_query import SEPARATOR, sends_one_query
    from psycopg import sql

    statements = [statement for _, file in migration_statements(migrations) for statement in file]

    def start(connection: Any) -> Callable[[str], None]:
        one_query = sends_one_query(connection)

        def migrate(schema: str) -> None:
            enter = sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema))
            transaction = ["BEGIN", enter.as_string(connection), *statements, "COMMIT"]
            if one_query:
                connection.execute(SEPARATOR.join(transaction))
                return
            with connection.pipeline():
                for statement in transaction:
                    connection.execute(statement.encode())

        return migrate

    return on_connections(place, count, concurrency, start)


def child_bookkeeping(place: Place, count: int, concurrency: int, migrations: Path) -> dict[str, Any]:
    """The floor plus the statements ours sends for a tenant, sent through
    the baked service's own session functions but none of the runner's
    layers above them (no yoyo, no futures, no retries): the statement that
    enters the schema (its lock, its mark's version) with the history read,
    one round trip; then the floor's transaction with the lock timeout and
    the record's INSERT, as ours sends a migration's transaction."""
    from auth_service.database.postgresql import PostgresSession
    from auth_service.migrator import history
    from auth_service.migrator.runner import DEFAULT_LOCK_RETRY
    from auth_service.tenants import history_marks

    files = migration_statements(migrations)
    first_timeout_ms = round(DEFAULT_LOCK_RETRY.schedule()[0].timeout * 1000)
    set_lock_timeout = f"SET LOCAL lock_timeout = '{first_timeout_ms}ms'"

    def start(connection: Any) -> Callable[[str], None]:
        session = PostgresSession(connection)
        marks = history_marks.prepare(session)
        entering = "NULL" if marks is None else history_marks.version_on_entering(marks)
        if marks is not None:
            history_marks.as_runner(session, local=False)

        def migrate(schema: str) -> None:
            _, _, rows = session.enter_schema_to_migrate(schema, entering, history.SNAPSHOT_QUERY)
            batch = history.snapshot_of(rows or []).last_batch + 1
            for name, statements in files:
                # The session's pipelined(): one query, or a pipeline on Citus.
                with session.pipelined():
                    for statement in ["BEGIN", set_lock_timeout, *statements]:
                        session.execute(statement)
                    history.record_timed_by_server(
                        session, name, checksum="0" * 64, batch=batch, ms_before_begin=0
                    )
                    session.execute("COMMIT")

        return migrate

    return on_connections(place, count, concurrency, start)


def migration_statements(migrations: Path) -> list[tuple[str, list[str]]]:
    """Each migration file's name and statements, in order."""
    import sqlparse

    files = [path for path in sorted(migrations.glob("*.sql")) if not path.name.endswith(".rollback.sql")]
    return [
        (path.stem, [statement for statement in sqlparse.split(path.read_text()) if statement.strip()])
        for path in files
    ]


def on_connections(
    place: Place, count: int, concurrency: int, start: Callable[[Any], Callable[[str], None]]
) -> dict[str, Any]:
    """Every tenant schema of `place` migrated by `start(connection)`'s
    function, on `concurrency` autocommit connections at once, timed."""
    import psycopg

    work: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    for tenant_id in tenant_ids(count, place.prefix):
        work.put(f"tenant_{tenant_id}")
    for _ in range(concurrency):
        work.put(None)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(place.url, autocommit=True) as connection:
                migrate = start(connection)
                while (schema := work.get()) is not None:
                    migrate(schema)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    figures: dict[str, Any] = {"concurrency": concurrency}
    with timed(figures):
        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    figures["max_rss_mb"] = max_rss_mb()
    return figures


def child_yoyo(place: Place, count: int, migrations: Path) -> dict[str, Any]:
    from yoyo import get_backend, read_migrations

    yoyo_url = place.url.replace("postgresql://", "postgresql+psycopg://", 1)
    parsed = read_migrations(str(migrations))  # parsed once, to be fair to yoyo
    figures: dict[str, Any] = {"concurrency": 1}
    with timed(figures):
        for tenant_id in tenant_ids(count, place.prefix):
            backend = get_backend(f"{yoyo_url}?schema=tenant_{tenant_id}")
            with backend.lock():
                backend.apply_migrations(backend.to_apply(parsed))
            backend.connection.close()
    figures["max_rss_mb"] = max_rss_mb()
    return figures


def child_create(url: str, creations: int, migrations: Path) -> dict[str, Any]:
    """`creations` tenants created one after another, as the sign-up path
    creates them: each one's latency."""
    from auth_service.database.postgresql import open_postgres_session
    from auth_service.database.target import parse_database_url
    from auth_service.migrator.sources import MigrationSource
    from auth_service.tenants.creation import create_tenant

    target = parse_database_url(url)
    source = MigrationSource(migrations)
    session = open_postgres_session(target)
    latencies = []
    try:
        for number in range(creations):
            started = time.perf_counter()
            create_tenant(session, f"signup{number:05d}", source)
            latencies.append(time.perf_counter() - started)
    finally:
        session.close()
    return {"latencies": latencies}


def many_migrations(directory: Path, shipped: Path, count: int) -> Path:
    """The shipped migrations and more (adding a column each), `count` in all."""
    directory.mkdir(parents=True)
    for path in shipped.glob("*.sql"):
        (directory / path.name).write_text(path.read_text())
    for number in range(2, count + 1):
        name = f"{number:04d}_add_users_extra_{number}"
        (directory / f"{name}.sql").write_text(f"ALTER TABLE users ADD COLUMN extra_{number} integer;\n")
        rollback = f"ALTER TABLE users DROP COLUMN extra_{number};\n"
        (directory / f"{name}.rollback.sql").write_text(rollback)
    return directory


def run_child(project_src: Path, *arguments: str) -> dict[str, Any]:
    environment = {**os.environ, "PYTHONPATH": str(project_src)}
    completed = subprocess.run(
        [sys.executable, __file__, "--child", *arguments],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def busy_cpu_seconds() -> float | None:
    """CPU time the whole machine has spent busy (Linux's /proc/stat), or None."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def checkpoints_done(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        done = "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        row = connection.execute(done).fetchone()
    assert row is not None
    return int(row[0])


def time_run(place: Place, project_src: Path, count: int, method: str, *extra: str) -> dict[str, Any]:
    """One timed run on prepared tenants, checked to have migrated them all.
    Its figures include the machine's busy CPU time and the checkpoints that
    ran meanwhile (the one before it is not counted)."""
    checkpoint(place.url)
    checkpoints, busy = checkpoints_done(place.url), busy_cpu_seconds()
    figures = run_child(project_src, method, place.url, str(count), place.prefix, *extra)
    after = busy_cpu_seconds()
    figures["checkpoints"] = checkpoints_done(place.url) - checkpoints
    figures["busy_cpu_seconds"] = None if busy is None or after is None else after - busy
    figures["migrated"] = migrated_tenants(place, count)
    assert figures["migrated"] == count, f"{method}: {figures['migrated']} of {count} tenants migrated"
    return figures


@contextmanager
def fresh_database(server_url: str) -> Iterator[Place]:
    with fresh_postgres_database(server_url) as url:
        yield Place(url)


def measure_creation(
    server_url: str, project_src: Path, tenants: Tenants, count: int, migrations: Path
) -> list[float]:
    """Latencies (ms) of CREATIONS tenant creations with `count` tenants already there."""
    with fresh_database(server_url) as place:
        prepare(place, count, tenants)
        checkpoint(place.url)
        figures = run_child(
            project_src, "create", place.url, str(count), place.prefix, str(CREATIONS), str(migrations)
        )
    return [seconds * 1000 for seconds in figures["latencies"]]


def percentile(samples: list[float], percent: int) -> float:
    """The nearest-rank percentile."""
    ranked = sorted(samples)
    return ranked[max(0, math.ceil(percent / 100 * len(ranked)) - 1)]


@contextmanager
def citus_scope(coordinator: str) -> Iterator[Place]:
    """A fresh shared schema on the coordinator (its URL), and tenant ids of
    this scope's own; every schema it made is dropped afterwards."""
    import psycopg

    shared, prefix = f"bench_{uuid.uuid4().hex[:8]}", f"cb{uuid.uuid4().hex[:6]}"
    with psycopg.connect(coordinator, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{shared}"')
    try:
        separator = "&" if "?" in coordinator else "?"
        yield Place(f"{coordinator}{separator}options=-c%20search_path%3D{shared}", prefix)
    finally:
        with psycopg.connect(coordinator, autocommit=True) as admin:
            made = admin.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"tenant\\_{prefix}%",)
            ).fetchall()
            for (schema,) in made:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'DROP SCHEMA "{shared}" CASCADE')


@dataclass(frozen=True)
class Where:
    """Where the benchmark's runs go: fresh places for tenants, and whether
    their schemas are distributed (Citus)."""

    fresh: Callable[[], AbstractContextManager[Place]]
    distributed: bool = False

    def measure_once(
        self, project_src: Path, tenants: Tenants, count: int, method: str, *extra: str
    ) -> dict[str, Any]:
        with self.fresh() as place:
            prepare(place, count, tenants, distributed=self.distributed)
            return time_run(place, project_src, count, method, *extra)


def per_tenant_ms(figures: dict[str, Any], count: int) -> float:
    return float(figures["seconds"]) * 1000 / count


@dataclass(frozen=True)
class Rounds:
    """Ours and the floor, measured in rotating order, round after round,
    each on fresh tenants: one method's run that straddles a checkpoint or a
    noisy neighbour then moves one ratio, not the figure reported."""

    count: int
    ours: list[dict[str, Any]]
    floor: list[dict[str, Any]]
    # Another version's migrate-all (--baseline), or none.
    baseline: list[dict[str, Any]] = field(default_factory=list)
    # The floor with ours' bookkeeping statements (--bookkeeping-floor), or none.
    bookkeeping: list[dict[str, Any]] = field(default_factory=list)

    def runs(self, method: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = getattr(self, method)
        return runs

    def ms(self, method: str) -> list[float]:
        return [per_tenant_ms(figures, self.count) for figures in self.runs(method)]

    def cpu_ms(self, method: str, key: str) -> float | None:
        """The median CPU time per tenant of `key` (client_cpu_seconds or
        busy_cpu_seconds) over the method's runs, or None where unknown."""
        samples = [figures.get(key) for figures in self.runs(method)]
        known = [float(seconds) * 1000 / self.count for seconds in samples if seconds is not None]
        return statistics.median(known) if known else None

    def ratios(self, against: str = "floor", method: str = "ours") -> list[float]:
        """`method` (ours, unless another is named) over `against`, round by round."""
        return [mine / other for mine, other in zip(self.ms(method), self.ms(against), strict=True)]

    def methods(self) -> list[str]:
        others = [method for method in ("baseline", "bookkeeping") if self.runs(method)]
        return ["ours", "floor", *others]


def in_rotation(
    where: Where,
    project_src: Path,
    tenants: Tenants,
    count: int,
    rounds: int,
    workers: int,
    baseline_src: Path | None = None,
    *,
    bookkeeping: bool = False,
) -> Rounds:
    """`rounds` rounds of ours and the floor (and the baseline's migrate-all,
    from `baseline_src`, and with `bookkeeping` the floor with ours'
    bookkeeping statements) on `workers` connections, the order rotated by
    one place each round: over as many rounds as methods, every method runs
    once in every place (which run comes first or after which moved a
    method's figure by up to a third at 2,000 tenants). Ours' first run also
    times the no-op check.

    Every run's tenants are prepared before the first run is timed, and all
    are dropped after the last: no run shares the machine with preparing the
    next one or with dropping the last one (tens of thousands of files at
    10,000 tenants, which a disk mounted with `discard` trims for a while)."""
    order: list[tuple[str, ...]] = []
    for number in range(rounds):
        runs: list[tuple[str, ...]] = [("ours", "noop" if number == 0 else "-", str(workers))]
        if baseline_src is not None:
            runs.append(("baseline", "-", str(workers)))
        if bookkeeping:
            runs.append(("bookkeeping", str(workers)))
        runs.append(("floor", str(workers)))
        shift = number % len(runs)
        order.extend(runs[shift:] + runs[:shift])
    figures: dict[str, list[dict[str, Any]]] = {"ours": [], "floor": [], "baseline": [], "bookkeeping": []}
    with ExitStack() as stack:
        places = [stack.enter_context(where.fresh()) for _ in order]
        for place in places:
            prepare(place, count, tenants, distributed=where.distributed)
        # The first run after preparing was at times half again as slow as
        # the rest, whichever method it was: an untimed one goes first.
        warm_up = stack.enter_context(where.fresh())
        prepare(warm_up, min(count, WARM_UP_TENANTS), tenants, distributed=where.distributed)
        time_run(warm_up, project_src, min(count, WARM_UP_TENANTS), "floor", str(workers))
        for place, (method, *extra) in zip(places, order, strict=True):
            # The baseline is the other version's own migrate-all ("ours" in its bake).
            src, child = (baseline_src, "ours") if method == "baseline" else (project_src, method)
            assert src is not None
            figures[method].append(time_run(place, src, count, child, *extra))
    return Rounds(count, figures["ours"], figures["floor"], figures["baseline"], figures["bookkeeping"])


LABELS = {
    "ours": "ours, migrate-all",
    "floor": "raw psycopg floor",
    "baseline": "baseline's migrate-all",
    "bookkeeping": "floor + ours' bookkeeping SQL",
}


def print_ratios(rounds: Rounds, method: str, against: str) -> None:
    ratios = rounds.ratios(against, method)
    print(
        f"  {method} / {against}, round by round: {', '.join(f'{ratio:.2f}' for ratio in ratios)}; "
        f"median {statistics.median(ratios):.2f}x (spread {min(ratios):.2f} to {max(ratios):.2f})"
    )


def print_rounds(rounds: Rounds, workers: int) -> None:
    for method in rounds.methods():
        samples, label = rounds.ms(method), f"{LABELS[method]}, {workers} connections"
        print(
            f"  {label:<46} {statistics.median(samples):7.2f} ms per tenant "
            f"(median; rounds: {', '.join(f'{ms:.2f}' for ms in samples)})"
        )
    for against in rounds.methods()[1:]:
        print_ratios(rounds, "ours", against)
    if rounds.bookkeeping:
        # What ours' bookkeeping statements cost by themselves, without the runner's client code.
        print_ratios(rounds, "bookkeeping", "floor")
    cpu = {
        method: (rounds.cpu_ms(method, "client_cpu_seconds"), rounds.cpu_ms(method, "busy_cpu_seconds"))
        for method in rounds.methods()
    }
    if all(client is not None and busy is not None for client, busy in cpu.values()):
        print(
            "  CPU ms per tenant (medians), the client's and the whole machine's: "
            + "; ".join(f"{method} {client:.2f} and {busy:.2f}" for method, (client, busy) in cpu.items())
        )
    straddled = [
        f"{method} round {number}"
        for method in rounds.methods()
        for number, figures in enumerate(rounds.runs(method), start=1)
        if figures["checkpoints"]
    ]
    if straddled:
        print(f"  a checkpoint ran during: {', '.join(straddled)}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=1000, help="tenant count N (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ours and the floor (default 3)")
    parser.add_argument("--yoyo-tenants", type=int, default=200, help="tenants yoyo migrates (default 200)")
    parser.add_argument("--concurrency", type=int, default=None, help="ours and the floor (default: ours')")
    parser.add_argument(
        "--bare-schemas",
        action="store_true",
        help="tenant schemas without the bookkeeping table that tenant-create makes (adopted ones)",
    )
    parser.add_argument("--no-citus", action="store_true", help="skip the Citus cluster of CITUS_TEST_URL")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout of the template whose migrate-all also runs in every round",
    )
    parser.add_argument(
        "--bookkeeping-floor",
        action="store_true",
        help="also time the floor with ours' bookkeeping statements (their cost without ours' client code)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args.child)

    server_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER)
    coordinator = "" if args.no_citus else os.environ.get("CITUS_TEST_URL", "")
    count = args.tenants
    with tempfile.TemporaryDirectory() as scratch:
        project = bake(Path(scratch), "postgresql", "schema-per-tenant")
        project_src = project / "src"
        sys.path.insert(0, str(project_src))
        from auth_service.config import DEFAULT_TENANT_CONCURRENCY
        from auth_service.tenants.registry import CREATE_TABLE, TABLE

        tenants = Tenants(CREATE_TABLE, TABLE, bare=args.bare_schemas)
        workers = args.concurrency or DEFAULT_TENANT_CONCURRENCY

        on_postgresql = Where(lambda: fresh_database(server_url))
        baseline_src = None
        if args.baseline is not None:
            other = bake(Path(scratch) / "baseline", "postgresql", "schema-per-tenant", args.baseline)
            baseline_src = other / "src"
        plain = in_rotation(
            on_postgresql,
            project_src,
            tenants,
            count,
            args.rounds,
            workers,
            baseline_src,
            bookkeeping=args.bookkeeping_floor,
        )
        yoyo_count = min(count, args.yoyo_tenants)
        yoyo = on_postgresql.measure_once(project_src, tenants, yoyo_count, "yoyo")
        small = on_postgresql.measure_once(project_src, tenants, 10, "ours", "-", str(workers))
        shipped = project_src / PACKAGE / "migrations" / "postgresql"
        creation = {
            migration_count: measure_creation(
                server_url,
                project_src,
                tenants,
                count,
                many_migrations(Path(scratch) / f"migrations-{migration_count}", shipped, migration_count),
            )
            for migration_count in CREATION_MIGRATIONS
        }
        on_citus = Where(lambda: citus_scope(coordinator), distributed=True)
        citus = None
        if coordinator:
            citus = in_rotation(on_citus, project_src, tenants, count, args.rounds, workers)

    made = "bare schemas, no bookkeeping table yet" if args.bare_schemas else "as tenant-create leaves them"
    print(f"Migrating {count} fresh tenant schemas ({made}; {os.cpu_count()} cores; new ones every run):")
    print_rounds(plain, workers)
    yoyo_ms = per_tenant_ms(yoyo, yoyo_count)
    floor_ms = statistics.median(plain.ms("floor"))
    print(
        f"  yoyo API in-process, sequential ({yoyo_count} tenants): {yoyo_ms:.2f} ms per tenant "
        f"({yoyo_ms / floor_ms:.2f}x the median floor)"
    )
    ours = plain.ours[0]
    print(
        f"No-op check across {count} up-to-date tenants (whole migrate-all, median of {NOOP_RUNS}): "
        f"{float(ours['noop_seconds']) * 1000:.0f} ms; the first, right after migrating: "
        f"{float(ours['noop_first_seconds']) * 1000:.0f} ms; with no marks (every history read): "
        f"{float(ours['noop_unmarked_seconds']) * 1000:.0f} ms"
    )
    print(
        f"tenants-status across the {count} up-to-date tenants (its summary, median of {NOOP_RUNS}): "
        f"{float(ours['status_seconds']) * 1000:.0f} ms; with no marks (every history read): "
        f"{float(ours['status_unmarked_seconds']) * 1000:.0f} ms"
    )
    peak, peak_small = float(plain.ours[0]["max_rss_mb"]), float(small["max_rss_mb"])
    print(
        f"Peak memory of ours (max RSS): {peak:.1f} MB at N={count}, "
        f"{peak_small:.1f} MB at N=10 ({peak / peak_small:.2f}x)"
    )
    for migration_count, latencies in creation.items():
        print(
            f"tenant-create with {count} tenants present, {migration_count} migration(s), "
            f"{len(latencies)} creations: p50 {percentile(latencies, 50):.1f} ms, "
            f"p95 {percentile(latencies, 95):.1f} ms"
        )
    if citus is None:
        print("Citus: not measured (set CITUS_TEST_URL to a cluster's coordinator)")
    else:
        print(f"On the Citus cluster of CITUS_TEST_URL, {count} fresh distributed tenant schemas:")
        print_rounds(citus, workers)
        against_plain = statistics.median(citus.ms("ours")) / statistics.median(plain.ms("ours"))
        print(f"  ours on Citus: {against_plain:.2f}x ours on plain PostgreSQL (medians)")
        print(
            f"  No-op check across {count} up-to-date tenants on Citus (median of {NOOP_RUNS}): "
            f"{float(citus.ours[0]['noop_seconds']) * 1000:.0f} ms; tenants-status: "
            f"{float(citus.ours[0]['status_seconds']) * 1000:.0f} ms"
        )
    return 0


def child_main(arguments: list[str]) -> int:
    method, url, count_text, prefix, *rest = arguments
    count, place = int(count_text), Place(url, prefix)
    migrations = Path(__import__(PACKAGE).__file__ or "").parent / "migrations" / "postgresql"
    actions: dict[str, Callable[[], dict[str, Any]]] = {
        "ours": lambda: child_ours(url, count, int(rest[1]) if len(rest) > 1 else None, rest[0] == "noop"),
        "floor": lambda: child_floor(place, count, int(rest[0]), migrations),
        "bookkeeping": lambda: child_bookkeeping(place, count, int(rest[0]), migrations),
        "yoyo": lambda: child_yoyo(place, count, migrations),
        "create": lambda: child_create(url, int(rest[0]), Path(rest[1])),
    }
    print(json.dumps(actions[method]()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
