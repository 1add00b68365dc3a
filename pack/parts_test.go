package pack

import (
	"archive/tar"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/imageset"
)

// partsProject is a project of five images sharing a base layer, one of them much larger.
func partsProject(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	base := amd64Image(t, 1)
	body := "name: shop\nservices:\n"
	for _, s := range []struct {
		name string
		size int64
	}{{"a", 20 << 10}, {"b", 20 << 10}, {"c", 200 << 10}, {"d", 20 << 10}, {"e", 20 << 10}} {
		l, err := random.Layer(s.size, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, l)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(u.Host + "/shop/" + s.name + ":1.0")
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		body += "  " + s.name + ":\n    image: " + ref.String() + "\n"
	}
	return project(t, body)
}

// --max-archive-size: several images/part-N.tar of whole images, no blob in two of them, each
// within the size but for an image too large alone (a warning), and a bundle verify accepts
// (its archives listed in load order). Without the option, or when all fits, images/images.tar.
func TestPackMaxArchiveSize(t *testing.T) {
	dir := partsProject(t)
	pack := func(t *testing.T, out string, max int64) *Result {
		t.Helper()
		var p countProgress
		res, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out, Sources: []string{"registry"}, MaxArchiveSize: max, Progress: &p})
		if err != nil {
			t.Fatal(err)
		}
		if _, problems, err := bundle.Verify(context.Background(), out); err != nil || len(problems) > 0 {
			t.Fatalf("verify: %v %v", err, problems)
		}
		p.check(t, len(res.Manifest.Images))
		return res
	}
	const max = 60 << 10
	for _, form := range []string{"dir", "tar"} {
		t.Run(form, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "shop-1.0")
			if form == "tar" {
				out += ".tar"
			}
			res := pack(t, out, max)
			m := res.Manifest
			var paths []string
			for i, a := range m.Archives {
				paths = append(paths, a.Path)
				if a.Path != bundle.ImagePartArchive(i+1) {
					t.Errorf("archive %d is %s", i+1, a.Path)
				}
			}
			if len(paths) < 3 {
				t.Fatalf("archives %v, want at least 3", paths)
			}
			var big string
			for _, im := range m.Images {
				if !slices.Contains(paths, im.Archive) {
					t.Errorf("%s: archive %s not listed", im.Ref, im.Archive)
				}
				if strings.Contains(im.Ref, "/shop/c:") {
					big = im.Ref
				}
			}
			if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "image "+big+" alone takes") || !strings.Contains(w, "--max-archive-size") {
				t.Errorf("warnings %q, want one naming %s", res.Warnings, big)
			}
			blobs := map[string]string{}
			for _, a := range m.Archives {
				var alone bool
				for _, im := range m.Images {
					alone = alone || im.Archive == a.Path && im.Ref == big
				}
				if a.Size > max && !alone {
					t.Errorf("%s is %d bytes, over %d", a.Path, a.Size, max)
				}
				for _, b := range partBlobs(t, out, a.Path) {
					if other, ok := blobs[b]; ok {
						t.Errorf("%s is in %s and %s", b, other, a.Path)
					}
					blobs[b] = a.Path
				}
			}
		})
	}
	t.Run("everything fits", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "shop-1.0")
		m := pack(t, out, 1<<30).Manifest
		if len(m.Archives) != 1 || m.Archives[0].Path != bundle.ImageArchive {
			t.Errorf("archives %+v, want %s alone", m.Archives, bundle.ImageArchive)
		}
	})
}

// partBlobs lists the blobs of the image archive p of the bundle out (a directory or a .tar).
func partBlobs(t *testing.T, out, p string) []string {
	t.Helper()
	var names []string
	err := bundle.Walk(context.Background(), out, func(n string, r io.Reader, _ int64) error {
		if n != p {
			return nil
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if strings.HasPrefix(h.Name, "blobs/sha256/") && h.Typeflag == tar.TypeReg {
				names = append(names, h.Name)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("%s: no blobs", p)
	}
	return names
}

// airpack ram needs one image archive: a bundle in several is refused, saying what to do.
func TestExportRAMRefusesParts(t *testing.T) {
	dir := partsProject(t)
	bdir := filepath.Join(t.TempDir(), "shop-1.0")
	if _, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: bdir, Sources: []string{"registry"}, MaxArchiveSize: 60 << 10}); err != nil {
		t.Fatal(err)
	}
	_, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: filepath.Join(t.TempDir(), "x-ram.tar.gz")})
	if err == nil || !strings.Contains(err.Error(), "pack the bundle again without --max-archive-size") {
		t.Fatalf("ExportRAM of a bundle in parts: %v", err)
	}
	if _, err := os.Stat(bdir); err != nil {
		t.Fatal(err)
	}
}

// countProgress checks Pack starts the progress once, for every image, and reports each
// image's bytes to it.
type countProgress struct {
	mu     sync.Mutex
	starts int
	totals []imageset.ImageTotal
	done   []int64
}

func (p *countProgress) Start(totals []imageset.ImageTotal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts++
	p.totals, p.done = totals, make([]int64, len(totals))
}

func (p *countProgress) Add(i int, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[i] += n
}

func (p *countProgress) check(t *testing.T, images int) {
	t.Helper()
	if p.starts != 1 || len(p.totals) != images {
		t.Fatalf("progress started %d times, for %d images; want once, for %d", p.starts, len(p.totals), images)
	}
	for i, tt := range p.totals {
		if p.done[i] != tt.Bytes {
			t.Errorf("progress of %s: %d bytes of %d", tt.Ref, p.done[i], tt.Bytes)
		}
	}
}
