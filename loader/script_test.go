package loader

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/airpack/airpack/bundle"
)

func TestShellcheck(t *testing.T) {
	if _, err := os.Stat("/usr/bin/shellcheck"); err != nil {
		t.Fatalf("shellcheck is needed to test load.sh (apt-get install shellcheck): %v", err)
	}
	hostile := sampleManifest()
	hostile.Name = `x'"$(touch pwned)"` + "`id`" + `\`
	hostile.Version = `1.0 $HOME ${x} ; rm -rf / #`
	for name, m := range map[string]*bundle.Manifest{
		"sample":  sampleManifest(),
		"split":   splitManifest(),
		"hostile": hostile,
		"upgrade": upgradeManifest(),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Script(m)
			must(t, err)
			p := filepath.Join(t.TempDir(), "load.sh")
			must(t, os.WriteFile(p, b, 0o755))
			out, err := exec.Command("/usr/bin/shellcheck", "-s", "sh", p).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Fatalf("shellcheck -s sh: %v\n%s", err, out)
			}
		})
	}
}

// The script stays short enough to review before running it as root.
func TestScriptLength(t *testing.T) {
	b, err := Script(splitManifest())
	must(t, err)
	if n := strings.Count(string(b), "\n"); n > 440 {
		t.Fatalf("load.sh has %d lines; keep it under 440 so that it can be read before it is run", n)
	}
}

func TestHappyPathThenRerun(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		r := fx.run(sh)
		wantCode(t, r, 0)
		fx.wantLoads(r, "load -i ./images/images.tar")
		wantContains(t, r,
			"==> [1] Preflight", "Docker engine 27.5.1 on linux/amd64", "Docker Compose v2.32.4",
			"image store: classic (an image's ID is its config digest)",
			"==> [2] Signature of SHA256SUMS", "not signed (no SHA256SUMS.sig)",
			"==> [3] Verify every file", "checking with sha256sum", "all files match",
			"==> [5] Load", "images/images.tar: docker load (1 MiB)",
			"Loaded image: nginx:1.25", // docker's own output is shown
			"==> [6] Check every image", "nginx:1.25: ID "+digest('b')+", as expected")
		// Started from elsewhere: the next command says where to run it.
		wantLastLine(t, r, "OK: shop 1.0 is ready: 2 image(s) loaded, 0 already present",
			"Next: docker compose up -d (in "+fx.dir+")")
		if fx.imageID("nginx:1.25") != digest('b') {
			t.Fatalf("nginx:1.25 not loaded")
		}

		// A re-run loads nothing, and still checks every file.
		r = fx.run(sh)
		wantCode(t, r, 0)
		if loads := fx.calls("load"); len(loads) != 1 {
			t.Fatalf("re-run called docker load again: %q", loads)
		}
		wantContains(t, r, "all files match", "images/images.tar: its images are loaded already, skipped")
		wantLastLine(t, r, "0 image(s) loaded, 2 already present")
	})
}

func TestRunFromBundleDir(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.cwd = fx.dir
		r := fx.run(sh)
		wantCode(t, r, 0)
		wantLastLine(t, r, "Next: docker compose up -d")
	})
}

func TestSplitArchivesLoadOnlyWhatIsMissing(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, splitManifest(), "sha256sum")
		fx.setImage("nginx:1.25", digest('b')) // part-1's only image is there already
		fx.setImage("redis:7", digest('f'))    // part-2 is half there
		r := fx.run(sh)
		wantCode(t, r, 0)
		fx.wantLoads(r, "load -i ./images/part-2.tar")
		if reg := fx.registered(); strings.Join(reg, " ") != "127.0.0.1:5000/demo/api:1.0 redis:7" {
			t.Fatalf("docker load registered %q, want part-2's images", reg)
		}
		wantContains(t, r, "images/part-1.tar: its images are loaded already", "images/part-2.tar: docker load")
		wantLastLine(t, r, "1 image(s) loaded, 2 already present")
	})
}

// zeroHeader zero-fills 1 KiB of the archive from its first tar header on: a forged early end of
// the archive that a tar reader takes for the end-of-archive marker.
func zeroHeader(fx *fixture) {
	p := filepath.Join(fx.dir, bundle.ImageArchive)
	b, err := os.ReadFile(p)
	must(fx.t, err)
	clear(b[:1024])
	must(fx.t, os.WriteFile(p, b, 0o644))
}

