package loader

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airpack/airpack/bundle"
)

// The shells load.sh must run under, by the path the test runs them with.
var shells = []struct {
	name string
	argv []string
}{
	{"dash", []string{"/usr/bin/dash"}},
	{"bash", []string{"/bin/bash"}},
	{"busybox-ash", []string{"/usr/bin/busybox", "ash"}},
}

// coreutils are the commands the restricted PATH of a test run offers besides docker: coreutils'
// (sha256sum aside, which each run adds or not) and df. A load.sh using anything else (grep, sed,
// awk...) fails its tests with "not found", as it would on a minimal host.
var coreutils = strings.Fields(`arch b2sum base32 base64 basename cat chgrp chmod chown cksum comm
	cp csplit cut date dd df dir dircolors dirname du echo env expand expr factor false fmt fold
	groups head hostid id install join link ln logname ls md5sum mkdir mkfifo mknod mktemp mv nice nl
	nohup nproc numfmt od paste pathchk pinky pr printenv printf ptx pwd readlink realpath rm rmdir
	seq sha1sum sha224sum sha384sum sha512sum shred shuf sleep sort split stat stdbuf stty sum sync
	tac tail tee test timeout touch tr true truncate tsort tty uname unexpand uniq unlink users vdir
	wc who whoami yes`)

