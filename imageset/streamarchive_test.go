package imageset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A stream archive of a `docker save` that holds one layer's content twice (two layer
// directories, no link, as the classic store may write it) and an image from elsewhere: each
// blob is stored once, the file's bytes past the archive's end are not part of it, the sum is
// the archive's, and a docker-save reader gets every image back with its config and layers.
func TestStreamArchive(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	other, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{"demo/a:1", "demo/b:1"}
	save := filepath.Join(t.TempDir(), "save.tar")
	// The shared base twice, under two names, no link.
	classicSave(t, save, refs, imgs, func(i, j int) string { return fmt.Sprintf("%d-%d/layer.tar", i, j) }, 0, 1)
	images := append(engineImages(t, refs, imgs), Image{Ref: "demo/other:1", Source: "registry", Image: other})
	a, err := NewStreamArchive("images/images.tar", images)
	if err != nil {
		t.Fatal(err)
	}
	savedFrom(a, save)
	skeleton, err := a.Skeleton()
	if err != nil {
		t.Fatal(err)
	}
	out, sum, err := writeStream(t, a)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
		t.Fatalf("WriteAt's sum %s is not the archive's", sum)
	}
	seen := map[string]bool{}
	for _, n := range tarNames(t, b) {
		if seen[n] {
			t.Errorf("%s stored twice", n)
		}
		seen[n] = true
	}
	done := a.Images()
	if len(done) != 3 || len(skeleton) != 3 {
		t.Fatalf("%d images described, %d in the skeleton", len(done), len(skeleton))
	}
	for i, want := range append(append([]v1.Image(nil), imgs...), other) {
		ref := done[i].Ref
		tag, _ := name.NewTag(ref)
		got, err := tarball.Image(func() (io.ReadCloser, error) { return os.Open(out) }, &tag)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		sameDiffIDs(t, ref, got, want)
		if len(skeleton[i].Layers) != len(done[i].Layers) {
			t.Errorf("%s: %d layers, the skeleton has %d", ref, len(done[i].Layers), len(skeleton[i].Layers))
		}
		for j, l := range done[i].Layers {
			if !seen[blobPath(v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(l.Digest, "sha256:")})] {
				t.Errorf("%s: layer %d (%s) is not in the archive", ref, j, l.Digest)
			}
			if i < 2 && l.MediaType != string(types.DockerLayer) {
				t.Errorf("%s: layer %d is %s", ref, j, l.MediaType)
			}
		}
	}
	if len(a.Images()[0].Layers) == 0 || a.Images()[0].Layers[0].Digest != a.Images()[1].Layers[0].Digest {
		t.Errorf("the shared base layer has two digests: %+v", a.Images()[:2])
	}
}

// An upgrade's stream archive leaves out, as they are written, the layers whose content its
// base holds: by the diff ID it computes for the layers it compresses (Docker 20.10's save), by
// the digest the base names for the blobs the engine hands over compressed (the containerd
// store's). The images still list every layer; the blobs left out are not in the archive.
func TestStreamArchiveLeavesOut(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	base, _ := imgs[0].Layers()
	baseDiffID, _ := base[0].DiffID()
	baseDigest, _ := base[0].Digest()
	refs := []string{"demo/a:1", "demo/b:1"}
	for _, save := range []struct {
		name  string
		write func(string)
	}{
		{"uncompressed", func(p string) {
			legacyDockerSave(t, p, []taggedImage{{tag: refs[0], img: imgs[0]}, {tag: refs[1], img: imgs[1]}})
		}},
		{"compressed", func(p string) {
			ggcrSave(t, p, []taggedImage{{tag: refs[0], img: imgs[0]}, {tag: refs[1], img: imgs[1]}})
		}},
	} {
		t.Run(save.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "save.tar")
			save.write(p)
			a, err := NewStreamArchive("images/images.tar", engineImages(t, refs, imgs))
			if err != nil {
				t.Fatal(err)
			}
			savedFrom(a, p)
			// The base bundle holds the shared base layer, under the registry's digest.
			a.LeaveOut(map[string]bool{baseDiffID.String(): true}, map[string]string{baseDigest.String(): baseDiffID.String()})
			out, _, err := writeStream(t, a)
			if err != nil {
				t.Fatal(err)
			}
			left := a.LeftOut()
			if len(left) != 1 {
				t.Fatalf("left out %v, want the base layer alone", left)
			}
			var leftDigest string
			for d := range left {
				leftDigest = d
			}
			b, _ := os.ReadFile(out)
			stored := map[string]bool{}
			for _, n := range tarNames(t, b) {
				stored["sha256:"+strings.TrimPrefix(n, "blobs/sha256/")] = true
			}
			if stored[leftDigest] {
				t.Errorf("the layer left out, %s, is in the archive", leftDigest)
			}
			for _, im := range a.Images() {
				if im.Layers[0].Digest != leftDigest || im.Layers[0].DiffID != baseDiffID.String() {
					t.Errorf("%s: first layer %+v, want the base layer left out", im.Ref, im.Layers[0])
				}
				for _, l := range im.Layers[1:] {
					if !stored[l.Digest] {
						t.Errorf("%s: layer %s is not in the archive", im.Ref, l.Digest)
					}
				}
			}
		})
	}
}