func truncateArchive(fx *fixture) {
	must(fx.t, os.Truncate(filepath.Join(fx.dir, bundle.ImageArchive), fx.archiveSize(bundle.ImageArchive)-512))
}

// The file checks stop the run before docker load is run at all, naming every bad file,
// whatever checksum tool the host has.
func TestVerifyFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(fx *fixture)
		want   []string // in the last line; none: a clean bundle, which loads
	}{
		{name: "clean"},
		{"flipped byte in archive", func(fx *fixture) { fx.flipByte(bundle.ImageArchive, 700) }, []string{"images/images.tar (damaged)"}},
		{"flipped last byte of archive", func(fx *fixture) { fx.flipByte(bundle.ImageArchive, -1) }, []string{"images/images.tar (damaged)"}},
		{"zero-filled tar header", zeroHeader, []string{"images/images.tar (damaged)"}},
		{"truncated archive", truncateArchive, []string{"images/images.tar (damaged)"}},
		{"archive missing", func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.dir, bundle.ImageArchive))) }, []string{"images/images.tar (missing)"}},
		{"file with a space changed", func(fx *fixture) { fx.write("files/nginx conf/default.conf", "server { listen 81; }\n") },
			[]string{"files/nginx conf/default.conf (damaged)"}},
		{"listed file missing", func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.dir, "files/nginx conf/default.conf"))) },
			[]string{"files/nginx conf/default.conf (missing)"}},
		{"extra file", func(fx *fixture) { fx.write("images/extra.tar", "more") }, []string{"images/extra.tar (added: not in SHA256SUMS)"}},
		{"extra override file", func(fx *fixture) { fx.write("compose.override.yml", "services: {}\n") },
			[]string{"compose.override.yml (added: not in SHA256SUMS)"}},
		{"SHA256SUMS changed", func(fx *fixture) {
			p := filepath.Join(fx.dir, bundle.SumsFile)
			b, err := os.ReadFile(p)
			must(fx.t, err)
			i := strings.Index(string(b), "  "+bundle.ImageArchive) - 1
			b[i] ^= 1 // the last hex digit of the archive's sum
			must(fx.t, os.WriteFile(p, b, 0o644))
		}, []string{"images/images.tar (damaged)"}},
		{"two bad files", func(fx *fixture) {
			must(fx.t, os.Remove(filepath.Join(fx.dir, bundle.ImageArchive)))
			fx.write(bundle.ComposeFile, "services: {}\n")
		}, []string{"images/images.tar (missing)", "docker-compose.yaml (damaged)"}},
	}
	tools := map[string]string{"sha256sum": "sha256sum", "busybox": "sha256sum", "shasum": "shasum", "openssl": "openssl"}
	for _, tool := range slices.Sorted(maps.Keys(tools)) {
		t.Run(tool, func(t *testing.T) {
			if tool != "busybox" && findTool(tool) == "" {
				t.Fatalf("%s is not installed", tool)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					forEachShell(t, func(t *testing.T, sh []string) {
						fx := newFixture(t, sampleManifest(), tool)
						if c.damage != nil {
							c.damage(fx)
						}
						r := fx.run(sh)
						wantContains(t, r, "checking with "+tools[tool])
						if c.want == nil {
							wantCode(t, r, 0)
							fx.wantLoads(r, "load -i ./images/images.tar")
							return
						}
						wantCode(t, r, 1)
						wantLastLine(t, r, append([]string{"FAILED at step 3 (files): bundle files do not match SHA256SUMS: "}, c.want...)...)
						wantLastLine(t, r, "nothing was loaded")
						fx.nothingLoaded(r)
					})
				})
			}
		})
	}
}

// docker load starts only once the hash tool has ended, however slow it is.
func TestLoadOnlyAfterChecksums(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.addBin("sha256sum", `#!/bin/sh
sleep 0.5
/usr/bin/sha256sum "$@"
rc=$?
echo "hashed $*" >>"$FAKE_DOCKER_STATE/log"
exit $rc
`)
		r := fx.run(sh)
		wantCode(t, r, 0)
		calls := fx.calls("")
		hashed := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "hashed ") })
		load := slices.Index(calls, "load -i ./images/images.tar")
		if hashed < 0 || load < 0 || load < hashed {
			t.Fatalf("docker load before the checksums ended: %q", calls)
		}
		if !strings.Contains(calls[hashed], "./images/images.tar") {
			t.Fatalf("the archive was not hashed: %q", calls[hashed])
		}
		// docker version and info ran while it hashed.
		if v := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "version ") }); v > hashed {
			t.Fatalf("docker version waited for the checksums: %q", calls)
		}
	})
}

