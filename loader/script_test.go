package loader

import (
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

func TestHappyPathThenRerun(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		r := fx.run(sh)
		wantCode(t, r, 0)
		// One docker load, streamed: it read the whole archive.
		fx.wantLoads(r, "load") // one, of the stream
		if got, want := fx.received(), fx.archiveSize(bundle.ImageArchive); got != want {
			t.Fatalf("docker load read %d bytes, want the whole archive, %d", got, want)
		}
		wantContains(t, r,
			"==> [1] Preflight", "Docker engine 27.5.1 on linux/amd64", "Docker Compose v2.32.4 (docker compose)",
			"image store: classic", "all other files match; the image archive(s) are checked with sha256sum while docker load reads images/images.tar",
			"Loaded image: nginx:1.25", // docker's own output is shown
			"nginx:1.25: loaded (services: web, proxy)",
			"127.0.0.1:5000/demo/api:1.0: loaded (services: api)")
		// Started from elsewhere: the next command changes to the bundle dir, quoted for sh.
		wantLastLine(t, r, "OK: shop 1.0 is ready: 2 image(s) loaded, 0 already present",
			`Next: cd '`+strings.ReplaceAll(fx.dir, "'", `'\''`)+`' && docker compose up -d`)
		if fx.imageID("nginx:1.25") != digest('b') {
			t.Fatalf("nginx:1.25 not loaded")
		}

		// A re-run loads nothing, and still checks every file.
		r = fx.run(sh)
		wantCode(t, r, 0)
		if loads := fx.calls("load"); len(loads) != 1 {
			t.Fatalf("re-run called docker load again: %q", loads)
		}
		wantContains(t, r, "all files match", "images/images.tar: already loaded (2 image(s) present), skipped",
			"nginx:1.25: already present")
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
		if loads := fx.calls("load"); len(loads) != 1 || fx.received() != fx.archiveSize("images/part-2.tar") {
			t.Fatalf("docker load calls %q (last one read %d bytes), want one, of images/part-2.tar", loads, fx.received())
		}
		if reg := fx.registered(); strings.Join(reg, " ") != "127.0.0.1:5000/demo/api:1.0 redis:7" {
			t.Fatalf("docker load registered %q, want part-2's images", reg)
		}
		wantContains(t, r, "images/part-1.tar: already loaded", "images/part-2.tar: docker load",
			"nginx:1.25: already present", "redis:7: already present", "127.0.0.1:5000/demo/api:1.0: loaded")
		wantLastLine(t, r, "1 image(s) loaded, 2 already present")
	})
}

