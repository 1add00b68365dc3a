package bundle

// Fixtures for the verify, walk and inspect tests: real, small bundles in the format of
// docs/bundle-format.md, written as a directory or as a .tar, .tar.gz or .tar.zst archive.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// fxImage is an image to put in a fixture image archive.
type fxImage struct {
	ref      string
	services []string
	img      v1.Image
}

var fxModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// fxImageArchive writes images as airpack does: a deterministic dual-format archive (oci-layout,
// index.json, manifest.json, then every distinct blob sorted by digest). It returns the archive
// and the images as airpack.json records them.
func fxImageArchive(t *testing.T, archive string, images []fxImage) ([]byte, []Image) {
	t.Helper()
	type dockerEntry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
	}
	var descs []map[string]any
	var docker []dockerEntry
	var out []Image
	blobs := map[string][]byte{}
	for _, fi := range images {
		im := fi.img
		raw, err := im.RawManifest()
		fxCheck(t, err)
		mt, err := im.MediaType()
		fxCheck(t, err)
		rawConfig, err := im.RawConfigFile()
		fxCheck(t, err)
		digest, err := im.Digest()
		fxCheck(t, err)
		configDigest, err := im.ConfigName()
		fxCheck(t, err)
		cf, err := im.ConfigFile()
		fxCheck(t, err)
		blobs[digest.Hex] = raw
		blobs[configDigest.Hex] = rawConfig

		named, err := reference.ParseNormalizedNamed(fi.ref)
		fxCheck(t, err)
		descs = append(descs, map[string]any{
			"mediaType": mt,
			"digest":    digest.String(),
			"size":      len(raw),
			"annotations": map[string]string{
				"io.containerd.image.name":          named.String(),
				"org.opencontainers.image.ref.name": named.(reference.Tagged).Tag(),
			},
		})
		de := dockerEntry{Config: "blobs/sha256/" + configDigest.Hex, RepoTags: []string{fi.ref}}
		bi := Image{
			Ref:               fi.ref,
			Services:          fi.services,
			Source:            "registry",
			ManifestDigest:    digest.String(),
			ManifestMediaType: string(mt),
			ConfigDigest:      configDigest.String(),
			Platform:          cf.Platform().String(),
			Archive:           archive,
		}
		layers, err := im.Layers()
		fxCheck(t, err)
		for i, l := range layers {
			d, err := l.Digest()
			fxCheck(t, err)
			rc, err := l.Compressed()
			fxCheck(t, err)
			b, err := io.ReadAll(rc)
			fxCheck(t, err)
			mt, err := l.MediaType()
			fxCheck(t, err)
			blobs[d.Hex] = b
			de.Layers = append(de.Layers, "blobs/sha256/"+d.Hex)
			bi.Layers = append(bi.Layers, Layer{Digest: d.String(), DiffID: cf.RootFS.DiffIDs[i].String(), Size: int64(len(b)), MediaType: string(mt)})
		}
		docker = append(docker, de)
		out = append(out, bi)
	}
	index["manifests"] = descs
	indexJSON, err := json.Marshal(index)
	fxCheck(t, err)
	dockerJSON, err := json.Marshal(docker)
	fxCheck(t, err)

	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	file := func(name string, body []byte) {
		fxCheck(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: fxModTime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}))
		_, err := tw.Write(body)
		fxCheck(t, err)
	}
	dir := func(name string) {
		fxCheck(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, ModTime: fxModTime, Typeflag: tar.TypeDir, Format: tar.FormatUSTAR}))
	}
	file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	file("index.json", indexJSON)
	file("manifest.json", dockerJSON)
	dir("blobs/")
	dir("blobs/sha256/")
	for _, hx := range fxSortedKeys(blobs) {
		file("blobs/sha256/"+hx, blobs[hx])
	}
	fxCheck(t, tw.Close())
	return b.Bytes(), out
}

