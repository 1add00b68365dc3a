package imageset

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// taggedImage is an image and the tag an archive holds it under.
type taggedImage struct {
	tag string
	img v1.Image
}

// sharedBaseImages are amd64 images on one shared base layer.
func sharedBaseImages(t *testing.T, n int) []v1.Image {
	t.Helper()
	baseLayer, err := random.Layer(4096, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.AppendLayers(empty.Image, baseLayer)
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Image
	for range n {
		out = append(out, testImage(t, base, amd64))
	}
	return out
}

// tarEntrySpec is an entry of a test tar: a file, a symlink, or a file of size zero bytes.
type tarEntrySpec struct {
	name  string
	body  []byte
	link  string // symlink target
	zeros int64  // body of that many zero bytes, streamed
}

func writeTarFile(t *testing.T, p string, entries []tarEntrySpec) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case e.zeros > 0:
			h.Size = e.zeros
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.zeros > 0 {
			if _, err := io.CopyN(tw, zeroReader{}, e.zeros); err != nil {
				t.Fatal(err)
			}
		} else if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// legacyDockerSave writes what `docker save` of Docker 20.10 writes: uncompressed layers as
// <id>/layer.tar, a layer already saved for another image linked to its first copy, the config
// as <hex>.json, and manifest.json.
func legacyDockerSave(t *testing.T, p string, images []taggedImage) {
	t.Helper()
	var entries []tarEntrySpec
	var manifest []dockerManifestEntry
	saved := map[v1.Hash]string{}
	for i, ti := range images {
		cfg, err := ti.img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		layers, err := ti.img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		e := dockerManifestEntry{Config: sha256Hex(cfg) + ".json", RepoTags: []string{ti.tag}}
		for j, l := range layers {
			d, _ := l.DiffID()
			id := sha256Hex(fmt.Appendf(nil, "%d/%d/%s", i, j, d))
			file := id + "/layer.tar"
			if first, ok := saved[d]; ok {
				entries = append(entries, tarEntrySpec{name: file, link: "../" + first})
			} else {
				rc, err := l.Uncompressed()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				entries = append(entries,
					tarEntrySpec{name: id + "/VERSION", body: []byte("1.0")},
					tarEntrySpec{name: file, body: b})
				saved[d] = file
			}
			e.Layers = append(e.Layers, file)
		}
		entries = append(entries, tarEntrySpec{name: e.Config, body: cfg})
		manifest = append(manifest, e)
	}
	m, _ := json.Marshal(manifest)
	entries = append(entries, tarEntrySpec{name: "manifest.json", body: m})
	writeTarFile(t, p, entries)
}

// ggcrSave writes a multi-image `docker save` archive with go-containerregistry (gzip layers).
func ggcrSave(t *testing.T, p string, images []taggedImage) {
	t.Helper()
	m := map[name.Reference]v1.Image{}
	for _, ti := range images {
		r, err := name.ParseReference(ti.tag)
		if err != nil {
			t.Fatal(err)
		}
		m[r] = ti.img
	}
	if err := tarball.MultiRefWriteToFile(p, m); err != nil {
		t.Fatal(err)
	}
}

func find(t *testing.T, src Source, ref string, p v1.Platform) (Found, error) {
	t.Helper()
	r, err := ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	return src.Find(context.Background(), r, p)
}

func mustImage(t *testing.T, src Source, ref, dir string) v1.Image {
	t.Helper()
	f, err := find(t, src, ref, amd64)
	if err != nil {
		t.Fatalf("find %s: %v", ref, err)
	}
	img, err := f.Image(context.Background(), dir)
	if err != nil {
		t.Fatalf("image %s: %v", ref, err)
	}
	return img
}

// sameDiffIDs checks that got's layers are want's, however compressed, and that got's config is
// want's, byte for byte (the classic image ID).
func sameDiffIDs(t *testing.T, ref string, got, want v1.Image) {
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
		gd, _ := gl[i].DiffID()
		wd, _ := wl[i].DiffID()
		if gd != wd {
			t.Errorf("%s layer %d: diff ID %s, want %s", ref, i, gd, wd)
		}
		// The layer really is what its diff ID says.
		rc, err := gl[i].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatalf("%s layer %d: %v", ref, i, err)
		}
		rc.Close()
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != wd.String() {
			t.Errorf("%s layer %d: content %s, want %s", ref, i, got, wd)
		}
	}
}