// The file checks stop the run before docker load registers anything, naming the bad file,
// whatever checksum tool the host has. (docker load may have started: it streams the archive
// while the files are checked, and is killed before the stream ends.)
func TestVerifyFiles(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(fx *fixture)
		want    []string
		wantAny bool // a clean bundle: the run succeeds
	}{
		{name: "clean", wantAny: true},
		{
			name:   "flipped byte in archive",
			damage: func(fx *fixture) { fx.flipByte(bundle.ImageArchive, 10) },
			want:   []string{"images/images.tar (damaged)"},
		},
		{
			name:   "flipped byte in archive's withheld tail",
			damage: func(fx *fixture) { fx.flipByte(bundle.ImageArchive, -1) },
			want:   []string{"images/images.tar (damaged)"},
		},
		{
			name:   "archive missing",
			damage: func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.dir, "images", "images.tar"))) },
			want:   []string{"images/images.tar (missing)"},
		},
		{
			name: "flipped byte in file with a space",
			damage: func(fx *fixture) {
				fx.write("files/nginx conf/default.conf", "server { listen 81; }\n")
			},
			want: []string{"files/nginx conf/default.conf (damaged)"},
		},
		{
			name:   "listed file missing",
			damage: func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.dir, ".env"))) },
			want:   []string{".env (missing)"},
		},
		{
			name: "two bad files",
			damage: func(fx *fixture) {
				must(fx.t, os.Remove(filepath.Join(fx.dir, "images", "images.tar")))
				fx.write(bundle.ComposeFile, "services: {}\n")
			},
			want: []string{"images/images.tar (missing)", "docker-compose.yaml (damaged)"},
		},
	}
	for _, tool := range []string{"sha256sum", "busybox", "shasum", "openssl"} {
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
						wantContains(t, r, "checking with "+map[string]string{
							"sha256sum": "sha256sum", "busybox": "sha256sum",
							"shasum": "shasum -a 256", "openssl": "openssl dgst -sha256",
						}[tool])
						if c.wantAny {
							wantCode(t, r, 0)
							if len(fx.registered()) != 2 {
								t.Fatalf("registered %q", fx.registered())
							}
							return
						}
						wantCode(t, r, 1)
						wantLastLine(t, r, append([]string{"FAILED: bundle files do not match SHA256SUMS"}, c.want...)...)
						wantLastLine(t, r, "nothing was loaded")
						fx.nothingLoaded(r)
					})
				})
			}
		})
	}
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
			want:   "FAILED: SHA256SUMS is missing from",
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
			want: "FAILED: SHA256SUMS does not list images/images.tar",
		},
		{
			name:   "no checksum tool",
			change: func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.bin, "sha256sum"))) },
			want:   "FAILED: none of sha256sum, shasum or openssl is installed",
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
				wantContains(t, r, "error: image nginx:1.25 has ID "+got+", expected "+want)
				wantLastLine(t, r, "FAILED: image check after docker load: nginx:1.25 has ID "+got+", expected "+want,
					"127.0.0.1:5000/demo/api:1.0 has ID")
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
		wantLastLine(t, r, "127.0.0.1:5000/demo/api:1.0 is missing (expected ID "+digest('d')+")")
	})
}

func TestPreflightFailures(t *testing.T) {
	cases := []struct {
		name   string
		change func(fx *fixture)
		want   []string
		code   int
		// The engine cannot take the images: docker load must not even start. (Once docker
		// version says the engine runs the bundle's platform, docker load starts streaming while
		// the free space, Compose and the files are checked, and a failure there kills it before
		// it registers anything.)
		engine bool
		// Found out right as docker load starts: it may be killed before it ran at all.
		loadMayStart bool
	}{
		{
			name:   "platform mismatch",
			change: func(fx *fixture) { fx.setState("platform", "linux/arm64") },
			want:   []string{"FAILED: platform mismatch: the bundle is for linux/amd64 but the Docker engine runs linux/arm64"},
			code:   1,
			engine: true,
		},
		{
			name:   "no docker on PATH",
			change: func(fx *fixture) { must(fx.t, os.Remove(filepath.Join(fx.bin, "docker"))) },
			want:   []string{"FAILED: docker is not on PATH: install Docker Engine"},
			code:   1,
			engine: true,
		},
		{
			name:   "daemon down",
			change: func(fx *fixture) { fx.touchState("down") },
			want:   []string{"FAILED: cannot reach the Docker daemon: start it"},
			code:   1,
			engine: true,
		},
		{
			name:   "no compose",
			change: func(fx *fixture) { fx.touchState("nocompose") },
			want:   []string{"FAILED: Docker Compose is not installed"},
			code:   1,
		},
		{
			name: "not enough space",
			change: func(fx *fixture) {
				fx.addBin("df", "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\necho '/dev/sda1 1000 999 1 99% /'\n")
			},
			want:         []string{"FAILED: not enough free space under ", "0 MiB free, loading needs about 1 MiB"},
			code:         1,
			loadMayStart: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				c.change(fx)
				r := fx.run(sh)
				wantCode(t, r, c.code)
				wantLastLine(t, r, c.want...)
				fx.nothingLoaded(r)
				loads := fx.calls("load")
				if c.engine && len(loads) != 0 {
					t.Fatalf("docker load was called: %q", loads)
				}
				if c.loadMayStart && len(loads) > 1 {
					t.Fatalf("docker load calls %q, want at most one", loads)
				}
				if !c.engine && !c.loadMayStart && len(loads) != 1 {
					t.Fatalf("docker load calls %q, want one: it streams while the rest is checked", loads)
				}
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
			name: "only compose v1",
			change: func(fx *fixture) {
				fx.touchState("nocompose")
				fx.addBin("docker-compose", "#!/bin/sh\necho 1.29.2\n")
			},
			warning:  "warning: only docker-compose 1.29.2 (Compose v1) is installed",
			nextLine: "&& docker-compose up -d",
		},
		{
			name:     "remote daemon",
			change:   func(fx *fixture) { fx.env = append(fx.env, "DOCKER_HOST=tcp://10.0.0.1:2376") },
			warning:  "warning: cannot see Docker's root dir",
			nextLine: "&& docker compose up -d",
		},
		{
			name: "not enough space but nothing to load",
			change: func(fx *fixture) {
				fx.addBin("df", "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\necho '/dev/sda1 1000 999 1 99% /'\n")
				for _, img := range fx.m.Images {
					fx.setImage(img.Ref, img.ConfigDigest)
				}
			},
			warning:  "but every image is already loaded",
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
	for _, copier := range copiers {
		t.Run(copier, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, sampleManifest(), "sha256sum")
				fx.useCopier(copier)
				fx.touchState("loadfail")
				r := fx.run(sh)
				wantCode(t, r, 1)
				wantContains(t, r, "no space left on device") // the engine's message, shown
				wantLastLine(t, r, "FAILED: docker load of images/images.tar failed (exit 1")
				fx.wantCopier(copier, r)
			})
		})
	}
}

