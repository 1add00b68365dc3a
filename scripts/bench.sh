#!/usr/bin/env bash
# bench.sh: airpack's benchmark (what `make bench` runs). Prints ONE table: the figures, and
# each ratio with its target and PASS/FAIL; exits 1 when any ratio fails.
#
#   1. builds airpack, internal/bench/genapp and crane (tools/crane, pinned there) into a temp dir
#      (crane into $AIRPACK_TOOLS_BIN, like scripts/build-tools.sh does the other tools)
#   2. starts a throw-away Distribution registry (Debian's docker-registry) on 127.0.0.1
#   3. genapp (internal/bench/genapp) pushes a generated app shaped like real distribution
#      images, byte-identical every run for a given $AIRPACK_BENCH_SEED, and writes its compose
#      project: $AIRPACK_BENCH_IMAGES images sharing one base layer of $AIRPACK_BENCH_BASE_MIB
#      MiB of files (a Debian-like system and a Python runtime: with the defaults 22,000 files,
#      median 2.4 KiB, a tail of 1-14 MiB binaries, symlinks, hard links), each with two layers
#      of its own of $AIRPACK_BENCH_OWN_MIB MiB in all on average (dependencies and app code:
#      3,000-10,000 files), text and machine code that gzip to about 0.4 of their size; 560 MiB
#      unpacked, 45,000 files, 226 MiB gzip in distinct layers (about 4 s to build on 2 CPUs)
#   4. no engine needed: `airpack pack -o app.tar` vs `crane pull REF... app.tar` (time, size),
#      and airpack's peak RSS (/usr/bin/time %M)
#   4b. split onto media, no engine (issue 11): `airpack pack --split-size` vs `airpack pack`
#      (interleaved; the median of the paired differences is what splitting costs) against `cat`
#      of the bundle's bytes
#      to a new file; the join `cat benchapp-1.0.tar.[0-9]* > joined` vs that same cat
#      (interleaved; the joined file must equal the bundle byte for byte), `sha256sum -c` of the
#      parts list, and `airpack verify` of the parts vs of the whole archive (interleaved); the
#      peak RSS of pack --split-size and of verify on the parts
#   5. per engine in $AIRPACK_BENCH_ENGINES (scripts/engine.sh; 20 = classic store first,
#      29 = containerd store): the images pulled into the engine (not timed), then
#      `airpack pack --source engine` vs `docker save -o FILE` of the same images (interleaved;
#      issue 12: time <= 1.3 x, bundle <= 0.55 x the file (on the containerd store, whose save
#      holds its gzip blobs, 0.55 x the layers unpacked), peak RSS, the peak of pack's TMPDIR,
#      sampled with du every 20 ms, against the bundle's largest layer), then
#      `docker save IMG | gzip > IMG.tar.gz` one image at a time (time, size); the bundle's
#      ./load.sh vs a bare `docker load -i images/images.tar` (the app's images removed from
#      the engine before each; the two interleaved, run for run), and the no-op re-run of
#      ./load.sh
# Every timed command runs once as warm-up, then several times; the figure is the median. The
# loads, the noisiest (the engine's own disk and CPU work), run the most; docker save | gzip,
# which takes minutes (gzip -6 of 1.4 GiB, over 100 x pack's time), runs once with no warm-up.
# The page cache is not dropped (every tool reads warm data alike), but each run starts after
# `sync`, so no run pays for the previous run's dirty pages.
#
# Environment: AIRPACK_BENCH_ENGINES ("20 29"; "none" runs only the sections without an engine),
# AIRPACK_BENCH_SPLIT_SIZE (64MiB: --split-size of the split rows), AIRPACK_BENCH_SPLIT_RUNS (9:
# the split rows' pairs), AIRPACK_BENCH_RUNS (5: pack, crane, no-op),
# AIRPACK_BENCH_SAVE_RUNS (1: docker save | gzip), AIRPACK_BENCH_LOAD_RUNS (9: docker load and
# ./load.sh), AIRPACK_BENCH_IMAGES (4), AIRPACK_BENCH_BASE_MIB (280), AIRPACK_BENCH_OWN_MIB
# (60), AIRPACK_BENCH_SEED (1), AIRPACK_BENCH_KEEP=1 keeps the work dir (logs, bundle) for a
# look afterwards, TMPDIR (where the work dir goes).
# Targets (issue 11): split and join at >= 0.8 x the speed of cat of the same bytes, peak RSS of
# pack --split-size and of verify on parts < 64 MiB.
# Targets (issue 8): ./load.sh <= 1.08 x a bare docker load -i on the classic store (Docker 20),
# <= 1.20 x on the containerd store (Docker 29); its no-op re-run <= 1 s.
# Upgrade bundles (issue 11), after the engines, no engine needed: version 1.1 of the app changes
# the first service's top layer (genapp push -bump: its application code layer, the same tree
# with other content; the other layers are 1.0's); `airpack pack --version 1.1 --base
# benchapp-1.0.tar` (the upgrade bundle) and the full 1.1 bundle are packed once each (sizes),
# and `airpack diff benchapp-1.0.tar <full 1.1>` gives its estimate. Target: upgrade bundle <=
# 0.05 x the full 1.1 bundle's bytes. AIRPACK_BENCH_ENGINES=none skips the engines (step 5):
# only the sections without an engine run, in minutes with a small app (e.g.
# AIRPACK_BENCH_BASE_MIB=40 AIRPACK_BENCH_OWN_MIB=10).
# On exit (also Ctrl-C or failure) it stops the registry, removes the app's images from the
# engine and its temp dir, and leaves the engine as it found it: the engine that ran before runs
# again, and an engine it started is stopped. Needs root (engines) and `make setup`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH=/usr/local/go/bin:$PATH; fi
# The engine scripts/engine.sh runs, whatever the caller's Docker context.
export DOCKER_HOST=unix:///var/run/docker.sock
unset DOCKER_CONTEXT

