//go:build e2e

package e2e

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

// upgradeProject writes the compose project e2eupg into dir: web
// (published, serving /etc/demo-version of its image as its "config", a named volume on /data)
// and api (an image both versions share).
func upgradeProject(t *testing.T, dir string, port int, web, api string) {
	t.Helper()
	write(t, filepath.Join(dir, "compose.yaml"), fmt.Sprintf(`name: e2eupg
services:
  web:
    image: %s
    ports: ["%d:8080"]
    environment:
      CONFIG_FILE: /etc/demo-version
      API_URL: http://api:8081/
      ECHO_URL: http://api:8081/
    volumes: [data:/data]
  api:
    image: %s
volumes:
  data: {}
`, web, port, api))
}

// archiveLayers are the layer blobs of the bundle's image archive.
func archiveLayers(t *testing.T, dir string, m *bundle.Manifest) []string {
	t.Helper()
	layers := map[string]bool{}
	for _, im := range m.Images {
		for _, l := range im.Layers {
			layers[l.Digest] = true
		}
	}
	f, err := os.Open(filepath.Join(dir, bundle.ImageArchive))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for tr := tar.NewReader(f); ; {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if d := "sha256:" + strings.TrimPrefix(h.Name, "blobs/sha256/"); layers[d] {
			out = append(out, d)
		}
	}
}

// The upgrade story of issue 11 on the real engine: 1.0 runs with data in its volume; 1.1,
// packed with --base 1.0 after one service's code changed, carries only that service's new
// layer, refuses to load on an engine without 1.0, upgrades 1.0 in place keeping the data, and
// 1.0's directory rolls back.
func TestUpgrade(t *testing.T) { testUpgrade(t, "registry") }

// The same story with both versions packed from the local engine (issue 12): the upgrade's
// archive is streamed from `docker save`, leaving out as it goes the layers 1.0 holds.
func TestUpgradeFromEngine(t *testing.T) { testUpgrade(t, "engine") }

