#!/usr/bin/env bash
# The embedded demo: SQLite everywhere, LocalExecutor, a local SMTP sink writing .eml files.
# Everything lives under var/ and listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR="$ROOT/var"
BIN="$ROOT/.venv/bin"
PORT=${DEMO_PORT:-8080}
SMTP_PORT=${DEMO_SMTP_PORT:-8025}
SIZE=${DEMO_SIZE:-3000}
DEMO_DIRTY=${DEMO_DIRTY:-}   # non-empty: sources written as vendor databases hold them (issue 10)
# The demo judges the last full calendar month (the monthly view a head would get), in the
# policy's time zone: the machine's own date differs from Shanghai's for hours every day.
# TODAY: the sources hold nothing after its 00:00 (no event from the future).
read -r PERIOD_START PERIOD_END TODAY < <("$BIN/python" -c "
from bdcwatch.config.policy import load_policy
from bdcwatch.dates.clock import local_today
from bdcwatch.dates.periods import previous_period
today = local_today(load_policy().timezone)
period = previous_period('month', today)
print(period.start, period.end, today)")

export AIRFLOW_HOME="$VAR/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"   # the bdcwatch plugin: 问题台账 in the navigation
# Every DAG starts paused: the demo makes its first runs itself (below, one after the other)
# and the scheduler starts nothing until the operator switches a DAG on in the UI. On a
# 2-core machine nine DAGs unpaused at once would start eight runs together.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__DEFAULT_TIMEZONE=Asia/Shanghai
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,op:op,viewer:viewer"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=300   # the DAG files do not change during a demo
export AIRFLOW__API__WORKERS=1
export AIRFLOW_CONN_REGISTRATION_DB="sqlite:///$VAR/demo/registration.db"
export AIRFLOW_CONN_ECERT_DB="sqlite:///$VAR/demo/ecert.db"
export AIRFLOW_CONN_STAFF_REGISTRY_DB="sqlite:///$VAR/demo/staff.db"
export AIRFLOW_CONN_SUPERVISION_DB="sqlite:///$VAR/demo/supervision.db"
export AIRFLOW_CONN_SMTP_DEFAULT="smtp://127.0.0.1:$SMTP_PORT?disable_ssl=true&disable_tls=true&from_email=bdcwatch%40example.org&timeout=10"
# The demo's policy: the bundled one with a complaints folder (relative to the policy file).
export BDCWATCH_POLICY="$VAR/demo/policy.yaml"
COMPLAINTS_DIR="$VAR/demo/intake/complaints"

start_bg() {  # name, command...
  local name=$1; shift
  # Own process group, so stop can end the children too (the scheduler forks serve-logs).
  setsid nohup "$@" >"$VAR/logs/$name.log" 2>&1 &
  echo $! >"$VAR/run/$name.pid"
}

stop() {
  for pidfile in "$VAR"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

start() {
  stop
  mkdir -p "$VAR/demo" "$VAR/mail" "$VAR/logs" "$VAR/run" "$AIRFLOW_HOME"
  echo '{"admin": "admin", "op": "op", "viewer": "viewer"}' >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  "$BIN/python" - "$BDCWATCH_POLICY" <<'PY'
import sys
from pathlib import Path
import yaml
from bdcwatch.config.policy import BUNDLED_POLICY
from importlib import resources
raw = yaml.safe_load(resources.files("bdcwatch.config").joinpath(BUNDLED_POLICY).read_text(encoding="utf-8"))
raw.setdefault("intake", {})["complaints_dir"] = "intake/complaints"
# The demo's exports are written whole before its first run (and `bdcwatch complaints drop`
# renames into place): nothing here is copied in over a share, so no settling wait.
raw["intake"]["settle_seconds"] = 0
Path(sys.argv[1]).write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
PY

  echo "==> Demo source data: $SIZE certificates, planted problems for $PERIOD_START .. $PERIOD_END"
  rm -rf "$VAR"/demo/*.db* "$VAR/demo/reviews" "$VAR/demo/intake"
  "$BIN/python" -m bdcwatch.demo.generator \
    --registration-url "$AIRFLOW_CONN_REGISTRATION_DB" --ecert-url "$AIRFLOW_CONN_ECERT_DB" \
    --staff-url "$AIRFLOW_CONN_STAFF_REGISTRY_DB" --size "$SIZE" \
    --period-start "$PERIOD_START" --period-end "$PERIOD_END" --today "$TODAY" \
    --truth "$VAR/demo/ground_truth.json" ${DEMO_DIRTY:+--dirty}


  echo "==> SMTP sink on 127.0.0.1:$SMTP_PORT writing to $VAR/mail"
  start_bg mailsink "$BIN/python" -m bdcwatch.demo.mailsink --dir "$VAR/mail" --port "$SMTP_PORT"

  echo "==> Airflow metadata database"
  "$BIN/airflow" db migrate >"$VAR/logs/db-migrate.log" 2>&1

  first_run() {  # dag_id, logical date
    echo "==> First run: $1 for $PERIOD_START .. $PERIOD_END"
    "$BIN/airflow" dags test "$1" "$2" \
      -c "{\"period_start\": \"$PERIOD_START\", \"period_end\": \"$PERIOD_END\"}" >"$VAR/logs/first-run-$1.log" 2>&1 \
      || { echo "first run failed, see $VAR/logs/first-run-$1.log"; tail -30 "$VAR/logs/first-run-$1.log"; exit 1; }
  }
  # The staff audit before the monthly check: the month's 六不准 report counts the staff
  # findings of the month (in production the weekly audit has run several times by then).
  for dag_id in ecert_completeness staff_registry_audit monthly_quality_check; do
    first_run "$dag_id" "$PERIOD_END"
  done

  echo "==> Reviewers return about half of each unit's checklist (bdcwatch review import)"
  "$BIN/python" -m bdcwatch.demo.feedback checklists --supervision-url "$AIRFLOW_CONN_SUPERVISION_DB" \
    --dir "$VAR/demo/reviews" >"$VAR/logs/reviews.log"
  for checklist in "$VAR"/demo/reviews/*.xlsx; do
    "$BIN/bdcwatch" --url "$AIRFLOW_CONN_SUPERVISION_DB" review import "$checklist" --actor "质检科（演示）" \
      >>"$VAR/logs/reviews.log" 2>&1 || { echo "review import failed, see $VAR/logs/reviews.log"; exit 1; }
  done
  "$BIN/bdcwatch" --url "$AIRFLOW_CONN_SUPERVISION_DB" duty record EMERGENCY_DRILL YQ21 --date "$PERIOD_START" \
    --note "窗口应急演练（演示）" --actor "办公室（演示）" >>"$VAR/logs/reviews.log"

  echo "==> A 12345 export (GB18030) and a 好差评 export (UTF-8 with BOM) dropped into $COMPLAINTS_DIR"
  "$BIN/python" -m bdcwatch.demo.feedback complaints --registration-url "$AIRFLOW_CONN_REGISTRATION_DB" \
    --dir "$COMPLAINTS_DIR" --period-start "$PERIOD_START" --period-end "$PERIOD_END" >"$VAR/logs/complaints.log"
  first_run complaint_intake "$PERIOD_END"
  first_run monthly_bulletin "$PERIOD_END"

  echo "==> Starting Airflow (api-server, scheduler, dag-processor, triggerer)"
  start_bg api-server "$BIN/airflow" api-server --host 127.0.0.1 --port "$PORT" --workers 1
  start_bg scheduler "$BIN/airflow" scheduler
  start_bg dag-processor "$BIN/airflow" dag-processor
  start_bg triggerer "$BIN/airflow" triggerer
  for _ in $(seq 90); do
    if curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1; then break; fi
    sleep 2
  done
  curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1 \
    || { echo "Airflow did not come up, see $VAR/logs/api-server.log"; exit 1; }

  read -r findings open_findings complaints defects reviewed sampled ranked <<<"$("$BIN/python" - <<PY
import sqlite3
c = sqlite3.connect("$VAR/demo/supervision.db")
one = lambda sql: c.execute(sql).fetchone()[0] or 0
print(one("select count(*) from finding"),
      one("select count(*) from finding where status in ('open','rectifying','reopened')"),
      one("select count(*) from finding where rule_code = 'COMPLAINT'"),
      one("select count(*) from finding where rule_code = 'REVIEW_DEFECT'"),
      one("select sum(reviewed_count) from inspection"), one("select sum(sample_size) from inspection"),
      one("select count(rank) from bulletin_rank"))
PY
)"
  cat <<MSG

  bdcwatch demo is running.
    Airflow UI      http://127.0.0.1:$PORT   (log in as op / op; also admin / admin, viewer / viewer)
    Ledger          click 问题台账 in the navigation on the left: $findings findings ($open_findings open,
                    $complaints complaints, $defects review defects), or open
                    http://127.0.0.1:$PORT/bdcwatch/ui/ directly
    First runs      ecert_completeness, staff_registry_audit, monthly_quality_check, complaint_intake and
                    monthly_bulletin, $PERIOD_START .. $PERIOD_END, made by this script one after the other
                    (see Dags → Runs); $reviewed of $sampled sampled cases reviewed; $ranked units ranked
    Started         api-server (1 worker), scheduler, dag-processor, triggerer, the mail sink;
                    every DAG is paused: nothing else runs until you switch a DAG on
    Emails          $(ls "$VAR/mail" | wc -l) message(s) (digests to heads, notices to operations) as .eml files in $VAR/mail
    Ground truth    $VAR/demo/ground_truth.json (what the generator planted)
    Feed it         $COMPLAINTS_DIR (complaint exports); verdicts and duties from a shell:
                    BDCWATCH_POLICY=$VAR/demo/policy.yaml $ROOT/.venv/bin/bdcwatch \\
                      --url sqlite:///$VAR/demo/supervision.db review list
    Logs            $VAR/logs
    Stop            make stop

MSG
}

case "${1:-start}" in
  start) start ;;
  stop) stop; echo "demo stopped" ;;
  *) echo "usage: $0 start|stop"; exit 2 ;;
esac
