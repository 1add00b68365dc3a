package main

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/gzip"
)

// small is an app small enough for a unit test, with every flavor of own layer.
var small = options{images: 4, baseMiB: 12, ownMiB: 3, seed: 7}

func TestSameSeedSameBytes(t *testing.T) {
	a, err := build(small)
	if err != nil {
		t.Fatal(err)
	}
	b, err := build(small)
	if err != nil {
		t.Fatal(err)
	}
	other := small
	other.seed++
	c, err := build(other)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.layers) != 1+2*small.images {
		t.Fatalf("%d layers, want %d", len(a.layers), 1+2*small.images)
	}
	for i := range a.layers {
		if !bytes.Equal(a.layers[i].gz.Bytes(), b.layers[i].gz.Bytes()) {
			t.Errorf("layer %s: two builds with seed %d differ", a.layers[i].name, small.seed)
		}
		if a.layers[i].diffID == c.layers[i].diffID {
			t.Errorf("layer %s: seeds %d and %d give the same layer", a.layers[i].name, small.seed, other.seed)
		}
	}
}

// TestLayersAreSound reads every layer back: a valid tar in walk order (each member after its
// directory, no name twice, hard links to earlier files), fixed headers, the sizes the planner
// chose, and a gzip ratio like a real image's.
func TestLayersAreSound(t *testing.T) {
	a, err := build(small)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range a.layers {
		zr, err := gzip.NewReader(bytes.NewReader(l.gz.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		seen := map[string]byte{}
		var files int
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l.name, err)
			}
			name := path.Clean(h.Name)
			if _, dup := seen[name]; dup {
				t.Errorf("layer %s: %s twice", l.name, name)
			}
			if dir := path.Dir(name); dir != "." && seen[dir] != tar.TypeDir {
				t.Errorf("layer %s: %s comes before its directory %s", l.name, name, dir)
			}
			if h.Typeflag == tar.TypeLink && seen[h.Linkname] != tar.TypeReg {
				t.Errorf("layer %s: hard link %s to %s, not an earlier file", l.name, name, h.Linkname)
			}
			if !h.ModTime.Equal(created) || h.Uid != 0 || h.Gid != 0 {
				t.Errorf("layer %s: %s: mtime %v, owner %d:%d", l.name, name, h.ModTime, h.Uid, h.Gid)
			}
			seen[name] = h.Typeflag
			if h.Typeflag == tar.TypeReg {
				files++
				n, err := io.Copy(io.Discard, tr)
				if err != nil || n != h.Size {
					t.Fatalf("layer %s: %s: read %d of %d bytes: %v", l.name, name, n, h.Size, err)
				}
			}
		}
		if files != l.files || files == 0 {
			t.Errorf("layer %s: %d files read, %d written", l.name, files, l.files)
		}
		if r := float64(l.gz.Len()) / float64(l.rawSize); r < 0.25 || r > 0.6 {
			t.Errorf("layer %s: gzip ratio %.3f, want a real image's (0.25-0.6)", l.name, r)
		}
	}
	base := a.layers[0]
	if base.symlinks == 0 || base.dirs < 100 || base.small == 0 {
		t.Errorf("base layer: %d symlinks, %d dirs, %d files under 1 KiB: want some of each", base.symlinks, base.dirs, base.small)
	}
}

// member is what a tar header says of a member but its content.
type member struct {
	name, link string
	typ        byte
	mode, size int64
}

// members lists a layer's members in order.
func members(t *testing.T, l *memLayer) []member {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(l.gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hs []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatalf("layer %s: %v", l.name, err)
		}
		hs = append(hs, member{name: h.Name, link: h.Linkname, typ: h.Typeflag, mode: h.Mode, size: h.Size})
	}
}