func testUpgrade(t *testing.T, source string) {
	reg := startRegistry(t)
	v10 := reg.push(t, "e2eupg", "1.0", "v1.0", "web", "api")
	v11 := reg.push(t, "e2eupg", "1.1", "v1.1", "web")
	refs := []string{v10["web"], v10["api"], v11["web"]}
	removeImages(t, refs...)
	t.Cleanup(func() { removeImages(t, refs...) })
	if source == "engine" {
		for _, r := range refs {
			must(t, "", "docker", "pull", "-q", r)
		}
		reg.stop() // the engine is the only source
	}
	port := freePort(t)
	src, out := t.TempDir(), t.TempDir()

	upgradeProject(t, src, port, v10["web"], v10["api"])
	a10 := filepath.Join(out, "e2eupg-1.0.tar")
	if r := airpack(t, src, "pack", "--source", source, "--version", "1.0", "-o", a10); r.err != nil {
		t.Fatalf("pack 1.0: %v\n%s", r.err, r)
	}
	full := filepath.Join(out, "full-1.1.tar") // 1.1 without --base, to compare sizes
	upgradeProject(t, src, port, v11["web"], v10["api"])
	if r := airpack(t, src, "pack", "--source", source, "--version", "1.1", "-o", full); r.err != nil {
		t.Fatalf("pack 1.1 in full: %v\n%s", r.err, r)
	}
	a11 := filepath.Join(out, "e2eupg-1.1.tar")
	r := airpack(t, src, "pack", "--source", source, "--version", "1.1", "--base", a10, "-o", a11)
	if r.err != nil || !strings.Contains(r.stderr, "upgrade of e2eupg 1.0: the image archive is ") {
		t.Fatalf("pack 1.1 --base: %v\n%s", r.err, r)
	}
	if r := airpack(t, "", "verify", a11); r.err != nil {
		t.Fatalf("verify 1.1: %v\n%s", r.err, r)
	}
	if r := airpack(t, "", "inspect", a11); !strings.Contains(r.stdout, "Upgrade of:") || !strings.Contains(r.stdout, v10["api"]) {
		t.Errorf("inspect does not show the base:\n%s", r)
	}
	reg.stop() // the target has no network
	removeImages(t, refs...)

	target := t.TempDir()
	must(t, target, "tar", "xf", a10)
	must(t, target, "tar", "xf", a11)
	d10, d11 := filepath.Join(target, "e2eupg-1.0"), filepath.Join(target, "e2eupg-1.1")
	m11 := readManifest(t, d11)

	// 1.1's archive holds web 1.1's own layer and nothing else.
	var changed []string
	for _, im := range m11.Images {
		for _, l := range im.Layers {
			if !slices.Contains(m11.Base.Layers, l.Digest) {
				changed = append(changed, l.Digest)
			}
		}
	}
	if got := archiveLayers(t, d11, m11); len(changed) != 1 || !slices.Equal(got, changed) {
		t.Errorf("the 1.1 archive holds layers %v; the changed ones are %v (want exactly one)", got, changed)
	}
	if m11.Base.Name != "e2eupg" || m11.Base.Version != "1.0" || len(m11.Base.Images) == 0 {
		t.Errorf("base: %+v", m11.Base)
	}
	if fi, err := os.Stat(full); err == nil {
		t.Logf("the upgrade's image archive is %d bytes, the full 1.1's bundle %d", m11.Archives[0].Size, fi.Size())
	}

	// On an engine without 1.0, load.sh of 1.1 names 1.0 and loads nothing.
	r = run(t, d11, nil, "./load.sh")
	if r.err == nil || !strings.Contains(lastLine(r.stderr), "FAILED at step 4 (base): this bundle upgrades e2eupg 1.0: load e2eupg-1.0 first (missing: ") ||
		!strings.Contains(r.stderr, "nothing was loaded") || strings.Contains(r.stdout, "docker load") {
		t.Fatalf("load.sh of 1.1 on a clean engine: %v, want step 4 naming 1.0:\n%s", r.err, r)
	}
	for _, im := range m11.Images {
		if id := imageID(t, im.Ref); id != "" {
			t.Errorf("%s is in the engine (%s) after the refused load", im.Ref, id)
		}
	}

	// 1.0 runs, with data in its volume.
	must(t, d10, "./load.sh")
	t.Cleanup(func() { run(t, d10, nil, "docker", "compose", "down", "-v") })
	must(t, d10, "docker", "compose", "up", "-d")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := httpGet(t, url); !strings.Contains(body, "config=v1.0") {
		t.Fatalf("1.0 answers:\n%s", body)
	}
	write(t, filepath.Join(target, "marker"), "data of 1.0\n")
	must(t, d10, "docker", "compose", "cp", filepath.Join(target, "marker"), "web:/data/marker")

	// 1.1 upgrades it in place.
	r = must(t, d11, "./load.sh")
	if !strings.Contains(r.stdout, "==> [4] Check the images of e2eupg 1.0") || !strings.Contains(r.stdout, "1 image(s) loaded, 1 already present") {
		t.Errorf("load.sh of 1.1:\n%s", r)
	}
	for _, im := range m11.Images {
		want := im.ConfigDigest
		if containerdStore {
			want = im.ManifestDigest
		}
		if got := imageID(t, im.Ref); got != want {
			t.Errorf("%s: ID %q after load.sh of 1.1, want %s", im.Ref, got, want)
		}
	}
	checkRunning := func(dir, want string) {
		t.Helper()
		must(t, dir, "docker", "compose", "up", "-d")
		if body := httpGet(t, url); !strings.Contains(body, "config="+want) {
			t.Errorf("after docker compose up -d in %s: web answers\n%s\nwant config=%s", filepath.Base(dir), body, want)
		}
		got := filepath.Join(t.TempDir(), "marker")
		must(t, dir, "docker", "compose", "cp", "web:/data/marker", got)
		if b, err := os.ReadFile(got); err != nil || string(b) != "data of 1.0\n" {
			t.Errorf("after docker compose up -d in %s, the volume's data: %q, %v", filepath.Base(dir), b, err)
		}
	}
	checkRunning(d11, "v1.1")
	// Rollback: 1.0's directory.
	checkRunning(d10, "v1.0")
}