func TestTarfileDockerSaveArchives(t *testing.T) {
	imgs := sharedBaseImages(t, 3)
	tagged := []taggedImage{
		{"goodrain.me/ns/web:1.0", imgs[0]},
		{"abc:v1", imgs[1]}, // a Rainbond 5.2 short save name
		{"nginx:1.25", imgs[2]},
	}
	refs := map[string]string{ // compose reference -> tag in the archive
		"goodrain.me/ns/web:1.0":       "goodrain.me/ns/web:1.0",
		"goodrain.me/ns/abc:v1":        "abc:v1",
		"docker.io/library/nginx:1.25": "nginx:1.25",
	}
	want := map[string]v1.Image{
		"goodrain.me/ns/web:1.0":       imgs[0],
		"goodrain.me/ns/abc:v1":        imgs[1],
		"docker.io/library/nginx:1.25": imgs[2],
	}
	for _, tc := range []struct {
		name string
		save func(*testing.T, string, []taggedImage)
		// sameLayers: the archive's layers are the source's compressed blobs, served as stored.
		sameLayers bool
	}{
		{"go-containerregistry gzip layers", ggcrSave, true},
		{"docker 20.10 uncompressed layers", legacyDockerSave, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "component-images.tar")
			tc.save(t, p, tagged)
			m := map[string]TarImage{}
			for r, tag := range refs {
				m[r] = TarImage{Path: p, Tag: tag}
			}
			src := NewTarfile(m)
			dir := t.TempDir()
			for r, w := range want {
				got := mustImage(t, src, r, dir)
				sameDiffIDs(t, r, got, w)
				if tc.sameLayers {
					sameImage(t, r, got, w)
				}
				mf, err := got.Manifest()
				if err != nil {
					t.Fatal(err)
				}
				if mf.MediaType != types.DockerManifestSchema2 {
					t.Errorf("%s: manifest %s", r, mf.MediaType)
				}
				for _, l := range mf.Layers {
					if l.MediaType != types.DockerLayer {
						t.Errorf("%s: layer %s is %s, want gzip", r, l.Digest, l.MediaType)
					}
				}
			}
			// nginx:1.25 in the compose file finds docker.io/library/nginx:1.25.
			short := NewTarfile(map[string]TarImage{"nginx:1.25": {Path: p, Tag: "docker.io/library/nginx:1.25"}})
			sameDiffIDs(t, "nginx:1.25", mustImage(t, short, "docker.io/library/nginx:1.25", dir), imgs[2])
		})
	}
}

func TestTarfileStagingIsDeterministic(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	p := filepath.Join(t.TempDir(), "images.tar")
	legacyDockerSave(t, p, []taggedImage{{"a:1", imgs[0]}, {"b:1", imgs[1]}})
	refs := map[string]TarImage{"x/a:1": {Path: p, Tag: "a:1"}, "x/b:1": {Path: p, Tag: "b:1"}}
	digest := func(src Source, ref string) v1.Hash {
		dir := t.TempDir()
		img := mustImage(t, src, ref, dir)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		staged, _ := os.ReadDir(dir)
		if len(staged) != 2 {
			t.Errorf("%s: %d staged files, want its 2 layers", ref, len(staged))
		}
		return d
	}
	for _, ref := range []string{"x/a:1", "x/b:1"} {
		if d1, d2 := digest(NewTarfile(refs), ref), digest(NewTarfile(refs), ref); d1 != d2 {
			t.Errorf("%s: two stagings give manifests %s and %s", ref, d1, d2)
		}
	}
	// One source stages a layer shared by two images once per directory.
	src := NewTarfile(refs)
	dir := t.TempDir()
	a := mustImage(t, src, "x/a:1", dir)
	b := mustImage(t, src, "x/b:1", dir)
	if staged, _ := os.ReadDir(dir); len(staged) != 3 {
		t.Errorf("%d staged files for 3 distinct layers", len(staged))
	}
	la, _ := a.Layers()
	lb, _ := b.Layers()
	da, _ := la[0].Digest()
	db, _ := lb[0].Digest()
	if da != db {
		t.Errorf("the shared base layer staged as %s and %s", da, db)
	}
}

