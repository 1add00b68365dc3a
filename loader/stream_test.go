package loader

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airpack/airpack/bundle"
)

// wantCalls checks the docker invocations logged since the log was last emptied, by command.
func wantCalls(t *testing.T, fx *fixture, want map[string]int, r result) {
	t.Helper()
	got := fx.dockerCalls()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("docker %s called %d times, want %d; calls:\n%s\noutput:\n%s", k, got[k], n, strings.Join(fx.calls(""), "\n"), r.out)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("docker %s called %d times, want none; calls:\n%s", k, got[k], strings.Join(fx.calls(""), "\n"))
		}
	}
}

// The docker calls load.sh makes, exactly, so that one more creeping in shows.
func TestDockerCallCounts(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		// First load: version, info; compose config; image inspect of all images (none there), then of all
		// again after the load; one docker load.
		r := fx.run(sh)
		wantCode(t, r, 0)
		wantCalls(t, fx, map[string]int{"version": 1, "info": 1, "compose": 1, "image": 2, "load": 1, "all": 6}, r)
		if got := fx.calls("image"); got[0] != "image inspect --format {{.Id}} nginx:1.25 127.0.0.1:5000/demo/api:1.0" {
			t.Errorf("first image inspect %q, want one of both images", got[0])
		}

		// No-op re-run, and --check: version, info, compose config, one image inspect.
		for _, args := range [][]string{nil, {"--check"}} {
			fx.setState("log", "")
			r = fx.run(sh, args...)
			wantCode(t, r, 0)
			wantCalls(t, fx, map[string]int{"version": 1, "info": 1, "compose": 1, "image": 1, "all": 4}, r)
		}
	})
}

func TestDockerCallCountsSomePresent(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, splitManifest(), "sha256sum")
		fx.setImage("nginx:1.25", digest('b'))
		// docker image inspect of all three fails printing one ID, whose is unknown: one call per
		// image follows; after the load, one call for all.
		r := fx.run(sh)
		wantCode(t, r, 0)
		wantCalls(t, fx, map[string]int{"version": 1, "info": 1, "compose": 1, "image": 1 + 3 + 1, "load": 1, "all": 9}, r)
		wantLastLine(t, r, "2 image(s) loaded, 1 already present")
	})
}

// A damaged image archive: docker load starts on it (reading it while its checksum is computed)
// but never gets its last bytes, and is stopped: it registers nothing.
func TestDamagedArchiveStreamsButRegistersNothing(t *testing.T) {
	cases := []struct {
		name string
		off  int
	}{
		{"byte flipped in the streamed part", 600},
		{"byte flipped in the withheld tail", -1},
	}
	for _, c := range cases {
		for _, copier := range copiers {
			t.Run(c.name+"/"+copier, func(t *testing.T) {
				forEachShell(t, func(t *testing.T, sh []string) {
					fx := newFixture(t, sampleManifest(), "sha256sum")
					fx.useCopier(copier)
					head := fx.m.Archives[0].Size - streamTail
					// The checksum is known only once docker load has read all it may read.
					fx.gateArchiveHash(head)
					fx.flipByte(bundle.ImageArchive, c.off)
					r := fx.run(sh)
					wantCode(t, r, 1)
					wantLastLine(t, r, "FAILED: bundle files do not match SHA256SUMS: images/images.tar (damaged); nothing was loaded")
					if loads := fx.calls("load"); len(loads) != 1 {
						t.Fatalf("docker load calls %q, want the one that was stopped", loads)
					}
					if got := fx.received(); got != head {
						t.Errorf("docker load read %d bytes, want %d: all but the last %d", got, head, streamTail)
					}
					if reg := fx.registered(); len(reg) != 0 {
						t.Errorf("docker load registered %q", reg)
					}
					for _, img := range fx.m.Images {
						if id := fx.imageID(img.Ref); id != "" {
							t.Errorf("%s is in the engine (%s)", img.Ref, id)
						}
					}
					if strings.Contains(r.out, "Killed") || strings.Contains(r.out, "unexpected EOF") {
						t.Errorf("output shows the stopped docker load's noise:\n%s", r.out)
					}
					fx.wantCopier(copier, r)
				})
			})
		}
	}

	// The same archive undamaged, its checksum slower than docker load's reading: the tail
	// follows once it matched, and the load completes.
	for _, copier := range copiers {
		t.Run("clean, checksum last/"+copier, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				fx.useCopier(copier)
				fx.gateArchiveHash(fx.m.Archives[0].Size - streamTail)
				r := fx.run(sh)
				wantCode(t, r, 0)
				if got, want := fx.received(), fx.m.Archives[0].Size; got != want {
					t.Errorf("docker load read %d bytes, want %d", got, want)
				}
				if len(fx.registered()) != 2 {
					t.Errorf("registered %q", fx.registered())
				}
				fx.wantCopier(copier, r)
			})
		})
	}
}