func TestVerifyFilesListing(t *testing.T) {
	cases := []struct {
		name   string
		change func(fx *fixture)
		want   string
	}{
		{
			name:   "no SHA256SUMS",
			change: func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.dir, bundle.SumsFile))) },
			want:   "FAILED at step 3 (files): SHA256SUMS is missing from",
		},
		{
			name: "archive not listed",
			change: func(fx *fixture) {
				p := filepath.Join(fx.dir, bundle.SumsFile)
				b, _ := os.ReadFile(p)
				var keep []string
				for _, l := range strings.SplitAfter(string(b), "\n") {
					if !strings.HasSuffix(l, "  images/images.tar\n") {
						keep = append(keep, l)
					}
				}
				must(fx.t, os.WriteFile(p, []byte(strings.Join(keep, "")), 0o644))
			},
			want: "images/images.tar (not listed in SHA256SUMS)",
		},
		{
			name: "a path outside the bundle",
			change: func(fx *fixture) {
				f, err := os.OpenFile(filepath.Join(fx.dir, bundle.SumsFile), os.O_APPEND|os.O_WRONLY, 0)
				must(fx.t, err)
				_, err = f.WriteString(strings.Repeat("0", 64) + "  ../outside\n")
				must(fx.t, err)
				must(fx.t, f.Close())
			},
			want: "FAILED at step 3 (files): bundle files do not match SHA256SUMS: ../outside (outside the bundle)",
		},
		{
			name:   "no checksum tool",
			change: func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.bin, "sha256sum"))) },
			want:   "FAILED at step 3 (files): none of openssl, sha256sum or shasum is installed",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				c.change(fx)
				r := fx.run(sh)
				wantCode(t, r, 1)
				wantLastLine(t, r, c.want)
				fx.nothingLoaded(r)
			})
		})
	}
}

// Which ID an image must have depends on the engine's image store.
func TestImageStore(t *testing.T) {
	m := sampleManifest()
	cases := []struct {
		name     string
		store    string
		loadedAs string // the store whose IDs docker load restores
		wantCode int
	}{
		{"classic store, config digests", "classic", "classic", 0},
		{"containerd store, manifest digests", "containerd", "containerd", 0},
		{"classic store, manifest digests", "classic", "containerd", 1},
		{"containerd store, config digests", "containerd", "classic", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, m, "sha256sum")
				fx.setState("store", c.store)
				fx.setLoadResult(c.loadedAs)
				r := fx.run(sh)
				wantCode(t, r, c.wantCode)
				wantContains(t, r, "image store: "+c.store)
				if c.wantCode == 0 {
					return
				}
				got, want := expectedID(m.Images[0], c.loadedAs), expectedID(m.Images[0], c.store)
				wantLastLine(t, r, "FAILED at step 6 (image IDs): nginx:1.25 has ID "+got+", expected "+want,
					"127.0.0.1:5000/demo/api:1.0 has ID", "("+c.store+" image store)")
			})
		})
	}

	// Images already there under the store's IDs are not loaded again; under the other store's
	// IDs (another build under the same tag) they are.
	for _, store := range []string{"classic", "containerd"} {
		t.Run("already present on "+store, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				for _, present := range []string{"classic", "containerd"} {
					fx := newFixture(t, m, "sha256sum")
					fx.setState("store", store)
					fx.setLoadResult(store)
					for _, img := range m.Images {
						fx.setImage(img.Ref, expectedID(img, present))
					}
					r := fx.run(sh)
					wantCode(t, r, 0)
					if loads := len(fx.calls("load")); (loads == 0) != (present == store) {
						t.Fatalf("images present with %s IDs on the %s store: %d docker load calls\n%s", present, store, loads, r.out)
					}
				}
			})
		})
	}
}

func TestImageMissingAfterLoad(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.setState("load_result", "nginx:1.25 "+digest('b')+" images/images.tar\n")
		r := fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED at step 6 (image IDs): 127.0.0.1:5000/demo/api:1.0 is missing (expected ID "+digest('d')+")")
	})
}