func TestTarfileAirpackArchiveKeepsManifests(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	// Annotations only an OCI manifest carries: a manifest rebuilt from manifest.json would
	// have another digest.
	annotated, ok := mutate.Annotations(imgs[1], map[string]string{"org.example": "kept"}).(v1.Image)
	if !ok {
		t.Fatal("mutate.Annotations")
	}
	cases := []struct {
		ref, tag string // compose reference, tag in the archive
		img      v1.Image
	}{
		{"example.com/shop/web:1.0", "example.com/shop/web:1.0", imgs[0]},
		{"docker.io/library/nginx:1.25", "nginx:1.25", annotated},
	}
	var images []Image
	refs := map[string]TarImage{}
	for _, c := range cases {
		images = append(images, Image{Ref: c.tag, Source: "registry", Platform: amd64, Image: c.img})
	}
	p := writeArchive(t, images, 2)
	for _, c := range cases {
		refs[c.ref] = TarImage{Path: p, Tag: c.tag}
	}
	src := NewTarfile(refs)
	for _, c := range cases {
		got := mustImage(t, src, c.ref, t.TempDir())
		sameImage(t, c.ref, got, c.img)
		gd, _ := got.Digest()
		wd, _ := c.img.Digest()
		if gd != wd {
			t.Errorf("%s: manifest %s, want the source's %s", c.ref, gd, wd)
		}
		gm, _ := got.MediaType()
		wm, _ := c.img.MediaType()
		if gm != wm {
			t.Errorf("%s: media type %s, want %s", c.ref, gm, wm)
		}
	}
}

func TestTarfileRoundTrip(t *testing.T) {
	imgs := sharedBaseImages(t, 3)
	dir := t.TempDir()
	legacy := filepath.Join(dir, "web.image.tar")
	legacyDockerSave(t, legacy, []taggedImage{{"web:v1", imgs[0]}})
	ggcr := filepath.Join(dir, "component-images.tar")
	ggcrSave(t, ggcr, []taggedImage{{"goodrain.me/ns/api:v1", imgs[1]}})
	dual := writeArchive(t, []Image{{Ref: "goodrain.me/ns/worker:v1", Platform: amd64, Image: imgs[2]}}, 1)
	src := NewTarfile(map[string]TarImage{
		"goodrain.me/ns/web:v1":    {Path: legacy, Tag: "web:v1"},
		"goodrain.me/ns/api:v1":    {Path: ggcr, Tag: "goodrain.me/ns/api:v1"},
		"goodrain.me/ns/worker:v1": {Path: dual, Tag: "goodrain.me/ns/worker:v1"},
	})
	want := map[string]v1.Image{"goodrain.me/ns/web:v1": imgs[0], "goodrain.me/ns/api:v1": imgs[1], "goodrain.me/ns/worker:v1": imgs[2]}
	var reqs []Request
	for _, r := range []string{"goodrain.me/ns/web:v1", "goodrain.me/ns/api:v1", "goodrain.me/ns/worker:v1"} {
		reqs = append(reqs, Request{Ref: r, Services: []string{path(r)}, Platform: amd64})
	}
	res, err := Resolve(context.Background(), reqs, []Source{src})
	if err != nil {
		t.Fatal(err)
	}
	var images []Image
	for _, r := range res {
		if r.Source != "package" {
			t.Errorf("%s: source %q", r.Ref, r.Source)
		}
		img, err := r.Image(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, Image{Ref: r.Shipped, Services: r.Services, Source: r.Source, Platform: r.Platform, Image: img})
	}
	out := writeArchive(t, images, 2)
	a, _ := NewArchive("images/images.tar", images)
	for i, bi := range a.Images() {
		if bi.ConfigDigest != mustConfigName(t, want[images[i].Ref]).String() {
			t.Errorf("%s: airpack.json config %s", bi.Ref, bi.ConfigDigest)
		}
	}
	for _, r := range []string{"goodrain.me/ns/web:v1", "goodrain.me/ns/api:v1", "goodrain.me/ns/worker:v1"} {
		tag, _ := name.NewTag(r)
		got, err := tarball.ImageFromPath(out, &tag)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		sameDiffIDs(t, r, got, want[r])
	}
}

