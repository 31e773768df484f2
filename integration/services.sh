#!/usr/bin/env bash
# services.sh — the services ferry's integration tests and benchmark need:
# MinIO (S3), fauxqs (SQS) and PostgreSQL.
#
# Usage (from anywhere; paths are relative to the repository root):
#
#   integration/services.sh run CMD [ARGS...]
#       Ensure the services, export their environment, run CMD, then stop
#       what this script started (also on failure, Ctrl-C or TERM). Exits
#       with CMD's exit code. Preferred form; what `make integration` uses.
#
#   eval "$(integration/services.sh env)"        (also: no argument)
#       Ensure the services and print `export VAR=...` lines. A MinIO or
#       fauxqs started here keeps running in the background; stop them with
#       `integration/services.sh stop` (uses FERRY_TEST_MINIO_PID/_DIR and
#       FERRY_TEST_FAUXQS_PID/_DIR).
#
#   integration/services.sh stop
#       Stop the MinIO and fauxqs started by `env` (reads the variables above).
#
#   integration/services.sh minio-bin
#       Only build (or find) the pinned MinIO binary at .cache/bin/minio.
#
#   integration/services.sh fauxqs-bin
#       Only install (or find) the pinned fauxqs, the SQS emulator, in
#       integration/node_modules (`npm ci` from integration/package-lock.json;
#       needs Node.js >= 20 and npm).
#
# Environment it honours:
#   FERRY_TEST_S3_ENDPOINT   use this S3 endpoint and start no MinIO
#   FERRY_TEST_SQS_ENDPOINT  use this SQS endpoint and start no fauxqs
#   FERRY_TEST_DATABASE_URL  use this PostgreSQL and start nothing
#   MINIO_BIN                use this minio binary instead of .cache/bin/minio
#   MINIO_START_TIMEOUT, FAUXQS_START_TIMEOUT
#                            seconds to wait for each to answer (60, 30)
#
# Environment it exports:
#   FERRY_TEST_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY, AWS_REGION, FERRY_TEST_SQS_ENDPOINT,
#   AWS_ENDPOINT_URL_SQS (always equal to FERRY_TEST_SQS_ENDPOINT),
#   FERRY_TEST_DATABASE_URL
#   (and FERRY_TEST_MINIO_PID, FERRY_TEST_MINIO_DIR when it started MinIO;
#   FERRY_TEST_FAUXQS_PID, FERRY_TEST_FAUXQS_DIR when it started fauxqs).
#   fauxqs checks no credentials, so the MinIO ones serve for SQS too.
#
# Everything it says goes to stderr prefixed with "services:"; stdout carries
# only the export lines (env mode) or the command's own output (run mode).
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_USER=ferry
MINIO_PASSWORD=ferrysecret
MINIO_REGION=us-east-1
MINIO_START_TIMEOUT=${MINIO_START_TIMEOUT:-60}
FAUXQS_START_TIMEOUT=${FAUXQS_START_TIMEOUT:-30}
FAUXQS_NODE_MAJOR=20 # fauxqs 1.9.2 needs Node.js >= 20 (2.x needs 22)
PG_LOCAL_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_BIN=$ROOT/.cache/bin
NODE_DIR=$ROOT/integration # package.json, package-lock.json, node_modules/

log() { printf 'services: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------- MinIO binary

minio_works() { [[ -x $1 ]] && "$1" --version >/dev/null 2>&1; }

# ensure_minio_bin sets MINIO to a working minio binary, building the pinned
# version into .cache/bin when there is none. Concurrent callers serialise on
# a lock; the build goes to a temporary GOBIN and is renamed into place, so a
# half-written binary is never seen.
ensure_minio_bin() {
	if [[ -n ${MINIO_BIN:-} ]]; then
		minio_works "$MINIO_BIN" || die "MINIO_BIN=$MINIO_BIN is not a working minio binary"
		MINIO=$MINIO_BIN
		return
	fi
	MINIO=$CACHE_BIN/minio
	if minio_works "$MINIO"; then
		return
	fi
	command -v go >/dev/null || die "no $MINIO and no go toolchain to build it"
	mkdir -p "$CACHE_BIN"
	exec 9>"$CACHE_BIN/.minio.lock"
	if ! flock -n 9; then
		log "another process is building minio; waiting for it"
		flock 9
	fi
	if minio_works "$MINIO"; then # built by whoever held the lock
		exec 9>&-
		return
	fi
	local tmp start
	tmp=$(mktemp -d "$CACHE_BIN/.build.XXXXXX")
	start=$(now)
	log "building $MINIO_MODULE@$MINIO_VERSION into .cache/bin (takes a few minutes)"
	# Outside the module so that its go.mod and GOFLAGS do not interfere.
	if ! (cd "$tmp" && GOBIN=$tmp GOFLAGS=-buildvcs=false GOWORK=off go install "$MINIO_MODULE@$MINIO_VERSION" >&2); then
		rm -rf "$tmp"
		die "building minio failed (see above)"
	fi
	mv -f "$tmp/minio" "$MINIO"
	rm -rf "$tmp"
	exec 9>&-
	minio_works "$MINIO" || die "built $MINIO but it does not run"
	log "built minio in $(since "$start")s"
}

# ---------------------------------------------------------------------- ports

port_in_use() {
	# Something listening answers the connect; a free port refuses it.
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port prints a loopback port nothing listens on. Another process may
# still take it before MinIO binds it; start_minio retries on that.
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 40000))
		if ! port_in_use "$p"; then
			echo "$p"
			return
		fi
	done
	die "found no free loopback port"
}