func TestPreflightFailures(t *testing.T) {
	cases := []struct {
		name   string
		change func(fx *fixture)
		want   []string
	}{
		{
			name:   "platform mismatch",
			change: func(fx *fixture) { fx.setState("platform", "linux/arm64") },
			want:   []string{"FAILED at step 1 (preflight): the bundle is for linux/amd64 but the Docker engine runs linux/arm64"},
		},
		{
			name:   "no docker on PATH",
			change: func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.bin, "docker"))) },
			want:   []string{"FAILED at step 1 (preflight): docker is not installed (not on PATH): install Docker Engine"},
		},
		{
			name:   "daemon down",
			change: func(fx *fixture) { fx.touchState("down") },
			want:   []string{"FAILED at step 1 (preflight): cannot reach the Docker daemon (docker's message is above): start it"},
		},
		{
			name:   "no compose",
			change: func(fx *fixture) { fx.touchState("nocompose") },
			want:   []string{"FAILED at step 1 (preflight): Docker Compose v2 is not installed"},
		},
		{
			name: "not enough space",
			change: func(fx *fixture) {
				fx.addBin("df", "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\necho '/dev/sda1 1000 999 1 99% /'\n")
			},
			want: []string{"FAILED at step 1 (preflight): not enough free space under ", "0 MiB free, loading needs about 1 MiB"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				c.change(fx)
				r := fx.run(sh)
				wantCode(t, r, 1)
				wantLastLine(t, r, c.want...)
				fx.nothingLoaded(r)
			})
		})
	}
}

func TestPreflightWarnings(t *testing.T) {
	cases := []struct {
		name     string
		change   func(fx *fixture)
		warning  string
		nextLine string
	}{
		{
			name:     "remote daemon",
			change:   func(fx *fixture) { fx.env = append(fx.env, "DOCKER_HOST=tcp://10.0.0.1:2376") },
			warning:  "warning: cannot see Docker's root dir",
			nextLine: "Next: docker compose up -d (in ",
		},
		{
			name: "not enough space but nothing to load",
			change: func(fx *fixture) {
				fx.addBin("df", "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\necho '/dev/sda1 1000 999 1 99% /'\n")
				for _, img := range fx.m.Images {
					fx.setImage(img.Ref, img.ConfigDigest)
				}
			},
			warning:  "free space under",
			nextLine: "0 image(s) loaded, 2 already present",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				c.change(fx)
				r := fx.run(sh)
				wantCode(t, r, 0)
				wantContains(t, r, c.warning)
				wantLastLine(t, r, c.nextLine)
			})
		})
	}
}

func TestLoadFails(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.touchState("loadfail")
		r := fx.run(sh)
		wantCode(t, r, 1)
		wantContains(t, r, "no space left on device") // the engine's message, shown
		wantLastLine(t, r, "FAILED at step 5 (load): docker load -i images/images.tar failed (docker's message is above)")
	})
}

func TestCheckNeverLoads(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.setImage("nginx:1.25", digest('b'))
		fx.setImage("127.0.0.1:5000/demo/api:1.0", digest('0')) // another build under that tag
		r := fx.run(sh, "--check")
		wantCode(t, r, 0)
		wantContains(t, r, "all files match", "nginx:1.25: ID "+digest('b')+", as expected",
			"127.0.0.1:5000/demo/api:1.0 has ID "+digest('0')+", expected "+digest('d'))
		wantLastLine(t, r, "check OK", "1 of 2 image(s) loaded", "Next: ./load.sh (in ")
		fx.wantLoads(r)

		// --check still stops on a damaged file.
		fx.write(bundle.ComposeFile, "services: {}\n")
		r = fx.run(sh, "--check")
		wantCode(t, r, 1)
		wantLastLine(t, r, "docker-compose.yaml (damaged)")
	})
}

