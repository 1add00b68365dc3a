//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
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
	if strings.Contains(r.String(), "already loaded") {
		t.Errorf("first load claims images were already there:\n%s", r)
	}
	wantUpload(t, r)
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
	if !strings.Contains(r.String(), "already loaded") || strings.Contains(r.String(), "Loaded image") {
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
	// Without perl (a minimal host), docker load reads the archive from a FIFO fed by dd.
	r := run(t, pk.dir, []string{"PATH=" + pathWithout(t, "perl")}, "./load.sh", "--registry", private.host+"/mirror")
	if r.err != nil {
		t.Fatalf("load.sh --registry without perl: %v\n%s", r.err, r)
	}
	if !strings.Contains(r.String(), "while docker load reads "+bundle.ImageArchive) {
		t.Errorf("load.sh without perl did not stream the archive to docker load:\n%s", r)
	}
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

func TestCorruptBundleLoadsNothing(t *testing.T) {
	reg := startRegistry(t)
	pk := packProject(t, reg, "e2ecorrupt")
	removeImages(t, pk.proj.images...)
	reg.stop()
	pk.extract(t)

	// Flip one byte in the middle of the image archive.
	archive := filepath.Join(pk.dir, bundle.ImageArchive)
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	before := allImageIDs(t)

	r := airpack(t, "", "verify", pk.dir)
	if r.err == nil || !strings.Contains(r.stderr, bundle.ImageArchive) {
		t.Errorf("verify of a corrupt bundle: %v, want a failure naming %s:\n%s", r.err, bundle.ImageArchive, r)
	}
	r = run(t, pk.dir, nil, "./load.sh")
	if r.err == nil || !strings.Contains(r.String(), bundle.ImageArchive+" (damaged); nothing was loaded") {
		t.Errorf("load.sh of a corrupt bundle: %v, want a failure naming %s:\n%s", r.err, bundle.ImageArchive, r)
	}
	wantUpload(t, r)
	if after := allImageIDs(t); after != before {
		t.Errorf("load.sh changed the engine's images despite the corrupt bundle:\nbefore:\n%s\nafter:\n%s", before, after)
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
		airpackBin, "pack", "--source", "oci:"+oci, "--version", "1.0", "-o", out)
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
	must(t, dir, "./load.sh")
	t.Cleanup(func() { run(t, dir, nil, "docker", "compose", "down", "-v") })
	must(t, dir, "docker", "compose", "up", "-d")
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	for _, want := range []string{"config=demo config v1", "greeting=hello from .env", "api=token=demo-token", "echo=echo ok"} {
		if !strings.Contains(body, want) {
			t.Errorf("demo answered without %q:\n%s", want, body)
		}
	}
}

// wantUpload checks that load.sh uploaded the image archive to the engine's API itself (perl is
// installed and the endpoint is the engine's unix socket).
func wantUpload(t *testing.T, r result) {
	t.Helper()
	if !strings.Contains(r.String(), bundle.ImageArchive+" goes to the engine's API (/var/run/docker.sock)") {
		t.Errorf("load.sh did not upload %s to the engine's API:\n%s", bundle.ImageArchive, r)
	}
}

// pathWithout is a PATH of one temp dir holding a link to every command on $PATH except those
// whose name starts with prefix.
func pathWithout(t *testing.T, prefix string) string {
	t.Helper()
	bin := t.TempDir()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				continue
			}
			// The first one on PATH wins, as for the shell.
			if _, err := os.Lstat(filepath.Join(bin, e.Name())); err == nil {
				continue
			}
			if err := os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(bin, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return bin
}