// copiers are the three ways load.sh streams an archive's head to the engine: into docker load's
// FIFO by dd (no perl on PATH, as on a minimal host) or by perl's STREAM_COPY (perl installed,
// but the endpoint is no local socket), or uploaded to the engine API by perl's STREAM_API (perl
// installed, the endpoint a unix socket: serveAPI).
var copiers = []string{"dd", "perl", "api"}

// useCopier puts perl on PATH (logged to the tools state file) for "perl" and "api", and serves
// the fake engine API for "api"; "dd" leaves PATH without perl, as newFixture makes it.
func (fx *fixture) useCopier(copier string) {
	if copier == "perl" || copier == "api" {
		fx.shimTool("perl", "")
	}
	if copier == "api" {
		fx.serveAPI()
	}
}

// wantCopier checks that the stream went through copier: perl ran once, with STREAM_COPY
// ("perl") or with STREAM_API and the socket ("api"), or was never there to run ("dd"); the
// docker load calls were one "load --api" through the fake engine API for "api", else none such.
func (fx *fixture) wantCopier(copier string, r result) {
	fx.t.Helper()
	tools := fx.toolCalls()
	copyRuns, apiRuns := 0, 0
	for _, l := range tools {
		switch {
		case !strings.HasPrefix(l, "perl -e "):
		case strings.Contains(l, " use Socket; ") && fx.sock != "" && strings.Contains(l, " "+fx.sock+" "):
			apiRuns++
		case strings.Contains(l, " fcntl(STDOUT, 1031, 1048576); "):
			copyRuns++
		default:
			fx.t.Errorf("perl ran neither STREAM_COPY nor STREAM_API with the socket: %s", l)
		}
	}
	want := map[string][2]int{"dd": {0, 0}, "perl": {1, 0}, "api": {0, 1}}[copier]
	if copyRuns != want[0] || apiRuns != want[1] {
		fx.t.Errorf("perl ran %d times with STREAM_COPY and %d with STREAM_API, want %v (%s); tools log:\n%s\noutput:\n%s", copyRuns, apiRuns, want, copier, strings.Join(tools, "\n"), r.out)
	}
	apiLoads := 0
	for _, l := range fx.calls("load") {
		if strings.HasPrefix(l, "load --api") {
			apiLoads++
		}
	}
	if via := strings.Contains(r.out, "goes to the engine's API ("+fx.sock+")"); via != (copier == "api") {
		fx.t.Errorf("output says the archive goes to the engine's API: %v (%s); output:\n%s", via, copier, r.out)
	}
	if wantAPI := want[1]; apiLoads != wantAPI {
		fx.t.Errorf("docker load calls %q: %d through the engine API, want %d (%s)", fx.calls("load"), apiLoads, wantAPI, copier)
	}
}

// perlProgram is one of load.sh's perl programs (STREAM_COPY, STREAM_API) as the rendered script
// runs it: after PERL_SEND.
func perlProgram(t *testing.T, name string) string {
	t.Helper()
	return perlVar(t, "PERL_SEND") + perlVar(t, name)
}