// An edited .env (the place to change a value) stops load.sh like any file that does not match
// SHA256SUMS, with the command that records the edit; once run, load.sh goes ahead.
func TestEditedEnvFile(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.write(bundle.EnvFile, "TAG=2.0\n")
		r := fx.run(sh)
		wantCode(t, r, 1)
		const record = "record it with: "
		wantLastLine(t, r, "FAILED at step 3 (files): .env was changed since the bundle was made (it does not match SHA256SUMS); nothing was loaded: if the change is yours, "+record)
		fx.nothingLoaded(r)
		last := r.lastLine()
		cmdline := strings.TrimSuffix(last[strings.Index(last, record)+len(record):], "; then re-run ./load.sh")
		cmd := exec.Command(sh[0], append(sh[1:], "-c", cmdline)...)
		cmd.Dir = fx.dir
		cmd.Env = append(slices.Clone(fx.env), "PATH="+os.Getenv("PATH")) // the operator's tools (sed)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmdline, err, out)
		}
		r = fx.run(sh)
		wantCode(t, r, 0)
		wantContains(t, r, "all files match")
		wantLastLine(t, r, "OK: shop 1.0 is ready: 2 image(s) loaded")

		// With another file damaged as well, the copy is what is wrong.
		fx = newFixture(t, sampleManifest(), "sha256sum")
		fx.write(bundle.EnvFile, "TAG=2.0\n")
		fx.write(bundle.ComposeFile, "services: {}\n")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED at step 3 (files): bundle files do not match SHA256SUMS: ", ".env (damaged)", "copy the bundle again from its source")
	})
}

func TestRegistry(t *testing.T) {
	type override struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	cases := []struct {
		arg    []string
		prefix string
	}{
		{[]string{"--registry", "127.0.0.1:5000/mirror/"}, "127.0.0.1:5000/mirror"},
		{[]string{"--registry=registry.example.com"}, "registry.example.com"},
	}
	for _, c := range cases {
		t.Run(c.prefix, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				r := fx.run(sh, c.arg...)
				wantCode(t, r, 0)
				nginx := c.prefix + "/library/nginx:1.25"
				api := c.prefix + "/demo/api:1.0"
				want := []string{
					"tag nginx:1.25 " + nginx, "push " + nginx,
					"tag 127.0.0.1:5000/demo/api:1.0 " + api, "push " + api,
				}
				got := append(fx.calls("tag "), fx.calls("push ")...)
				if strings.Join(got, "\n") != strings.Join([]string{want[0], want[2], want[1], want[3]}, "\n") {
					t.Fatalf("tag and push calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				wantContains(t, r, "==> [7] Push the images", "wrote docker-compose.override.yaml: docker compose reads it")

				b, err := os.ReadFile(filepath.Join(fx.dir, OverrideFile))
				must(t, err)
				var o override
				if err := yaml.Unmarshal(b, &o); err != nil {
					t.Fatalf("override is not YAML: %v\n%s", err, b)
				}
				wantImages := map[string]string{"web": nginx, "proxy": nginx, "api": api}
				if len(o.Services) != len(wantImages) {
					t.Fatalf("override services %v, want %v\n%s", o.Services, wantImages, b)
				}
				for svc, img := range wantImages {
					if o.Services[svc].Image != img {
						t.Errorf("override: service %s image %q, want %q\n%s", svc, o.Services[svc].Image, img, b)
					}
				}

				// A re-run accepts and replaces load.sh's own override, which SHA256SUMS does not list.
				r = fx.run(sh, c.arg...)
				wantCode(t, r, 0)
				if len(fx.calls("load")) != 1 {
					t.Fatalf("re-run with --registry loaded again")
				}
			})
		})
	}
}

func TestRegistryFailures(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		// An override load.sh did not write is refused, SHA256SUMS listing it or not.
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.write(OverrideFile, "services:\n  web:\n    ports: [\"80:80\"]\n")
		fx.writeSums()
		r := fx.run(sh, "--registry", "reg.example:5000")
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED at step 7 (registry): docker-compose.override.yaml exists and was not written by load.sh")
		if n := len(fx.calls("push")); n != 0 {
			t.Fatalf("docker push was called %d times", n)
		}

		fx = newFixture(t, sampleManifest(), "sha256sum")
		fx.touchState("pushfail")
		r = fx.run(sh, "--registry", "reg.example:5000")
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED at step 7 (registry): docker push reg.example:5000/library/nginx:1.25 failed", "docker login reg.example:5000")
		if _, err := os.Stat(filepath.Join(fx.dir, OverrideFile)); err == nil {
			t.Fatalf("override written although the push failed")
		}
	})
}