# ---------------------------------------------------------------------- MinIO

MINIO_PID=
MINIO_DIR=
STARTED_MINIO=

# start_minio starts MinIO on a free port with data in a temporary directory
# and waits until it is live. $1 = "detach" to let it outlive this script
# (env mode); otherwise it dies with this script, even on kill -9.
start_minio() {
	local mode=${1:-attached} attempt port console start pid
	ensure_minio_bin
	MINIO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferry-minio.XXXXXX")
	mkdir -p "$MINIO_DIR/data"
	local logf=$MINIO_DIR/minio.log
	for attempt in 1 2 3; do
		port=$(free_port)
		console=$(free_port)
		[[ $console != "$port" ]] || console=$(free_port)
		log "starting minio on 127.0.0.1:$port (data and log in $MINIO_DIR)"
		start=$(now)
		local -a cmd=("$MINIO" server --quiet --address "127.0.0.1:$port"
			--console-address "127.0.0.1:$console" "$MINIO_DIR/data")
		local -a envs=("MINIO_ROOT_USER=$MINIO_USER" "MINIO_ROOT_PASSWORD=$MINIO_PASSWORD"
			"MINIO_REGION=$MINIO_REGION" MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1)
		if [[ $mode == detach ]]; then
			env "${envs[@]}" setsid "${cmd[@]}" </dev/null >"$logf" 2>&1 &
		elif command -v setpriv >/dev/null; then
			# TERM to MinIO when this script dies, however it dies.
			env "${envs[@]}" setpriv --pdeathsig TERM "${cmd[@]}" </dev/null >"$logf" 2>&1 &
		else
			env "${envs[@]}" "${cmd[@]}" </dev/null >"$logf" 2>&1 &
		fi
		pid=$!
		MINIO_PID=$pid
		STARTED_MINIO=1
		if wait_minio "$port" "$pid" "$start"; then
			FERRY_TEST_S3_ENDPOINT=http://127.0.0.1:$port
			return
		fi
		stop_pid minio "$pid"
		MINIO_PID=
		if grep -qi 'address already in use' "$logf"; then
			log "port $port was taken meanwhile; retrying ($attempt/3)"
			continue
		fi
		break
	done
	log "minio failed to start; last lines of $logf:"
	tail -n 30 "$logf" | sed 's/^/services:   | /' >&2 || true
	die "minio did not become live on 127.0.0.1:$port"
}

# wait_minio port pid start: until /minio/health/live answers, MinIO exits,
# or MINIO_START_TIMEOUT seconds pass.
wait_minio() {
	local port=$1 pid=$2 start=$3 deadline=$((SECONDS + MINIO_START_TIMEOUT))
	while ((SECONDS < deadline)); do
		if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/minio/health/live" 2>/dev/null; then
			log "minio live on 127.0.0.1:$port after $(since "$start")s (pid $pid)"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "minio exited before becoming live"
			return 1
		fi
		sleep 0.1
	done
	log "minio not live after ${MINIO_START_TIMEOUT}s"
	return 1
}

# stop_pid name pid: TERM, wait up to 10 s, then KILL.
stop_pid() {
	local name=$1 pid=$2 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored TERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	# Reap it when it is our child; harmless otherwise.
	wait "$pid" 2>/dev/null || true
}

