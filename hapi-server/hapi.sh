#!/usr/bin/env bash
# Builds and runs the local HAPI FHIR R4 server as two EHRs:
#   EHR A  http://127.0.0.1:${HAPI_PORT_A:-8081}/fhir
#   EHR B  http://127.0.0.1:${HAPI_PORT_B:-8082}/fhir
# Each EHR is its own JVM with its own in-memory H2 database.
#
# Usage: hapi.sh build|start|stop|status
#   build   mvn package, skipped while pom.xml and src/ are unchanged
#   start   build if needed, start both servers, wait for /metadata, print the base URLs
#   stop    stop both servers (pid files) and wait for them to exit
#   status  exit 0 when both answer /metadata
#   smoke   run smoke_check.py (HTTP checks of the behaviour the tests rely on)
#
# Environment: HAPI_PORT_A, HAPI_PORT_B, HAPI_START_TIMEOUT (s, default 300),
# HAPI_JAVA_OPTS (default below), HAPI_MVN_OFFLINE=1 (mvn -o).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAR="$HERE/target/hapi-server.jar"
HASH_FILE="$HERE/target/.build-hash"
LOG_DIR="$HERE/logs"
# The servers run a copy of the jar, so a rebuild never rewrites a jar in use.
RUN_JAR="$LOG_DIR/hapi-server-running.jar"
RUN_HASH_FILE="$LOG_DIR/running.build-hash"

HOST=127.0.0.1
PORT_A="${HAPI_PORT_A:-8081}"
PORT_B="${HAPI_PORT_B:-8082}"
START_TIMEOUT="${HAPI_START_TIMEOUT:-300}"
# SerialGC and C1-only JIT: the two servers share 2 cores and start faster so.
JAVA_OPTS="${HAPI_JAVA_OPTS:--Xms256m -Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1}"

log() { echo "hapi.sh: $*" >&2; }

base_url() { echo "http://$HOST:$1/fhir"; }

port_of() { if [[ $1 == a ]]; then echo "$PORT_A"; else echo "$PORT_B"; fi; }

# Hash of everything the jar is built from.
source_hash() {
    (
        cd "$HERE"
        { sha256sum pom.xml; find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1
    )
}

cmd_build() {
    local want
    want="$(source_hash)"
    if [[ -f $JAR && -f $HASH_FILE && "$(cat "$HASH_FILE")" == "$want" ]]; then
        log "jar up to date ($JAR)"
        return 0
    fi
    command -v mvn >/dev/null || { log "mvn not found"; return 1; }
    local offline=()
    [[ ${HAPI_MVN_OFFLINE:-0} == 1 ]] && offline=(-o)
    log "building $JAR (mvn package; the first build downloads ~330 MB into ~/.m2)"
    rm -f "$HASH_FILE"
    # Maven's output goes to a log shown only on failure (-q still prints errors).
    # "clean" so that classes of deleted sources don't linger in the jar.
    local build_log="$LOG_DIR/build.log"
    mkdir -p "$LOG_DIR"
    if ! (cd "$HERE" && mvn -q -B "${offline[@]}" clean package -DskipTests) >"$build_log" 2>&1; then
        sed 's/\x1b\[[0-9;]*m//g' "$build_log" >&2
        log "build failed (full output: $build_log)"
        return 1
    fi
    echo "$want" >"$HASH_FILE"
    log "built $JAR"
}

# Prints the HTTP status of GET {base}/metadata, 000 when nothing answers.
metadata_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$(base_url "$1")/metadata" 2>/dev/null || true
}

is_up() { [[ "$(metadata_status "$1")" == 200 ]]; }

pid_file() { echo "$LOG_DIR/ehr-$1.pid"; }

# Prints the pid of our running server for EHR $1, or fails.
our_pid() {
    local file pid
    file="$(pid_file "$1")"
    [[ -f $file ]] || return 1
    pid="$(cat "$file")"
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: it must still be our jar.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "hapi-server-running.jar" || return 1
    echo "$pid"
}