// engineImages are imgs tagged refs as the engine's Find gives them: read from its export.
func engineImages(t *testing.T, refs []string, imgs []v1.Image) []Image {
	t.Helper()
	var images []Image
	for i, r := range refs {
		ref, _ := name.ParseReference(r)
		cf, err := imgs[i].ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		var diffIDs []string
		for _, d := range cf.RootFS.DiffIDs {
			diffIDs = append(diffIDs, d.String())
		}
		images = append(images, Image{Ref: r, Source: "engine", Deferred: &Resolved{found: &engineImage{ref: ref, diffIDs: diffIDs}}})
	}
	return images
}

// classicSave writes a `docker save` file at p, in the classic store's layout, of the images
// imgs[idx] tagged refs[idx]: layer j of image i in the file layerFile(i, j), uncompressed, each
// file once.
func classicSave(t *testing.T, p string, refs []string, imgs []v1.Image, layerFile func(i, j int) string, idx ...int) {
	t.Helper()
	var entries []tarEntrySpec
	var manifest []dockerManifestEntry
	for _, i := range idx {
		cfg, _ := imgs[i].RawConfigFile()
		e := dockerManifestEntry{Config: sha256Hex(cfg) + ".json", RepoTags: []string{refs[i]}}
		layers, _ := imgs[i].Layers()
		for j, l := range layers {
			file := layerFile(i, j)
			if !slices.ContainsFunc(entries, func(s tarEntrySpec) bool { return s.name == file }) {
				rc, err := l.Uncompressed()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				entries = append(entries, tarEntrySpec{name: file, body: b})
			}
			e.Layers = append(e.Layers, file)
		}
		entries = append(entries, tarEntrySpec{name: e.Config, body: cfg})
		manifest = append(manifest, e)
	}
	m, _ := json.Marshal(manifest)
	writeTarFile(t, p, append(entries, tarEntrySpec{name: "manifest.json", body: m}))
}

// writeStream writes a into a file of its own, cut to its size as bundle.Write does, and
// returns the file and the sum WriteAt gave.
func writeStream(t *testing.T, a *StreamArchive) (string, string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := a.WriteAt(context.Background(), f, 0)
	if err != nil {
		return "", "", err
	}
	if err := f.Truncate(a.Size()); err != nil {
		t.Fatal(err)
	}
	return out, sum, nil
}

// savedFrom makes a read the engine's exports from the `docker save` files ps, one after the
// other, as Engine.saves reads the saves of its groups: the images are wherever they are.
func savedFrom(a *StreamArchive, ps ...string) {
	a.saves = func(ctx context.Context, refs []string, sink layerSink, _ ExportProgress) ([]*engineExport, error) {
		claims := &layerClaims{}
		var xs []*engineExport
		for _, p := range ps {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			x, err := readExport(ctx, f, refs, sink, claims)
			f.Close()
			if err != nil {
				return nil, err
			}
			xs = append(xs, x)
		}
		return xs, shareLayers(xs)
	}
}