func digest(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// sampleManifest is a two-image, one-archive bundle; Script and the fixtures fill in sizes.
func sampleManifest() *bundle.Manifest {
	return &bundle.Manifest{
		FormatVersion: bundle.FormatVersion,
		Name:          "shop",
		Version:       "1.0",
		Platform:      "linux/amd64",
		ComposeFile:   bundle.ComposeFile,
		Images: []bundle.Image{{
			Ref:            "nginx:1.25",
			Services:       []string{"web", "proxy"},
			Source:         "registry",
			ManifestDigest: digest('a'),
			ConfigDigest:   digest('b'),
			Platform:       "linux/amd64",
			Archive:        bundle.ImageArchive,
		}, {
			Ref:            "127.0.0.1:5000/demo/api:1.0",
			Services:       []string{"api"},
			Source:         "engine",
			ManifestDigest: digest('c'),
			ConfigDigest:   digest('d'),
			Platform:       "linux/amd64",
			Archive:        bundle.ImageArchive,
		}},
		Archives: []bundle.Archive{{Path: bundle.ImageArchive}},
	}
}

// splitManifest is sampleManifest with each image in its own archive, plus a third image.
func splitManifest() *bundle.Manifest {
	m := sampleManifest()
	m.Images[0].Archive = "images/part-1.tar"
	m.Images[1].Archive = "images/part-2.tar"
	m.Images = append(m.Images, bundle.Image{
		Ref: "redis:7", Services: []string{"cache"}, Source: "registry",
		ManifestDigest: digest('e'), ConfigDigest: digest('f'), Platform: "linux/amd64",
		Archive: "images/part-2.tar",
	})
	m.Archives = []bundle.Archive{{Path: "images/part-1.tar"}, {Path: "images/part-2.tar"}}
	return m
}

// fakeDocker answers load.sh's docker commands from the state directory $FAKE_DOCKER_STATE:
//
//	log          every invocation, one line of space-joined arguments (a newline in one, as in
//	             load.sh's docker info format, shown as a space)
//	platform     what the engine runs (os/arch), as docker version reports it
//	store        "containerd" or "classic"
//	rootdir      Docker's root dir
//	images/KEY   the ID of the image whose reference KEY names (/ : @ turned into _)
//	load_result  "REF ID ARCHIVE" lines: what docker load restores when what it read is the whole
//	             of ARCHIVE (relative to the bundle dir, docker's working directory)
//	received     what the last docker load read, from -i PATH or its standard input
//	load_bytes   the byte count of each docker load's input, one line per load that read it all
//	registered   the references each docker load registered, one per line
//	compose_images  what docker compose config --images prints
//	ps           what docker compose ps prints (docker compose up --wait fails unless every
//	             line's state is running or exited with 0, and its health empty or healthy)
//	down, nocompose, composefail, loadfail, pushfail: present to make that part fail
//
// Like docker, load reads its whole input before it registers anything, and registers nothing
// (failing with "unexpected EOF") when that input is not a whole archive of the bundle; image
// inspect takes several references, prints the IDs of those it finds and fails if any is missing.
const fakeDocker = `#!/bin/sh
s=${FAKE_DOCKER_STATE:?}
call=$(printf '%s' "$*" | tr '\n' ' ')
printf '%s\n' "$call" >>"$s/log"
key() { printf '%s' "$1" | tr '/:@' '___'; }
down() {
	[ -e "$s/down" ] || return 0
	echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
	exit 1
}
case $1 in
version)
	down
	case ${3:-} in
	*Server.Os*) printf '27.5.1 %s\n' "$(cat "$s/platform")" ;;
	*) echo "fake docker: unexpected version format: $*" >&2; exit 99 ;;
	esac
	;;
info)
	case ${3:-} in
	*DockerRootDir*DriverStatus*ClientInfo.Plugins*compose*Version*) ;;
	*) echo "fake docker: unexpected info format: $*" >&2; exit 99 ;;
	esac
	if [ -e "$s/down" ]; then
		printf '\nnull\n\n'
		down
	fi
	printf '%s\n' "$(cat "$s/rootdir")"
	if [ "$(cat "$s/store")" = containerd ]; then
		echo '[["driver-type","io.containerd.snapshotter.v1"]]'
	else
		echo '[["Backing Filesystem","extfs"],["Supports d_type","true"],["Using metacopy","false"]]'
	fi
	# The CLI plugins: docker info lists them, the Compose v2 plugin with its version.
	if [ -e "$s/nocompose" ]; then
		echo
	else
		echo v2.32.4
	fi
	;;
compose)
	if [ -e "$s/nocompose" ]; then
		echo "docker: 'compose' is not a docker command." >&2
		exit 1
	fi
	case "$*" in
	"compose up -d --wait")
		echo "Container shop-web-1 Started" >&2
		while IFS='|' read -r svc state health code ports; do
			case $state/$health/$code in running//* | running/healthy/* | exited//0) ;; *) echo "dependency failed to start: container shop-$svc-1 is $state $health" >&2; exit 1 ;; esac
		done <"$s/ps"
		;;
	"compose ps -a --format {{.Service}}|{{.State}}|{{.Health}}|{{.ExitCode}}|{{.Ports}}") cat "$s/ps" ;;
	"compose logs --no-color --tail 20 "*) echo "log of $6: line 1"; echo "log of $6: it failed" ;;
	"compose version --short") echo 2.32.4 ;;
	"compose -f docker-compose.yaml config --images")
		[ ! -e "$s/composefail" ] || { echo "yaml: line 2: mapping values are not allowed in this context" >&2; exit 15; }
		echo "WARN[0000] a warning compose prints on stderr" >&2
		cat "$s/compose_images"
		;;
	*) echo "Docker Compose version v2.32.4" ;;
	esac
	;;
image)
	[ "$2 $3" = "inspect --format" ] || { echo "fake docker: unexpected: $*" >&2; exit 99; }
	down
	shift 4
	rc=0
	for ref; do
		f=$s/images/$(key "$ref")
		found=
		case $ref in sha256:*) # looked up by ID: an image holding it under any name, or none
			for g in "$s"/images/*; do [ ! -f "$g" ] || [ "$(cat "$g")" != "$ref" ] || found=1; done ;;
		esac
		if [ -f "$f" ]; then
			cat "$f"
		elif [ -n "$found" ]; then
			echo "$ref"
		else
			echo "Error: No such image: $ref" >&2
			rc=1
		fi
	done
	exit $rc
	;;
load)
	shift
	input=
	while [ $# -gt 0 ]; do
		case $1 in
		-q) ;;
		-i) input=$2; shift ;;
		*) echo "fake docker: unexpected load argument: $1" >&2; exit 99 ;;
		esac
		shift
	done
	if [ -e "$s/loadfail" ]; then
		echo "Error processing tar file(exit status 1): no space left on device" >&2
		exit 1
	fi
	[ -n "$input" ] || { echo "fake docker: load without -i" >&2; exit 99; }
	[ -f "$input" ] || { echo "open $input: no such file or directory" >&2; exit 1; }
	cat -- "$input" >"$s/received"
	wc -c <"$s/received" >>"$s/load_bytes"
	whole=
	while read -r ref id arch; do
		[ -z "$whole" ] && [ -f "$arch" ] && /usr/bin/cmp -s "$s/received" "$arch" && whole=$arch
	done <"$s/load_result"
	if [ -z "$whole" ]; then
		echo "Error processing tar file(exit status 1): unexpected EOF" >&2
		exit 1
	fi
	while read -r ref id arch; do
		[ "$arch" = "$whole" ] || continue
		printf '%s\n' "$id" >"$s/images/$(key "$ref")"
		printf '%s\n' "$ref" >>"$s/registered"
		echo "Loaded image: $ref"
	done <"$s/load_result"
	;;
tag)
	f=$s/images/$(key "$2")
	[ -f "$f" ] || { echo "Error response from daemon: No such image: $2" >&2; exit 1; }
	cp "$f" "$s/images/$(key "$3")"
	;;
push)
	if [ -e "$s/pushfail" ]; then
		echo "Get \"https://$2/v2/\": dial tcp: connection refused" >&2
		exit 1
	fi
	echo "The push refers to repository [$2]"
	;;
*)
	echo "fake docker: unexpected command: $*" >&2
	exit 99
	;;
esac
`

// fixture is one bundle directory with its load.sh, a fake docker and the restricted PATH.
type fixture struct {
	t     *testing.T
	m     *bundle.Manifest
	dir   string // the bundle directory
	state string // the fake docker's state directory
	bin   string // the only directory on PATH
	cwd   string // where load.sh is started from
	tmp   string // TMPDIR: load.sh's work dir goes there, and must be gone after each run
	env   []string
}

// hashTool says which checksum command PATH offers: "sha256sum" (GNU), "busybox" (busybox's
// sha256sum), "shasum", "openssl" or "none".
func newFixture(t *testing.T, m *bundle.Manifest, hashTool string) *fixture {
	t.Helper()
	root := t.TempDir()
	fx := &fixture{
		t:     t,
		m:     m,
		dir:   filepath.Join(root, "bundles", "shop 1.0 (it's here)"),
		state: filepath.Join(root, "state"),
		bin:   filepath.Join(root, "bin"),
		cwd:   filepath.Join(root, "elsewhere"),
		tmp:   filepath.Join(root, "tmp"),
	}
	for _, d := range []string{fx.dir, filepath.Join(fx.state, "images"), fx.bin, fx.cwd, fx.tmp} {
		must(t, os.MkdirAll(d, 0o755))
	}

	// The bundle: compose file, .env, a bind-mount source with a space in its name, archives.
	fx.write(bundle.ComposeFile, "services:\n  web:\n    image: nginx:1.25\n")
	fx.write(bundle.EnvFile, "TAG=1.0\n")
	fx.write("files/nginx conf/default.conf", "server { listen 80; }\n")
	for i := range m.Archives {
		content := fakeArchive(i)
		fx.write(m.Archives[i].Path, content)
		m.Archives[i].Size = int64(len(content))
	}
	b, err := m.Marshal()
	must(t, err)
	fx.write(bundle.ManifestFile, string(b))
	script, err := Script(m)
	must(t, err)
	fx.write(bundle.LoaderFile, string(script))
	must(t, os.Chmod(filepath.Join(fx.dir, bundle.LoaderFile), 0o755))
	fx.writeSums()

	// The fake engine: an empty classic-store engine on the bundle's platform; docker load
	// restores each image with the ID it must have there.
	fx.setState("platform", "linux/amd64")
	fx.setState("store", "classic")
	fx.setState("rootdir", fx.state)
	var refs []string
	for _, im := range m.Images {
		refs = append(refs, im.Ref)
	}
	fx.setState("compose_images", strings.Join(refs, "\n")+"\n")
	fx.setState("log", "")
	fx.setLoadResult("classic")
	fx.setState("ps", "web|running||0|0.0.0.0:8080->80/tcp\napi|running|healthy|0|\n")

	// PATH: coreutils, the chosen checksum tool, and docker.
	for _, c := range coreutils {
		fx.link(c, findTool(c))
	}
	switch hashTool {
	case "sha256sum", "shasum", "openssl":
		fx.link(hashTool, findTool(hashTool))
	case "busybox":
		fx.link("sha256sum", "/usr/bin/busybox")
	case "none":
	default:
		t.Fatalf("unknown hash tool %q", hashTool)
	}
	fx.addBin("docker", fakeDocker)

	fx.env = []string{
		"PATH=" + fx.bin,
		"FAKE_DOCKER_STATE=" + fx.state,
		"HOME=" + root,
		"LC_ALL=C",
		"TMPDIR=" + fx.tmp,
	}
	return fx
}

// shimTool replaces name on PATH by a script that logs "name ARGS" (on one line, newlines in ARGS
// as spaces) to the state file tools, runs
// the shell code before, then the system's name.
func (fx *fixture) shimTool(name, before string) {
	real := findTool(name)
	if real == "" {
		fx.t.Fatalf("%s is not installed", name)
	}
	fx.addBin(name, fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$(printf '%%s' \"%s $*\" | tr '\\n' ' ')\" >>\"$FAKE_DOCKER_STATE/tools\"\n%s\nexec %s \"$@\"\n", name, before, real))
}

// toolCalls returns the calls the shims of shimTool logged.
func (fx *fixture) toolCalls() []string {
	b, err := os.ReadFile(filepath.Join(fx.state, "tools"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	must(fx.t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// registered returns the references the fake docker load registered, in order.
func (fx *fixture) registered() []string {
	b, err := os.ReadFile(filepath.Join(fx.state, "registered"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	must(fx.t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// wantLoads fails the test unless the docker load calls of the fixture's runs are exactly want
// (their arguments, e.g. "load -i images/images.tar"; none for no call).
func (fx *fixture) wantLoads(r result, want ...string) {
	fx.t.Helper()
	if got := fx.calls("load"); !slices.Equal(got, want) {
		fx.t.Fatalf("docker load calls %q, want %q; output:\n%s", got, want, r.out)
	}
}

// nothingLoaded fails the test unless the failed run r never ran docker load, and left no
// process running.
func (fx *fixture) nothingLoaded(r result) {
	fx.t.Helper()
	fx.wantLoads(r)
	fx.checkNoLeftovers(r)
}

// received returns the size of what the last docker load read, -1 if none read anything.
func (fx *fixture) received() int64 {
	st, err := os.Stat(filepath.Join(fx.state, "received"))
	if errors.Is(err, fs.ErrNotExist) {
		return -1
	}
	must(fx.t, err)
	return st.Size()
}

// archiveSize is the size of the bundle's archive rel.
func (fx *fixture) archiveSize(rel string) int64 {
	st, err := os.Stat(filepath.Join(fx.dir, filepath.FromSlash(rel)))
	must(fx.t, err)
	return st.Size()
}

// flipByte changes one byte of the bundle's file rel, at offset off (from the end when < 0).
func (fx *fixture) flipByte(rel string, off int) {
	p := filepath.Join(fx.dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	must(fx.t, err)
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 1
	must(fx.t, os.WriteFile(p, b, 0o644))
}

// fakeArchive is image archive number i: a tar (as airpack writes them: whole 512-byte blocks,
// the last member a file with data, the 1024-byte end marker), 4608 bytes.
func fakeArchive(i int) string {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	body := fmt.Sprintf("fake image archive %d\n%s", i, strings.Repeat("layer bytes ", 250))
	if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("blobs/sha256/%064d", i), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		panic(err)
	}
	if _, err := tw.Write([]byte(body)); err != nil {
		panic(err)
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func findTool(name string) string {
	for _, d := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return filepath.Join(d, name)
		}
	}
	return ""
}

func (fx *fixture) link(name, target string) {
	if target == "" {
		return // not every coreutils build has every command
	}
	must(fx.t, os.Symlink(target, filepath.Join(fx.bin, name)))
}

// addBin puts a script on PATH as name, replacing what is there. It removes the old entry first:
// most are symlinks to the system's binaries, and writing through one would replace the
// system's command.
func (fx *fixture) addBin(name, script string) {
	p := filepath.Join(fx.bin, name)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fx.t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	must(fx.t, err)
	_, err = f.WriteString(script)
	must(fx.t, err)
	must(fx.t, f.Close())
}

func (fx *fixture) write(rel, content string) {
	p := filepath.Join(fx.dir, filepath.FromSlash(rel))
	must(fx.t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(fx.t, os.WriteFile(p, []byte(content), 0o644))
}

// writeSums writes SHA256SUMS as the bundle writer does: every file but itself and the
// signature, "<hex>  <path>" per line.
func (fx *fixture) writeSums() {
	var lines []string
	err := filepath.WalkDir(fx.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(fx.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == bundle.SumsFile || rel == bundle.SigFile {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+rel+"\n")
		return nil
	})
	must(fx.t, err)
	slices.Sort(lines)
	fx.write(bundle.SumsFile, strings.Join(lines, ""))
}

func (fx *fixture) setState(name, content string) {
	must(fx.t, os.WriteFile(filepath.Join(fx.state, name), []byte(content), 0o644))
}

func (fx *fixture) touchState(name string) { fx.setState(name, "") }

// setLoadResult makes docker load restore every image with its expected ID on store.
func (fx *fixture) setLoadResult(store string) {
	var b strings.Builder
	for _, img := range fx.m.Images {
		fmt.Fprintf(&b, "%s %s %s\n", img.Ref, expectedID(img, store), img.Archive)
	}
	fx.setState("load_result", b.String())
}

func expectedID(img bundle.Image, store string) string {
	if store == "containerd" {
		return img.ManifestDigest
	}
	return img.ConfigDigest
}

func imageKey(ref string) string {
	return strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(ref)
}

// setImage makes the engine hold ref with id.
func (fx *fixture) setImage(ref, id string) {
	fx.setState(filepath.Join("images", imageKey(ref)), id+"\n")
}

// imageID is the engine's ID of ref, "" when it has none.
func (fx *fixture) imageID(ref string) string {
	b, err := os.ReadFile(filepath.Join(fx.state, "images", imageKey(ref)))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	must(fx.t, err)
	return strings.TrimSpace(string(b))
}

// calls returns the docker invocations logged since the fixture was made, those starting with
// prefix ("" for all).
func (fx *fixture) calls(prefix string) []string {
	b, err := os.ReadFile(filepath.Join(fx.state, "log"))
	must(fx.t, err)
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l != "" && strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

type result struct {
	out  string // stdout and stderr, interleaved as written
	code int
}

// lastLine is the final line of the output, the one that must say what happened.
func (r result) lastLine() string {
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	return lines[len(lines)-1]
}

// command is load.sh by its absolute path under the shell, from fx.cwd, with the restricted
// PATH, its output (stdout and stderr) going to the returned buffer.
func (fx *fixture) command(shell []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	argv := append(slices.Clone(shell), filepath.Join(fx.dir, bundle.LoaderFile))
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = fx.cwd
	cmd.Env = fx.env
	buf := new(bytes.Buffer)
	cmd.Stdout = buf
	cmd.Stderr = buf
	return cmd, buf
}

// run runs load.sh (see command) to its end, and checks it left no temp files or processes.
func (fx *fixture) run(shell []string, args ...string) result {
	fx.t.Helper()
	cmd, buf := fx.command(shell, args...)
	err := cmd.Run()
	r := result{out: buf.String()}
	fx.checkTmpEmpty(r)
	fx.checkNoLeftovers(r)
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		fx.t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

// checkTmpEmpty: load.sh removes its checksum job's output file however it ended.
func (fx *fixture) checkTmpEmpty(r result) {
	fx.t.Helper()
	ents, err := os.ReadDir(fx.tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	must(fx.t, err)
	if len(ents) > 0 {
		fx.t.Errorf("load.sh left %s in TMPDIR; output:\n%s", ents[0].Name(), r.out)
	}
}

// checkNoLeftovers: no process load.sh started (checksum tool, docker load) outlives it. They
// all run in the bundle dir; a killed fake docker load's cat gets its EOF as load.sh exits, so
// allow a moment.
func (fx *fixture) checkNoLeftovers(r result) {
	fx.t.Helper()
	var left []string
	for i := 0; i < 300; i++ {
		left = left[:0]
		procs, _ := filepath.Glob("/proc/[0-9]*")
		for _, p := range procs {
			if cwd, err := os.Readlink(filepath.Join(p, "cwd")); err == nil && cwd == fx.dir {
				cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
				left = append(left, filepath.Base(p)+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fx.t.Errorf("processes left running after load.sh exited: %q; output:\n%s", left, r.out)
}

// composeAsPacked makes the bundle's load.sh as airpack pack does, knowing the compose file it
// wrote (WithComposeFile), and SHA256SUMS to match.
func (fx *fixture) composeAsPacked() {
	compose, err := os.ReadFile(filepath.Join(fx.dir, bundle.ComposeFile))
	must(fx.t, err)
	script, err := Script(fx.m, WithComposeFile(compose))
	must(fx.t, err)
	fx.write(bundle.LoaderFile, string(script))
	fx.writeSums()
}

// replaceArchive gives the bundle's archive number i the content, and the bundle a load.sh,
// airpack.json and SHA256SUMS to match.
func (fx *fixture) replaceArchive(i int, content string) {
	fx.write(fx.m.Archives[i].Path, content)
	fx.m.Archives[i].Size = int64(len(content))
	b, err := fx.m.Marshal()
	must(fx.t, err)
	fx.write(bundle.ManifestFile, string(b))
	script, err := Script(fx.m)
	must(fx.t, err)
	fx.write(bundle.LoaderFile, string(script))
	fx.writeSums()
}

// forEachShell runs f as a subtest under each shell, with a fresh fixture from mk.
func forEachShell(t *testing.T, f func(t *testing.T, shell []string)) {
	t.Helper()
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			if _, err := os.Stat(sh.argv[0]); err != nil {
				t.Fatalf("%s is needed to test load.sh (apt-get install dash busybox): %v", sh.argv[0], err)
			}
			f(t, sh.argv)
		})
	}
}

func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d; output:\n%s", r.code, code, r.out)
	}
}

func wantContains(t *testing.T, r result, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.out, s) {
			t.Errorf("output lacks %q; output:\n%s", s, r.out)
		}
	}
}

func wantLastLine(t *testing.T, r result, subs ...string) {
	t.Helper()
	last := r.lastLine()
	for _, s := range subs {
		if !strings.Contains(last, s) {
			t.Errorf("last line lacks %q: %q; output:\n%s", s, last, r.out)
		}
	}
}