func TestCheckNeverLoads(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.setImage("nginx:1.25", digest('b'))
		fx.setImage("127.0.0.1:5000/demo/api:1.0", digest('0')) // another build under that tag
		r := fx.run(sh, "--check")
		wantCode(t, r, 0)
		wantContains(t, r, "all files match", "nginx:1.25: present",
			"127.0.0.1:5000/demo/api:1.0: present with ID "+digest('0')+", not "+digest('d'))
		wantLastLine(t, r, "check OK", "1 of 2 image(s) already loaded", "Next: cd ", "&& ./load.sh")
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
		wantLastLine(t, r, "FAILED: .env was changed since the bundle was made (it does not match SHA256SUMS); nothing was loaded: if the change is yours, "+record)
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
		wantContains(t, r, "all other files match")
		wantLastLine(t, r, "OK: shop 1.0 is ready: 2 image(s) loaded")

		// With another file damaged as well, the copy is what is wrong.
		fx = newFixture(t, sampleManifest(), "sha256sum")
		fx.write(bundle.EnvFile, "TAG=2.0\n")
		fx.write(bundle.ComposeFile, "services: {}\n")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED: bundle files do not match SHA256SUMS: ", ".env (damaged)", "copy the bundle again from its source")
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
				wantContains(t, r, "wrote docker-compose.override.yaml: docker compose picks it up automatically")

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

				// A re-run replaces load.sh's own override.
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
		// An override load.sh did not write is left alone, before anything is loaded.
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.write(OverrideFile, "services:\n  web:\n    ports: [\"80:80\"]\n")
		r := fx.run(sh, "--registry", "reg.example:5000")
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED: docker-compose.override.yaml exists and was not written by load.sh")
		if n := len(fx.calls("")); n != 0 {
			t.Fatalf("docker was called %d times", n)
		}

		fx = newFixture(t, sampleManifest(), "sha256sum")
		fx.touchState("pushfail")
		r = fx.run(sh, "--registry", "reg.example:5000")
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED: docker push reg.example:5000/library/nginx:1.25 failed", "docker login reg.example:5000")
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
		{[]string{"--help"}, 0, []string{"Usage: ./load.sh", "--check", "--registry HOST[:PORT][/PATH]", "-q, --quiet", "shop 1.0 (linux/amd64)"}},
		{[]string{"-h"}, 0, []string{"Usage: ./load.sh"}},
		{[]string{"--bogus"}, 2, []string{"usage error: unknown option: --bogus"}},
		{[]string{"extra"}, 2, []string{"usage error: unexpected argument: extra"}},
		{[]string{"--registry"}, 2, []string{"--registry needs a value"}},
		{[]string{"--registry", "http://reg:5000"}, 2, []string{"without http:// or https://"}},
		{[]string{"--registry", "reg 5000"}, 2, []string{"is not HOST[:PORT][/PATH]"}},
		{[]string{"--registry", `reg"x`}, 2, []string{"is not HOST[:PORT][/PATH]"}},
		{[]string{"--check", "--registry", "reg"}, 2, []string{"--check loads nothing"}},
		{[]string{"--allowed-signers", "keys"}, 2, []string{"cannot check signatures yet"}},
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
		if loads := fx.calls("load"); len(loads) != 1 || loads[0] != "load -q" || len(fx.registered()) != 2 {
			t.Fatalf("docker load calls %q", loads)
		}
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

// With the compose file airpack wrote (its checksum in load.sh, and SHA256SUMS listing it),
// load.sh needs no docker compose config to know the file names only the bundle's images; it
// asks docker compose for --check, and for a compose file edited since (with SHA256SUMS made
// again to match), and refuses the image that is not in the bundle.
func TestComposeFileAsPacked(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.composeAsPacked()
		// What docker compose config would say: were it asked, load.sh would fail.
		fx.setState("compose_images", "nginx:1.25\nregistry.example.com/other:2\n")

		r := fx.run(sh, "--check")
		wantCode(t, r, 1)
		wantLastLine(t, r, "names image(s) not in this bundle: registry.example.com/other:2")
		if n := fx.dockerCalls()["compose"]; n != 1 {
			t.Fatalf("--check ran docker compose %d times, want 1 (config --images)", n)
		}

		fx.setState("log", "")
		r = fx.run(sh)
		wantCode(t, r, 0)
		wantContains(t, r, "Docker Compose v2.32.4 (docker compose)",
			"docker-compose.yaml is the one airpack wrote (load.sh knows its checksum): every image it names is in the bundle")
		if n := fx.dockerCalls()["compose"]; n != 0 {
			t.Fatalf("docker compose ran %d times, want none: %q", n, fx.calls("compose"))
		}
		fx.wantLoads(r, "load")

		// Edited since, SHA256SUMS made again: docker compose config says what it names.
		for _, img := range fx.m.Images {
			must(t, os.Remove(filepath.Join(fx.state, "images", imageKey(img.Ref))))
		}
		must(t, os.Remove(filepath.Join(fx.state, "registered")))
		fx.write(bundle.ComposeFile, "services:\n  web:\n    image: registry.example.com/other:2\n")
		fx.writeSums()
		fx.setState("log", "")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "names image(s) not in this bundle: registry.example.com/other:2")
		if n := fx.dockerCalls()["compose"]; n != 1 {
			t.Fatalf("docker compose ran %d times for an edited compose file, want 1", n)
		}
		fx.nothingLoaded(r)

		// Edited, SHA256SUMS not: the compose file is damaged, whatever it names.
		fx.composeAsPacked()
		fx.write(bundle.ComposeFile, "services:\n  web:\n    image: nginx:1.25\n# edited\n")
		r = fx.run(sh)
		wantCode(t, r, 1)
		wantLastLine(t, r, "FAILED: bundle files do not match SHA256SUMS: docker-compose.yaml (damaged)")
		fx.nothingLoaded(r)
	})
}

func TestComposeNamesImageNotShipped(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, sampleManifest(), "sha256sum")
		fx.setState("compose_images", "nginx:1.25\nregistry.example.com/other:2\n")
		for _, args := range [][]string{nil, {"--check"}} {
			r := fx.run(sh, args...)
			wantCode(t, r, 1)
			wantLastLine(t, r, "names image(s) not in this bundle: registry.example.com/other:2")
			fx.nothingLoaded(r)
		}
	})
}