// An image rebuilt or retagged between its lookup and the export is refused by name: what was
// reserved and left out was decided from the layers it had when looked up.
func TestStreamArchiveImageChanged(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	p := filepath.Join(t.TempDir(), "save.tar")
	legacyDockerSave(t, p, []taggedImage{{tag: "demo/a:1", img: imgs[1]}}) // demo/a:1 is now b
	a, err := NewStreamArchive("images/images.tar", engineImages(t, []string{"demo/a:1"}, imgs[:1]))
	if err != nil {
		t.Fatal(err)
	}
	savedFrom(a, p)
	_, _, err = writeStream(t, a)
	if err == nil || !strings.Contains(err.Error(), "image demo/a:1 changed in the docker engine while it was being packed") {
		t.Fatalf("err %v", err)
	}
}

// Two saves read one after the other (Engine.saves: the engine prepares them side by side),
// both holding the shared base layer under its one name: the first puts it, the second reads
// past it; each image is whole, every blob stored once, and the archive is the same as from one
// save of both.
func TestStreamArchiveSeveralSaves(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	refs := []string{"demo/a:1", "demo/b:1"}
	dir := t.TempDir()
	// The base named by its chain, as the classic store names it: once in each save.
	layerFile := func(i, j int) string {
		if j == 0 {
			return "base/layer.tar"
		}
		return fmt.Sprintf("%d-%d/layer.tar", i, j)
	}
	saveOf := func(p string, idx ...int) { classicSave(t, p, refs, imgs, layerFile, idx...) }
	one, a, b := filepath.Join(dir, "one.tar"), filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	saveOf(one, 0, 1)
	saveOf(a, 0)
	saveOf(b, 1)
	write := func(saves ...string) []byte {
		sa, err := NewStreamArchive("images/images.tar", engineImages(t, refs, imgs))
		if err != nil {
			t.Fatal(err)
		}
		savedFrom(sa, saves...)
		out, _, err := writeStream(t, sa)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range refs {
			tag, _ := name.NewTag(r)
			got, err := tarball.Image(func() (io.ReadCloser, error) { return os.Open(out) }, &tag)
			if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			sameDiffIDs(t, r, got, imgs[i])
		}
		body, _ := os.ReadFile(out)
		return body
	}
	if !bytes.Equal(write(a, b), write(one)) {
		t.Error("two saves give another archive than one save of the same images")
	}

	// The second save reads past the base layer: it is compressed once.
	puts := &countingSink{layerSink: dirSink(t.TempDir())}
	claims := &layerClaims{}
	var xs []*engineExport
	for _, p := range []string{a, b} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		x, err := readExport(context.Background(), f, refs, puts, claims)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	if err := shareLayers(xs); err != nil {
		t.Fatal(err)
	}
	if puts.n != 3 || !xs[1].elsewhere["base/layer.tar"] || xs[1].layers["base/layer.tar"] != xs[0].layers["base/layer.tar"] {
		t.Errorf("%d layers put (want 3: the base once), the second save's base %v", puts.n, xs[1].layers["base/layer.tar"])
	}
}

type countingSink struct {
	layerSink
	n int
}

func (c *countingSink) put(fill func(w io.Writer) (v1.Hash, v1.Hash, error)) (int64, func() (io.ReadCloser, error), error) {
	c.n++
	return c.layerSink.put(fill)
}

// The saves asked for at once: two on the classic store, images in turn; one on the
// containerd store, or for one image.
func TestExportGroups(t *testing.T) {
	refs := []string{"a", "b", "c", "d", "e"}
	for _, c := range []struct {
		classic bool
		refs    []string
		want    [][]string
	}{
		{true, refs, [][]string{{"a", "c", "e"}, {"b", "d"}}},
		{false, refs, [][]string{refs}},
		{true, refs[:1], [][]string{refs[:1]}},
	} {
		if got := exportGroups(c.refs, c.classic); !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("exportGroups(%v, %v) = %v, want %v", c.refs, c.classic, got, c.want)
		}
	}
}