// perlVar is the single-quoted value of the variable name in the rendered load.sh.
func perlVar(t *testing.T, name string) string {
	t.Helper()
	script, err := Script(sampleManifest())
	must(t, err)
	s := string(script)
	start := "\n" + name + "='"
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("load.sh has no %s", name)
	}
	s = s[i+len(start):]
	j := strings.Index(s, "\n'")
	if j < 0 || strings.Contains(s[:j], "'") {
		t.Fatalf("%s is not one single-quoted string", name)
	}
	return s[:j+1]
}

// STREAM_COPY sends exactly the head it is asked for: with sendfile(2) from a file into a pipe
// (what load.sh does; strace shows the syscall), by read and write from a pipe (where sendfile
// cannot serve), and fails on an archive shorter than the head.
func TestStreamCopy(t *testing.T) {
	prog := perlProgram(t, "STREAM_COPY")
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is needed to see STREAM_COPY use sendfile (apt-get install strace)")
	}
	data := make([]byte, 3<<20+7*512+100)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	const mib, blocks = 3, 7
	want := data[:mib<<20+blocks*512]

	// run runs STREAM_COPY (under strace when trace is set) with stdin from the file or through
	// a pipe, its stdout a pipe; returns what it wrote, the strace log and its exit error.
	run := func(t *testing.T, fromPipe, trace bool, src []byte) ([]byte, string, error) {
		t.Helper()
		f := filepath.Join(t.TempDir(), "in")
		must(t, os.WriteFile(f, src, 0o644))
		args := []string{"perl", "-e", prog, fmt.Sprint(mib), fmt.Sprint(blocks)}
		traceLog := filepath.Join(t.TempDir(), "strace.log")
		if trace {
			args = append([]string{strace, "-f", "-e", "trace=sendfile,read", "-o", traceLog}, args...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		var out bytes.Buffer
		cmd.Stdout = &out // a pipe: os/exec copies it
		if fromPipe {
			cmd.Stdin = bytes.NewReader(src) // a pipe too
		} else {
			in, err := os.Open(f)
			must(t, err)
			defer in.Close()
			cmd.Stdin = in
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if stderr.Len() > 0 {
			t.Logf("stderr: %s", stderr.String())
		}
		log, _ := os.ReadFile(traceLog)
		return out.Bytes(), string(log), err
	}

	wantHead := func(t *testing.T, got []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("STREAM_COPY failed: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("sent %d bytes, want the first %d of the archive exactly", len(got), len(want))
		}
	}
	t.Run("file into a pipe: sendfile", func(t *testing.T) {
		got, log, err := run(t, false, true, data)
		wantHead(t, got, err)
		if !strings.Contains(log, "sendfile(1, 0, NULL, ") {
			t.Errorf("no sendfile(1, 0, NULL, ...) in the strace log:\n%s", log)
		}
	})
	t.Run("pipe into a pipe: read and write", func(t *testing.T) {
		got, _, err := run(t, true, false, data)
		wantHead(t, got, err)
	})
	for _, fromPipe := range []bool{false, true} {
		t.Run(fmt.Sprintf("short archive, from a pipe %v", fromPipe), func(t *testing.T) {
			_, _, err := run(t, fromPipe, false, data[:2<<20])
			if err == nil {
				t.Fatal("STREAM_COPY succeeded on an archive shorter than the head")
			}
		})
	}
}

// With several archives, the first load commits only once every archive matched: a damaged
// second archive stops the first archive's load too, and so does a damaged archive that needs no
// loading.
func TestDamagedOtherArchiveStopsTheFirstLoad(t *testing.T) {
	cases := []struct {
		name    string
		present []string // images already in the engine
		damaged string
		stream  string // the archive streamed to docker load
	}{
		{"second of two to load damaged", nil, "images/part-2.tar", "images/part-1.tar"},
		{"loaded archive damaged", []string{"nginx:1.25"}, "images/part-1.tar", "images/part-2.tar"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				m := splitManifest()
				fx := newFixture(t, m, "sha256sum")
				for _, ref := range c.present {
					fx.setImage(ref, digest('b'))
				}
				head := fx.archiveSize(c.stream) - streamTail
				fx.gateArchiveHash(head)
				fx.flipByte(c.damaged, 700)
				r := fx.run(sh)
				wantCode(t, r, 1)
				wantLastLine(t, r, "FAILED: bundle files do not match SHA256SUMS: "+c.damaged+" (damaged); nothing was loaded")
				if got := fx.received(); got != head {
					t.Errorf("docker load read %d bytes, want %d of %s", got, head, c.stream)
				}
				if reg := fx.registered(); len(reg) != 0 {
					t.Errorf("docker load registered %q", reg)
				}
			})
		})
	}
}

