//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/internal/sshtest"
)

// project is a Compose project on disk made by writeProject.
type project struct {
	name    string
	dir     string
	webPort int
	// images are every image the project uses, the built one included.
	images []string
}

// writeProject writes a four-service project: three images from the registry sharing a base
// layer, one `build:` service; a published port, depends_on, a bind-mounted config file, an
// env_file, a variable from .env and a named volume.
func writeProject(t *testing.T, name string, refs map[string]string) *project {
	t.Helper()
	dir := t.TempDir()
	p := &project{name: name, dir: dir, webPort: freePort(t)}
	files := map[string]string{
		"compose.yaml": fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    ports:
      - "${WEB_PORT}:8080"
    environment:
      GREETING: ${GREETING}
    volumes:
      - ./conf/app.conf:/etc/demo/app.conf:ro
    depends_on: [api, echo]
  api:
    image: %s
    env_file: api.env
    environment:
      DATA_DIR: /data
    volumes:
      - data:/data
  echo:
    build: ./echo
  worker:
    image: %s
volumes:
  data: {}
`, name, refs["web"], refs["api"], refs["worker"]),
		".env":            fmt.Sprintf("GREETING=hello-e2e\nWEB_PORT=%d\n", p.webPort),
		"api.env":         "API_TOKEN=tok-e2e\n",
		"conf/app.conf":   "config-e2e\n",
		"echo/Dockerfile": "FROM scratch\nCOPY demoapp /app/demoapp\nENTRYPOINT [\"/app/demoapp\", \"echo\"]\n",
	}
	for n, c := range files {
		write(t, filepath.Join(dir, n), c)
	}
	bin, err := os.ReadFile(demoBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echo", "demoapp"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	p.images = []string{refs["web"], refs["api"], refs["worker"], name + "-echo"}
	return p
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readManifest(t *testing.T, dir string) *bundle.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := bundle.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// packed is a project packed into an archive and extracted on the "target".
type packed struct {
	proj    *project
	archive string
	// dir is the extracted bundle directory.
	dir string
	m   *bundle.Manifest
}

// packProject builds the project's images, packs it and verifies the bundle.
func packProject(t *testing.T, reg *registry, name string) *packed {
	t.Helper()
	refs := reg.push(t, "e2e", "1.0", "", "web", "api", "worker")
	p := writeProject(t, name, refs)
	t.Cleanup(func() { removeImages(t, p.images...) })
	must(t, p.dir, "docker", "compose", "build")
	archive := filepath.Join(t.TempDir(), name+"-1.0.tar")
	r := airpack(t, p.dir, "pack", "--version", "1.0", "-o", archive)
	if r.err != nil {
		t.Fatalf("pack failed: %v\n%s", r.err, r)
	}
	r = airpack(t, "", "verify", archive)
	if r.err != nil || !strings.Contains(r.stdout, "sound") {
		t.Fatalf("verify of a fresh bundle: %v\n%s", r.err, r)
	}
	return &packed{proj: p, archive: archive}
}

// extract unpacks the archive into an empty directory, as an operator on the target does.
func (pk *packed) extract(t *testing.T) {
	t.Helper()
	target := t.TempDir()
	must(t, target, "tar", "xf", pk.archive)
	pk.dir = filepath.Join(target, pk.proj.name+"-1.0")
	pk.m = readManifest(t, pk.dir)
}

// checkIDs asserts every image has the ID airpack.json expects on this engine's store.
func (pk *packed) checkIDs(t *testing.T) {
	t.Helper()
	if len(pk.m.Images) != 4 {
		t.Fatalf("airpack.json lists %d images, want 4", len(pk.m.Images))
	}
	for _, im := range pk.m.Images {
		want := im.ConfigDigest
		if containerdStore {
			want = im.ManifestDigest
		}
		if got := imageID(t, im.Ref); got != want {
			t.Errorf("image %s: ID %q after load, airpack.json expects %s", im.Ref, got, want)
		}
		if containerdStore {
			repo := im.Ref[:strings.LastIndex(im.Ref, ":")]
			if got := imageID(t, repo+"@"+im.ManifestDigest); got != im.ManifestDigest {
				t.Errorf("%s@%s does not resolve on the containerd store (got %q)", repo, im.ManifestDigest, got)
			}
		}
	}
}

func TestPackLoadRun(t *testing.T) {
	reg := startRegistry(t)
	pk := packProject(t, reg, "e2eapp")

	// The target has nothing: no image of the app, no registry.
	removeImages(t, pk.proj.images...)
	reg.stop()
	pk.extract(t)

	r := must(t, pk.dir, "./load.sh")
	if !strings.Contains(r.String(), bundle.ImageArchive+": docker load (") || !strings.Contains(r.String(), "4 image(s) loaded, 0 already present") {
		t.Errorf("first load did not load the archive:\n%s", r)
	}
	pk.checkIDs(t)

	t.Cleanup(func() { run(t, pk.dir, nil, "docker", "compose", "down", "-v") })
	must(t, pk.dir, "docker", "compose", "up", "-d")
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", pk.proj.webPort))
	for _, want := range []string{"config=config-e2e", "greeting=hello-e2e", "api=token=tok-e2e", "echo=echo ok"} {
		if !strings.Contains(body, want) {
			t.Errorf("web answered without %q:\n%s", want, body)
		}
	}

	// A second load finds everything in place and loads nothing.
	r = must(t, pk.dir, "./load.sh")
	if !strings.Contains(r.String(), "its images are loaded already") || strings.Contains(r.String(), "Loaded image") {
		t.Errorf("second load.sh loaded again:\n%s", r)
	}
	pk.checkIDs(t)
	must(t, pk.dir, "docker", "compose", "down", "-v")
}

func TestLoadPushesToPrivateRegistry(t *testing.T) {
	reg := startRegistry(t)
	pk := packProject(t, reg, "e2epriv")
	removeImages(t, pk.proj.images...)
	reg.stop()
	pk.extract(t)

	private := startRegistry(t)
	must(t, pk.dir, "./load.sh", "--registry", private.host+"/mirror")
	override, err := os.ReadFile(filepath.Join(pk.dir, "docker-compose.override.yaml"))
	if err != nil {
		t.Fatalf("load.sh --registry wrote no override: %v", err)
	}
	for _, svc := range []string{"web", "api", "echo", "worker"} {
		if !strings.Contains(string(override), svc+":") {
			t.Errorf("override has no service %s:\n%s", svc, override)
		}
	}
	if strings.Count(string(override), private.host+"/mirror/") != 4 {
		t.Errorf("override does not point every service at the private registry:\n%s", override)
	}
	// Compose must now run from the private registry alone: drop every local copy.
	var pushed []string
	for _, line := range strings.Split(string(override), "\n") {
		if i := strings.Index(line, "image:"); i >= 0 {
			pushed = append(pushed, strings.Trim(strings.TrimSpace(line[i+len("image:"):]), `"'`))
		}
	}
	removeImages(t, append(pushed, pk.proj.images...)...)
	t.Cleanup(func() { run(t, pk.dir, nil, "docker", "compose", "down", "-v"); removeImages(t, pushed...) })
	must(t, pk.dir, "docker", "compose", "up", "-d")
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", pk.proj.webPort))
	if !strings.Contains(body, "api=token=tok-e2e") || !strings.Contains(body, "echo=echo ok") {
		t.Errorf("app from the private registry answered:\n%s", body)
	}
	for _, ref := range pushed {
		if imageID(t, ref) == "" {
			t.Errorf("compose did not pull %s", ref)
		}
	}
}