ensure_s3() {
	local mode=${1:-attached}
	if [[ -n ${FERRY_TEST_S3_ENDPOINT:-} ]]; then
		log "using FERRY_TEST_S3_ENDPOINT=$FERRY_TEST_S3_ENDPOINT (starting no minio)"
	else
		start_minio "$mode"
	fi
	AWS_ENDPOINT_URL_S3=${AWS_ENDPOINT_URL_S3:-$FERRY_TEST_S3_ENDPOINT}
	if [[ -n $STARTED_MINIO ]]; then
		# Our own MinIO: its credentials, whatever the caller had.
		AWS_ENDPOINT_URL_S3=$FERRY_TEST_S3_ENDPOINT
		AWS_ACCESS_KEY_ID=$MINIO_USER
		AWS_SECRET_ACCESS_KEY=$MINIO_PASSWORD
		AWS_REGION=$MINIO_REGION
	else
		AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-$MINIO_USER}
		AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-$MINIO_PASSWORD}
		AWS_REGION=${AWS_REGION:-$MINIO_REGION}
	fi
}

# --------------------------------------------------------------------- fauxqs

# fauxqs_installed: the pinned fauxqs is in node_modules, installed from the
# current lock file (npm writes node_modules/.package-lock.json on install).
fauxqs_installed() {
	[[ -x $NODE_DIR/node_modules/.bin/fauxqs ]] &&
		[[ ! $NODE_DIR/package-lock.json -nt $NODE_DIR/node_modules/.package-lock.json ]]
}

# ensure_fauxqs_bin sets FAUXQS to the fauxqs command, running `npm ci` in
# integration/ when it is missing or older than the lock file. Concurrent
# callers serialise on a lock (npm ci starts by deleting node_modules).
ensure_fauxqs_bin() {
	FAUXQS=$NODE_DIR/node_modules/.bin/fauxqs
	command -v node >/dev/null ||
		die "fauxqs (the SQS emulator) needs Node.js >= $FAUXQS_NODE_MAJOR and npm: install them (apt-get install nodejs npm), or set FERRY_TEST_SQS_ENDPOINT"
	local major
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || major=0
	((major >= FAUXQS_NODE_MAJOR)) ||
		die "fauxqs needs Node.js >= $FAUXQS_NODE_MAJOR; $(command -v node) is $(node --version 2>&1)"
	if fauxqs_installed; then
		return
	fi
	command -v npm >/dev/null ||
		die "fauxqs is not installed in integration/node_modules and there is no npm to install it: install npm (apt-get install npm), or set FERRY_TEST_SQS_ENDPOINT"
	mkdir -p "$ROOT/.cache"
	exec 8>"$ROOT/.cache/.fauxqs.lock"
	if ! flock -n 8; then
		log "another process is installing fauxqs; waiting for it"
		flock 8
	fi
	if fauxqs_installed; then # installed by whoever held the lock
		exec 8>&-
		return
	fi
	local start
	start=$(now)
	log "installing fauxqs into integration/node_modules (npm ci)"
	if ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2); then
		exec 8>&-
		die "npm ci in integration/ failed (see above); fauxqs is pinned in integration/package.json and package-lock.json"
	fi
	exec 8>&-
	[[ -x $FAUXQS ]] || die "npm ci succeeded but $FAUXQS is missing"
	log "installed fauxqs in $(since "$start")s"
}

FAUXQS_PID=
FAUXQS_DIR=
STARTED_FAUXQS=

# start_fauxqs starts fauxqs on a free port, its log in a temporary
# directory, and waits until it answers. $1 = "detach" as for start_minio.
# fauxqs 1.9.2 always listens on 0.0.0.0 (hard-coded; its FAUXQS_HOST only
# names the host in queue URLs), so while it runs it is reachable from other
# hosts, without authentication. The queue URLs it returns look like
# http://sqs.us-east-1.localhost:PORT/000000000000/NAME: a host that need not
# resolve, which is harmless, since SDK clients send every request to their
# endpoint (AWS_ENDPOINT_URL_SQS) and pass the queue URL only as a parameter.
start_fauxqs() {
	local mode=${1:-attached} attempt port start pid
	ensure_fauxqs_bin
	FAUXQS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferry-fauxqs.XXXXXX")
	local logf=$FAUXQS_DIR/fauxqs.log
	for attempt in 1 2 3; do
		port=$(free_port)
		log "starting fauxqs on port $port (log in $logf)"
		start=$(now)
		# Not the caller's FAUXQS_* settings: queue URLs and ARNs as above,
		# and queues start empty.
		local -a envs=(-u FAUXQS_HOST -u FAUXQS_INIT -u FAUXQS_DEFAULT_REGION
			"FAUXQS_PORT=$port" FAUXQS_LOGGER=true)
		if [[ $mode == detach ]]; then
			env "${envs[@]}" setsid "$FAUXQS" </dev/null >"$logf" 2>&1 &
		elif command -v setpriv >/dev/null; then
			# TERM to fauxqs when this script dies, however it dies.
			env "${envs[@]}" setpriv --pdeathsig TERM "$FAUXQS" </dev/null >"$logf" 2>&1 &
		else
			env "${envs[@]}" "$FAUXQS" </dev/null >"$logf" 2>&1 &
		fi
		pid=$!
		FAUXQS_PID=$pid
		STARTED_FAUXQS=1
		if wait_fauxqs "$port" "$pid" "$start"; then
			FERRY_TEST_SQS_ENDPOINT=http://127.0.0.1:$port
			return
		fi
		stop_pid fauxqs "$pid"
		FAUXQS_PID=
		if grep -qiE 'EADDRINUSE|address already in use' "$logf"; then
			log "port $port was taken meanwhile; retrying ($attempt/3)"
			continue
		fi
		break
	done
	log "fauxqs failed to start; last lines of $logf:"
	tail -n 30 "$logf" | sed 's/^/services:   | /' >&2 || true
	die "fauxqs did not answer on 127.0.0.1:$port"
}

