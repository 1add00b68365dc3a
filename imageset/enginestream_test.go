package imageset

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func exportImages(t *testing.T, p string, refs []string) []v1.Image {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := readExport(context.Background(), f, refs, dirSink(t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Image
	for _, r := range refs {
		ref, _ := name.ParseReference(r)
		img, err := x.image(ref, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
	}
	return out
}

// A `docker save` stream of Docker 20.10 (uncompressed layers, links, manifest.json last) gives
// the images with their config digests and content, gzip layers, the same digests every time
// whatever the number of CPUs.
func TestEngineExportStream(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	big, err := random.Layer(3<<20+12345, types.DockerLayer) // several gzip blocks
	if err != nil {
		t.Fatal(err)
	}
	if imgs[1], err = mutate.AppendLayers(imgs[1], big); err != nil {
		t.Fatal(err)
	}
	refs := []string{"demo/a:1", "demo/b:1"}
	p := filepath.Join(t.TempDir(), "save.tar")
	legacyDockerSave(t, p, []taggedImage{{tag: refs[0], img: imgs[0]}, {tag: refs[1], img: imgs[1]}})
	got := exportImages(t, p, refs)
	for i := range refs {
		sameDiffIDs(t, refs[i], got[i], imgs[i])
		m, _ := got[i].Manifest()
		for _, l := range m.Layers {
			if l.MediaType != types.DockerLayer {
				t.Errorf("%s: layer %s is %s, want gzip", refs[i], l.Digest, l.MediaType)
			}
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	again := exportImages(t, p, refs)
	for i := range refs {
		d1, _ := got[i].Digest()
		d2, _ := again[i].Digest()
		if d1 != d2 {
			t.Errorf("%s: manifest %s, then %s with one CPU: the compression is not deterministic", refs[i], d1, d2)
		}
	}
}

// Docker 25's save: OCI blobs, uncompressed, and manifest.json.
func TestEngineExportDocker25(t *testing.T) {
	img := sharedBaseImages(t, 1)[0]
	p := filepath.Join(t.TempDir(), "save.tar")
	docker25Save(t, p, "demo/c:2", img, true)
	got := exportImages(t, p, []string{"demo/c:2"})
	sameDiffIDs(t, "demo/c:2", got[0], img)
}

// Layers the engine hands over compressed are kept as they are.
func TestEngineExportKeepsCompressedLayers(t *testing.T) {
	imgs := sharedBaseImages(t, 1)
	p := filepath.Join(t.TempDir(), "save.tar")
	ggcrSave(t, p, []taggedImage{{tag: "demo/d:3", img: imgs[0]}})
	got := exportImages(t, p, []string{"demo/d:3"})
	sameDiffIDs(t, "demo/d:3", got[0], imgs[0])
	gl, _ := got[0].Layers()
	wl, _ := imgs[0].Layers()
	for i := range gl {
		g, _ := gl[i].Digest()
		w, _ := wl[i].Digest()
		if g != w {
			t.Errorf("layer %d: digest %s, want the engine's %s", i, g, w)
		}
	}
}