engines=${AIRPACK_BENCH_ENGINES:-20 29}
[[ $engines != none ]] || engines=
split_size=${AIRPACK_BENCH_SPLIT_SIZE:-64MiB}
split_runs=${AIRPACK_BENCH_SPLIT_RUNS:-9}
runs=${AIRPACK_BENCH_RUNS:-5}
save_runs=${AIRPACK_BENCH_SAVE_RUNS:-1}
load_runs=${AIRPACK_BENCH_LOAD_RUNS:-9}
nimages=${AIRPACK_BENCH_IMAGES:-4}
base_mib=${AIRPACK_BENCH_BASE_MIB:-280}
own_mib=${AIRPACK_BENCH_OWN_MIB:-60}
seed=${AIRPACK_BENCH_SEED:-1}
tools_bin=${AIRPACK_TOOLS_BIN:-$root/.tools/bin}
engine_run=${AIRPACK_ENGINE_RUN:-/tmp/airpack-engine}

# Targets: ratio rows PASS when value <= target.
max_pack_vs_crane=1.2
max_pack_vs_save=0.1
max_size_vs_crane=1.02
max_size_vs_save=0.65
# Targets (issue 12): pack --source engine vs docker save of the same images to a file.
max_epack_vs_save=1.3
max_esize_vs_save=0.55
max_rss_mib=100
declare -A max_load_vs_docker=([20]=1.08 [29]=1.20) # per engine: classic store, containerd store
max_noop_s=1
min_split_vs_cat=0.8 # speed of the split (its extra time over pack) / speed of cat, same bytes
min_join_vs_cat=0.8
max_split_rss_mib=64

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: ERROR: %s\n' "$*" >&2
	exit 1
}