// Each damage a copy can suffer stops load.sh before docker load runs: the engine ends with no
// image of the bundle and no docker load process, and the message names the file.
func TestDamagedBundleLoadsNothing(t *testing.T) {
	reg := startRegistry(t)
	pk := packProject(t, reg, "e2edamage")
	removeImages(t, pk.proj.images...)
	reg.stop()
	pk.extract(t)
	archive := filepath.Join(pk.dir, bundle.ImageArchive)
	rewrite := func(t *testing.T, path string, change func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, change(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	damages := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"flipped byte", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, bundle.ImageArchive), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}, bundle.ImageArchive + " (damaged)"},
		{"zero-filled tar header", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, bundle.ImageArchive), func(b []byte) []byte { clear(b[:1024]); return b })
		}, bundle.ImageArchive + " (damaged)"},
		{"truncated archive", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, bundle.ImageArchive), func(b []byte) []byte { return b[:len(b)-1536] })
		}, bundle.ImageArchive + " (damaged)"},
		{"missing archive", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, bundle.ImageArchive)); err != nil {
				t.Fatal(err)
			}
		}, bundle.ImageArchive + " (missing)"},
		{"extra file", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "compose.override.yml"), "services: {}\n")
		}, "compose.override.yml (added: not in SHA256SUMS)"},
		{"changed SHA256SUMS", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, bundle.SumsFile), func(b []byte) []byte {
				i := strings.Index(string(b), "  "+bundle.ImageArchive)
				b[i-1] ^= 1 // another last digit for the archive's sum
				return b
			})
		}, bundle.ImageArchive + " (damaged)"},
	}
	before := allImageIDs(t)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			must(t, "", "cp", "-a", pk.dir, dir)
			d.damage(t, dir)
			r := run(t, dir, nil, "./load.sh")
			if r.err == nil || !strings.Contains(r.stderr, "FAILED at step 3 (files): bundle files do not match SHA256SUMS: ") ||
				!strings.Contains(r.stderr, d.want) || !strings.Contains(r.stderr, "nothing was loaded") {
				t.Errorf("load.sh of a bundle with a %s: %v, want a failure naming %s:\n%s", d.name, r.err, d.want, r)
			}
			if strings.Contains(r.stdout, "docker load") {
				t.Errorf("load.sh ran docker load:\n%s", r)
			}
			if after := allImageIDs(t); after != before {
				t.Errorf("the engine's images changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if ps := dockerLoads(t); ps != "" {
				t.Errorf("docker load processes running: %s", ps)
			}
		})
	}
	// airpack verify names the damage too.
	rewrite(t, archive, func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
	if r := airpack(t, "", "verify", pk.dir); r.err == nil || !strings.Contains(r.stderr, bundle.ImageArchive) {
		t.Errorf("verify of a corrupt bundle: %v, want a failure naming %s:\n%s", r.err, bundle.ImageArchive, r)
	}
}

