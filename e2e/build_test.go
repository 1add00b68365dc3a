//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pack --build on a project never built: docker compose build runs with the project's settings
// (its .env and the shell's environment interpolate the build args; a service in an inactive
// profile is not built), and the images just built are packed; the bundle verifies, loads on a
// target without them and runs.
func TestPackBuild(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	files := map[string]string{
		"compose.yaml": `name: e2ebuild
services:
  echo:
    build:
      context: ./echo
      args:
        ROLE: ${ROLE}
        STAMP: ${STAMP}
    ports:
      - "${ECHO_PORT}:8082"
  tagged:
    image: e2ebuild/tagged:1.0
    build: ./echo
  never:
    build: ./does-not-exist
    profiles: [never]
`,
		".env":            fmt.Sprintf("ROLE=from-dotenv\nECHO_PORT=%d\n", port),
		"echo/Dockerfile": "FROM scratch\nARG ROLE\nARG STAMP\nLABEL role=$ROLE stamp=$STAMP\nCOPY demoapp /app/demoapp\nENTRYPOINT [\"/app/demoapp\", \"echo\"]\n",
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
	images := []string{"e2ebuild-echo", "e2ebuild/tagged:1.0"}
	removeImages(t, images...) // no prior build
	t.Cleanup(func() { removeImages(t, images...) })

	archive := filepath.Join(t.TempDir(), "e2ebuild-1.0.tar")
	r := run(t, dir, []string{"STAMP=from-shell"}, airpackBin, "pack", "--build", "--version", "1.0", "-o", archive)
	if r.err != nil {
		t.Fatalf("pack --build failed: %v\n%s", r.err, r)
	}
	if !strings.Contains(r.stderr, "building 2 services: docker compose build echo tagged") || !strings.Contains(r.stderr, "packed e2ebuild 1.0: 2 images") {
		t.Errorf("pack --build said:\n%s", r.stderr)
	}
	if r = airpack(t, "", "verify", archive); r.err != nil || !strings.Contains(r.stdout, "sound") {
		t.Fatalf("verify: %v\n%s", r.err, r)
	}

	// The target has none of the images.
	removeImages(t, images...)
	pk := &packed{proj: &project{name: "e2ebuild", dir: dir}, archive: archive}
	pk.extract(t)
	for _, im := range pk.m.Images {
		if im.Source != "engine" {
			t.Errorf("image %s from %s, want the engine", im.Ref, im.Source)
		}
	}
	must(t, pk.dir, "./load.sh")
	label := must(t, "", "docker", "image", "inspect", "--format", `{{index .Config.Labels "role"}} {{index .Config.Labels "stamp"}}`, "e2ebuild-echo").stdout
	if strings.TrimSpace(label) != "from-dotenv from-shell" {
		t.Errorf("e2ebuild-echo labels %q: the build did not interpolate as docker compose does", label)
	}
	t.Cleanup(func() { run(t, pk.dir, nil, "docker", "compose", "down", "-v") })
	must(t, pk.dir, "docker", "compose", "up", "-d")
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !strings.Contains(body, "echo ok") {
		t.Errorf("echo answered %q", body)
	}
	must(t, pk.dir, "docker", "compose", "down", "-v")

	// A build that fails is one line naming the service, after compose's output; nothing written.
	bad := t.TempDir()
	write(t, filepath.Join(bad, "compose.yaml"), "name: e2ebuildbad\nservices:\n  broken:\n    build: ./broken\n")
	write(t, filepath.Join(bad, "broken", "Dockerfile"), "FROM scratch\nCOPY not-there /x\n")
	out := filepath.Join(t.TempDir(), "bad.tar")
	r = airpack(t, bad, "pack", "--build", "--version", "1.0", "-o", out)
	last := lastLine(r.stderr)
	if r.err == nil || !strings.Contains(last, "docker compose build of service broken failed (exit 1): its output is above") || !strings.Contains(r.stderr, "not-there") {
		t.Errorf("failed build: %v, last line %q\n%s", r.err, last, r)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written after a failed build", out)
	}
}
