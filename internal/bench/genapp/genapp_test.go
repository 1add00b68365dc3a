package main

import (
	"archive/tar"
	"bytes"
	"io"
	"path"
	"testing"

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