// openssl hashes the image archives when installed (three times as fast as sha256sum here); the
// small files stay with one sha256sum -c. Without openssl, sha256sum does both.
func TestArchiveHasher(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		for _, withOpenssl := range []bool{true, false} {
			fx := newFixture(t, sampleManifest(), "sha256sum")
			fx.shimTool("sha256sum", "")
			archiveCall := "sha256sum ./images/images.tar"
			if withOpenssl {
				fx.shimTool("openssl", "")
				archiveCall = "openssl dgst -sha256 -r ./images/images.tar"
			}
			for run := 0; run < 2; run++ { // loading, then the no-op re-run
				must(t, os.WriteFile(filepath.Join(fx.state, "tools"), nil, 0o644))
				r := fx.run(sh)
				wantCode(t, r, 0)
				want := []string{"sha256sum -c", archiveCall}
				got := fx.toolCalls()
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("openssl installed: %v, run %d: checksum tools ran %q, want %q", withOpenssl, run, got, want)
				}
				if withOpenssl && run == 0 {
					wantContains(t, r, "checking with sha256sum", "the image archive(s) are checked with openssl dgst -sha256 while docker load reads images/images.tar")
				}
				if withOpenssl && run == 1 {
					wantContains(t, r, "checking with sha256sum", "image archives: checking with openssl dgst -sha256", "all files match")
				}
			}
		}
	})
}

// An archive that is not whole tar blocks, or too small to withhold its tail, is checked in full
// before a plain docker load -i.
func TestOddArchiveCheckedBeforeLoad(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		for _, content := range []string{strings.Repeat("x", 1000), strings.Repeat("\x00", 1536)} {
			fx := newFixture(t, sampleManifest(), "sha256sum")
			fx.replaceArchive(0, content)
			r := fx.run(sh)
			wantCode(t, r, 0)
			wantContains(t, r, "all files match")
			fx.wantLoads(r, "load -i images/images.tar")

			fx = newFixture(t, sampleManifest(), "sha256sum")
			fx.replaceArchive(0, content)
			fx.flipByte(bundle.ImageArchive, 7)
			r = fx.run(sh)
			wantCode(t, r, 1)
			wantLastLine(t, r, "images/images.tar (damaged); nothing was loaded")
			fx.wantLoads(r)
		}
	})
}

// --check verifies every archive in full, and never starts docker load.
func TestCheckVerifiesArchives(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.flipByte(bundle.ImageArchive, 600)
		r := fx.run(sh, "--check")
		wantCode(t, r, 1)
		wantLastLine(t, r, "images/images.tar (damaged)")
		fx.wantLoads(r)
	})
}