func mustConfigName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ociArchive tars an OCI layout holding a two-platform index named example.com/multi:1.0,
// without the arm64 manifest if dropARM.
func ociArchive(t *testing.T, dropARM bool) (p string, x86, arm v1.Image) {
	t.Helper()
	armP := v1.Platform{OS: "linux", Architecture: "arm64"}
	x86 = testImage(t, empty.Image, amd64)
	arm = testImage(t, empty.Image, armP)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: x86, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &armP}},
	)
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{AnnotationImageName: "example.com/multi:1.0", AnnotationRefName: "1.0"})); err != nil {
		t.Fatal(err)
	}
	var entries []tarEntrySpec
	err = filepath.WalkDir(dir, func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, f)
		if armDigest, _ := arm.Digest(); dropARM && filepath.Base(f) == armDigest.Hex {
			return nil
		}
		b, err := os.ReadFile(f)
		entries = append(entries, tarEntrySpec{name: "./" + filepath.ToSlash(rel), body: b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(t.TempDir(), "oci.tar")
	writeTarFile(t, p, entries)
	return p, x86, arm
}

func TestTarfileOCIIndex(t *testing.T) {
	p, x86, arm := ociArchive(t, false)
	src := NewTarfile(map[string]TarImage{"example.com/multi:1.0": {Path: p, Tag: "example.com/multi:1.0"}})
	for _, tc := range []struct {
		p    v1.Platform
		want v1.Image
	}{
		{amd64, x86},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, arm},
	} {
		f, err := find(t, src, "example.com/multi:1.0", tc.p)
		if err != nil {
			t.Fatalf("%s: %v", tc.p, err)
		}
		got, _ := f.Image(context.Background(), "")
		gd, _ := got.Digest()
		wd, _ := tc.want.Digest()
		if gd != wd {
			t.Errorf("%s: manifest %s, want %s", tc.p, gd, wd)
		}
		sameImage(t, tc.p.String(), got, tc.want)
	}
	_, err := find(t, src, "example.com/multi:1.0", v1.Platform{OS: "linux", Architecture: "s390x"})
	var pe *PlatformError
	if !errors.As(err, &pe) || strings.Join(pe.Have, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("wrong platform: %v", err)
	}

	// An archive holding the manifest of one platform only offers that one.
	p, _, _ = ociArchive(t, true)
	src = NewTarfile(map[string]TarImage{"example.com/multi:1.0": {Path: p, Tag: "example.com/multi:1.0"}})
	_, err = find(t, src, "example.com/multi:1.0", v1.Platform{OS: "linux", Architecture: "arm64"})
	if !errors.As(err, &pe) || strings.Join(pe.Have, " ") != "linux/amd64" {
		t.Errorf("absent platform: %v", err)
	}
}

// rewriteTar copies the tar at src to a new file, replacing the bodies of the entries named in
// replace.
func rewriteTar(t *testing.T, src string, replace map[string][]byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var entries []tarEntrySpec
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		body, _ := io.ReadAll(tr)
		if r, ok := replace[h.Name]; ok {
			body = r
		}
		entries = append(entries, tarEntrySpec{name: h.Name, body: body})
	}
	p := filepath.Join(t.TempDir(), filepath.Base(src))
	writeTarFile(t, p, entries)
	return p
}

