package imageset

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// testImage is a random image for platform p on top of base.
func testImage(t *testing.T, base v1.Image, p v1.Platform) v1.Image {
	t.Helper()
	l, err := random.Layer(2048, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Architecture
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type fixture struct {
	host   string
	images map[string]v1.Image // ref -> image
}

// newRegistry serves three images sharing a base layer and a two-platform index.
func newRegistry(t *testing.T) *fixture {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	f := &fixture{host: u.Host, images: map[string]v1.Image{}}
	baseLayer, err := random.Layer(4096, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.AppendLayers(empty.Image, baseLayer)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"web", "api", "worker"} {
		ref := f.host + "/shop/" + n + ":1.0"
		img := testImage(t, base, amd64)
		f.push(t, ref, img)
	}
	arm := testImage(t, base, v1.Platform{OS: "linux", Architecture: "arm64"})
	x86 := testImage(t, base, amd64)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: x86, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	ref, _ := name.ParseReference(f.host + "/shop/multi:1.0")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	f.images[f.host+"/shop/multi:1.0"] = x86
	return f
}

func (f *fixture) push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	f.images[ref] = img
}

func TestShippedRef(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	for in, want := range map[string]string{
		"nginx":                 "nginx:latest",
		"nginx:1.25":            "nginx:1.25",
		"localhost:5000/a/b":    "localhost:5000/a/b:latest",
		"localhost:5000/a/b:2":  "localhost:5000/a/b:2",
		"redis@" + d:            "redis:sha256-" + strings.Repeat("a", 64),
		"redis:7@" + d:          "redis:7",
		"localhost:5000/x@" + d: "localhost:5000/x:sha256-" + strings.Repeat("a", 64),
		// one spelling for every way of naming the same image
		"busybox:latest":                     "busybox:latest",
		"docker.io/library/nginx:1.25":       "nginx:1.25",
		"index.docker.io/library/nginx:1.25": "nginx:1.25",
		"docker.io/me/app":                   "me/app:latest",
		"docker.io/library/redis:7@" + d:     "redis:7",
	} {
		got, err := ShippedRef(in)
		if err != nil || got != want {
			t.Errorf("ShippedRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ShippedRef("me/UPPER"); err == nil {
		t.Error("invalid reference accepted")
	}
}

func TestContainerdName(t *testing.T) {
	for in, want := range map[string]string{
		"nginx:1.25":             "docker.io/library/nginx:1.25",
		"nginx":                  "docker.io/library/nginx:latest",
		"me/app:2":               "docker.io/me/app:2",
		"127.0.0.1:5000/a/b:1.0": "127.0.0.1:5000/a/b:1.0",
	} {
		if got, err := ContainerdName(in); err != nil || got != want {
			t.Errorf("ContainerdName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestResolveReportsEveryProblem(t *testing.T) {
	f := newRegistry(t)
	ctx := context.Background()
	reqs := []Request{
		{Ref: f.host + "/shop/web:1.0", Services: []string{"web"}, Platform: amd64},
		{Ref: f.host + "/shop/nosuch:1.0", Services: []string{"ghost"}, Platform: amd64},
		{Ref: f.host + "/shop/api:9.9", Services: []string{"api"}, Platform: amd64},
		{Ref: f.host + "/shop/multi:1.0", Services: []string{"multi"}, Platform: v1.Platform{OS: "linux", Architecture: "s390x"}},
		{Ref: f.host + "/shop/worker:1.0", Services: []string{"worker"}, Platform: v1.Platform{OS: "linux", Architecture: "arm64"}},
	}
	_, err := Resolve(ctx, reqs, []Source{NewRegistry(nil)})
	if err == nil {
		t.Fatal("Resolve succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 problem lines, got %d:\n%s", len(lines), err)
	}
	for _, want := range []string{
		"service ghost: image " + f.host + "/shop/nosuch:1.0: registry: repository shop/nosuch does not exist",
		"service api: image " + f.host + "/shop/api:9.9: registry: no such tag 9.9",
		"service multi: image " + f.host + "/shop/multi:1.0: registry: no manifest for platform linux/s390x (image has [linux/amd64 linux/arm64])",
		"service worker: image " + f.host + "/shop/worker:1.0: registry: no manifest for platform linux/arm64 (image has [linux/amd64])",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%s", want, err)
		}
	}
}

func TestResolveBuildNeedsEngine(t *testing.T) {
	f := newRegistry(t)
	reqs := []Request{{Ref: f.host + "/shop/web:1.0", Services: []string{"web"}, Platform: amd64, Build: true}}
	_, err := Resolve(context.Background(), reqs, []Source{NewRegistry(nil), NewLayout(t.TempDir())})
	if err == nil || !strings.Contains(err.Error(), "run `docker compose build` first") {
		t.Fatalf("build image resolved from a registry, or unclear error: %v", err)
	}
}

func resolveAll(t *testing.T, f *fixture, refs ...string) []Image {
	t.Helper()
	var reqs []Request
	for _, r := range refs {
		reqs = append(reqs, Request{Ref: r, Services: []string{path(r)}, Platform: amd64})
	}
	res, err := Resolve(context.Background(), reqs, []Source{NewRegistry(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var out []Image
	for _, r := range res {
		img, err := r.Image(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Image{Ref: r.Shipped, Services: r.Services, Source: r.Source, Platform: r.Platform, Image: img})
	}
	return out
}

func path(ref string) string { return strings.Split(filepath.Base(ref), ":")[0] }

func writeArchive(t *testing.T, images []Image, jobs int, opts ...ArchiveOption) string {
	t.Helper()
	a, err := NewArchive("images/images.tar", images, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "images.tar")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sum, err := a.WriteAt(context.Background(), out, 0, WithJobs(jobs))
	if err != nil {
		t.Fatal(err)
	}
	out.Seek(0, 0)
	h := sha256.New()
	io.Copy(h, out)
	if want := hex.EncodeToString(h.Sum(nil)); sum != want {
		t.Fatalf("WriteAt says sha256 %s, the file has %s", sum, want)
	}
	if st, _ := out.Stat(); st.Size() != a.Size() {
		t.Fatalf("archive is %d bytes, planned %d", st.Size(), a.Size())
	}
	return p
}

func TestArchiveIsDualFormatDedupedAndDeterministic(t *testing.T) {
	f := newRegistry(t)
	refs := []string{f.host + "/shop/web:1.0", f.host + "/shop/api:1.0", f.host + "/shop/worker:1.0", f.host + "/shop/multi:1.0"}
	images := resolveAll(t, f, refs...)
	p1 := writeArchive(t, images, 4)
	p2 := writeArchive(t, images, 1)
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("two writes of the same images differ")
	}

	// Every blob once: 4 manifests, 4 configs, 1 shared base layer, 4 own layers.
	names := map[string]int{}
	tr := tar.NewReader(bytes.NewReader(b1))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name]++
	}
	blobs := 0
	for n, c := range names {
		if c != 1 {
			t.Errorf("%s stored %d times", n, c)
		}
		if strings.HasPrefix(n, "blobs/sha256/") && len(n) > len("blobs/sha256/") {
			blobs++
		}
	}
	if blobs != 13 {
		t.Errorf("%d blobs, want 13", blobs)
	}

	// Docker's manifest.json path: each tag restores the source config digest and layers.
	for _, r := range refs {
		tag, _ := name.NewTag(r)
		got, err := tarball.ImageFromPath(p1, &tag)
		if err != nil {
			t.Fatalf("%s via manifest.json: %v", r, err)
		}
		sameImage(t, r, got, f.images[r])
	}

	// The OCI layout path: the source manifest digests, with both name annotations.
	dir := t.TempDir()
	untar(t, b1, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != len(refs) {
		t.Fatalf("index has %d manifests", len(im.Manifests))
	}
	for i, d := range im.Manifests {
		want := f.images[refs[i]]
		wd, _ := want.Digest()
		if d.Digest != wd {
			t.Errorf("%s: index digest %s, source %s", refs[i], d.Digest, wd)
		}
		tag, _ := name.NewTag(refs[i])
		if d.Annotations[AnnotationImageName] != tag.Name() || d.Annotations[AnnotationRefName] != "1.0" {
			t.Errorf("%s: annotations %v", refs[i], d.Annotations)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		sameImage(t, refs[i], img, want)
	}
}

func sameImage(t *testing.T, ref string, got, want v1.Image) {
	t.Helper()
	gc, _ := got.ConfigName()
	wc, _ := want.ConfigName()
	if gc != wc {
		t.Errorf("%s: config %s, want %s", ref, gc, wc)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	wl, _ := want.Layers()
	if len(gl) != len(wl) {
		t.Fatalf("%s: %d layers, want %d", ref, len(gl), len(wl))
	}
	for i := range gl {
		gd, _ := gl[i].Digest()
		wd, _ := wl[i].Digest()
		if gd != wd {
			t.Errorf("%s layer %d: %s, want %s", ref, i, gd, wd)
		}
	}
}

func untar(t *testing.T, b []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		c, _ := io.ReadAll(tr)
		os.WriteFile(p, c, 0o644)
	}
}

func TestArchiveManifestEntries(t *testing.T) {
	f := newRegistry(t)
	images := resolveAll(t, f, f.host+"/shop/web:1.0", f.host+"/shop/api:1.0")
	a, err := NewArchive("images/images.tar", images)
	if err != nil {
		t.Fatal(err)
	}
	for i, bi := range a.Images() {
		src := f.images[images[i].Ref]
		md, _ := src.Digest()
		cd, _ := src.ConfigName()
		if bi.ManifestDigest != md.String() || bi.ConfigDigest != cd.String() {
			t.Errorf("%s: digests %s %s, want %s %s", bi.Ref, bi.ManifestDigest, bi.ConfigDigest, md, cd)
		}
		if len(bi.Layers) != 2 || bi.Layers[0].DiffID == "" || bi.Layers[0].Size == 0 {
			t.Errorf("%s: layers %+v", bi.Ref, bi.Layers)
		}
		if bi.Platform != "linux/amd64" || bi.Source != "registry" || bi.Archive != "images/images.tar" {
			t.Errorf("%s: %+v", bi.Ref, bi)
		}
	}
}

// WithoutLayers leaves out the blobs of the layers named, and only those: the images still
// list every layer, and manifests and configs are all stored.
func TestArchiveWithoutLayers(t *testing.T) {
	f := newRegistry(t)
	images := resolveAll(t, f, f.host+"/shop/web:1.0", f.host+"/shop/api:1.0")
	full, err := NewArchive("images/images.tar", images)
	if err != nil {
		t.Fatal(err)
	}
	base := full.Images()[0].Layers[0].Digest // the layer both images share
	p := writeArchive(t, images, 2, WithoutLayers(func(d string) bool { return d == base }))
	b, _ := os.ReadFile(p)
	stored := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		stored[strings.TrimPrefix(h.Name, "blobs/sha256/")] = true
	}
	for _, bi := range full.Images() {
		for _, d := range []string{bi.ManifestDigest, bi.ConfigDigest, bi.Layers[0].Digest, bi.Layers[1].Digest} {
			if want := d != base; stored[strings.TrimPrefix(d, "sha256:")] != want {
				t.Errorf("%s: blob %s stored %v, want %v", bi.Ref, d, !want, want)
			}
		}
	}
	var m []dockerManifestEntry
	dir := t.TempDir()
	untar(t, b, dir)
	mb, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := json.Unmarshal(mb, &m); err != nil || len(m) != 2 || len(m[0].Layers) != 2 {
		t.Fatalf("manifest.json %s: %v", mb, err)
	}
}

// corruptLayer serves other bytes than its digest promises.
type corruptImage struct{ v1.Image }
type corruptLayer struct{ v1.Layer }

func (c corruptImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := c.Image.LayerByDigest(h)
	return corruptLayer{l}, err
}
func (c corruptLayer) Compressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(rc)
	b[len(b)/2] ^= 0xff
	return io.NopCloser(bytes.NewReader(b)), nil
}

func TestArchiveRefusesCorruptLayer(t *testing.T) {
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewArchive("images/images.tar", []Image{{Ref: "x:1", Image: corruptImage{img}, Platform: amd64}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.Create(filepath.Join(t.TempDir(), "a.tar"))
	defer out.Close()
	_, err = a.WriteAt(context.Background(), out, 0)
	if err == nil || !strings.Contains(err.Error(), "image x:1: layer sha256:") || !strings.Contains(err.Error(), "content has digest") {
		t.Fatalf("corrupt layer not refused clearly: %v", err)
	}
}

func TestLayoutSource(t *testing.T) {
	img := testImage(t, empty.Image, amd64)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{AnnotationRefName: "demo/web:1.0"})); err != nil {
		t.Fatal(err)
	}
	src := NewLayout(dir)
	ref, _ := name.ParseReference("demo/web:1.0")
	found, err := src.Find(context.Background(), ref, amd64)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := found.Image(context.Background(), "")
	sameImage(t, "demo/web:1.0", got, img)
	other, _ := name.ParseReference("demo/web:2.0")
	if _, err := src.Find(context.Background(), other, amd64); err == nil || !strings.Contains(err.Error(), "not in OCI layout") {
		t.Fatalf("missing image: %v", err)
	}
	if _, err := src.Find(context.Background(), ref, v1.Platform{OS: "linux", Architecture: "arm64"}); err == nil {
		t.Fatal("wrong platform accepted")
	}
}
