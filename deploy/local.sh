#!/usr/bin/env bash
# feedrec as N replicas behind HAProxy with one Postgres, on this machine.
#
#   deploy/local.sh data [--scale demo]    world + feature tables into $DATABASE_URL (once)
#   deploy/local.sh up [--replicas 2]      start the replicas, then HAProxy; returns when all are ready
#   deploy/local.sh status                 each replica's pid and /readyz, and HAProxy's view of it
#   deploy/local.sh roll                   rolling restart: one replica at a time, drained by SIGTERM
#   deploy/local.sh reload [--signal]      every replica loads the newest models + a fresh feature
#                                          snapshot (admin route, or SIGHUP with --signal)
#   deploy/local.sh down                   stop HAProxy, then drain and stop every replica
#
# Options (or environment):
#   --port P (FEEDREC_LB_PORT, 8400)      HAProxy listens on P, replica i on P+i, HAProxy stats on P+99
#   DATABASE_URL                          default postgres://postgres:postgres@127.0.0.1:5432/ops_demo
#   FEEDREC_MODELS_DIR                    default ./models (reload picks the newest version folder)
#   FEEDREC_DEPLOY_DIR                    pids, logs, haproxy.cfg, admin token (default /tmp/feedrec-deploy-P)
#   FEEDREC_ENV_FILE                      replica configuration (default deploy/feedrec.env)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-help}
shift || true
PORT=${FEEDREC_LB_PORT:-8400}
REPLICAS=2
SCALE=demo
SIGNAL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) REPLICAS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --signal) SIGNAL=1; shift ;;
    *) echo "local.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
export DATABASE_URL=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/ops_demo}
MODELS_DIR=$(cd "${FEEDREC_MODELS_DIR:-$ROOT/models}" && pwd)
STATE=${FEEDREC_DEPLOY_DIR:-/tmp/feedrec-deploy-$PORT}
ENV_FILE=${FEEDREC_ENV_FILE:-$ROOT/deploy/feedrec.env}
STATS_PORT=$((PORT + 99))
READY_TIMEOUT_S=${FEEDREC_READY_TIMEOUT_S:-180}

say() { echo "local.sh: $*" >&2; }
die() { say "$*"; exit 1; }

need_haproxy() {
  command -v haproxy >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing haproxy from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null; }
  else
    die "haproxy is missing: sudo apt-get install -y haproxy"
  fi
}

