//go:build e2e

package e2e

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

// TestBatchLoadRun: a bundle packed with --max-archive-size in three or more image archives,
// of which none shares a blob with another, loads with ./load.sh (in order: the parts after
// the first leave out the base layer the first stores) and runs; a re-run after one image is
// removed loads only its part.
func TestBatchLoadRun(t *testing.T) {
	reg := startRegistry(t)
	refs := reg.push(t, "e2e", "1.0", "", "web", "api", "worker")
	p := writeProject(t, "e2ebatch", refs)
	t.Cleanup(func() { removeImages(t, p.images...) })
	must(t, p.dir, "docker", "compose", "build")
	pk := &packed{proj: p, archive: filepath.Join(t.TempDir(), "e2ebatch-1.0.tar")}
	// The demo binary's layer is far larger than 64 KiB: the images holding it get a part of
	// their own (with a warning), the others share one, without that layer.
	r := airpack(t, p.dir, "pack", "--version", "1.0", "-o", pk.archive, "--max-archive-size", "64KiB")
	if r.err != nil {
		t.Fatalf("pack failed: %v\n%s", r.err, r)
	}
	if !strings.Contains(r.stderr, "more than --max-archive-size") {
		t.Errorf("pack did not warn of the images larger than 64 KiB:\n%s", r)
	}
	if r = airpack(t, "", "verify", pk.archive); r.err != nil || !strings.Contains(r.stdout, "sound") {
		t.Fatalf("verify of a fresh bundle: %v\n%s", r.err, r)
	}

	removeImages(t, p.images...)
	reg.stop()
	pk.extract(t)

	// The parts: at least three, one holding several images, no blob in two, and a part whose
	// images need a layer only an earlier part stores.
	if len(pk.m.Archives) < 3 {
		t.Fatalf("archives %+v, want at least 3", pk.m.Archives)
	}
	where := map[string]string{} // blob -> part
	perPart := map[string]int{}
	for i, a := range pk.m.Archives {
		if a.Path != bundle.ImagePartArchive(i+1) {
			t.Errorf("archive %d is %s", i+1, a.Path)
		}
		for _, b := range tarBlobs(t, filepath.Join(pk.dir, a.Path)) {
			if other, ok := where[b]; ok {
				t.Errorf("blob %s is in %s and %s", b, other, a.Path)
			}
			where[b] = a.Path
		}
	}
	relies, several := false, false
	for _, im := range pk.m.Images {
		perPart[im.Archive]++
		several = several || perPart[im.Archive] > 1
		for _, l := range im.Layers {
			if w := where["blobs/sha256/"+strings.TrimPrefix(l.Digest, "sha256:")]; w == "" {
				t.Errorf("%s: layer %s is in no archive", im.Ref, l.Digest)
			} else if w != im.Archive {
				relies = true
			}
		}
	}
	for _, a := range pk.m.Archives {
		var refs []string
		for _, im := range pk.m.Images {
			if im.Archive == a.Path {
				refs = append(refs, im.Ref)
			}
		}
		t.Logf("%s: %d bytes, %s", a.Path, a.Size, strings.Join(refs, ", "))
	}
	if !relies || !several {
		t.Errorf("want a part relying on an earlier one's layer (%v) and one with several images (%v): %+v", relies, several, pk.m.Images)
	}

	r = must(t, pk.dir, "./load.sh")
	out := r.String()
	last := -1
	for _, a := range pk.m.Archives {
		i := strings.Index(out, a.Path+": docker load (")
		if i < last {
			t.Errorf("%s not loaded after the parts before it:\n%s", a.Path, out)
		}
		last = i
	}
	if !strings.Contains(out, fmt.Sprintf("%d image(s) loaded, 0 already present", len(pk.m.Images))) {
		t.Errorf("load.sh did not load every image:\n%s", out)
	}
	pk.checkIDs(t)

	t.Cleanup(func() { run(t, pk.dir, nil, "docker", "compose", "down", "-v") })
	must(t, pk.dir, "docker", "compose", "up", "-d")
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p.webPort))
	for _, want := range []string{"config=config-e2e", "greeting=hello-e2e", "api=token=tok-e2e", "echo=echo ok"} {
		if !strings.Contains(body, want) {
			t.Errorf("web answered without %q:\n%s", want, body)
		}
	}
	must(t, pk.dir, "docker", "compose", "down", "-v")

	// One image of a later part gone: only its part is loaded again, from the layers the
	// engine still holds.
	var later bundle.Image
	for _, im := range pk.m.Images {
		if im.Archive != pk.m.Archives[0].Path {
			later = im
			break
		}
	}
	removeImages(t, later.Ref)
	r = must(t, pk.dir, "./load.sh")
	for _, a := range pk.m.Archives {
		loaded := strings.Contains(r.String(), a.Path+": docker load (")
		if loaded != (a.Path == later.Archive) {
			t.Errorf("%s loaded: %v, want only %s (holding %s):\n%s", a.Path, loaded, later.Archive, later.Ref, r)
		}
	}
	pk.checkIDs(t)
}

// tarBlobs lists the blob members of the image archive at p.
func tarBlobs(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if h.Typeflag == tar.TypeReg && strings.HasPrefix(h.Name, "blobs/sha256/") {
			out = append(out, h.Name)
		}
	}
}