// fxRandomImage is a random image for linux/amd64 with the given layers on top of base (nil:
// none), reproducible from seed.
func fxRandomImage(t *testing.T, seed int64, base v1.Image, layers int) v1.Image {
	t.Helper()
	src := rand.NewSource(seed)
	img, err := random.Image(2048, int64(layers), random.WithSource(src))
	fxCheck(t, err)
	if base != nil {
		ls, err := img.Layers()
		fxCheck(t, err)
		img, err = mutate.AppendLayers(base, ls...)
		fxCheck(t, err)
	}
	cf, err := img.ConfigFile()
	fxCheck(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	fxCheck(t, err)
	return img
}

// fxBundle is a bundle in memory: its top directory name and its files.
type fxBundle struct {
	top      string
	files    map[string][]byte
	manifest *Manifest
	// shared are the layers nginx:1.25 and shop/web:1.0 have in common, as stored.
	shared [][]byte
}

const fxCompose = `services:
  proxy:
    image: nginx:1.25
    ports:
      - "${PROXY_PORT}:80"
    volumes:
      - ./files/nginx.conf:/etc/nginx/nginx.conf:ro
      # the target's own Docker socket: kept on purpose
      - /var/run/docker.sock:/var/run/docker.sock
  web:
    image: shop/web:1.0
    env_file: files/web.env
    volumes:
      - type: bind
        source: ./files/static
        target: /srv/static
    configs: [app]
    secrets: [db]
configs:
  app:
    file: ./files/app.yaml
secrets:
  db:
    file: ./files/db.txt
`

// fxNewBundle is a sound two-image bundle, shop 1.0: nginx:1.25 (2 layers) for service proxy,
// shop/web:1.0 (nginx's 2 layers and 1 of its own) for service web.
func fxNewBundle(t *testing.T) *fxBundle {
	t.Helper()
	nginx := fxRandomImage(t, 1, nil, 2)
	web := fxRandomImage(t, 2, nginx, 1)
	archive, images := fxImageArchive(t, ImageArchive, []fxImage{
		{ref: "nginx:1.25", services: []string{"proxy"}, img: nginx},
		{ref: "shop/web:1.0", services: []string{"web"}, img: web},
	})
	b := &fxBundle{top: "shop-1.0", files: map[string][]byte{
		ComposeFile:               []byte(fxCompose),
		EnvFile:                   []byte("PROXY_PORT=8080\n"),
		LoaderFile:                []byte("#!/bin/sh\necho loading\n"),
		ImageArchive:              archive,
		"files/nginx.conf":        []byte("events {}\n"),
		"files/web.env":           []byte("MODE=production\n"),
		"files/static/index.html": []byte("<h1>shop</h1>\n"),
		"files/app.yaml":          []byte("debug: false\n"),
		"files/db.txt":            []byte("s3cret\n"),
	}}
	b.manifest = &Manifest{
		FormatVersion: FormatVersion,
		Name:          "shop",
		Version:       "1.0",
		Platform:      "linux/amd64",
		ComposeFile:   ComposeFile,
		CreatedBy:     "airpack test",
		Images:        images,
		Archives:      []Archive{{Path: ImageArchive, Size: int64(len(archive))}},
	}
	layers, err := nginx.Layers()
	fxCheck(t, err)
	for _, l := range layers {
		rc, err := l.Compressed()
		fxCheck(t, err)
		data, err := io.ReadAll(rc)
		fxCheck(t, err)
		b.shared = append(b.shared, data)
	}
	b.seal(t)
	return b
}

// seal writes airpack.json from b.manifest and SHA256SUMS over every other file, as the writer
// does at the end.
func (b *fxBundle) seal(t *testing.T) {
	t.Helper()
	for i := range b.manifest.Archives {
		a := &b.manifest.Archives[i]
		a.Size = int64(len(b.files[a.Path]))
	}
	raw, err := b.manifest.Marshal()
	fxCheck(t, err)
	b.files[ManifestFile] = raw
	delete(b.files, SumsFile)
	sums := Sums{}
	for name, data := range b.files {
		sums[name] = fxSHA256(data)
	}
	b.files[SumsFile] = sums.Format()
}

// fxEntry is one entry of a fixture archive.
type fxEntry struct {
	hdr  tar.Header
	body []byte
}

// entries are b's files as a bundle archive holds them: the top directory, then each file in
// name order, each directory before its first file.
func (b *fxBundle) entries() []fxEntry {
	es := []fxEntry{fxDirEntry(b.top + "/")}
	seen := map[string]bool{}
	for _, name := range fxSortedKeys(b.files) {
		var dirs []string
		for d := path.Dir(name); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			dirs = append([]string{d}, dirs...)
		}
		for _, d := range dirs {
			es = append(es, fxDirEntry(b.top+"/"+d+"/"))
		}
		mode := int64(0o644)
		if name == LoaderFile {
			mode = 0o755
		}
		es = append(es, fxFileEntry(b.top+"/"+name, mode, b.files[name]))
	}
	return es
}