// dockerLoads lists the running docker load processes ("" for none).
func dockerLoads(t *testing.T) string {
	t.Helper()
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(b), "docker\x00load") {
			found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return strings.Join(found, "; ")
}

// Signed with airpack pack --sign-key, the bundle loads with --allowed-signers naming the key,
// and a bundle signed by another key loads nothing.
func TestSignedBundle(t *testing.T) {
	keys := t.TempDir()
	release := sshtest.NewKey(t, keys, "ed25519", "release", "")
	other := sshtest.NewKey(t, keys, "ed25519", "other", "")
	allowed := filepath.Join(keys, "allowed_signers")
	write(t, allowed, "release@shop.example "+release.Public+"\n")

	reg := startRegistry(t)
	refs := reg.push(t, "sig", "1.0", "", "web")
	proj := simpleProject(t, fmt.Sprintf("services:\n  web:\n    image: %s\n", refs["web"]))
	t.Cleanup(func() { removeImages(t, refs["web"]) })
	for _, c := range []struct {
		key  sshtest.Key
		want string
	}{
		{other, "FAILED at step 2 (signature): SHA256SUMS.sig is not from a key in " + allowed},
		{release, `Good "airpack" signature for release@shop.example`},
	} {
		out := filepath.Join(t.TempDir(), "sig-1.0")
		if r := airpack(t, proj, "pack", "--version", "1.0", "--sign-key", c.key.Private, "-o", out); r.err != nil {
			t.Fatalf("pack --sign-key: %v\n%s", r.err, r)
		}
		removeImages(t, refs["web"])
		r := run(t, out, nil, "./load.sh", "--allowed-signers", allowed)
		if !strings.Contains(r.String(), c.want) {
			t.Errorf("load.sh --allowed-signers of a bundle signed by %s: want %q:\n%s", c.key.Private, c.want, r)
		}
		if loaded := imageID(t, refs["web"]) != ""; loaded != (c.key == release) {
			t.Errorf("signed by %s: image loaded = %v:\n%s", c.key.Private, loaded, r)
		}
	}
}

