package ram

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

const samplePath = "testdata/example-metadata.json"

// The sample's images.
const (
	webImage = "goodrain.me/app-delivery/6f0c2a1e9b8d4c7fa1b2c3d4e5f60718:20250101120000"
	dbImage  = "goodrain.me/app-delivery/0a1b2c3d4e5f60718293a4b5c6d7e8f9:20250101115500"
)

func sampleBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleDoc is the sample as generic JSON, to mutate.
func sampleDoc(t testing.TB) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(sampleBytes(t), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// set sets the value at a dotted path (list indexes as numbers: apps.1.port_map_list.0.name)
// in a generic JSON document; a missing last key is added.
func set(t testing.TB, doc any, path string, v any) {
	t.Helper()
	keys := strings.Split(path, ".")
	cur := doc
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[k] = v
				return
			}
			cur = c[k]
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n >= len(c) {
				t.Fatalf("set %s: bad index %s", path, k)
			}
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			t.Fatalf("set %s: %s is not a container", path, strings.Join(keys[:i], "."))
		}
	}
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// imagesTar is a docker-save archive (the layout go-containerregistry's tarball writes)
// holding a small random image under each ref; seed makes it reproducible.
func imagesTar(t testing.TB, seed int64, refs ...string) []byte {
	t.Helper()
	// Written here rather than by tarball.MultiRefWrite, whose manifest.json follows a map's
	// order: the same arguments must give the same bytes (the fuzz seed corpus holds them).
	var (
		buf      bytes.Buffer
		manifest tarball.Manifest
		written  = map[string]bool{}
	)
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if written[name] {
			return
		}
		written[name] = true
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range refs {
		tag, err := name.NewTag(r, name.WeakValidation)
		if err != nil {
			t.Fatal(err)
		}
		img, err := random.Image(64, 1, random.WithSource(rand.NewSource(seed+int64(i))))
		if err != nil {
			t.Fatal(err)
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		add(cfgName.String(), cfg)
		d := tarball.Descriptor{Config: cfgName.String(), RepoTags: []string{tag.String()}}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			dg, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			file := dg.Hex + ".tar.gz"
			add(file, b)
			d.Layers = append(d.Layers, file)
		}
		manifest = append(manifest, d)
	}
	m, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	add("manifest.json", m)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// entry is one member of a test archive.
type entry struct {
	name string
	typ  byte // tar type; 0: regular file
	body []byte
	link string
}

func dir(name string) entry            { return entry{name: name, typ: tar.TypeDir} }
func file(name string, b []byte) entry { return entry{name: name, body: b} }
func symlink(name, to string) entry    { return entry{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) entry   { return entry{name: name, typ: tar.TypeLink, link: to} }

func rawTar(t testing.TB, es ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipTar(t testing.TB, es ...entry) []byte { return gz(t, rawTar(t, es...)) }

func zipOf(t testing.TB, es ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		body := e.body
		switch e.typ {
		case tar.TypeDir:
			h.Name = strings.TrimSuffix(e.name, "/") + "/"
			h.SetMode(fs.ModeDir | 0o755)
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
			body = []byte(e.link)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeTemp writes b to a file named base in a new directory.
func writeTemp(t testing.TB, base string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), base)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// listTree lists every path under root, relative, sorted.
func listTree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// currentPackage is a valid current-layout package of the sample.
func currentPackage(t testing.TB, top string) []byte {
	t.Helper()
	return gzipTar(t,
		dir(top+"/"),
		file(top+"/metadata.json", sampleBytes(t)),
		file(top+"/component-images.tar", imagesTar(t, 1, webImage, dbImage)),
	)
}

// legacyZip is a valid Rainbond 5.2 package of the sample: images under short names.
func legacyZip(t testing.TB) []byte {
	t.Helper()
	top := "app-delivery-1.0"
	return zipOf(t,
		dir(top+"/"),
		file(top+"/metadata.json", sampleBytes(t)),
		dir(top+"/web/"),
		file(top+"/web/"+legacyFileName(webImage), imagesTar(t, 1, LegacySaveName(webImage))),
		dir(top+"/db/"),
		file(top+"/db/"+legacyFileName(dbImage), imagesTar(t, 2, LegacySaveName(dbImage))),
	)
}