# wait_fauxqs port pid start: until GET /health answers, fauxqs exits, or
# FAUXQS_START_TIMEOUT seconds pass.
wait_fauxqs() {
	local port=$1 pid=$2 start=$3 deadline=$((SECONDS + FAUXQS_START_TIMEOUT))
	while ((SECONDS < deadline)); do
		if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null; then
			log "fauxqs live on 127.0.0.1:$port after $(since "$start")s (pid $pid)"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "fauxqs exited before answering"
			return 1
		fi
		sleep 0.1
	done
	log "fauxqs not answering after ${FAUXQS_START_TIMEOUT}s"
	return 1
}

# ensure_sqs runs after ensure_s3: the AWS_* credentials and region it set
# serve for SQS too (fauxqs checks no signature).
ensure_sqs() {
	local mode=${1:-attached}
	if [[ -n ${FERRY_TEST_SQS_ENDPOINT:-} ]]; then
		log "using FERRY_TEST_SQS_ENDPOINT=$FERRY_TEST_SQS_ENDPOINT (starting no fauxqs)"
	else
		start_fauxqs "$mode"
	fi
	# SDK clients find the endpoint through AWS_ENDPOINT_URL_SQS; it must
	# never point anywhere else (such as real AWS).
	AWS_ENDPOINT_URL_SQS=$FERRY_TEST_SQS_ENDPOINT
}

# ----------------------------------------------------------------- PostgreSQL

pg_ready() {
	if command -v pg_isready >/dev/null; then
		pg_isready -q -h 127.0.0.1 -p 5432 -t 2
	else
		port_in_use 5432
	fi
}

# ensure_test_db creates database "test" on the local server if it is missing.
ensure_test_db() {
	command -v psql >/dev/null || return 0
	local admin='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
	local have
	if ! have=$(psql "$admin" -XAtqc "select 1 from pg_database where datname = 'test'" 2>&1); then
		log "warning: cannot check for database test: $have"
		return 0
	fi
	if [[ $have != 1 ]]; then
		log "creating database test"
		psql "$admin" -Xqc 'create database test' >&2 || die "could not create database test"
	fi
}