// TestBump: version 1.1 (-bump api) changes api's application code layer only: every other
// layer is byte-identical to 1.0's; the changed one has the same tree (paths, modes, sizes)
// with other content, a similar gzip size, and the same bytes on every build.
func TestBump(t *testing.T) {
	v10, err := build(small)
	if err != nil {
		t.Fatal(err)
	}
	bumped := small
	bumped.bump = "api"
	v11, err := build(bumped)
	if err != nil {
		t.Fatal(err)
	}
	again, err := build(bumped)
	if err != nil {
		t.Fatal(err)
	}
	if v11.bumped == nil || v11.bumped != v11.own[1][1] {
		t.Fatalf("bumped layer %v, want api's top layer", v11.bumped)
	}
	if want := []string{"1.0", bumpTag, "1.0", "1.0"}; !slices.Equal(v11.tags, want) {
		t.Errorf("tags %v, want %v", v11.tags, want)
	}
	for i, old := range v10.layers {
		l := v11.layers[i]
		if !bytes.Equal(l.gz.Bytes(), again.layers[i].gz.Bytes()) {
			t.Errorf("layer %s: two builds with -bump api differ", l.name)
		}
		if l != v11.bumped {
			if !bytes.Equal(l.gz.Bytes(), old.gz.Bytes()) {
				t.Errorf("layer %s: differs from 1.0's", l.name)
			}
			continue
		}
		if l.name != "api-app@"+bumpTag {
			t.Errorf("bumped layer named %s", l.name)
		}
		if l.digest == old.digest || l.diffID == old.diffID {
			t.Errorf("layer %s: same digest as 1.0's %s", l.name, old.name)
		}
		if l.rawSize != old.rawSize || l.files != old.files {
			t.Errorf("layer %s: %d bytes, %d files; 1.0's: %d bytes, %d files", l.name, l.rawSize, l.files, old.rawSize, old.files)
		}
		if !slices.Equal(members(t, l), members(t, old)) {
			t.Errorf("layer %s: another tree than 1.0's", l.name)
		}
		if r := float64(l.gz.Len()) / float64(old.gz.Len()); r < 0.9 || r > 1.1 {
			t.Errorf("layer %s: %d bytes gzip, 1.0's %d (ratio %.3f): want similar", l.name, l.gz.Len(), old.gz.Len(), r)
		}
	}

	bumped.bump = "nosuch"
	if _, err := build(bumped); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("-bump nosuch: %v, want an error naming it", err)
	}
}

// TestPushBump pushes 1.0, then 1.1 (-bump web), to an in-memory registry: 1.1's compose file
// runs web:1.1 and the others' 1.0, and web:1.1 has 1.0's layers but its top one.
func TestPushBump(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	v10, err := build(small)
	if err != nil {
		t.Fatal(err)
	}
	refs10, err := v10.push(host, filepath.Join(dir, "1.0"))
	if err != nil {
		t.Fatal(err)
	}
	o := small
	o.bump = "web"
	v11, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	refs11, err := v11.push(host, filepath.Join(dir, "1.1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/bench/web:1.1"; refs11[0] != want || !slices.Equal(refs11[1:], refs10[1:]) {
		t.Errorf("1.1 refs %v, want %s then 1.0's %v", refs11, want, refs10[1:])
	}
	compose, err := os.ReadFile(filepath.Join(dir, "1.1", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs11 {
		if !strings.Contains(string(compose), "image: "+r+"\n") {
			t.Errorf("1.1 compose.yaml does not run %s:\n%s", r, compose)
		}
	}
	layersOf := func(ref string) []v1.Hash {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(r)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		var ds []v1.Hash
		for _, l := range m.Layers {
			ds = append(ds, l.Digest)
		}
		return ds
	}
	old, cur := layersOf(refs10[0]), layersOf(refs11[0])
	if len(old) != 3 || len(cur) != 3 || !slices.Equal(old[:2], cur[:2]) || old[2] == cur[2] || cur[2] != v11.bumped.digest {
		t.Errorf("web:1.0 layers %v, web:1.1 layers %v: want the same but the top one, %s", old, cur, v11.bumped.digest)
	}
}
