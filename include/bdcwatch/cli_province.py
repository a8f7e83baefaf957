"""``bdcwatch province``: what starting a deployment needs from the province file in force
(``BDCWATCH_POLICY``, ``config.province``; issue 13 items 1 and 5).

``scripts/stack.sh`` (``make stack``) and ``docker-compose.yaml`` run these same commands,
so the two topologies cannot drift on a province:

* ``bdcwatch province queues`` prints the Celery queues a worker serves: ``default`` and
  every city's queue, comma-separated (``airflow celery worker --queues``);
* ``bdcwatch province pools --slots 8`` creates or updates every city's Airflow pool in the
  metadata database (before the scheduler queues any task into it);
* ``bdcwatch province migrate`` creates or upgrades every city's supervision_db (its
  ``supervision_db__<code>`` connection; the home city's plain ``supervision_db``).

Without a province file the deployment is one city: ``default``, no pools, the one
supervision_db.
"""

from __future__ import annotations

import argparse
from typing import Any

from bdcwatch.config.province import cities_in_force as cities

DEFAULT_QUEUE = "default"  # Airflow's [operators] default_queue, the home city's unless its entry names one
DEFAULT_POOL = "default_pool"
POOL_DESCRIPTION = "bdcwatch city pool"


def add_parser(commands: Any) -> None:
    """Register ``province`` and its actions on the main parser's subcommands."""
    province = commands.add_parser("province", help="a province's queues, pools and databases (deployment)")
    actions = province.add_subparsers(dest="action", required=True)
    actions.add_parser("queues", help="the Celery queues a worker serves, comma-separated")
    pools = actions.add_parser("pools", help="create or update every city's Airflow pool")
    pools.add_argument("--slots", type=int, default=8, help="task slots of each city's pool (default 8)")
    actions.add_parser("migrate", help="create or upgrade every city's supervision_db")


def queues() -> list[str]:
    """``default`` and every city's Celery queue, each once, in the province file's order."""
    return list(dict.fromkeys([DEFAULT_QUEUE, *(c.queue for c in cities() if c.queue)]))


def pools() -> list[str]:
    """Every city's Airflow pool (Airflow's ``default_pool`` is not one to create)."""
    return list(dict.fromkeys(c.pool for c in cities() if c.pool and c.pool != DEFAULT_POOL))


def run(args: argparse.Namespace, engine_for: Any) -> int:
    """Run ``bdcwatch province <action>``; ``engine_for(conn_id)`` opens a supervision_db
    for migrating (``cli._engine``). Returns the exit status."""
    if args.action == "queues":
        print(",".join(queues()))
        return 0
    if args.action == "pools":
        if args.slots < 1:
            raise SystemExit("bdcwatch province pools: --slots must be at least 1")
        from airflow.models.pool import Pool

        for name in pools():
            Pool.create_or_update_pool(name, args.slots, POOL_DESCRIPTION, include_deferred=False)
            print(f"pool {name}: {args.slots} slots")
        return 0
    from bdcwatch.orchestration.connections import SUPERVISION_DB
    from bdcwatch.store.migrate import migrate

    for conn_id in [c.conn_id(SUPERVISION_DB) for c in cities()] or [SUPERVISION_DB]:
        revision = migrate(engine_for(conn_id))
        print(f"{conn_id}: supervision_db at revision {revision}")
    return 0
