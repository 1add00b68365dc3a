package imageset

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// partImages are images sharing a base layer, the last one much larger than the others, and
// a second pair sharing another layer.
func partImages(t *testing.T) []Image {
	t.Helper()
	layer := func(size int64) v1.Layer {
		l, err := random.Layer(size, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	base, err := mutate.AppendLayers(empty.Image, layer(8<<10))
	if err != nil {
		t.Fatal(err)
	}
	other := layer(6 << 10)
	var images []Image
	for i, size := range []int64{4 << 10, 5 << 10, 3 << 10, 4 << 10, 64 << 10, 2 << 10} {
		ls := []v1.Layer{layer(size)}
		if i >= 2 && i != 4 {
			ls = append([]v1.Layer{other}, ls...) // shared by images 2, 3 and 5
		}
		img, err := mutate.AppendLayers(base, ls...)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, Image{Ref: fmt.Sprintf("shop/app%d:1.0", i), Services: []string{fmt.Sprintf("app%d", i)}, Source: "registry", Platform: amd64, Image: testImage(t, img, amd64)})
	}
	return images
}

func partPath(n int) string { return fmt.Sprintf("images/part-%d.tar", n) }

// PlanParts: whole images in order, each part at most the size asked for but for an image too
// large alone (reported), greedy (the next part's first image would not have fitted), no blob in
// two parts, and each part a complete dual-format archive of its own images given the layers
// of the parts before it.
func TestPlanParts(t *testing.T) {
	images := partImages(t)
	const max = 40 << 10
	parts, over, err := PlanParts(images, max, partPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 3 {
		t.Fatalf("%d parts, want at least 3", len(parts))
	}
	if len(over) != 1 || over[0].Ref != "shop/app4:1.0" || over[0].Size <= max {
		t.Fatalf("oversized %+v, want shop/app4:1.0 alone", over)
	}
	var order []string
	stored := map[string]string{} // blob -> part
	dirs := t.TempDir()
	var earlier []string // the blob files of the parts written so far
	for n, a := range parts {
		if a.Path() != partPath(n+1) {
			t.Errorf("part %d is %s", n+1, a.Path())
		}
		var refs []string
		for _, im := range a.Images() {
			refs = append(refs, im.Ref)
			if im.Archive != a.Path() {
				t.Errorf("%s: archive %s, want %s", im.Ref, im.Archive, a.Path())
			}
		}
		order = append(order, refs...)
		t.Logf("%s: %d bytes, %s", a.Path(), a.Size(), refs)
		if a.Size() > max && !(len(refs) == 1 && refs[0] == over[0].Ref) {
			t.Errorf("%s (%s) is %d bytes, over %d", a.Path(), refs, a.Size(), max)
		}
		if n+1 < len(parts) {
			next := parts[n+1].Images()[0].Ref
			var with []Image
			for _, im := range images {
				if strings.Contains(strings.Join(refs, " "), im.Ref) || im.Ref == next {
					with = append(with, im)
				}
			}
			if b, _ := NewArchive("x", with); len(refs) == 1 && refs[0] == over[0].Ref {
				// an oversized image's part takes nothing else
			} else if b.Size() <= max {
				// Planned without the earlier parts' layers it is even smaller: it would have fit.
				t.Errorf("%s: %s would have fitted in it", a.Path(), next)
			}
		}

		p := writePart(t, a)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(dirs, fmt.Sprint(n+1))
		untar(t, b, dir)
		for _, name := range tarNames(t, b) {
			if !strings.HasPrefix(name, "blobs/sha256/") || strings.HasSuffix(name, "/") {
				continue
			}
			if prev, ok := stored[name]; ok {
				t.Errorf("%s is in %s and %s", name, prev, a.Path())
			}
			stored[name] = a.Path()
		}
		// manifest.json and index.json list this part's images only.
		var dm []dockerManifestEntry
		mb, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err := json.Unmarshal(mb, &dm); err != nil {
			t.Fatal(err)
		}
		var tags []string
		for _, e := range dm {
			tags = append(tags, e.RepoTags...)
		}
		if strings.Join(tags, " ") != strings.Join(refs, " ") {
			t.Errorf("%s: manifest.json tags %s, want %s", a.Path(), tags, refs)
		}
		// With the earlier parts' blobs beside it, every image of the part is complete.
		for _, e := range earlier {
			_, name, _ := strings.Cut(e, "/")
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Fatalf("%s is in %s too", name, a.Path())
			}
			c, err := os.ReadFile(filepath.Join(dirs, e))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), c, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != len(refs) {
			t.Errorf("%s: index.json lists %d images, want %d", a.Path(), len(im.Manifests), len(refs))
		}
		for i, d := range im.Manifests {
			if got := d.Annotations["org.opencontainers.image.ref.name"]; got != "1.0" {
				t.Errorf("%s: image %d named %q", a.Path(), i, got)
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Errorf("%s: image %d is not complete given the earlier parts: %v", a.Path(), i, err)
			}
		}
		for name := range stored {
			if stored[name] == a.Path() {
				earlier = append(earlier, filepath.Join(fmt.Sprint(n+1), name))
			}
		}
	}
	var want []string
	for _, im := range images {
		want = append(want, im.Ref)
	}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("parts hold %s, want %s in that order", order, want)
	}

	// Everything fits: one part.
	if parts, over, err := PlanParts(images, 1<<30, partPath); err != nil || len(parts) != 1 || len(over) != 0 {
		t.Errorf("PlanParts with room for all: %d parts, %v, %v", len(parts), over, err)
	}
}

func writePart(t *testing.T, a *Archive) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "part.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := a.WriteAt(t.Context(), f, 0); err != nil {
		t.Fatal(err)
	}
	return p
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// A layer one image has on other layers than an earlier part's image (here s alone, then s on
// top of x) is stored again: Docker's classic store takes a layer from the engine only on the
// same layers below (its chain ID). One on the same chain (x, in both) is left out.
func TestPlanPartsSharedLayerOtherChain(t *testing.T) {
	layer := func(size int64) v1.Layer {
		l, err := random.Layer(size, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	s, x := layer(4<<10), layer(4<<10)
	first, err := mutate.AppendLayers(empty.Image, x, layer(1<<10))
	if err != nil {
		t.Fatal(err)
	}
	first, err = mutate.AppendLayers(first, s)
	if err != nil {
		t.Fatal(err)
	}
	second, err := mutate.AppendLayers(empty.Image, x, s)
	if err != nil {
		t.Fatal(err)
	}
	images := []Image{{Ref: "first:1", Image: first}, {Ref: "second:1", Image: second}}
	parts, _, err := PlanParts(images, 1, func(n int) string { return fmt.Sprintf("images/part-%d.tar", n) })
	if err != nil || len(parts) != 2 {
		t.Fatalf("%d parts, %v", len(parts), err)
	}
	sd, _ := s.Digest()
	xd, _ := x.Digest()
	stored := map[string]bool{}
	for _, fb := range parts[1].fetch {
		stored[fb.digest.String()] = true
	}
	if !stored[sd.String()] || stored[xd.String()] {
		t.Errorf("part 2 stores %v: want s (on another chain than in part 1) and not x (same chain)", stored)
	}
}