// Without a temp dir, load.sh still works, one step after the other.
func TestNoTempDir(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.tmp = filepath.Join(fx.tmp, "missing")
		fx.env = append(fx.env, "TMPDIR="+fx.tmp)
		r := fx.run(sh)
		wantCode(t, r, 0)
		wantContains(t, r, "warning: cannot make a temp dir", "all files match")
		fx.wantLoads(r, "load -i images/images.tar")
		r = fx.run(sh)
		wantCode(t, r, 0)
		wantLastLine(t, r, "0 image(s) loaded, 2 already present")

		fx = newFixture(t, sampleManifest(), "sha256sum")
		fx.env = append(fx.env, "TMPDIR="+filepath.Join(fx.tmp, "missing"))
		fx.flipByte(bundle.ImageArchive, 600)
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "images/images.tar (damaged); nothing was loaded")
		fx.wantLoads(r)
	})
}

// Ctrl-C while docker load reads the stream: docker load is stopped before the stream ends, so
// it registers nothing, and the work dir (the FIFO) goes.
func TestInterruptWhileStreaming(t *testing.T) {
	for _, copier := range copiers {
		t.Run(copier, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				fx.useCopier(copier)
				fx.gateArchiveHash(-1) // the checksum never comes
				head := fx.m.Archives[0].Size - streamTail
				cmd, buf := fx.command(sh)
				must(t, cmd.Start())
				deadline := time.Now().Add(10 * time.Second)
				for fx.received() < head && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if fx.received() != head {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("docker load read %d bytes, want %d; output:\n%s", fx.received(), head, buf.String())
				}
				must(t, cmd.Process.Signal(syscall.SIGINT))
				err := cmd.Wait()
				r := result{out: buf.String()}
				if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 130 {
					t.Fatalf("load.sh after SIGINT: %v, want exit 130; output:\n%s", err, r.out)
				}
				wantLastLine(t, r, "FAILED: interrupted")
				fx.checkTmpEmpty(r)
				fx.checkNoLeftovers(r)
				if reg := fx.registered(); len(reg) != 0 {
					t.Errorf("docker load registered %q", reg)
				}
			})
		})
	}
}

// docker compose config failing on the compose file is reported once the files are verified;
// a damaged compose file is reported as such.
func TestComposeConfigFails(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.touchState("composefail")
		r := fx.run(sh)
		wantCode(t, r, 1)
		wantContains(t, r, "Docker Compose v2.32.4 (docker compose)", "all other files match")
		wantLastLine(t, r, "FAILED: docker compose config cannot read docker-compose.yaml: yaml: line 2: mapping values are not allowed")
		fx.nothingLoaded(r)

		fx.write(bundle.ComposeFile, "services: [\n")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED: bundle files do not match SHA256SUMS: docker-compose.yaml (damaged)")
	})
}

// docker version names the engine's platform as Go does (os/arch, no variant), which is what the
// bundle's platform is compared with; docker info's machine name (uname -m) plays no part.
func TestPlatformFromVersion(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		m := sampleManifest()
		m.Platform = "linux/arm/v7"
		for i := range m.Images {
			m.Images[i].Platform = m.Platform
		}
		fx := newFixture(t, m, "sha256sum")
		fx.setState("platform", "linux/arm")
		r := fx.run(sh)
		wantCode(t, r, 0)
		wantContains(t, r, "Docker engine 27.5.1 on linux/arm\n")
		if v := fx.calls("version"); len(v) != 1 {
			t.Errorf("docker version calls %q, want one", v)
		}
	})
}

