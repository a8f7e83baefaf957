#!/usr/bin/env bash
# The production topology on this machine, without Docker (issue 13 item 1): Airflow's
# metadata and supervision_db on PostgreSQL, CeleryExecutor with Redis as broker and two
# Celery workers, api-server, scheduler, dag-processor, triggerer, the bdcwatch plugin, and
# the project's SMTP sink as mail catcher. Settings come from deploy/airflow.env, the file
# docker-compose.yaml reads too; this script only names the hosts, ports and databases.
#
#   scripts/stack.sh start | stop | drop | reset     (make stack / make stack-stop)
#
# start keeps what an earlier start made: supervision_db (the ledger, its audit trail and
# outbox), Airflow's metadata and the generated sources stay; only a database that does not
# exist yet is created (and sources are generated only then). reset drops them and starts
# afresh; drop stops and drops them.
#
# Knobs (environment): STACK_HOME (default var/stack), STACK_API_PORT (8280),
# STACK_SMTP_PORT (8325), STACK_DB_PREFIX (bdcwatch: databases bdcwatch_airflow,
# bdcwatch_supervision and the generated sources bdcwatch_registration, _ecert, _staff),
# STACK_REDIS_HOST / STACK_REDIS_PORT (127.0.0.1:6379), STACK_REDIS_DB (5), STACK_SIZE (3000 certificates), STACK_SEED (7), STACK_PERIOD_START /
# STACK_PERIOD_END (default: last full month in the policy zone), STACK_OVERRIDES (a file of
# extra settings sourced after deploy/airflow.env, e.g. by the stack test), BDCWATCH_POLICY (a
# city policy, or a province file: then every city's databases, pool and queue, see below),
# BDCWATCH_CITY_POOL_SLOTS (deploy/airflow.env: slots of each city's pool).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"
STACK_HOME=${STACK_HOME:-$ROOT/var/stack}
PORT=${STACK_API_PORT:-8280}
SMTP_PORT=${STACK_SMTP_PORT:-8325}
PREFIX=${STACK_DB_PREFIX:-bdcwatch}
PG_ADMIN="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
SIZE=${STACK_SIZE:-3000}
SEED=${STACK_SEED:-7}

# What deploy/airflow.env leaves to the topology: here everything is on 127.0.0.1.
export STACK_DB_HOST=127.0.0.1 STACK_DB_AUTH=postgres
export STACK_REDIS_HOST=${STACK_REDIS_HOST:-127.0.0.1} STACK_REDIS_PORT=${STACK_REDIS_PORT:-6379}
export STACK_REDIS_DB=${STACK_REDIS_DB:-5}
export STACK_AIRFLOW_DB="${PREFIX}_airflow" STACK_SUPERVISION_DB="${PREFIX}_supervision"
export STACK_API_HOST=127.0.0.1 STACK_API_BIND=127.0.0.1 STACK_API_PORT=$PORT
export STACK_SMTP_HOST=127.0.0.1 STACK_SMTP_PORT=$SMTP_PORT
export STACK_APP_DIR=$ROOT STACK_AIRFLOW_HOME="$STACK_HOME/airflow"
export AIRFLOW_BASE_URL="http://127.0.0.1:$PORT"
export AIRFLOW_HOME="$STACK_HOME/airflow"
set -a
# shellcheck source=../deploy/airflow.env
source "$ROOT/deploy/airflow.env"
if [ -n "${STACK_OVERRIDES:-}" ]; then source "$STACK_OVERRIDES"; fi
set +a
SOURCE_URL="postgresql://postgres@127.0.0.1:5432/${PREFIX}"
export AIRFLOW_CONN_REGISTRATION_DB="${SOURCE_URL}_registration"
export AIRFLOW_CONN_ECERT_DB="${SOURCE_URL}_ecert"
export AIRFLOW_CONN_STAFF_REGISTRY_DB="${SOURCE_URL}_staff"
DATABASES="${PREFIX}_airflow ${PREFIX}_supervision ${PREFIX}_registration ${PREFIX}_ecert ${PREFIX}_staff"