replica_port() { echo $((PORT + $1)); }
replica_pid() { cat "$STATE/replica-$1.pid" 2>/dev/null || true; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
replica_count() { cat "$STATE/replicas" 2>/dev/null || echo 0; }

start_replica() {
  local i=$1 port
  port=$(replica_port "$i")
  if curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then
    die "port $port is taken by another process: choose another --port"
  fi
  # set -a exports everything the env file assigns; the per-replica values come after it.
  (
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
    # Each replica spools its own exposures while Postgres is away (replayed by its next start).
    export PORT=$port HOST=127.0.0.1 FEEDREC_MODELS_DIR=$MODELS_DIR FEEDREC_SPOOL_DIR=$STATE/spool-$i
    FEEDREC_ADMIN_TOKEN=$(cat "$STATE/admin-token")
    export FEEDREC_ADMIN_TOKEN
    exec setsid node "$ROOT/bin/feedrec.js" serve
  ) >>"$STATE/replica-$i.log" 2>&1 </dev/null &
  echo $! >"$STATE/replica-$i.pid"
}

wait_ready() {
  local i=$1 port pid until
  port=$(replica_port "$i")
  pid=$(replica_pid "$i")
  until=$(($(date +%s) + READY_TIMEOUT_S))
  while [ "$(date +%s)" -lt "$until" ]; do
    alive "$pid" || { tail -n 20 "$STATE/replica-$i.log" >&2; die "replica $i (pid $pid) exited before it was ready"; }
    curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
    sleep 0.2
  done
  die "replica $i not ready after ${READY_TIMEOUT_S}s (log: $STATE/replica-$i.log)"
}

# HAProxy's own view of a server (UP, DOWN, MAINT, …) from the stats page.
lb_status() {
  curl -fs "http://127.0.0.1:$STATS_PORT/stats;csv" 2>/dev/null |
    awk -F, -v s="r$1" '$1 == "replicas" && $2 == s { print $18 }'
}

wait_lb_up() {
  local i=$1 until
  until=$(($(date +%s) + 30))
  while [ "$(date +%s)" -lt "$until" ]; do
    [ "$(lb_status "$i")" = UP ] && return 0
    sleep 0.1
  done
  die "HAProxy did not mark replica $i UP within 30 s"
}

stop_replica() {
  local i=$1 pid
  pid=$(replica_pid "$i")
  alive "$pid" || return 0
  # SIGTERM: /readyz fails at once (HAProxy takes the replica out), in-flight answers finish,
  # exposures are flushed; the process exits when everything closed.
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    alive "$pid" || return 0
    sleep 0.1
  done
  die "replica $i (pid $pid) still running 30 s after SIGTERM"
}

write_haproxy_cfg() {
  local n=$1 i
  {
    cat <<EOF
# Generated by deploy/local.sh for $n replicas.
global
  maxconn 4096
  pidfile $STATE/haproxy.pid

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout check 2s
  # A replica that stops listening (drain) or closes an idle kept-alive connection while a
  # request is on its way: GETs are idempotent, so HAProxy sends them again, to another replica.
  retries 3
  option redispatch 1
  retry-on all-retryable-errors

frontend feedrec
  bind 127.0.0.1:$PORT
  default_backend replicas
  http-response set-header X-Served-By %[srv_name]

backend replicas
  balance roundrobin
  # /readyz fails while a replica starts, reloads nothing (it stays ready) and while it drains.
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2
EOF
    for i in $(seq 1 "$n"); do
      echo "  server r$i 127.0.0.1:$(replica_port "$i") check"
    done
    cat <<EOF

listen stats
  bind 127.0.0.1:$STATS_PORT
  stats enable
  stats uri /stats
  stats refresh 2s
EOF
  } >"$STATE/haproxy.cfg"
  haproxy -c -q -f "$STATE/haproxy.cfg"
}

case "$cmd" in
  data)
    admin_url=$(echo "$DATABASE_URL" | sed -E 's#/[^/?]+(\?|$)#/postgres\1#')
    db=$(echo "$DATABASE_URL" | sed -E 's#.*/([^/?]+)(\?.*)?$#\1#')
    if [ -z "$(psql "$admin_url" -tAc "select 1 from pg_database where datname = '$db'")" ]; then
      psql "$admin_url" -qc "create database \"$db\""
    fi
    node "$ROOT/bin/feedrec.js" world --scale "$SCALE" --no-progress
    node "$ROOT/bin/feedrec.js" features
    ;;
  up)
    need_haproxy
    [ -f "$ROOT/dist/src/index.js" ] || (cd "$ROOT" && npm run build --silent)
    [ "$(replica_count)" = 0 ] || die "already up in $STATE ($(replica_count) replicas): run down first"
    mkdir -p "$STATE"
    [ -s "$STATE/admin-token" ] || node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))" >"$STATE/admin-token"
    chmod 600 "$STATE/admin-token"
    trap 'rc=$?; [ $rc = 0 ] || { say "up failed: stopping what started"; "$0" down --port "$PORT" >/dev/null 2>&1 || true; }' EXIT
    for i in $(seq 1 "$REPLICAS"); do start_replica "$i"; done
    for i in $(seq 1 "$REPLICAS"); do wait_ready "$i"; done
    echo "$REPLICAS" >"$STATE/replicas"
    write_haproxy_cfg "$REPLICAS"
    haproxy -D -f "$STATE/haproxy.cfg"
    for i in $(seq 1 "$REPLICAS"); do wait_lb_up "$i"; done
    say "up: http://127.0.0.1:$PORT (HAProxy, stats http://127.0.0.1:$STATS_PORT/stats), $REPLICAS replicas on ports $((PORT + 1))-$((PORT + REPLICAS)), logs in $STATE"
    ;;
  status)
    n=$(replica_count)
    [ "$n" != 0 ] || { say "not up ($STATE)"; exit 1; }
    for i in $(seq 1 "$n"); do
      pid=$(replica_pid "$i")
      ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(replica_port "$i")/readyz" || true)
      echo "r$i port $(replica_port "$i") pid $pid readyz $ready haproxy $(lb_status "$i")"
    done
    ;;
  roll)
    n=$(replica_count)
    [ "$n" != 0 ] || die "not up ($STATE)"
    for i in $(seq 1 "$n"); do
      # Never take one down while another is not serving: the set keeps n - 1 replicas at least.
      for j in $(seq 1 "$n"); do wait_lb_up "$j"; done
      started=$(date +%s%N)
      stop_replica "$i"
      start_replica "$i"
      wait_ready "$i"
      wait_lb_up "$i"
      say "replica $i replaced in $((($(date +%s%N) - started) / 1000000)) ms"
    done
    ;;
  reload)
    n=$(replica_count)
    [ "$n" != 0 ] || die "not up ($STATE)"
    status=0
    for i in $(seq 1 "$n"); do
      if [ "$SIGNAL" = 1 ]; then
        kill -HUP "$(replica_pid "$i")"
      else
        FEEDREC_ADMIN_TOKEN=$(cat "$STATE/admin-token") node "$ROOT/bin/feedrec.js" reload \
          --url "http://127.0.0.1:$(replica_port "$i")" || status=1
      fi
    done
    exit $status
    ;;
  down)
    if [ -f "$STATE/haproxy.pid" ] && alive "$(cat "$STATE/haproxy.pid")"; then
      # SIGUSR1: HAProxy stops listening and finishes the connections it has.
      kill -USR1 "$(cat "$STATE/haproxy.pid")"
      for _ in $(seq 1 100); do alive "$(cat "$STATE/haproxy.pid")" || break; sleep 0.1; done
    fi
    # Every replica with a pid file, whatever the count says (a failed up leaves some behind).
    for f in "$STATE"/replica-*.pid; do
      [ -e "$f" ] || continue
      i=${f##*/replica-}
      stop_replica "${i%.pid}"
    done
    rm -f "$STATE"/replica-*.pid "$STATE/replicas" "$STATE/haproxy.pid"
    say "down"
    ;;
  *)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    [ "$cmd" = help ] || exit 2
    ;;
esac