func TestOptions(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want []string // in the output
	}{
		{[]string{"--help"}, 0, []string{"Usage: ./load.sh", "--check", "--registry HOST[:PORT][/PATH]", "--allowed-signers FILE",
			"--identity NAME", "--up", "-q, --quiet", "shop 1.0 (linux/amd64)"}},
		{[]string{"-h"}, 0, []string{"Usage: ./load.sh"}},
		{[]string{"--bogus"}, 2, []string{"usage error: unknown option: --bogus"}},
		{[]string{"extra"}, 2, []string{"usage error: unexpected argument: extra"}},
		{[]string{"--registry"}, 2, []string{"--registry needs a value"}},
		{[]string{"--registry", "http://reg:5000"}, 2, []string{"without http:// or https://"}},
		{[]string{"--registry", "reg 5000"}, 2, []string{"is not HOST[:PORT][/PATH]"}},
		{[]string{"--registry", `reg"x`}, 2, []string{"is not HOST[:PORT][/PATH]"}},
		{[]string{"--check", "--registry", "reg"}, 2, []string{"--check loads nothing"}},
		{[]string{"--check", "--up"}, 2, []string{"--check loads nothing, so it cannot --up"}},
		{[]string{"--allowed-signers"}, 2, []string{"--allowed-signers needs a value"}},
		{[]string{"--identity", "me"}, 2, []string{"--identity goes with --allowed-signers FILE"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				r := fx.run(sh, c.args...)
				wantCode(t, r, c.code)
				wantContains(t, r, c.want...)
				if n := len(fx.calls("")); n != 0 {
					t.Fatalf("docker was called on %v", c.args)
				}
			})
		})
	}
}

func TestQuiet(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		r := fx.run(sh, "-q")
		wantCode(t, r, 0)
		if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 1 {
			t.Fatalf("-q printed more than the final line:\n%s", r.out)
		}
		wantLastLine(t, r, "OK: shop 1.0 is ready")
		fx.wantLoads(r, "load -q -i ./images/images.tar")
	})
}