# A province file in force (BDCWATCH_POLICY names a file with `cities:`, issue 13 item 5):
# the first city is the home city above; every other city gets its own source databases and
# supervision_db (${PREFIX}_c<code>_*, connections <conn_id>__<code>), its Airflow pool and
# its Celery queue, which both workers serve. CITIES: "code home queue pool policy" lines.
# Queues, pools and the cities' supervision_db come from `bdcwatch province`, the commands
# docker-compose.yaml runs too.
CITIES=""
if [ -n "${BDCWATCH_POLICY:-}" ]; then
  CITIES=$("$BIN/python" -c "
from bdcwatch.config.province import load_province
province = load_province()
for c in (province.cities if province else ()):
    print(c.code, int(c.home), c.queue or 'default', c.pool or 'default_pool', c.policy_path)")
fi
while read -r code home _queue _pool _policy; do
  [ -n "$code" ] || continue
  [ "$home" = 1 ] && continue
  for system in registration ecert staff supervision; do
    DATABASES="$DATABASES ${PREFIX}_c${code}_${system}"
  done
  export "AIRFLOW_CONN_REGISTRATION_DB__${code}=${SOURCE_URL}_c${code}_registration"
  export "AIRFLOW_CONN_ECERT_DB__${code}=${SOURCE_URL}_c${code}_ecert"
  export "AIRFLOW_CONN_STAFF_REGISTRY_DB__${code}=${SOURCE_URL}_c${code}_staff"
  export "AIRFLOW_CONN_SUPERVISION_DB__${code}=${SOURCE_URL}_c${code}_supervision"
done <<<"$CITIES"
LOGS="$STACK_HOME/logs" RUN="$STACK_HOME/run" MAIL="$STACK_HOME/mail"

start_bg() {  # name, command...: its own process group, so stop ends its children too
  local name=$1; shift
  setsid nohup "$@" >"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

ours() {  # pid pidfile: the process began by the time its pid file was written (a number reused
  # after a reboot names a process started after the file). Not its environment: Celery's and
  # the api-server's process titles overwrite what /proc shows of it.
  local age
  age=$(ps -o etimes= -p "$1" 2>/dev/null | tr -d ' ')
  [ -n "$age" ] && [ $(( $(date +%s) - age )) -le $(( $(stat -c %Y "$2") + 5 )) ]
}

stop() {
  # A pid file outlives a reboot, and its number may since name another process (the
  # machine's PostgreSQL): only a process as old as its pid file is signalled.
  for pidfile in "$RUN"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      if ! ours "$pid" "$pidfile"; then
        echo "    $(basename "$pidfile" .pid): process $pid is not this stack's (a stale pid file): left alone"
        rm -f "$pidfile"
        continue
      fi
      kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
      for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    # What is left of its process group (a killed worker's pool): a group lives on only in
    # the members the stack's process started, so its id names nobody else's.
    kill -9 -- "-$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

free_ports() {  # every port the stack listens on must be free (else a process dies and the wait is long)
  "$BIN/python" - "$@" <<'PY' || exit 1
import socket, sys
taken = []
for port in map(int, sys.argv[1:]):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            taken.append(port)
if taken:
    print(f"port(s) {', '.join(map(str, taken))} are taken by another program: stop it, or choose others with "
          "STACK_API_PORT (the api-server; log servers use the next three) and STACK_SMTP_PORT")
    sys.exit(1)
PY
}

redis_answers() {
  "$BIN/python" -c "import redis, sys; redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), socket_timeout=3).ping()" \
    "$STACK_REDIS_HOST" "$STACK_REDIS_PORT" 2>/dev/null
}

databases() {  # ensure|drop: ensure creates the missing ones and prints their names
  "$BIN/python" - "$1" "$PG_ADMIN" $DATABASES <<'PY'
import sys
from sqlalchemy import create_engine, text
action, admin, names = sys.argv[1], sys.argv[2], sys.argv[3:]
engine = create_engine(admin, isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    existing = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    for name in names:
        if action == "drop":
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        elif name not in existing:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            print(name)
PY
}

flush_broker() {  # the dedicated Redis database: no task message of an earlier stack survives
  "$BIN/python" -c "import redis, sys; redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), db=int(sys.argv[3])).flushdb()" \
    "$STACK_REDIS_HOST" "$STACK_REDIS_PORT" "$STACK_REDIS_DB"
}

wait_for() {  # what, seconds, command...: gives up after that many seconds of wall time, stopping what started
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "$what did not come up in ${seconds}s; the logs are in $LOGS"; tail -n 20 "$LOGS"/*.log; stop; exit 1
}

generate_cities() {  # each non-home city's sources, from its own policy and seed, side by side
  local pids=() code home policy
  while read -r code home _queue _pool policy; do
    [ -n "$code" ] && [ "$home" = 0 ] || continue
    BDCWATCH_POLICY="$policy" "$BIN/python" -m bdcwatch.demo.generator \
      --registration-url "${SOURCE_URL}_c${code}_registration" --ecert-url "${SOURCE_URL}_c${code}_ecert" \
      --staff-url "${SOURCE_URL}_c${code}_staff" --size "$SIZE" --seed "$((SEED + 10#$code))" \
      --period-start "$PERIOD_START" --period-end "$PERIOD_END" --today "$TODAY" --truth "$STACK_HOME/demo/ground_truth_$code.json" \
      >"$LOGS/generator-$code.log" 2>&1 &
    pids+=($!)
  done <<<"$CITIES"
  for pid in "${pids[@]}"; do wait "$pid" || { tail -n 20 "$LOGS"/generator-*.log; exit 1; }; done
  [ -z "$CITIES" ] || echo "    and $(( ${#pids[@]} )) more cities of the province file ($SIZE certificates each)"
}

city_databases_and_pools() {  # every city's supervision_db migrated; a pool per city (before any task is queued)
  "$BIN/bdcwatch" province migrate >>"$LOGS/db-migrate.log" 2>&1 || { tail -n 20 "$LOGS/db-migrate.log"; exit 1; }
  "$BIN/bdcwatch" province pools --slots "$BDCWATCH_CITY_POOL_SLOTS" >>"$LOGS/db-migrate.log" 2>&1 \
    || { tail -n 20 "$LOGS/db-migrate.log"; exit 1; }
  [ -z "$CITIES" ] || echo "==> Every city's supervision_db migrated and its pool made ($BDCWATCH_CITY_POOL_SLOTS slots)"
}

start() {
  stop
  free_ports "$PORT" "$((PORT + 1))" "$((PORT + 2))" "$((PORT + 3))" "$SMTP_PORT"
  redis_answers || { echo "Redis does not answer at $STACK_REDIS_HOST:$STACK_REDIS_PORT (the Celery broker): start it," \
    "or set STACK_REDIS_HOST / STACK_REDIS_PORT"; exit 1; }
  mkdir -p "$AIRFLOW_HOME" "$LOGS" "$RUN" "$MAIL" "$STACK_HOME/demo"
  read -r PERIOD_START PERIOD_END TODAY < <("$BIN/python" -c "
from bdcwatch.config.policy import load_policy
from bdcwatch.dates.clock import local_today
from bdcwatch.dates.periods import previous_period
today = local_today(load_policy().timezone)
period = previous_period('month', today)
print(period.start, period.end, today)")
  PERIOD_START=${STACK_PERIOD_START:-$PERIOD_START} PERIOD_END=${STACK_PERIOD_END:-$PERIOD_END}
  # The keys every Airflow process must share (connections in the metadata database are
  # Fernet-encrypted; workers' task tokens are JWTs): made once per STACK_HOME, never in git.
  if [ ! -f "$STACK_HOME/secrets.env" ]; then
    (umask 077; "$BIN/python" -c "
import secrets
from cryptography.fernet import Fernet
print('AIRFLOW__CORE__FERNET_KEY=' + Fernet.generate_key().decode())
print('AIRFLOW__API_AUTH__JWT_SECRET=' + secrets.token_urlsafe(64))" >"$STACK_HOME/secrets.env")
  fi
  set -a; source "$STACK_HOME/secrets.env"; set +a
  (umask 077; echo '{"admin": "admin", "op": "op", "viewer": "viewer"}' >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")

  CREATED=$(databases ensure)
  echo "==> PostgreSQL databases: $DATABASES (new: $(echo ${CREATED:-none, all kept as they were})); Redis database $STACK_REDIS_DB flushed"
  flush_broker

  if grep -qx "${PREFIX}_registration" <<<"$CREATED"; then
    echo "==> Source data: $SIZE certificates, planted problems for $PERIOD_START .. $PERIOD_END"
    "$BIN/python" -m bdcwatch.demo.generator \
      --registration-url "$AIRFLOW_CONN_REGISTRATION_DB" --ecert-url "$AIRFLOW_CONN_ECERT_DB" \
      --staff-url "$AIRFLOW_CONN_STAFF_REGISTRY_DB" --size "$SIZE" --seed "$SEED" \
      --period-start "$PERIOD_START" --period-end "$PERIOD_END" --today "$TODAY" --truth "$STACK_HOME/demo/ground_truth.json" \
      >"$LOGS/generator.log" 2>&1 || { tail -n 20 "$LOGS/generator.log"; exit 1; }
    generate_cities
  else
    echo "==> Source data kept from the earlier start (scripts/stack.sh reset generates it afresh)"
  fi

  echo "==> Mail catcher on 127.0.0.1:$SMTP_PORT writing .eml files to $MAIL"
  start_bg mailsink "$BIN/python" -m bdcwatch.demo.mailsink --dir "$MAIL" --port "$SMTP_PORT"
  wait_for "The mail catcher" 30 "$BIN/python" -c \
    "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2).close()" "$SMTP_PORT"

  echo "==> Airflow metadata (airflow db migrate) and supervision_db (bdcwatch province migrate)"
  "$BIN/airflow" db migrate >"$LOGS/db-migrate.log" 2>&1 || { tail -n 20 "$LOGS/db-migrate.log"; exit 1; }
  city_databases_and_pools

  QUEUES=$("$BIN/bdcwatch" province queues)
  echo "==> api-server, scheduler, dag-processor, triggerer, Celery workers worker1 and worker2 (queues $QUEUES)"
  start_bg api-server "$BIN/airflow" api-server --workers 1
  start_bg scheduler "$BIN/airflow" scheduler
  start_bg dag-processor "$BIN/airflow" dag-processor
  # Each process that serves its task logs needs its own port on one machine.
  AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=$((PORT + 3)) start_bg triggerer "$BIN/airflow" triggerer
  for n in 1 2; do
    AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((PORT + n)) \
      start_bg "worker$n" "$BIN/airflow" celery worker --celery-hostname "worker$n@%h" --queues="$QUEUES"
  done
  wait_for "The api-server" 180 curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health"
  wait_for "Celery" 180 "$BIN/celery" --app airflow.providers.celery.executors.celery_executor.app \
    inspect ping --destination "worker1@$(hostname),worker2@$(hostname)" --timeout 5

  cat <<MSG

  bdcwatch stack is running (CeleryExecutor, PostgreSQL, Redis db $STACK_REDIS_DB, two workers).
    Airflow UI      http://127.0.0.1:$PORT   (log in as op / op; also admin / admin, viewer / viewer)
    Ledger          问题台账 in the navigation, or http://127.0.0.1:$PORT/bdcwatch/ui/
    REST API        http://127.0.0.1:$PORT/api/v2 (token: POST /auth/token)
    Databases       PostgreSQL 127.0.0.1:5432: ${PREFIX}_airflow (metadata), ${PREFIX}_supervision
                    (supervision_db), sources ${PREFIX}_registration, _ecert, _staff
    Source data     $SIZE certificates with planted problems for $PERIOD_START .. $PERIOD_END;
                    ground truth in $STACK_HOME/demo/ground_truth.json
    Mail            .eml files in $MAIL (SMTP 127.0.0.1:$SMTP_PORT)
    DAGs            all paused: switch one on, or trigger it with
                    {"period_start": "$PERIOD_START", "period_end": "$PERIOD_END"}
    Logs            $LOGS (task logs under $AIRFLOW_HOME/logs)
    Stop            make stack-stop (the databases stay: the next make stack carries on with them;
                    scripts/stack.sh reset starts afresh, scripts/stack.sh drop removes them)

MSG
}

case "${1:-start}" in
  start) start ;;
  stop) stop; echo "stack stopped" ;;
  drop) stop; databases drop; flush_broker; echo "stack stopped, databases dropped, Redis db $STACK_REDIS_DB flushed" ;;
  reset) stop; databases drop; rm -rf "$MAIL"; start ;;
  *) echo "usage: $0 start|stop|drop|reset"; exit 2 ;;
esac