func TestTarfileBareRefName(t *testing.T) {
	img, ok := mutate.Annotations(testImage(t, empty.Image, amd64), map[string]string{"org.example": "oci"}).(v1.Image)
	if !ok {
		t.Fatal("mutate.Annotations")
	}
	p := writeArchive(t, []Image{{Ref: "example.com/app:1.0", Platform: amd64, Image: img}}, 1)
	md, _ := img.Digest()
	bareIndex := func(ref string) []byte {
		im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
			MediaType: types.DockerManifestSchema2, Digest: md, Size: mustSize(t, img),
			Annotations: map[string]string{AnnotationRefName: ref},
		}}}
		b, _ := json.Marshal(im)
		return b
	}
	dockerTags := func(tag string) []byte {
		cn := mustConfigName(t, img)
		m, _ := img.Manifest()
		e := dockerManifestEntry{Config: blobPath(cn), RepoTags: []string{tag}}
		for _, l := range m.Layers {
			e.Layers = append(e.Layers, blobPath(l.Digest))
		}
		b, _ := json.Marshal([]dockerManifestEntry{e})
		return b
	}
	for _, tc := range []struct {
		name         string
		index, tags  []byte
		wantManifest bool // found with the source manifest (OCI path)
		wantNotFound bool
	}{
		{"manifest.json confirms the bare tag", bareIndex("1.0"), dockerTags("example.com/app:1.0"), true, false},
		{"manifest.json names another image", bareIndex("1.0"), dockerTags("example.com/other:1.0"), false, true},
		{"full ref.name", bareIndex("example.com/app:1.0"), dockerTags("example.com/other:1.0"), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := rewriteTar(t, p, map[string][]byte{"index.json": tc.index, "manifest.json": tc.tags})
			src := NewTarfile(map[string]TarImage{"example.com/app:1.0": {Path: q}})
			f, err := find(t, src, "example.com/app:1.0", amd64)
			if tc.wantNotFound {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("found: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := f.Image(context.Background(), t.TempDir())
			gd, _ := got.Digest()
			if (gd == md) != tc.wantManifest {
				t.Errorf("manifest %s, source %s", gd, md)
			}
			sameImage(t, tc.name, got, img)
		})
	}
}

func mustSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(raw))
}

func TestTarfileErrors(t *testing.T) {
	imgs := sharedBaseImages(t, 7)
	dir := t.TempDir()
	p := filepath.Join(dir, "component-images.tar")
	var tagged []taggedImage
	for i, img := range imgs {
		tagged = append(tagged, taggedImage{fmt.Sprintf("goodrain.me/ns/c%d:1", i), img})
	}
	legacyDockerSave(t, p, tagged)
	b, _ := os.ReadFile(p)
	truncated := filepath.Join(dir, "truncated.tar")
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	notImages := filepath.Join(dir, "files.tar")
	writeTarFile(t, notImages, []tarEntrySpec{{name: "README", body: []byte("hi")}})
	corrupt := filepath.Join(dir, "corrupt.tar")
	a, err := indexArchive(p, openArchiveFile)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := a.lookup(a.docker[0].Layers[0])
	b[e.off+e.size/2] ^= 0xff
	os.WriteFile(corrupt, b, 0o644)

	src := NewTarfile(map[string]TarImage{
		"goodrain.me/ns/c0:1":      {Path: p},
		"goodrain.me/ns/missing:1": {Path: p, Tag: "missing:1"},
		"goodrain.me/ns/gone:1":    {Path: filepath.Join(dir, "gone.image.tar"), Tag: "gone:1"},
		"goodrain.me/ns/trunc:1":   {Path: truncated, Tag: "goodrain.me/ns/c0:1"},
		"goodrain.me/ns/files:1":   {Path: notImages, Tag: "files:1"},
	})
	for _, tc := range []struct {
		ref      string
		p        v1.Platform
		notFound bool
		want     string
	}{
		{"goodrain.me/ns/missing:1", amd64, true, "no image tagged missing:1 in component-images.tar (it has: goodrain.me/ns/c0:1, goodrain.me/ns/c1:1, goodrain.me/ns/c2:1, goodrain.me/ns/c3:1, goodrain.me/ns/c4:1 and 2 more)"},
		{"goodrain.me/ns/other:1", amd64, true, "not among the package's images"},
		{"goodrain.me/ns/gone:1", amd64, true, "image archive " + filepath.Join(dir, "gone.image.tar") + " does not exist"},
		{"goodrain.me/ns/trunc:1", amd64, false, "read image archive " + truncated + ": unexpected EOF"},
		{"goodrain.me/ns/files:1", amd64, false, "neither manifest.json (docker save) nor index.json (OCI layout)"},
		{"goodrain.me/ns/c0:1", v1.Platform{OS: "linux", Architecture: "arm64"}, false, "no manifest for platform linux/arm64 (image has [linux/amd64])"},
	} {
		_, err := find(t, src, tc.ref, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrNotFound) != tc.notFound {
			t.Errorf("%s: error %v; want %q (not found: %v)", tc.ref, err, tc.want, tc.notFound)
		}
	}
	var pe *PlatformError
	if _, err := find(t, src, "goodrain.me/ns/c0:1", v1.Platform{OS: "linux", Architecture: "arm64"}); !errors.As(err, &pe) {
		t.Errorf("wrong platform: %T %v", err, err)
	}

	// A layer whose content is not its diff ID is refused while staging.
	bad := NewTarfile(map[string]TarImage{"goodrain.me/ns/c0:1": {Path: corrupt}})
	f, err := find(t, bad, "goodrain.me/ns/c0:1", amd64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Image(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "the archive is corrupt") {
		t.Errorf("corrupt layer: %v", err)
	}
}

func TestArchiveTags(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	dual := writeArchive(t, []Image{
		{Ref: "nginx:1.25", Platform: amd64, Image: imgs[0]},
		{Ref: "example.com/a/b:2", Platform: amd64, Image: imgs[1]},
	}, 1)
	oci, _, _ := ociArchive(t, false)
	for p, want := range map[string]string{
		dual: "nginx:1.25 example.com/a/b:2",
		oci:  "example.com/multi:1.0",
	} {
		got, err := ArchiveTags(p)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("ArchiveTags(%s) = %q, %v; want %q", filepath.Base(p), got, err, want)
		}
	}
	if _, err := ArchiveTags(filepath.Join(t.TempDir(), "none.tar")); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
}

