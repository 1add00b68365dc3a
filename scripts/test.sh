#!/usr/bin/env bash
# test.sh: airpack's full test run (what `make test` and CI run):
#   1. shellcheck of scripts/*.sh and .ci/run
#   2. go vet ./...
#   3. unit tests: go test ./...   (with DOCKER_HOST pointing nowhere: they must not need Docker)
#   4. for each engine in $AIRPACK_E2E_ENGINES (default "20 29"): start it with
#      scripts/engine.sh (fresh data), run `go test -tags e2e ./e2e/...` with
#      AIRPACK_E2E_ENGINE=<engine>, stop it (also on Ctrl-C or any failure).
# Every step runs even when an earlier one failed; a summary follows; the exit code is non-zero
# when any step failed. go test output is also saved in out/test-logs/. With CI=true tests run
# with -v and any skipped test fails the run. Engines and the e2e tests need root and
# `make setup` (scripts/ci-setup.sh).
# Environment: AIRPACK_E2E_ENGINES="20 29", AIRPACK_E2E_TIMEOUT (go test -timeout, default 30m),
# GOTESTFLAGS (extra flags for every go test, e.g. "-run TestX -v").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
engines=${AIRPACK_E2E_ENGINES:-20 29}
e2e_timeout=${AIRPACK_E2E_TIMEOUT:-30m}
read -r -a gotestflags <<<"${GOTESTFLAGS:-}"
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

logdir=$root/out/test-logs
mkdir -p "$logdir"
summary=()
failed=0
engine_up=

banner() { printf '\n========== %s ==========\n' "$*"; }

# step NAME CMD...: run CMD, record PASS/FAIL and its duration.
step() {
	local name=$1 t0=$SECONDS rc=0
	shift
	banner "$name"
	"$@" || rc=$?
	if ((rc == 0)); then
		summary+=("PASS  $name ($((SECONDS - t0))s)")
	else
		summary+=("FAIL  $name ($((SECONDS - t0))s, exit $rc)")
		failed=1
	fi
	return 0
}

stop_engine() {
	if [[ -n $engine_up ]]; then
		engine_up=
		scripts/engine.sh stop || { summary+=("FAIL  stopping the engine"); failed=1; }
	fi
}

print_summary() {
	local line
	banner "summary"
	for line in "${summary[@]}"; do echo "$line"; done
	if ((failed)); then echo "RESULT: FAILED"; else echo "RESULT: OK"; fi
}

on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	stop_engine
	if ((rc != 0)) && ((failed == 0)); then
		summary+=("FAIL  interrupted (exit $rc)")
		failed=1
	fi
	print_summary
	((failed == 0)) || exit 1
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

shellcheck_scripts() {
	local files=(scripts/*.sh)
	[[ -f .ci/run ]] && files+=(.ci/run)
	shellcheck "${files[@]}"
}

# gotest LOG ARGS...: go test ARGS, its output also saved to out/test-logs/LOG. In CI (CI=true)
# tests run verbosely and a skipped test fails the step: in CI every test must really run.
gotest() {
	local log=$logdir/$1 rc=0 flags=()
	shift
	[[ ${CI:-} == true ]] && flags+=(-v)
	go test "${flags[@]}" "${gotestflags[@]}" "$@" 2>&1 | tee "$log" || rc=$? # pipefail: go's status
	if [[ ${CI:-} == true ]] && grep -E '^ *--- SKIP' "$log"; then
		echo "the tests above skipped themselves; in CI no test may skip (log: $log)"
		((rc != 0)) || rc=1
	fi
	return "$rc"
}

unit_tests() {
	# No test here may talk to a Docker engine, whatever runs on this machine.
	DOCKER_HOST=unix:///nonexistent/airpack-unit-tests.sock gotest unit.log ./...
}

# fuzz: each fuzz target for a short run (their seed corpora in testdata/ also run as plain
# unit tests above). Targets are found by name so a new one is not forgotten.
fuzz() {
	local pkg target
	for pkg in $(go list ./...); do
		for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
			echo "fuzz $pkg $target"
			go test -run '^$' -fuzz "^$target\$" -fuzztime "${AIRPACK_FUZZTIME:-10s}" -fuzzminimizetime 2s "$pkg" || return 1
		done
	done
}

# Functions run by step are in an `||` list, where set -e does not apply: chain with &&.
vet() {
	go vet ./... && if [[ -d e2e ]]; then go vet -tags e2e ./e2e/...; fi
}

e2e_tests() {
	local e=$1
	AIRPACK_E2E_ENGINE=$e DOCKER_HOST=unix:///var/run/docker.sock \
		gotest "e2e-$e.log" -tags e2e -count=1 -timeout "$e2e_timeout" ./e2e/... ./compose/...
}

step "shellcheck" shellcheck_scripts
step "go vet" vet
step "unit tests" unit_tests
step "fuzz (short)" fuzz

for e in $engines; do
	if [[ $e != 20 && $e != 29 ]]; then
		summary+=("FAIL  unknown engine '$e' in AIRPACK_E2E_ENGINES (want 20 and/or 29)")
		failed=1
		continue
	fi
	engine_up=$e
	step "start engine $e" env AIRPACK_ENGINE_FRESH=1 scripts/engine.sh start "$e"
	if [[ ${summary[-1]} == FAIL* ]]; then
		summary+=("FAIL  e2e on engine $e: not run, the engine did not start")
	elif [[ -d e2e ]]; then
		step "e2e on engine $e" e2e_tests "$e"
	else
		banner "e2e on engine $e"
		echo "no ./e2e directory yet: no end-to-end tests to run (engine $e started and answered)"
		summary+=("SKIP  e2e on engine $e: ./e2e does not exist yet")
	fi
	stop_engine
done