// Damage that forges an early end of the tar (a zero-filled stretch) lets the containerd store's
// import finish before the stream's end, registering what it read. load.sh cannot stop that;
// it must not claim that nothing was loaded, and names what was.
func TestDamagedArchiveLoadEndedEarly(t *testing.T) {
	for _, c := range []struct {
		readsOn bool
		copier  string
	}{{false, "dd"}, {true, "dd"}, {false, "api"}, {true, "api"}} {
		readsOn := c.readsOn
		t.Run(fmt.Sprintf("docker load reads on: %v/%s", readsOn, c.copier), func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				fx.useCopier(c.copier)
				fx.setImage("nginx:1.25", digest('0')) // another build under that tag
				fx.setState("loadearly", "1024")
				if readsOn {
					fx.touchState("loadearly_reads_on")
					// The checksum comes once that docker load has registered the images.
					fx.shimTool("openssl", `case "$*" in *dgst*.tar*) i=0; until [ -e "$FAKE_DOCKER_STATE/load_registered" ] || [ $i -ge 1000 ]; do sleep 0.01; i=$((i+1)); done ;; esac`)
				} else {
					// The checksum comes once that docker load has exited (a zombie, or gone).
					fx.shimTool("openssl", `case "$*" in *dgst*.tar*) i=0; until [ -s "$FAKE_DOCKER_STATE/load_pid" ] && { read -r _ _ st _ <"/proc/$(cat "$FAKE_DOCKER_STATE/load_pid")/stat" || st=Z; [ "$st" = Z ]; } 2>/dev/null || [ $i -ge 1000 ]; do sleep 0.01; i=$((i+1)); done ;; esac`)
				}
				fx.flipByte(bundle.ImageArchive, 600)
				r := fx.run(sh)
				wantCode(t, r, 1)
				wantLastLine(t, r, "FAILED: bundle files do not match SHA256SUMS: images/images.tar (damaged); yet the engine registered image(s) from images/images.tar before its checksum was known",
					": nginx:1.25, 127.0.0.1:5000/demo/api:1.0; remove them")
			})
		})
	}
}

// A background job that ends while load.sh opens the stream's FIFO must not cost the stream:
// busybox ash's open of a FIFO fails with EINTR when SIGCHLD arrives while it waits for docker
// load to open the other end. SIGCHLD is sent to the shell all along the run, which interrupts
// that open the way a job's end does, at a moment the test cannot otherwise pick.
func TestStreamOpenSurvivesSignals(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		for i := range 8 {
			fx := newFixture(t, sampleManifest(), "sha256sum")
			cmd, buf := fx.command(sh)
			must(t, cmd.Start())
			done := make(chan struct{})
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				for {
					select {
					case <-done:
						return
					default:
						cmd.Process.Signal(syscall.SIGCHLD)
						time.Sleep(50 * time.Microsecond)
					}
				}
			}()
			err := cmd.Wait()
			close(done)
			<-stopped
			r := result{out: buf.String()}
			if err != nil {
				t.Fatalf("run %d: load.sh: %v; output:\n%s", i, err, r.out)
			}
			wantLastLine(t, r, "OK: shop 1.0 is ready")
			if loads := fx.calls("load"); len(loads) != 1 || loads[0] != "load" {
				t.Fatalf("run %d: docker load calls %q, want one streamed load (docker load reading the FIFO)", i, loads)
			}
			fx.checkTmpEmpty(r)
			fx.checkNoLeftovers(r)
		}
	})
}

// An endpoint socket nobody answers on: the upload cannot start (nothing was sent), so load.sh
// says so and loads with docker load -i once the checksums matched; damaged, it says that, and
// nothing is loaded.
func TestStreamAPIUnreachable(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		for _, damaged := range []bool{false, true} {
			fx := newFixture(t, sampleManifest(), "sha256sum")
			fx.useCopier("perl")
			sock := deadSocket(t)
			fx.setState("endpoint", "unix://"+sock)
			if damaged {
				fx.flipByte(bundle.ImageArchive, 600)
			}
			r := fx.run(sh)
			if damaged {
				wantCode(t, r, 1)
				wantLastLine(t, r, "images/images.tar (damaged); nothing was loaded")
				fx.wantLoads(r)
				fx.nothingLoaded(r)
				continue
			}
			wantCode(t, r, 0)
			wantContains(t, r, "warning: cannot connect to the Docker engine at "+sock+": Connection refused: loading with docker load -i instead")
			wantLastLine(t, r, "OK: shop 1.0 is ready: 2 image(s) loaded")
			fx.wantLoads(r, "load -i images/images.tar")
		}
	})
}