// countingFile counts the bytes read from an archive.
type countingFile struct {
	*os.File
	n *atomic.Int64
}

func (c countingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func TestTarfileFindReadsNoLayer(t *testing.T) {
	const big = 32 << 20
	cfg, _ := json.Marshal(v1.ConfigFile{
		OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}},
	})
	m, _ := json.Marshal([]dockerManifestEntry{{Config: "config.json", RepoTags: []string{"big:1"}, Layers: []string{"l/layer.tar"}}})
	p := filepath.Join(t.TempDir(), "big.tar")
	writeTarFile(t, p, []tarEntrySpec{
		{name: "l/layer.tar", zeros: big},
		{name: "config.json", body: cfg},
		{name: "manifest.json", body: m},
	})
	const limit = 64 << 10

	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n atomic.Int64
	entries, err := indexTar(countingFile{f, &n})
	if err != nil {
		t.Fatal(err)
	}
	if e := entries["l/layer.tar"]; e.size != big {
		t.Fatalf("layer entry %+v", e)
	}
	if n.Load() > limit {
		t.Errorf("indexing read %d bytes", n.Load())
	}

	n.Store(0)
	src := NewTarfile(map[string]TarImage{"big:1": {Path: p}})
	src.open = func(p string) (archiveFile, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		return countingFile{f, &n}, nil
	}
	if _, err := find(t, src, "big:1", amd64); err != nil {
		t.Fatal(err)
	}
	if n.Load() > limit {
		t.Errorf("Find read %d bytes", n.Load())
	}
}

func TestTarfileConcurrentFind(t *testing.T) {
	imgs := sharedBaseImages(t, 8)
	p := filepath.Join(t.TempDir(), "component-images.tar")
	var tagged []taggedImage
	refs := map[string]TarImage{}
	var reqs []Request
	for i, img := range imgs {
		tag := fmt.Sprintf("c%d:1", i)
		tagged = append(tagged, taggedImage{tag, img})
		ref := "goodrain.me/ns/" + tag
		refs[ref] = TarImage{Path: p, Tag: tag}
		reqs = append(reqs, Request{Ref: ref, Services: []string{tag}, Platform: amd64})
	}
	ggcrSave(t, p, tagged)
	src := NewTarfile(refs)
	res, err := Resolve(context.Background(), reqs, []Source{src}, WithJobs(8))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		img, err := r.Image(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		sameImage(t, r.Ref, img, imgs[i])
	}
}