[[ $runs =~ ^[1-9][0-9]*$ ]] || die "AIRPACK_BENCH_RUNS must be a positive number, not '$runs'"
[[ $save_runs =~ ^[1-9][0-9]*$ ]] || die "AIRPACK_BENCH_SAVE_RUNS must be a positive number, not '$save_runs'"
[[ $split_runs =~ ^[1-9][0-9]*$ ]] || die "AIRPACK_BENCH_SPLIT_RUNS must be a positive number, not '$split_runs'"
[[ $load_runs =~ ^[1-9][0-9]*$ ]] || die "AIRPACK_BENCH_LOAD_RUNS must be a positive number, not '$load_runs'"
for v in IMAGES:$nimages BASE_MIB:$base_mib OWN_MIB:$own_mib; do
	[[ ${v#*:} =~ ^[1-9][0-9]*$ ]] || die "AIRPACK_BENCH_${v%%:*} must be a positive number, not '${v#*:}'"
done
[[ $seed =~ ^[0-9]+$ ]] || die "AIRPACK_BENCH_SEED must be a number, not '$seed'"
for e in $engines; do
	[[ $e == 20 || $e == 29 ]] || die "unknown engine '$e' in AIRPACK_BENCH_ENGINES (want 20 and/or 29)"
done
for c in go docker docker-registry curl gzip tar awk; do
	command -v "$c" >/dev/null || die "$c not found: run make setup (scripts/ci-setup.sh)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found: apt-get install time (scripts/ci-setup.sh)"

# ---- state that cleanup undoes -----------------------------------------------------------------
work=
reg_pid=
initial_engine=
engine_touched=0
refs=()

# running_engine: "20" or "29" when scripts/engine.sh runs one, nothing otherwise.
running_engine() {
	local out
	out=$(scripts/engine.sh status 2>/dev/null) || return 0
	if [[ $out =~ ^engine\ (20|29): ]]; then echo "${BASH_REMATCH[1]}"; fi
}

# The caller's stdout and stderr, for cleanup: a signal may come while a command's output goes
# to its log.
exec 3>&1 4>&2
cleanup() {
	local rc=$? cur
	trap - EXIT INT TERM
	set +e
	exec 1>&3 2>&4
	if [[ -n $reg_pid ]] && kill -0 "$reg_pid" 2>/dev/null; then
		kill -TERM "$reg_pid" 2>/dev/null
		wait "$reg_pid" 2>/dev/null
	fi
	if ((engine_touched)); then
		[[ -z $(running_engine) ]] || remove_images quiet
		cur=$(running_engine)
		if [[ -z $initial_engine && -n $cur ]]; then
			log "stopping engine $cur (none ran before the bench)"
			scripts/engine.sh stop
		elif [[ -n $initial_engine && $cur != "$initial_engine" ]]; then
			log "restarting engine $initial_engine, which ran before the bench"
			scripts/engine.sh start "$initial_engine"
		fi
	fi
	if [[ -n $work && -d $work ]]; then
		if [[ ${AIRPACK_BENCH_KEEP:-} == 1 ]]; then
			log "AIRPACK_BENCH_KEEP=1: kept $work"
		else
			rm -rf "$work"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers ---------------------------------------------------------------------------------
# now_us: wall clock in microseconds.
now_us() { echo $((10#${EPOCHREALTIME//[.,]/})); }

declare -A med lo hi rss runs_us

# run_once KEY I CMD...: runs CMD (run I; 0 is the warm-up) with its output appended to
# $work/logs/KEY.log, and sets ELAPSED to its wall time in microseconds; dies when it fails.
run_once() {
	local key=$1 i=$2 logf=$work/logs/$1.log t0 t1
	shift 2
	printf '\n--- run %d%s\n' "$i" "$( ((i)) || echo ' (warm-up)')" >>"$logf"
	t0=$(now_us)
	if ! "$@" >>"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		die "$key: '$*' failed (log above)"
	fi
	t1=$(now_us)
	ELAPSED=$((t1 - t0))
}

# record KEY US...: stores the median, min and max of the wall times US (microseconds) in
# med/lo/hi[KEY], and logs them with every run's time.
record() {
	local key=$1 sorted
	shift
	mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
	med[$key]=${sorted[$(((${#sorted[@]} - 1) / 2))]}
	lo[$key]=${sorted[0]}
	hi[$key]=${sorted[-1]}
	local runs_s=() u
	for u in "$@"; do runs_s+=("$(secs "$u")"); done
	log "$key: median $(secs "${med[$key]}") s (min $(secs "${lo[$key]}"), max $(secs "${hi[$key]}"); runs in order: ${runs_s[*]})"
}

# timeit N KEY PREP CMD...: runs PREP (not timed) and then CMD, once as warm-up (none when
# NO_WARMUP=1) and N times measured (record KEY), and stores in rss[KEY] the largest max RSS
# (KiB) /usr/bin/time saw when CMD is run under it (first word "rsstime"). CMD's output goes to
# $work/logs/KEY.log.
timeit() {
	local n=$1 key=$2 prep=$3 i m times=() peak=0
	shift 3
	: >"$work/logs/$key.log"
	for ((i = ${NO_WARMUP:-0}; i <= n; i++)); do
		"$prep"
		run_once "$key" "$i" "$@"
		if [[ $1 == rsstime && -s $work/rss ]]; then
			m=$(<"$work/rss")
			((m > peak)) && peak=$m
		fi
		((i == 0)) || times+=("$ELAPSED")
	done
	record "$key" "${times[@]}"
	rss[$key]=$peak
}

# timepair N KEY_A KEY_B PREP CMD_A CMD_B: like timeit for two commands to compare, interleaved
# (A B, then B A, ...) so that a drift of the machine or the engine during the runs weighs on
# both alike. CMD_A and CMD_B are single words (functions); PREP runs before each.
timepair() {
	local n=$1 ka=$2 kb=$3 prep=$4 ca=$5 cb=$6 i k order us
	local -A pair_us=([$2]="" [$3]="")
	: >"$work/logs/$ka.log"
	: >"$work/logs/$kb.log"
	for ((i = 0; i <= n; i++)); do
		if ((i % 2 == 0)); then order="$ka:$ca $kb:$cb"; else order="$kb:$cb $ka:$ca"; fi
		for k in $order; do
			"$prep"
			run_once "${k%%:*}" "$i" "${k#*:}"
			((i == 0)) || pair_us[${k%%:*}]+="$ELAPSED "
		done
	done
	for k in "$ka" "$kb"; do
		read -r -a us <<<"${pair_us[$k]}"
		record "$k" "${us[@]}"
		rss[$k]=0
		runs_us[$k]=${pair_us[$k]}
	done
}

# paired_diff KEY_A KEY_B: the median of B - A over the runs timepair made in pairs (µs), which
# a drift of the machine during the runs moves less than the difference of the two medians.
paired_diff() {
	local a b
	read -r -a a <<<"${runs_us[$1]}"
	read -r -a b <<<"${runs_us[$2]}"
	local i d=()
	for i in "${!a[@]}"; do d+=($((b[i] - a[i]))); done
	printf '%s\n' "${d[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# rsstime CMD...: CMD under /usr/bin/time, its max RSS (KiB) in $work/rss.
rsstime() { /usr/bin/time -f %M -o "$work/rss" "$@"; }

secs() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1e6 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# Table rows, printed at the end.
rows=()
fails=0
checks=0
section() { rows+=("" "[$*]"); }
# row LABEL VALUE TARGET RESULT NOTE: one table row.
row() { printf '  %-50s %14s %12s  %-6s %s' "$@"; }
# figure LABEL VALUE [NOTE]: a row with no target.
figure() { rows+=("$(row "$1" "$2" "" "" "${3:-}")"); }
# timed LABEL KEY: a figure row for a timed command: the median, (min-max) as note.
timed() { figure "$1" "$(secs "${med[$2]}") s" "($(secs "${lo[$2]}")-$(secs "${hi[$2]}") s)"; }
# check LABEL VALUE TARGET [UNIT]: a ratio/limit row, PASS when VALUE <= TARGET.
check() {
	local verdict=PASS
	checks=$((checks + 1))
	if ! awk -v v="$2" -v t="$3" 'BEGIN { exit !(v <= t) }'; then
		verdict=FAIL
		fails=$((fails + 1))
	fi
	rows+=("$(row "$1" "$2${4:+ $4}" "<= $3${4:+ $4}" "$verdict" "")")
}
# check_min LABEL VALUE TARGET [NOTE]: a ratio row, PASS when VALUE >= TARGET.
check_min() {
	local verdict=PASS
	checks=$((checks + 1))
	if ! awk -v v="$2" -v t="$3" 'BEGIN { exit !(v >= t) }'; then
		verdict=FAIL
		fails=$((fails + 1))
	fi
	rows+=("$(row "$1" "$2" ">= $3" "$verdict" "${4:-}")")
}

# ---- engine helpers ----------------------------------------------------------------------------
store_of_engine() {
	if [[ $(docker info --format '{{json .DriverStatus}}' 2>/dev/null) == *io.containerd.snapshotter.v1* ]]; then
		echo containerd
	else
		echo classic
	fi
}

# remove_images [quiet]: removes the app's images (and anything carrying genapp's label) from
# the engine; on the containerd store also waits until containerd has dropped their layers'
# content, so the next load really loads.
remove_images() {
	local ids i left d
	if ((${#refs[@]})); then docker rmi -f "${refs[@]}" >/dev/null 2>&1 || true; fi
	mapfile -t ids < <(docker images -aq --no-trunc --filter label=org.airpack.bench=1 2>/dev/null | sort -u)
	if ((${#ids[@]})); then docker rmi -f "${ids[@]}" >/dev/null 2>&1 || true; fi
	[[ ${1:-} == quiet ]] && return 0
	if [[ -n $(docker images -aq --filter label=org.airpack.bench=1) ]]; then
		die "the app's images are still in the engine after docker rmi: $(docker images -a --filter label=org.airpack.bench=1 | tail -n +2)"
	fi
	# The containerd store of an engine.sh engine: layer blobs live in its content store.
	local content=$engine_run/$current/ctr-root/io.containerd.content.v1.content/blobs/sha256
	[[ $store == containerd && -d $content ]] || return 0
	for ((i = 0; i < 100; i++)); do
		left=0
		for d in "${layers[@]}"; do [[ ! -e $content/${d#sha256:} ]] || left=$((left + 1)); done
		((left)) || return 0
		sleep 0.1
	done
	die "$left layer blob(s) of the app remain in containerd's content store ($content) after docker rmi"
}

# ---- build -----------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/airpack-bench.XXXXXX")
mkdir -p "$work/bin" "$work/logs" "$work/crane" "$work/pack" "$work/save" "$work/target"

build_crane() {
	local v
	v=$(cd tools/crane && go list -m -f '{{.Version}}' github.com/google/go-containerregistry)
	mkdir -p "$tools_bin"
	(cd tools/crane && go build -o "$tools_bin/crane" github.com/google/go-containerregistry/cmd/crane)
	log "crane $v built into $tools_bin/crane"
}

t_start=$SECONDS
log "building airpack, genapp and crane"
go build -o "$work/bin/airpack" ./cmd/airpack
go build -o "$work/bin/genapp" ./internal/bench/genapp
build_crane
airpack=$work/bin/airpack
genapp=$work/bin/genapp
crane=$tools_bin/crane

initial_engine=$(running_engine)
log "engine running before the bench: ${initial_engine:-none}"

# ---- registry + app --------------------------------------------------------------------------
port=$("$genapp" port)
host=127.0.0.1:$port
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: $host
EOF
docker-registry serve "$work/registry.yml" >"$work/logs/registry.log" 2>&1 </dev/null &
reg_pid=$!
for ((i = 0; i < 300; i++)); do
	[[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$host/v2/" || true) == 200 ]] && break
	kill -0 "$reg_pid" 2>/dev/null || { cat "$work/logs/registry.log" >&2; die "docker-registry exited"; }
	sleep 0.1
done
((i < 300)) || die "docker-registry did not answer on http://$host/v2/"
log "registry on $host (pid $reg_pid)"

app=$work/app
t0=$SECONDS
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
"$genapp" push -registry "$host" -dir "$app" -images "$nimages" -base-mib "$base_mib" -own-mib "$own_mib" -seed "$seed" \
	>"$work/app.txt" 2>"$work/logs/genapp.log" || {
	cat "$work/logs/genapp.log" >&2
	die "genapp failed"
}
sed 's/^/bench: /' "$work/logs/genapp.log" >&2
layers=()
declare -A appinfo
while read -r k v; do
	case $k in
	ref) refs+=("$v") ;;
	layer) layers+=("$v") ;;
	*) appinfo[$k]=$v ;;
	esac
done <"$work/app.txt"
log "generated (${appinfo[gen_seconds]} s) and pushed ${#refs[@]} images in $((SECONDS - t0))s"

# ---- pack side: no engine --------------------------------------------------------------------
bundle=$work/pack/benchapp-1.0.tar
cranetar=$work/crane/app.tar
rm_bundle() { rm -f "$bundle" && sync; }
rm_cranetar() { rm -f "$cranetar" && sync; }
log "crane pull vs airpack pack, ${runs}+1 runs each"
timeit "$runs" crane rm_cranetar rsstime "$crane" pull "${refs[@]}" "$cranetar"
timeit "$runs" pack rm_bundle rsstime "$airpack" pack -q -f "$app/compose.yaml" --version 1.0 -o "$bundle"
bundle_size=$(stat -c %s "$bundle")
crane_size=$(stat -c %s "$cranetar")
rm -f "$cranetar"
tar -C "$work/target" -xf "$bundle"
bdir=$work/target/benchapp-1.0
archive_size=$(stat -c %s "$bdir/images/images.tar")

# ---- split onto media: no engine -------------------------------------------------------------
# The same bundle packed whole and in parts, interleaved: the difference is the split's cost
# (for a .tar: the parts written at the same offsets, then each hashed for the parts list).
sdir=$work/split
mkdir -p "$sdir/whole" "$sdir/parts" "$sdir/join"
swhole=$sdir/whole/benchapp-1.0.tar
sparts=$sdir/parts/benchapp-1.0.tar
scopy=$sdir/join/copy.tar
sjoined=$sdir/join/joined.tar
declare -A peak
# peak_rss KEY: folds the max RSS rsstime just wrote into peak[KEY] (KiB).
peak_rss() {
	local m
	m=$(<"$work/rss")
	((m > ${peak[$1]:-0})) && peak[$1]=$m
	return 0
}
rm_split_outputs() { rm -f "$swhole" "$sparts".* "$scopy" "$sjoined" && sync; }
pack_whole() { "$airpack" pack -q -f "$app/compose.yaml" --version 1.0 -o "$swhole"; }
pack_split() {
	rsstime "$airpack" pack -q -f "$app/compose.yaml" --version 1.0 -o "$sparts" --split-size "$split_size" && peak_rss packsplit
}
log "airpack pack vs pack --split-size $split_size, ${split_runs}+1 runs each, interleaved"
timepair "$split_runs" packwhole packsplit rm_split_outputs pack_whole pack_split
# Written once more for cat, the join and verify to read.
rm_split_outputs
pack_whole >/dev/null
pack_split >/dev/null
nparts=$(find "$sdir/parts" -name 'benchapp-1.0.tar.[0-9]*' | wc -l)
rm_copies() { rm -f "$scopy" "$sjoined" && sync; }
cat_whole() { cat "$swhole" >"$scopy"; }
cat_parts() { cat "$sparts".[0-9]* >"$sjoined"; }
log "cat of the bundle vs the join (cat of its $nparts parts), ${split_runs}+1 runs each, interleaved"
timepair "$split_runs" catwhole catparts rm_copies cat_whole cat_parts
cat_parts # timepair's last prep removed it
cmp "$swhole" "$sjoined" >&2 || die "the joined parts differ from the bundle packed whole"
cmp -s "$swhole" "$bundle" || die "pack wrote two different bundles from the same registry"
rm_copies
sha_check() { (cd "$sdir/parts" && sha256sum -c benchapp-1.0.tar.sha256); }
timeit "$runs" sha256c sync sha_check
verify_whole() { "$airpack" verify "$swhole"; }
verify_parts() { rsstime "$airpack" verify "$sparts.sha256" && peak_rss verifyparts; }
log "airpack verify of the bundle vs of its parts, ${split_runs}+1 runs each, interleaved"
timepair "$split_runs" verifywhole verifyparts sync verify_whole verify_parts

# ---- engines ---------------------------------------------------------------------------------
current=
store=
save_all() {
	local r i=0
	for r in "${refs[@]}"; do
		i=$((i + 1))
		docker save "$r" | gzip >"$work/save/$i.tar.gz"
	done
}
rm_saved() { rm -f "$work"/save/*.tar.gz && sync; }
# Issue 12: `airpack pack --source engine` vs `docker save` of the same images to one file.
# pack runs with TMPDIR on a directory of its own. Its peak usage is measured in one more run,
# not timed, by a sampler (every 20 ms, du of the allocated blocks): forking du 50 times a
# second takes CPU a timed run would lose to it.
esave=$work/save/all.tar
ebundle=$work/pack/benchapp-1.0-engine.tar
etmp=$work/enginetmp
mkdir -p "$etmp"
declare -A etmp_peak
rm_engine_outputs() { rm -f "$esave" "$ebundle" && sync; }
save_file() { docker save -o "$esave" "${refs[@]}"; }
pack_engine() {
	local rc=0
	TMPDIR=$etmp rsstime "$airpack" pack -q -f "$app/compose.yaml" --version 1.0 --source engine -o "$ebundle" || rc=$?
	peak_rss "epack$current"
	return "$rc"
}
pack_engine_sampled() {
	local stop=$work/enginetmp.stop peakf=$work/enginetmp.peak
	rm -f "$stop"
	echo 0 >"$peakf"
	(
		max=0
		while [[ ! -e $stop ]]; do
			u=$(du -s -B1 "$etmp" 2>/dev/null | cut -f1)
			((u > max)) && max=$u && echo "$max" >"$peakf"
			sleep 0.02
		done
	) &
	local sampler=$! rc=0
	TMPDIR=$etmp rsstime "$airpack" pack -q -f "$app/compose.yaml" --version 1.0 --source engine -o "$ebundle" || rc=$?
	touch "$stop"
	wait "$sampler"
	peak_rss "epack$current"
	local p
	p=$(<"$peakf")
	((p > ${etmp_peak[$current]:-0})) && etmp_peak[$current]=$p
	return "$rc"
}
clean_engine() { remove_images && sync; }
bare_load() { docker load -i "$bdir/images/images.tar"; }
load_sh() { (cd "$bdir" && ./load.sh); }

declare -A engine_desc engine_store save_sum esave_size ebundle_size elargest
for e in $engines; do
	engine_touched=1
	if [[ $(running_engine) != "$e" ]]; then
		log "starting engine $e"
		scripts/engine.sh start "$e" 2>"$work/logs/engine-$e.log" || {
			cat "$work/logs/engine-$e.log" >&2
			die "engine $e did not start"
		}
	fi
	current=$e
	store=$(store_of_engine)
	engine_store[$e]=$store
	engine_desc[$e]="Docker $(docker version --format '{{.Server.Version}}'), $store store, $(docker info --format '{{.Driver}}') driver, root $(docker info --format '{{.DockerRootDir}}')"
	log "engine $e: ${engine_desc[$e]}"
	remove_images

	log "engine $e: pulling the images from the registry (not timed)"
	for r in "${refs[@]}"; do docker pull -q "$r" >/dev/null; done
	log "engine $e: airpack pack --source engine vs docker save -o, interleaved"
	timepair "$runs" "dsave$e" "epack$e" rm_engine_outputs save_file pack_engine
	save_file
	pack_engine_sampled
	esave_size[$e]=$(stat -c %s "$esave")
	ebundle_size[$e]=$(stat -c %s "$ebundle")
	"$airpack" verify "$ebundle" >"$work/logs/everify$e.log" 2>&1 || die "airpack verify of the engine bundle failed (log: $work/logs/everify$e.log)"
	elargest[$e]=$(tar -xOf "$ebundle" --wildcards '*/airpack.json' | jq '[.images[].layers[].size] | max')
	rm_engine_outputs
	NO_WARMUP=1 timeit "$save_runs" "save$e" rm_saved save_all
	save_sum[$e]=$(cat "$work"/save/*.tar.gz | wc -c)
	rm_saved
	timepair "$load_runs" "load$e" "loadsh$e" clean_engine bare_load load_sh
	timeit "$runs" "noop$e" sync load_sh
	remove_images
done

# ---- upgrade bundle: no engine (issue 11) ------------------------------------------------------
# Version 1.1 changes one service's top layer: genapp push -bump (same flags and seed as 1.0)
# regenerates the first service's application code layer (same tree, other content), pushes it
# as bench/<service>:1.1 and writes 1.1's compose project (the others stay on :1.0). The upgrade
# bundle (pack --base the 1.0 bundle) and the full 1.1 bundle are packed once each: the row is
# about bytes. airpack diff of 1.0 and the full 1.1 gives its estimate of the upgrade bundle.
max_upgrade_vs_full=0.05
app11=$work/app-1.1
upgrade=$work/pack/benchapp-1.1-upgrade.tar
full11=$work/pack/benchapp-1.1.tar
bump_svc=${refs[0]##*/}
bump_svc=${bump_svc%%:*}
"$genapp" push -registry "$host" -dir "$app11" -images "$nimages" -base-mib "$base_mib" -own-mib "$own_mib" -seed "$seed" \
	-bump "$bump_svc" >"$work/app-1.1.txt" 2>"$work/logs/genapp-1.1.log" || {
	cat "$work/logs/genapp-1.1.log" >&2
	die "genapp push -bump $bump_svc failed"
}
bumped_bytes=$(awk '$1 == "bumped_layer_bytes" { print $2 }' "$work/app-1.1.txt")
log "pushed 1.1: $bump_svc's application code layer changed ($(mib "$bumped_bytes") MiB gzip)"
rm_upgrade() { rm -f "$upgrade" && sync; }
rm_full11() { rm -f "$full11" && sync; }
log "airpack pack --base (the 1.1 upgrade bundle) and the full 1.1 bundle, one run each"
NO_WARMUP=1 timeit 1 upgrade rm_upgrade "$airpack" pack -q -f "$app11/compose.yaml" --version 1.1 --base "$bundle" -o "$upgrade"
NO_WARMUP=1 timeit 1 full11 rm_full11 "$airpack" pack -q -f "$app11/compose.yaml" --version 1.1 -o "$full11"
upgrade_size=$(stat -c %s "$upgrade")
full11_size=$(stat -c %s "$full11")
"$airpack" diff --json "$bundle" "$full11" >"$work/logs/diff.json" 2>&1 || {
	cat "$work/logs/diff.json" >&2
	die "airpack diff failed"
}
# diff_key KEY: the number airpack diff --json gives for KEY in its "upgrade" object.
diff_key() { sed -n '/"upgrade": *{/,$p' "$work/logs/diff.json" | grep -o "\"$1\": *[0-9]*" | head -n 1 | grep -o '[0-9]*$'; }
diff_bundle=$(diff_key bundleSize || true)
diff_carried=$(diff_key carriedLayerBytes || true)
[[ $diff_bundle =~ ^[0-9]+$ && $diff_carried =~ ^[0-9]+$ ]] ||
	die "no upgrade bundleSize / carriedLayerBytes in airpack diff --json (log: $work/logs/diff.json)"
[[ $diff_carried == "$bumped_bytes" ]] ||
	die "airpack diff says the upgrade carries $diff_carried layer bytes; genapp changed one layer of $bumped_bytes bytes"
# upgrade_rows: the section's rows, for the table.
upgrade_rows() {
	section "upgrade 1.1 over 1.0: $bump_svc's top layer changed (no engine; one run each)"
	timed "airpack pack --version 1.1 --base benchapp-1.0.tar" upgrade
	timed "airpack pack --version 1.1 (full bundle)" full11
	figure "changed layer ($bump_svc application code, gzip)" "$(mib "$bumped_bytes") MiB" "($bumped_bytes B)"
	figure "upgrade bundle .tar size" "$(mib "$upgrade_size") MiB" "($upgrade_size B)"
	figure "full 1.1 bundle .tar size" "$(mib "$full11_size") MiB" "($full11_size B)"
	figure "airpack diff 1.0 1.1: upgrade bundle estimate" "$(mib "$diff_bundle") MiB" \
		"($diff_bundle B: $(awk -v d="$diff_bundle" -v u="$upgrade_size" 'BEGIN { printf "%+.2f%%", 100 * (d - u) / u }') vs the bundle)"
	check "upgrade bundle / full 1.1 bundle (bytes)" "$(ratio "$upgrade_size" "$full11_size")" "$max_upgrade_vs_full"
}

# ---- table -----------------------------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
read -r dev fstype size _ < <(df -PT "$work" | awk 'NR == 2 { print $1, $2, $3 * 1024, $5 }')
rot=$(cat "/sys/block/$(basename "$dev")/queue/rotational" 2>/dev/null || echo "?")
case $rot in 0) rot="reports non-rotational" ;; 1) rot="reports rotational" ;; *) rot="rotational: unknown" ;; esac
commit=$(git -C "$root" log -1 --format=%h 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | wc -l)

section "pack: registry -> one .tar (no engine)"
timed "airpack pack -o benchapp-1.0.tar (wall)" pack
timed "crane pull REF x${#refs[@]} app.tar (wall)" crane
figure "airpack pack peak RSS (max of all runs)" "$(mib $((rss[pack] * 1024))) MiB"
figure "crane pull peak RSS (max of all runs)" "$(mib $((rss[crane] * 1024))) MiB"
figure "bundle .tar size (images.tar $(mib "$archive_size") MiB)" "$(mib "$bundle_size") MiB"
figure "crane tarball size" "$(mib "$crane_size") MiB"
check "airpack pack time / crane pull time" "$(ratio "${med[pack]}" "${med[crane]}")" "$max_pack_vs_crane"
check "bundle size / crane tarball size" "$(ratio "$bundle_size" "$crane_size")" "$max_size_vs_crane"
check "airpack pack peak RSS" "$(mib $((rss[pack] * 1024)))" "$max_rss_mib" MiB
section "split onto media: --split-size $split_size ($nparts parts), no engine"
timed "airpack pack -o benchapp-1.0.tar (wall)" packwhole
timed "airpack pack --split-size $split_size (wall)" packsplit
split_us=$(paired_diff packwhole packsplit)
figure "the split: extra time of pack --split-size" "$(secs "$split_us") s" "(median of the paired differences)"
((split_us > 0)) || split_us=1
timed "cat benchapp-1.0.tar > copy (the same bytes)" catwhole
timed "cat benchapp-1.0.tar.[0-9]* > joined (the join)" catparts
timed "sha256sum -c benchapp-1.0.tar.sha256" sha256c
timed "airpack verify benchapp-1.0.tar" verifywhole
timed "airpack verify benchapp-1.0.tar.sha256 (the parts)" verifyparts
check_min "split speed / cat speed (cat time / split extra)" "$(ratio "${med[catwhole]}" "$split_us")" "$min_split_vs_cat"
check_min "join speed / cat speed (cat time / join time)" "$(ratio "${med[catwhole]}" "${med[catparts]}")" "$min_join_vs_cat"
check "airpack pack --split-size peak RSS" "$(mib $((${peak[packsplit]:-0} * 1024)))" "$max_split_rss_mib" MiB
check "airpack verify of the parts peak RSS" "$(mib $((${peak[verifyparts]:-0} * 1024)))" "$max_split_rss_mib" MiB
figure "airpack verify parts time / whole archive time" "$(ratio "${med[verifyparts]}" "${med[verifywhole]}")" "(no target: one more sha256 pass, the parts')"
for e in $engines; do
	section "engine $e: ${engine_desc[$e]}"
	timed "docker save -o all.tar IMG x${#refs[@]} (one file)" "dsave$e"
	timed "airpack pack --source engine (same images)" "epack$e"
	figure "docker save file size" "$(mib "${esave_size[$e]}") MiB"
	figure "engine bundle .tar size" "$(mib "${ebundle_size[$e]}") MiB"
	figure "largest layer of the engine bundle (gzip)" "$(mib "${elargest[$e]}") MiB"
	check "pack --source engine time / docker save time" "$(ratio "${med[epack$e]}" "${med[dsave$e]}")" "$max_epack_vs_save"
	if [[ ${engine_store[$e]} == containerd ]]; then
		# This store's docker save holds its gzip blobs, which airpack keeps as they are: the
		# target (a bundle against an uncompressed save) is checked against the layers' bytes.
		figure "engine bundle size / docker save file size" "$(ratio "${ebundle_size[$e]}" "${esave_size[$e]}")" "(no target: this save is gzip already)"
		check "engine bundle size / layers unpacked (a classic save)" "$(ratio "${ebundle_size[$e]}" "${appinfo[distinct_bytes]}")" "$max_esize_vs_save"
	else
		check "engine bundle size / docker save file size" "$(ratio "${ebundle_size[$e]}" "${esave_size[$e]}")" "$max_esize_vs_save"
	fi
	check "pack --source engine peak RSS" "$(mib $((${peak[epack$e]:-0} * 1024)))" "$max_rss_mib" MiB
	check "pack --source engine temp disk / largest layer" "$(ratio "${etmp_peak[$e]:-0}" "${elargest[$e]}")" 1
	figure "pack --source engine temp disk peak" "$(mib "${etmp_peak[$e]:-0}") MiB"
	timed "docker save IMG | gzip, ${#refs[@]} images one by one" "save$e"
	figure "sum of the ${#refs[@]} docker save | gzip files" "$(mib "${save_sum[$e]}") MiB"
	check "airpack pack time / docker save|gzip time" "$(ratio "${med[pack]}" "${med[save$e]}")" "$max_pack_vs_save"
	check "bundle size / sum of docker save|gzip files" "$(ratio "$bundle_size" "${save_sum[$e]}")" "$max_size_vs_save"
	timed "docker load -i images/images.tar (images removed)" "load$e"
	timed "./load.sh (images removed)" "loadsh$e"
	timed "./load.sh re-run (all present: no-op)" "noop$e"
	check "./load.sh time / docker load time" "$(ratio "${med[loadsh$e]}" "${med[load$e]}")" "${max_load_vs_docker[$e]}"
	check "./load.sh no-op re-run" "$(secs "${med[noop$e]}")" "$max_noop_s" s
done
upgrade_rows

line=$(printf '%.0s-' {1..98})
{
	echo
	echo "airpack bench  $(date -u '+%Y-%m-%d %H:%M UTC')  airpack $commit$( ((dirty == 0)) || echo " + $dirty uncommitted file(s)")"
	echo "machine: $(nproc) CPUs ($cpu), $mem memory, kernel $(uname -r); load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo "disk:    $dev ($fstype, $(mib "$size") MiB, $rot) holds the work dir $work"
	echo "app:     ${#refs[@]} images on $host (genapp, seed $seed, built in ${appinfo[gen_seconds]} s): shared base layer $(mib "${appinfo[base_bytes]}") MiB (${appinfo[base_files]} files)"
	echo "         + own layers of $(mib "${appinfo[own_bytes]}") MiB (${appinfo[own_files]} files) per image on average; distinct layers: $(mib "${appinfo[distinct_bytes]}") MiB unpacked,"
	echo "         ${appinfo[files]} files, $(mib "${appinfo[layer_bytes]}") MiB gzip ($(ratio "${appinfo[layer_bytes]}" "${appinfo[distinct_bytes]}")); $(mib "${appinfo[image_bytes]}") MiB gzip counting the base once per image:"
	sed -n '/^ *layer  /,/^genapp: file bytes/s/^/         /p' "$work/logs/genapp.log"
	echo "$line"
	row "measure" "value" "target" "result" "(min-max)"
	echo
	echo "$line"
	printf '%s\n' "${rows[@]:1}" | sed 's/ *$//'
	echo "$line"
	echo "Times are wall clock. Every command ran once as warm-up (but docker save | gzip, minutes long), then"
	echo "several times: the value is the median, (min-max) beside it. Runs: $runs for pack, crane and the no-op,"
	echo "$save_runs for docker save | gzip, $load_runs for docker load and ./load.sh. The page cache was not dropped"
	echo "(all tools read warm data); each run started after an untimed sync, so none paid for the previous"
	echo "run's dirty pages."
	echo "Before each timed load the app's images were removed (docker rmi; on the containerd store until"
	echo "their layer blobs had left the content store); docker load and ./load.sh ran interleaved, run for run."
	echo "Sizes in MiB (2^20 bytes); peak RSS from /usr/bin/time %M."
	echo "$((checks - fails)) of $checks checks PASS$( ((fails == 0)) || echo ", $fails FAIL"); bench took $((SECONDS - t_start))s."
}
((fails == 0)) || exit 1
