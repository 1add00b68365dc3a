//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackFromEngine packs every image from the local engine (issue 12): three pulled from a
// registry, one built by compose. The bundle verifies, packing the same images again gives a
// byte-identical bundle, and on a target without the images load.sh loads them with the IDs
// airpack.json expects; on the classic store those are the engine's own image IDs (the config
// bytes are kept).
func TestPackFromEngine(t *testing.T) {
	reg := startRegistry(t)
	refs := reg.push(t, "e2e", "1.0", "", "web", "api", "worker")
	p := writeProject(t, "engineapp", refs)
	t.Cleanup(func() { removeImages(t, p.images...) })
	must(t, p.dir, "docker", "compose", "build")
	for _, r := range []string{refs["web"], refs["api"], refs["worker"]} {
		must(t, "", "docker", "pull", "-q", r)
	}
	reg.stop() // the engine is the only source

	out := t.TempDir()
	var bundles [][]byte
	for i, n := range []string{"a.tar", "b.tar"} {
		archive := filepath.Join(out, n)
		r := airpack(t, p.dir, "pack", "--version", "1.0", "-o", archive, "--source", "engine")
		if r.err != nil {
			t.Fatalf("pack %d: %v\n%s", i+1, r.err, r)
		}
		b, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, b)
	}
	if !bytes.Equal(bundles[0], bundles[1]) {
		t.Fatalf("packing the same engine images twice gave different bundles (%d and %d bytes)", len(bundles[0]), len(bundles[1]))
	}
	archive := filepath.Join(out, "a.tar")
	if r := airpack(t, "", "verify", archive); r.err != nil || !strings.Contains(r.stdout, "sound") {
		t.Fatalf("verify: %v\n%s", r.err, r)
	}

	pk := &packed{proj: p, archive: archive}
	pk.extract(t)
	for _, im := range pk.m.Images {
		if im.Source != "engine" {
			t.Errorf("image %s: source %q, want engine", im.Ref, im.Source)
		}
		if id := imageID(t, im.Ref); !containerdStore && im.ConfigDigest != id {
			t.Errorf("image %s: config %s, the engine's image ID is %s", im.Ref, im.ConfigDigest, id)
		}
	}
	removeImages(t, p.images...)
	r := must(t, pk.dir, "./load.sh")
	if !strings.Contains(r.String(), "4 image(s) loaded, 0 already present") {
		t.Errorf("load.sh did not load the 4 images:\n%s", r)
	}
	pk.checkIDs(t)
}