launch() {
    local ehr="$1" port
    port="$(port_of "$ehr")"
    if our_pid "$ehr" >/dev/null; then
        log "EHR ${ehr^^} already running (pid $(our_pid "$ehr"))"
        return 0
    fi
    if [[ "$(metadata_status "$port")" != 000 ]]; then
        log "port $port is taken by another process; stop it or set HAPI_PORT_${ehr^^}"
        return 1
    fi
    local log_file="$LOG_DIR/ehr-$ehr.log" tries=0
    rm -f "$(pid_file "$ehr")"
    # setsid: the server outlives the shell (and process group) that started it;
    # 9>&- keeps the lock (fd 9) out of the server, or it would hold it forever.
    # The database name only shows in logs; every JVM has its own memory anyway.
    # shellcheck disable=SC2016,SC2086 # $$ is for the inner bash; JAVA_OPTS splits on purpose
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$(pid_file "$ehr")" \
        java $JAVA_OPTS -jar "$RUN_JAR" \
        --server.port="$port" \
        "--spring.datasource.url=jdbc:h2:mem:ehr_$ehr;DB_CLOSE_DELAY=-1" \
        >"$log_file" 2>&1 </dev/null 9>&- &
    # The pid file is written by the child: wait for it before anyone checks it.
    while [[ ! -s $(pid_file "$ehr") ]] && ((tries < 50)); do
        sleep 0.1
        tries=$((tries + 1))
    done
    log "starting EHR ${ehr^^} on port $port (log: $log_file)"
}

cmd_start() {
    mkdir -p "$LOG_DIR"
    if is_up "$PORT_A" && is_up "$PORT_B"; then
        if [[ -f $RUN_HASH_FILE && "$(cat "$RUN_HASH_FILE")" != "$(source_hash)" ]]; then
            log "note: the running servers are an older build; 'hapi.sh stop' then 'start' to update"
        fi
        base_url "$PORT_A"
        base_url "$PORT_B"
        return 0
    fi
    command -v java >/dev/null || { log "java not found"; return 1; }
    cmd_build
    # Refresh the running copy only when no server of ours uses it.
    if ! our_pid a >/dev/null && ! our_pid b >/dev/null; then
        cp "$JAR" "$RUN_JAR.tmp" && mv "$RUN_JAR.tmp" "$RUN_JAR"
        cp "$HASH_FILE" "$RUN_HASH_FILE"
    fi
    launch a
    launch b

    local started=$SECONDS ehr
    while true; do
        if is_up "$PORT_A" && is_up "$PORT_B"; then break; fi
        for ehr in a b; do
            if ! is_up "$(port_of "$ehr")" && ! our_pid "$ehr" >/dev/null; then
                log "EHR ${ehr^^} exited during startup; last lines of its log:"
                tail -n 30 "$LOG_DIR/ehr-$ehr.log" >&2 || true
                return 1
            fi
        done
        if ((SECONDS - started >= START_TIMEOUT)); then
            log "timed out after ${START_TIMEOUT}s waiting for /metadata (logs in $LOG_DIR)"
            return 1
        fi
        sleep 1
    done
    log "both EHRs up after $((SECONDS - started))s"
    base_url "$PORT_A"
    base_url "$PORT_B"
}

cmd_stop() {
    local ehr pid waited
    for ehr in a b; do
        if pid="$(our_pid "$ehr")"; then
            log "stopping EHR ${ehr^^} (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            waited=0
            while kill -0 "$pid" 2>/dev/null; do
                if ((waited >= 30)); then
                    log "EHR ${ehr^^} ignored SIGTERM for 30s; killing it"
                    kill -KILL "$pid" 2>/dev/null || true
                fi
                sleep 1
                waited=$((waited + 1))
            done
        fi
        rm -f "$(pid_file "$ehr")"
    done
}

cmd_status() {
    local rc=0 ehr port
    for ehr in a b; do
        port="$(port_of "$ehr")"
        if is_up "$port"; then
            echo "EHR ${ehr^^} up   $(base_url "$port")"
        else
            echo "EHR ${ehr^^} down $(base_url "$port")"
            rc=1
        fi
    done
    return $rc
}

# One build/start/stop at a time (e.g. parallel test runs starting the servers).
lock() {
    mkdir -p "$LOG_DIR"
    exec 9>"$LOG_DIR/.lock"
    flock 9
}

case "${1:-}" in
    build) lock && cmd_build ;;
    start) lock && cmd_start ;;
    stop) lock && cmd_stop ;;
    status) cmd_status ;;
    smoke) python3 "$HERE/smoke_check.py" "$(base_url "$PORT_A")" "$(base_url "$PORT_B")" ;;
    *)
        echo "usage: $0 build|start|stop|status|smoke" >&2
        exit 2
        ;;
esac