func fxDirEntry(name string) fxEntry {
	return fxEntry{hdr: tar.Header{Name: name, Mode: 0o755, ModTime: fxModTime, Typeflag: tar.TypeDir, Format: tar.FormatPAX}}
}

func fxFileEntry(name string, mode int64, body []byte) fxEntry {
	return fxEntry{hdr: tar.Header{Name: name, Mode: mode, Size: int64(len(body)), ModTime: fxModTime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}, body: body}
}

// Bundle forms.
const (
	fxDir   = "dir"
	fxTar   = ".tar"
	fxTarGz = ".tar.gz"
	fxTarZs = ".tar.zst"
)

var fxForms = []string{fxDir, fxTar, fxTarGz, fxTarZs}

// write writes b in form under a new temporary directory and returns its path.
func (b *fxBundle) write(t *testing.T, form string) string {
	t.Helper()
	if form == fxDir {
		root := filepath.Join(t.TempDir(), b.top)
		for name, data := range b.files {
			p := filepath.Join(root, filepath.FromSlash(name))
			fxCheck(t, os.MkdirAll(filepath.Dir(p), 0o755))
			mode := os.FileMode(0o644)
			if name == LoaderFile {
				mode = 0o755
			}
			fxCheck(t, os.WriteFile(p, data, mode))
		}
		return root
	}
	return fxWriteArchive(t, b.top+form, form, b.entries())
}

// fxWriteArchive writes entries as an archive of the given form (".tar", ".tar.gz", ".tar.zst")
// named name in a new temporary directory.
func fxWriteArchive(t *testing.T, name, form string, entries []fxEntry) string {
	t.Helper()
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for _, e := range entries {
		hdr := e.hdr
		fxCheck(t, tw.WriteHeader(&hdr))
		if len(e.body) > 0 {
			_, err := tw.Write(e.body)
			fxCheck(t, err)
		}
	}
	fxCheck(t, tw.Close())

	var out bytes.Buffer
	switch form {
	case fxTar:
		out = tarball
	case fxTarGz:
		zw := gzip.NewWriter(&out)
		_, err := zw.Write(tarball.Bytes())
		fxCheck(t, err)
		fxCheck(t, zw.Close())
	case fxTarZs:
		zw, err := zstd.NewWriter(&out)
		fxCheck(t, err)
		_, err = zw.Write(tarball.Bytes())
		fxCheck(t, err)
		fxCheck(t, zw.Close())
	default:
		t.Fatalf("unknown archive form %q", form)
	}
	p := filepath.Join(t.TempDir(), name)
	fxCheck(t, os.WriteFile(p, out.Bytes(), 0o644))
	return p
}

func fxSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func fxSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func fxCheck(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fxProblems renders problems one per line, as the CLI prints them.
func fxProblems(ps []Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}