ensure_pg() {
	if [[ -n ${FERRY_TEST_DATABASE_URL:-} ]]; then
		log "using FERRY_TEST_DATABASE_URL from the environment"
		return
	fi
	if ! pg_ready; then
		local dir v started=
		if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
			for dir in /etc/postgresql/*/main; do
				[[ -d $dir ]] || continue
				v=${dir#/etc/postgresql/}
				v=${v%/main}
				log "nothing on 127.0.0.1:5432; starting PostgreSQL cluster $v/main"
				# Left running on exit: it is the machine's server, and other
				# runs may be using it by then.
				if pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2; then
					started=1
					break
				fi
				log "pg_ctlcluster $v main start failed"
			done
		fi
		if [[ -n $started ]]; then
			local deadline=$((SECONDS + 30))
			until pg_ready; do
				((SECONDS < deadline)) || die "PostgreSQL started but 127.0.0.1:5432 accepts no connection after 30 s"
				sleep 0.2
			done
		else
			die "no PostgreSQL: set FERRY_TEST_DATABASE_URL, or run a server on 127.0.0.1:5432 (user postgres, no password, database test), or install one (apt-get install postgresql)"
		fi
	fi
	log "using local PostgreSQL on 127.0.0.1:5432"
	ensure_test_db
	FERRY_TEST_DATABASE_URL=$PG_LOCAL_URL
}

# -------------------------------------------------------------------- modes

EXPORTED_VARS=(FERRY_TEST_S3_ENDPOINT AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID
	AWS_SECRET_ACCESS_KEY AWS_REGION FERRY_TEST_SQS_ENDPOINT AWS_ENDPOINT_URL_SQS
	FERRY_TEST_DATABASE_URL)

export_vars() {
	export "${EXPORTED_VARS[@]}"
}

print_exports() {
	local v
	for v in "${EXPORTED_VARS[@]}"; do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	if [[ -n $STARTED_MINIO ]]; then
		printf 'export FERRY_TEST_MINIO_PID=%q\n' "$MINIO_PID"
		printf 'export FERRY_TEST_MINIO_DIR=%q\n' "$MINIO_DIR"
	fi
	if [[ -n $STARTED_FAUXQS ]]; then
		printf 'export FERRY_TEST_FAUXQS_PID=%q\n' "$FAUXQS_PID"
		printf 'export FERRY_TEST_FAUXQS_DIR=%q\n' "$FAUXQS_DIR"
	fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [[ -n $MINIO_PID ]]; then
		local start
		start=$(now)
		stop_pid minio "$MINIO_PID"
		log "stopped minio (pid $MINIO_PID) in $(since "$start")s"
	fi
	if [[ -n $MINIO_DIR ]]; then
		rm -rf "$MINIO_DIR"
	fi
	if [[ -n $FAUXQS_PID ]]; then
		local start
		start=$(now)
		stop_pid fauxqs "$FAUXQS_PID"
		log "stopped fauxqs (pid $FAUXQS_PID) in $(since "$start")s"
	fi
	if [[ -n $FAUXQS_DIR ]]; then
		rm -rf "$FAUXQS_DIR"
	fi
	return "$rc"
}

cmd_run() {
	(($# > 0)) || die "usage: $0 run COMMAND [ARGS...]"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	ensure_s3 attached
	ensure_sqs attached
	ensure_pg
	export_vars
	log "running: $*"
	local rc=0
	"$@" || rc=$?
	log "command exited with status $rc"
	exit "$rc"
}

cmd_env() {
	# Stop a half-started MinIO or fauxqs if anything after it fails.
	trap 'rc=$?; if ((rc != 0)); then cleanup; fi' EXIT
	ensure_s3 detach
	ensure_sqs detach
	ensure_pg
	print_exports
	if [[ -n $STARTED_MINIO ]]; then
		log "minio keeps running (pid $MINIO_PID); stop it with: $0 stop"
	fi
	if [[ -n $STARTED_FAUXQS ]]; then
		log "fauxqs keeps running (pid $FAUXQS_PID); stop it with: $0 stop"
	fi
}

# stop_started name pid dir: stop a service `env` started and remove its
# temporary directory (only ever one of ours: ${TMPDIR:-/tmp}/ferry-NAME.*).
stop_started() {
	local name=$1 pid=$2 dir=$3
	stop_pid "$name" "$pid"
	log "stopped $name (pid $pid)"
	if [[ -n $dir && $dir == "${TMPDIR:-/tmp}"/ferry-$name.* ]]; then
		rm -rf "$dir"
	fi
}

cmd_stop() {
	local minio=${FERRY_TEST_MINIO_PID:-} fauxqs=${FERRY_TEST_FAUXQS_PID:-}
	if [[ -z $minio && -z $fauxqs ]]; then
		log "FERRY_TEST_MINIO_PID and FERRY_TEST_FAUXQS_PID are not set; nothing to stop"
		return
	fi
	if [[ -n $minio ]]; then
		stop_started minio "$minio" "${FERRY_TEST_MINIO_DIR:-}"
	fi
	if [[ -n $fauxqs ]]; then
		stop_started fauxqs "$fauxqs" "${FERRY_TEST_FAUXQS_DIR:-}"
	fi
}

case ${1:-env} in
run)
	shift
	cmd_run "$@"
	;;
env) cmd_env ;;
stop) cmd_stop ;;
minio-bin)
	ensure_minio_bin
	log "minio binary: $MINIO"
	;;
fauxqs-bin)
	ensure_fauxqs_bin
	log "fauxqs: $FAUXQS"
	;;
-h | --help | help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	;;
*) die "unknown command ${1@Q}; try: $0 help" ;;
esac