// docker25Save writes what `docker save` of Docker 25+ with the classic store writes: an OCI
// layout of uncompressed layers, with manifest.json pointing at the same blobs (unless
// withManifestJSON is false).
func docker25Save(t *testing.T, p, tag string, img v1.Image, withManifestJSON bool) (manifestDigest v1.Hash) {
	t.Helper()
	cfg, _ := img.RawConfigFile()
	cfgDigest := mustConfigName(t, img)
	entries := []tarEntrySpec{{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"1.0.0"}`)}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(cfg))}}
	de := dockerManifestEntry{Config: blobPath(cfgDigest), RepoTags: []string{tag}}
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, _ := l.Uncompressed()
		b, _ := io.ReadAll(rc)
		rc.Close()
		d, _ := l.DiffID()
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: d, Size: int64(len(b))})
		entries = append(entries, tarEntrySpec{name: blobPath(d), body: b})
		de.Layers = append(de.Layers, blobPath(d))
	}
	raw, _ := json.Marshal(m)
	manifestDigest = v1.Hash{Algorithm: "sha256", Hex: sha256Hex(raw)}
	full, _ := ContainerdName(tag)
	idx, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
		MediaType: types.OCIManifestSchema1, Digest: manifestDigest, Size: int64(len(raw)),
		Annotations: map[string]string{AnnotationImageName: full, AnnotationRefName: strings.SplitN(tag, ":", 2)[1]},
	}}})
	entries = append(entries,
		tarEntrySpec{name: blobPath(cfgDigest), body: cfg},
		tarEntrySpec{name: blobPath(manifestDigest), body: raw},
		tarEntrySpec{name: "index.json", body: idx})
	if withManifestJSON {
		mj, _ := json.Marshal([]dockerManifestEntry{de})
		entries = append(entries, tarEntrySpec{name: "manifest.json", body: mj})
	}
	writeTarFile(t, p, entries)
	return manifestDigest
}

func TestTarfileUncompressedOCILayers(t *testing.T) {
	img := testImage(t, sharedBaseImages(t, 1)[0], amd64)
	for _, tc := range []struct {
		name             string
		withManifestJSON bool
		wantLayerType    types.MediaType
	}{
		// manifest.json knows the image: its layers are gzipped, its config kept.
		{"with manifest.json", true, types.DockerLayer},
		// Only the OCI manifest: served as stored, its digest kept.
		{"OCI layout only", false, types.OCIUncompressedLayer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "app.tar")
			md := docker25Save(t, p, "app:1", img, tc.withManifestJSON)
			src := NewTarfile(map[string]TarImage{"example.com/app:1": {Path: p, Tag: "app:1"}})
			got := mustImage(t, src, "example.com/app:1", t.TempDir())
			sameDiffIDs(t, tc.name, got, img)
			m, _ := got.Manifest()
			for _, l := range m.Layers {
				if l.MediaType != tc.wantLayerType {
					t.Errorf("layer %s is %s, want %s", l.Digest, l.MediaType, tc.wantLayerType)
				}
			}
			if gd, _ := got.Digest(); (gd == md) == tc.withManifestJSON {
				t.Errorf("manifest %s, archive's %s", gd, md)
			}
		})
	}
}

func TestTarfileZstdLayer(t *testing.T) {
	img := testImage(t, empty.Image, amd64)
	cfg, _ := img.RawConfigFile()
	layers, _ := img.Layers()
	rc, _ := layers[0].Uncompressed()
	raw, _ := io.ReadAll(rc)
	rc.Close()
	var zbuf bytes.Buffer
	zw, err := zstd.NewWriter(&zbuf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(raw)
	zw.Close()
	m, _ := json.Marshal([]dockerManifestEntry{{Config: "c.json", RepoTags: []string{"z:1"}, Layers: []string{"l.tar.zst"}}})
	p := filepath.Join(t.TempDir(), "z.tar")
	writeTarFile(t, p, []tarEntrySpec{{name: "l.tar.zst", body: zbuf.Bytes()}, {name: "c.json", body: cfg}, {name: "manifest.json", body: m}})
	got := mustImage(t, NewTarfile(map[string]TarImage{"z:1": {Path: p}}), "z:1", t.TempDir())
	sameDiffIDs(t, "z:1", got, img)
	mf, _ := got.Manifest()
	if mf.MediaType != types.OCIManifestSchema1 || mf.Layers[0].MediaType != types.OCILayerZStd {
		t.Errorf("manifest %s with layer %s", mf.MediaType, mf.Layers[0].MediaType)
	}
	if mf.Layers[0].Digest.Hex != sha256Hex(zbuf.Bytes()) {
		t.Error("the zstd layer was not served as stored")
	}
	// And it goes into an archive.
	out := writeArchive(t, []Image{{Ref: "z:1", Platform: amd64, Image: got}}, 1)
	tag, _ := name.NewTag("z:1")
	back, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	sameDiffIDs(t, "z:1", back, img)
}