// Hostile bundle names and versions are printed, never run.
func TestHostileNames(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		m := sampleManifest()
		m.Name = `shop'"$(touch pwned1)"` + "`touch pwned2`"
		m.Version = `1.0; touch pwned3 #'\`
		fx := newFixture(t, m, "sha256sum")
		for _, args := range [][]string{{"--help"}, nil, {"--registry", "reg:5000"}} {
			r := fx.run(sh, args...)
			wantCode(t, r, 0)
			wantContains(t, r, m.Name+" "+m.Version)
		}
		for _, d := range []string{fx.dir, fx.cwd} {
			for _, f := range []string{"pwned1", "pwned2", "pwned3"} {
				if _, err := os.Stat(filepath.Join(d, f)); err == nil {
					t.Fatalf("the bundle's name or version ran a command: %s exists", f)
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(fx.dir, OverrideFile))
		must(t, err)
		var o map[string]any
		if err := yaml.Unmarshal(b, &o); err != nil {
			t.Fatalf("override is not YAML: %v\n%s", err, b)
		}
	})
}

func TestUp(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		r := fx.run(sh, "--up")
		wantCode(t, r, 0)
		fx.wantLoads(r, "load -i ./images/images.tar")
		if up := fx.calls("compose up"); len(up) != 1 || up[0] != "compose up -d --wait" {
			t.Fatalf("docker compose up calls %q", up)
		}
		wantContains(t, r, "==> [8] Start the application", "web: running, ports 0.0.0.0:8080->80/tcp", "api: running (healthy)")
		wantLastLine(t, r, "OK: shop 1.0 is up: every service is running")

		// A service whose healthcheck fails, one that exited with an error: both named, with
		// their logs; a one-shot service that completed is fine.
		fx.setState("ps", "web|running||0|0.0.0.0:8080->80/tcp\napi|running|unhealthy|0|\nmigrate|exited||0|\nworker|exited||3|\n")
		r = fx.run(sh, "--up")
		wantCode(t, r, 1)
		wantContains(t, r, "api: running (unhealthy)", "log of api: it failed", "log of worker: it failed", "migrate: exited")
		wantLastLine(t, r, "FAILED at step 8 (up): not running or not healthy: api (running, unhealthy), worker (exited)")
		if strings.Contains(r.out, "log of web") || strings.Contains(r.out, "log of migrate") {
			t.Fatalf("logs shown for services that are fine:\n%s", r.out)
		}
	})
}

// signers makes an ed25519 key pair with ssh-keygen and an allowed_signers file naming it as
// name; it returns the private key's path and the allowed_signers file's.
func signers(t *testing.T, name string) (key, allowed string) {
	t.Helper()
	dir := t.TempDir()
	key = filepath.Join(dir, "key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen (apt-get install openssh-client): %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	must(t, err)
	allowed = filepath.Join(dir, "allowed_signers")
	must(t, os.WriteFile(allowed, []byte(name+" "+string(pub)), 0o644))
	return key, allowed
}

// sign signs the bundle's SHA256SUMS with the stock ssh-keygen, for namespace.
func (fx *fixture) sign(key, namespace string) {
	fx.t.Helper()
	sums := filepath.Join(fx.dir, bundle.SumsFile)
	os.Remove(sums + ".sig")
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-f", key, "-n", namespace, sums).CombinedOutput(); err != nil {
		fx.t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
}

// Signatures are checked with the stock ssh-keygen, before the files: each way a signature can
// be wrong stops the run with its own message, having loaded nothing.
func TestSignature(t *testing.T) {
	key, allowed := signers(t, "release@shop.example")
	otherKey, _ := signers(t, "someone@else.example")
	cases := []struct {
		name   string
		change func(fx *fixture)
		args   []string
		want   []string // in the output; the last one in the last line (none: it loads)
	}{
		{"valid", func(fx *fixture) { fx.sign(key, "airpack") }, nil,
			[]string{`Good "airpack" signature for release@shop.example`}},
		{"valid, with its identity", func(fx *fixture) { fx.sign(key, "airpack") }, []string{"--identity", "release@shop.example"},
			[]string{`Good "airpack" signature for release@shop.example`}},
		{"SHA256SUMS edited after signing", func(fx *fixture) {
			fx.sign(key, "airpack")
			fx.write(bundle.EnvFile, "TAG=2.0\n")
			sig, err := os.ReadFile(filepath.Join(fx.dir, bundle.SigFile))
			must(fx.t, err)
			fx.writeSums() // (removes nothing: writeSums skips the signature)
			fx.write(bundle.SigFile, string(sig))
		}, nil, []string{"incorrect signature", "FAILED at step 2 (signature): SHA256SUMS.sig does not verify for SHA256SUMS"}},
		{"file edited after signing", func(fx *fixture) {
			fx.sign(key, "airpack")
			fx.flipByte(bundle.ImageArchive, 700)
		}, nil, []string{`Good "airpack" signature`, "FAILED at step 3 (files): bundle files do not match SHA256SUMS: images/images.tar (damaged)"}},
		{"signed by another key", func(fx *fixture) { fx.sign(otherKey, "airpack") }, nil,
			[]string{"No principal matched", "FAILED at step 2 (signature): SHA256SUMS.sig is not from a key in "}},
		{"signature missing", nil, nil,
			[]string{"FAILED at step 2 (signature): the bundle is not signed (SHA256SUMS.sig is missing), and --allowed-signers requires a signature"}},
		{"wrong namespace", func(fx *fixture) { fx.sign(key, "file") }, nil,
			[]string{"namespace does not match", "FAILED at step 2 (signature): SHA256SUMS.sig does not verify"}},
		{"another identity", func(fx *fixture) { fx.sign(key, "airpack") }, []string{"--identity", "ops@shop.example"},
			[]string{"FAILED at step 2 (signature): SHA256SUMS.sig is from a key ", "names release@shop.example, not --identity ops@shop.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				fx.link("ssh-keygen", findTool("ssh-keygen"))
				if c.change != nil {
					c.change(fx)
				}
				r := fx.run(sh, append([]string{"--allowed-signers", allowed}, c.args...)...)
				wantContains(t, r, c.want...)
				if strings.HasPrefix(c.name, "valid") {
					wantCode(t, r, 0)
					fx.wantLoads(r, "load -i ./images/images.tar")
					return
				}
				wantCode(t, r, 1)
				wantLastLine(t, r, c.want[len(c.want)-1])
				fx.nothingLoaded(r)
			})
		})
	}

	// Without --allowed-signers, a signed bundle says so, and how to check it.
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.sign(key, "airpack")
		r := fx.run(sh)
		wantCode(t, r, 0)
		wantContains(t, r, "signed (SHA256SUMS.sig), not checked: to check it, run ./load.sh --allowed-signers FILE, or ssh-keygen -Y verify -f FILE -I SIGNER -n airpack -s SHA256SUMS.sig <SHA256SUMS")
	})
}

// With the compose file airpack wrote (its checksum in load.sh, and SHA256SUMS listing it),
// load.sh needs no docker compose config to know the file names only the bundle's images; it
// asks docker compose for a compose file edited since (with SHA256SUMS made again to match),
// and refuses an image that is not in the bundle.
func TestComposeFileAsPacked(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.composeAsPacked()
		// What docker compose config would say: were it asked, load.sh would fail.
		fx.setState("compose_images", "nginx:1.25\nregistry.example.com/other:2\n")
		r := fx.run(sh)
		wantCode(t, r, 0)
		if n := len(fx.calls("compose -f")); n != 0 {
			t.Fatalf("docker compose config ran %d times, want none", n)
		}
		fx.wantLoads(r, "load -i ./images/images.tar")

		// Edited since, SHA256SUMS made again: docker compose config says what it names.
		for _, img := range fx.m.Images {
			must(t, os.Remove(filepath.Join(fx.state, "images", imageKey(img.Ref))))
		}
		fx.write(bundle.ComposeFile, "services:\n  web:\n    image: registry.example.com/other:2\n")
		fx.writeSums()
		fx.setState("log", "")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED at step 3 (files): docker-compose.yaml names the image registry.example.com/other:2, which this bundle does not ship; nothing was loaded")
		if n := len(fx.calls("compose -f docker-compose.yaml config --images")); n != 1 {
			t.Fatalf("docker compose config ran %d times for an edited compose file, want 1", n)
		}
		fx.nothingLoaded(r)

		// Edited to name shipped images only: it loads.
		fx.setState("compose_images", "nginx:1.25\n")
		r = fx.run(sh)
		wantCode(t, r, 0)

		fx.touchState("composefail")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED at step 3 (files): docker compose cannot read docker-compose.yaml")
	})
}

// The symbolic links airpack.json lists are checked in step 3 (SHA256SUMS lists files only):
// each must be there with its target; a link it does not list is added.
func TestVerifyLinks(t *testing.T) {
	const link, dir = "files/nginx conf/current.conf", "files/nginx conf"
	bad := link + " (not the link to default.conf airpack.json lists)"
	cases := []struct {
		name   string
		damage func(fx *fixture)
		want   []string
	}{
		{name: "clean"},
		{"link missing", func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.dir, link))) }, []string{bad}},
		{"link retargeted", func(fx *fixture) {
			must(fx.t, os.Remove(filepath.Join(fx.dir, link)))
			must(fx.t, os.Symlink("/etc/passwd", filepath.Join(fx.dir, link)))
		}, []string{bad}},
		{"link replaced by a file", func(fx *fixture) {
			must(fx.t, os.Remove(filepath.Join(fx.dir, link)))
			fx.write(link, "x")
		}, []string{bad}},
		{"unlisted link", func(fx *fixture) { must(fx.t, os.Symlink("/etc", filepath.Join(fx.dir, dir, "etc"))) },
			[]string{dir + "/etc (added: not in SHA256SUMS)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				m := sampleManifest()
				m.Links = map[string]string{link: "default.conf"}
				fx := newFixture(t, m, "sha256sum")
				must(t, os.Symlink("default.conf", filepath.Join(fx.dir, link)))
				if c.damage != nil {
					c.damage(fx)
				}
				r := fx.run(sh)
				if c.want == nil {
					wantCode(t, r, 0)
					fx.wantLoads(r, "load -i ./images/images.tar")
					return
				}
				wantCode(t, r, 1)
				fx.nothingLoaded(r)
				wantLastLine(t, r, c.want...)
			})
		})
	}
	if _, err := Script(func() *bundle.Manifest {
		m := sampleManifest()
		m.Links = map[string]string{"files/x": "../../etc/passwd"}
		return m
	}()); err == nil || err.Error() != "generate load.sh: link files/x is a symbolic link leaving files/: bundles hold links that stay in their shipped directory" {
		t.Errorf("Script with a link leaving files/: %v", err)
	}
}

// A bundle of many files (a static site, a node_modules) is checked in one pass whatever their
// number, and a damaged one among them is named.
func TestManyFiles(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		for i := range 3000 {
			fx.write(fmt.Sprintf("files/site/d%02d/page %04d.html", i%50, i), fmt.Sprintf("<p>%d</p>\n", i))
		}
		fx.writeSums()
		r := fx.run(sh)
		wantCode(t, r, 0)
		fx.write("files/site/d07/page 1207.html", "<p>changed</p>\n")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "bundle files do not match SHA256SUMS: files/site/d07/page 1207.html (damaged); nothing was loaded")
	})
}