// TestDemoBundleRuns packs the demo application as `make demo` does (images built from source
// into an OCI layout, no registry) and runs the bundle.
func TestDemoBundleRuns(t *testing.T) {
	oci := filepath.Join(t.TempDir(), "oci")
	must(t, moduleRoot, "go", "run", "./internal/demo/mkimages", "-o", oci, "-version", "1.0")
	port := freePort(t)
	out := filepath.Join(t.TempDir(), "demo-1.0.tar.zst")
	r := run(t, filepath.Join(moduleRoot, "testdata", "demo"), []string{fmt.Sprintf("WEB_PORT=%d", port)},
		airpackBin, "pack", "--source", "oci:"+oci, "--version", "1.0", "-o", out, "--env-from-shell", "WEB_PORT")
	if r.err != nil {
		t.Fatalf("pack: %v\n%s", r.err, r)
	}
	target := t.TempDir()
	must(t, target, "tar", "--zstd", "-xf", out)
	dir := filepath.Join(target, "airpack-demo-1.0")
	m := readManifest(t, dir)
	var refs []string
	for _, im := range m.Images {
		refs = append(refs, im.Ref)
	}
	removeImages(t, refs...)
	t.Cleanup(func() { removeImages(t, refs...) })
	t.Cleanup(func() { run(t, dir, nil, "docker", "compose", "down", "-v") })
	r = must(t, dir, "./load.sh", "--up")
	for _, svc := range []string{"web", "api", "echo", "worker"} {
		if !strings.Contains(r.stdout, "    "+svc+": running") {
			t.Errorf("load.sh --up does not list %s as running:\n%s", svc, r)
		}
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("web: running, ports 0.0.0.0:%d->8080/tcp", port)) {
		t.Errorf("load.sh --up does not show web's published port:\n%s", r)
	}
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	for _, want := range []string{"config=demo config v1", "greeting=hello from .env", "api=token=demo-token", "echo=echo ok"} {
		if !strings.Contains(body, want) {
			t.Errorf("demo answered without %q:\n%s", want, body)
		}
	}
}

// load.sh --up fails naming a service whose healthcheck fails, with its log, and lists the
// healthy one as healthy.
func TestUpNamesUnhealthyService(t *testing.T) {
	oci := filepath.Join(t.TempDir(), "oci")
	must(t, moduleRoot, "go", "run", "./internal/demo/mkimages", "-o", oci, "-version", "1.0")
	proj := t.TempDir()
	must(t, "", "cp", "-a", filepath.Join(moduleRoot, "testdata", "demo")+"/.", proj)
	write(t, filepath.Join(proj, "health.yaml"), `services:
  api:
    healthcheck:
      test: ["CMD", "/app/demoapp", "probe", "http://127.0.0.1:8081/"]
      interval: 1s
      retries: 3
  echo:
    healthcheck:
      test: ["CMD", "/app/demoapp", "probe", "http://127.0.0.1:9/"]
      interval: 1s
      retries: 2
`)
	port := freePort(t)
	out := filepath.Join(t.TempDir(), "health-1.0")
	r := run(t, proj, []string{fmt.Sprintf("WEB_PORT=%d", port)}, airpackBin, "pack", "-f", "compose.yaml", "-f", "health.yaml",
		"--source", "oci:"+oci, "--version", "1.0", "--name", "health", "-o", out, "--env-from-shell", "WEB_PORT")
	if r.err != nil {
		t.Fatalf("pack: %v\n%s", r.err, r)
	}
	m := readManifest(t, out)
	var refs []string
	for _, im := range m.Images {
		refs = append(refs, im.Ref)
	}
	removeImages(t, refs...)
	t.Cleanup(func() { removeImages(t, refs...) })
	t.Cleanup(func() { run(t, out, nil, "docker", "compose", "down", "-v") })
	r = run(t, out, nil, "./load.sh", "--up")
	if r.err == nil {
		t.Fatalf("load.sh --up succeeded with an unhealthy service:\n%s", r)
	}
	for _, want := range []string{"api: running (healthy)", "echo: running (unhealthy)", "the last lines of echo's log", "listening on :8082"} {
		if !strings.Contains(r.String(), want) {
			t.Errorf("load.sh --up output lacks %q:\n%s", want, r)
		}
	}
	if last := lastLine(r.stderr); !strings.Contains(last, "FAILED at step 8 (up): not running or not healthy: echo (running, unhealthy)") {
		t.Errorf("last line %q does not name echo", last)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
