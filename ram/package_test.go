package ram

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

func readPackage(t *testing.T, pkgFile string, opts ReadOptions) (*Package, error) {
	t.Helper()
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	p, err := ReadPackage(context.Background(), pkgFile, opts)
	if err == nil {
		t.Cleanup(func() { p.Remove() })
	}
	return p, err
}

// inside reports whether p is inside dir.
func TestReadPackageCurrent(t *testing.T) {
	images := imagesTar(t, 1, webImage, dbImage)
	sample, _ := DecodeMetadata(sampleBytes(t))
	tests := []struct {
		name, file, top string
		pkg             []byte
	}{
		{name: "-ram.tar.gz", file: "app-delivery-1.0-ram.tar.gz", top: "app-delivery-1.0-ram"},
		{name: ".ram.tar.gz", file: "app-delivery-1.0.ram.tar.gz", top: "app-delivery-1.0-ram"},
		{name: "any name, by content", file: "download.bin", top: "whatever"},
		{name: "./ prefixed entries (tar -C dir .)", file: "x.tgz", top: "app", pkg: gzipTar(t,
			dir("./"), dir("./app/"),
			file("./app/component-images.tar", images),
			file("./app/metadata.json", sampleBytes(t)),
			file("./app/README.md", []byte("hello")),
		)},
		{name: "old plugins-images.tar ignored without plugins", file: "p.tar.gz", top: "app", pkg: gzipTar(t,
			file("app/metadata.json", sampleBytes(t)),
			file("app/component-images.tar", images),
			file("app/plugins-images.tar", []byte("not even a tar")),
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.pkg
			if b == nil {
				b = gzipTar(t, dir(tt.top+"/"), file(tt.top+"/metadata.json", sampleBytes(t)), file(tt.top+"/component-images.tar", images))
			}
			work := t.TempDir()
			p, err := readPackage(t, writeTemp(t, tt.file, b), ReadOptions{WorkDir: work})
			if err != nil {
				t.Fatal(err)
			}
			if p.Layout != LayoutCurrent || p.Dir != tt.top || p.PluginImages != "" || p.LegacyImages != nil || len(p.Warnings) != 0 {
				t.Errorf("package %+v", p)
			}
			if !inside(work, p.Root) || !inside(p.Root, p.ComponentImages) {
				t.Errorf("extracted outside the work dir: root %s, images %s", p.Root, p.ComponentImages)
			}
			got, err := os.ReadFile(p.ComponentImages)
			if err != nil || !bytes.Equal(got, images) {
				t.Errorf("component-images.tar extracted wrong (%v)", err)
			}
			if !reflect.DeepEqual(p.Template, sample) {
				t.Errorf("template differs from the sample's")
			}
			// Only the image archives are extracted.
			if tree := listTree(t, p.Root); !reflect.DeepEqual(tree, []string{tt.top, tt.top + "/component-images.tar"}) {
				t.Errorf("extracted %v", tree)
			}
			if err := p.Remove(); err != nil || len(listTree(t, work)) != 0 {
				t.Errorf("Remove left %v (%v)", listTree(t, work), err)
			}
		})
	}
}

func TestReadPackageLegacyZip(t *testing.T) {
	p, err := readPackage(t, writeTemp(t, "app-delivery-1.0.zip", legacyZip(t)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Layout != LayoutLegacy52 || p.Dir != "app-delivery-1.0" || p.ComponentImages != "" {
		t.Errorf("package %+v", p)
	}
	want := map[string]string{
		webImage: filepath.Join(p.Root, "app-delivery-1.0", "web", "6f0c2a1e9b8d4c7fa1b2c3d4e5f60718--20250101120000.image.tar"),
		dbImage:  filepath.Join(p.Root, "app-delivery-1.0", "db", "0a1b2c3d4e5f60718293a4b5c6d7e8f9--20250101115500.image.tar"),
	}
	if !reflect.DeepEqual(p.LegacyImages, want) {
		t.Errorf("LegacyImages = %v, want %v", p.LegacyImages, want)
	}
	for ref, f := range p.LegacyImages {
		names, err := readImageNames(f)
		if err != nil || !reflect.DeepEqual(names.names, []string{LegacySaveName(ref)}) {
			t.Errorf("%s holds %v (%v)", f, names, err)
		}
	}
}

func TestReadPackageLegacyByFileName(t *testing.T) {
	// An image saved by id (no RepoTags) is found by its file name.
	untagged := imagesTar(t, 3, "x:1")
	untagged = rewriteManifest(t, untagged, func(m []map[string]any) { m[0]["RepoTags"] = nil })
	top := "app-delivery-1.0"
	b := zipOf(t,
		file(top+"/metadata.json", sampleBytes(t)),
		file(top+"/web/"+legacyFileName(webImage), untagged),
		file(top+"/db/"+legacyFileName(dbImage), imagesTar(t, 2, LegacySaveName(dbImage))),
	)
	p, err := readPackage(t, writeTemp(t, "p.zip", b), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p.LegacyImages[webImage]) != legacyFileName(webImage) {
		t.Errorf("LegacyImages = %v", p.LegacyImages)
	}
}

// rewriteManifest edits the manifest.json of a docker-save archive.
func rewriteManifest(t *testing.T, archive []byte, edit func([]map[string]any)) []byte {
	t.Helper()
	var out bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(archive))
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Name == "manifest.json" {
			var m []map[string]any
			json.Unmarshal(body, &m)
			edit(m)
			body = marshal(t, m)
			h.Size = int64(len(body))
		}
		tw.WriteHeader(h)
		tw.Write(body)
	}
	tw.Close()
	return out.Bytes()
}

// pluginTemplate is the sample with one plugin.
func pluginTemplate(t *testing.T, groupName string) *Template {
	t.Helper()
	tpl, err := DecodeMetadata(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	tpl.GroupName = groupName
	tpl.Plugins = []Plugin{{PluginName: "mesh", PluginKey: "k", ShareImage: "goodrain.me/plugins/mesh:1"}}
	return tpl
}

func TestReadPackagePlugins(t *testing.T) {
	tpl := pluginTemplate(t, "app")
	meta := marshal(t, tpl)
	for _, name := range []string{PluginImagesFile, OldPluginImagesFile} {
		t.Run(name, func(t *testing.T) {
			b := gzipTar(t,
				file("app-1.0-ram/metadata.json", meta),
				file("app-1.0-ram/component-images.tar", imagesTar(t, 1, webImage, dbImage)),
				file("app-1.0-ram/"+name, imagesTar(t, 9, "goodrain.me/plugins/mesh:1")),
			)
			p, err := readPackage(t, writeTemp(t, "p.tar.gz", b), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(p.PluginImages) != name || len(p.Template.Plugins) != 1 {
				t.Errorf("PluginImages = %q", p.PluginImages)
			}
		})
	}
	t.Run("plugin image missing", func(t *testing.T) {
		b := gzipTar(t,
			file("app-1.0-ram/metadata.json", meta),
			file("app-1.0-ram/component-images.tar", imagesTar(t, 1, webImage, dbImage)),
			file("app-1.0-ram/plugin-images.tar", imagesTar(t, 9, "goodrain.me/plugins/other:1")),
		)
		p, err := readPackage(t, writeTemp(t, "p.tar.gz", b), ReadOptions{})
		want := `plugins[0] (plugin_name "mesh"): share_image goodrain.me/plugins/mesh:1 is not in plugin-images.tar, which holds goodrain.me/plugins/other:1: the platform importer needs it; a bundle ships no plugin images`
		if err != nil {
			t.Fatalf("error %v, want a warning: %s", err, want)
		}
		if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], want) {
			t.Errorf("warnings %q, want %s", p.Warnings, want)
		}
	})
}

func TestReadPackageWarnsPluginDir(t *testing.T) {
	top := "my-plugin-app-1.0-ram"
	p, err := readPackage(t, writeTemp(t, "p.tar.gz", currentPackage(t, top)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], `contains "plugin"`) {
		t.Errorf("warnings %q", p.Warnings)
	}
}

func TestReadPackageBadInput(t *testing.T) {
	images := imagesTar(t, 1, webImage, dbImage)
	meta := sampleBytes(t)
	evilAbs := filepath.Join(os.TempDir(), "airpack-ram-evil-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	wrongType := func() []byte {
		doc := sampleDoc(t)
		set(t, doc, "apps.1.port_map_list.0.container_port", "80")
		return marshal(t, doc)
	}()
	valid := currentPackage(t, "app-delivery-1.0-ram")
	ok := func(es ...entry) []entry { // a valid package plus es
		return append([]entry{dir("app/"), file("app/metadata.json", meta), file("app/component-images.tar", images)}, es...)
	}

	tests := []struct {
		name string
		file string // base name; default pkg.tar.gz
		data []byte
		max  int64
		want string // substring; the file's path is checked separately
	}{
		{name: "plain text", data: []byte("hello, I am not an archive at all\n"),
			want: "is not a RAM package: want a gzip tar (.tar.gz) or a zip, got data of an unknown format"},
		{name: "uncompressed tar", data: rawTar(t, ok()...),
			want: "is not a RAM package: want a gzip tar (.tar.gz) or a zip, got an uncompressed tar"},
		{name: "xz", data: []byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F\x02\x00!\x01\x16\x00\x00\x00t/\xe5\xa3\x01\x00\x00\x00\x00\x00\x00\x00"),
			want: "is not a RAM package: want a gzip tar (.tar.gz) or a zip, got xz data"},
		{name: "gzip without a tar", data: gz(t, bytes.Repeat([]byte("just text "), 100)),
			want: "is not a RAM package: want a gzip tar (.tar.gz) or a zip; it is gzip-compressed data with no tar archive inside"},
		{name: "empty gzip tar", data: gzipTar(t), want: "is an empty archive: not a RAM package"},
		{name: "flat", data: gzipTar(t, file("metadata.json", meta), file("component-images.tar", images)),
			want: `: metadata.json must be inside one top-level directory (the importer opens <top>/metadata.json); found "metadata.json" at the top level`},
		{name: "two top directories", data: gzipTar(t, file("a/metadata.json", meta), file("b/component-images.tar", images)),
			want: `: metadata.json must be inside one top-level directory (the importer opens <top>/metadata.json); found both "a/" and "b/"`},
		{name: "no metadata.json", data: gzipTar(t, file("app/component-images.tar", images), file("app/sub/metadata.json", meta)),
			want: `: no metadata.json in "app/" (the importer opens <top>/metadata.json): not a RAM package`},
		{name: "metadata.json twice", data: gzipTar(t, ok(file("app/metadata.json", meta))...),
			want: `: entry "app/metadata.json" appears more than once`},
		{name: "metadata type error", data: gzipTar(t, file("app/metadata.json", wrongType), file("app/component-images.tar", images)),
			want: `: metadata.json: apps[1].port_map_list[0].container_port: want a number, got string "80"`},
		{name: "empty apps", data: gzipTar(t, file("app/metadata.json", []byte(`{"group_name":"app","apps":[]}`)), file("app/component-images.tar", images)),
			want: ": metadata.json: apps is empty: the template has no components"},
		{name: "share_image not in component-images.tar", data: gzipTar(t, file("app/metadata.json", meta), file("app/component-images.tar", imagesTar(t, 1, webImage))),
			want: `: apps[1] (service_cname "db"): share_image ` + dbImage + ` is not in component-images.tar, which holds ` + webImage},
		{name: "component-images.tar not an image archive", data: gzipTar(t, file("app/metadata.json", meta), file("app/component-images.tar", rawTar(t, file("hello.txt", []byte("hi"))))),
			want: ": component-images.tar: it is not an image archive: it has neither a manifest.json (docker save) nor an index.json (OCI)"},
		{name: "component-images.tar corrupt", data: gzipTar(t, file("app/metadata.json", meta), file("app/component-images.tar", bytes.Repeat([]byte{'x'}, 2000))),
			want: ": component-images.tar: it is truncated or corrupt"},
		{name: "no images at all", data: gzipTar(t, file("app/metadata.json", meta)),
			want: `: no component-images.tar in "app/": the package holds no images for its 2 components`},
		{name: "dot-dot entry", data: gzipTar(t, ok(file("app/../../evil", []byte("x")))...),
			want: `: entry "app/../../evil" has a name that leaves the package directory (absolute, or with ".."): refusing the package`},
		{name: "dot-dot first", data: gzipTar(t, append([]entry{file("../evil.tar", []byte("x"))}, ok()...)...),
			want: `: entry "../evil.tar" has a name that leaves the package directory`},
		{name: "absolute entry", data: gzipTar(t, ok(file(evilAbs, []byte("x")))...),
			want: `: entry "` + evilAbs + `" has a name that leaves the package directory`},
		{name: "symlink then a file through it", data: gzipTar(t, ok(symlink("app/x", "/etc"), file("app/x/passwd", []byte("root::0:0")))...),
			want: `: entry "app/x" is a symbolic link (to "/etc"): RAM packages hold no links; refusing the package`},
		{name: "symlink named like an image tar", data: gzipTar(t, append([]entry{symlink("app/component-images.tar", "/etc/passwd")}, ok()...)...),
			want: `: entry "app/component-images.tar" is a symbolic link (to "/etc/passwd")`},
		{name: "hard link", data: gzipTar(t, ok(hardlink("app/h.tar", "/etc/shadow"))...),
			want: `: entry "app/h.tar" is a hard link (to "/etc/shadow"): RAM packages hold no links`},
		{name: "zip dot-dot", file: "p.zip", data: zipOf(t, ok(file("app/../../evil.tar", []byte("x")))...),
			want: `: entry "app/../../evil.tar" has a name that leaves the package directory`},
		{name: "zip absolute", file: "p.zip", data: zipOf(t, ok(file(evilAbs, []byte("x")))...),
			want: `has a name that leaves the package directory`},
		{name: "zip symlink", file: "p.zip", data: zipOf(t, ok(symlink("app/x", "/etc"), file("app/x/passwd", []byte("x")))...),
			want: `: entry "app/x" is a symbolic link (to "/etc")`},
		{name: "zip legacy image missing", file: "p.zip", data: zipOf(t, file("app/metadata.json", meta), file("app/web/"+legacyFileName(webImage), imagesTar(t, 1, LegacySaveName(webImage)))),
			want: `: apps[1] (service_cname "db"): share_image ` + dbImage + ` is in none of the package's image tars (a Rainbond 5.2 package holds it as 0a1b2c3d4e5f60718293a4b5c6d7e8f9:20250101115500, in <component>/0a1b2c3d4e5f60718293a4b5c6d7e8f9--20250101115500.image.tar)`},
		{name: "truncated gzip", data: valid[:len(valid)/2], want: " is truncated or corrupt: "},
		{name: "truncated gzip at the end", data: valid[:len(valid)-4], want: " is truncated or corrupt: "},
		{name: "gzip header only", data: valid[:5], want: " is truncated or corrupt: "},
		{name: "corrupt gzip", data: flip(valid, len(valid)/3), want: " is truncated or corrupt: "},
		{name: "truncated zip", file: "p.zip", data: func() []byte { z := legacyZip(t); return z[:len(z)-30] }(), want: " is truncated or corrupt: "},
		{name: "past the size limit", data: valid, max: 4096, want: " expands past the --max-size limit of 4096 bytes"},
		{name: "zip past the size limit", file: "p.zip", data: legacyZip(t), max: 4096, want: " expands past the --max-size limit of 4096 bytes"},
		{name: "bomb in a skipped entry", data: gzipTar(t, ok(file("app/big.bin", make([]byte, 1<<20)))...), max: 64 << 10,
			want: " expands past the --max-size limit of 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.file
			if base == "" {
				base = "pkg.tar.gz"
			}
			pkgFile := writeTemp(t, base, tt.data)
			parent := t.TempDir()
			work := filepath.Join(parent, "work")
			p, err := ReadPackage(context.Background(), pkgFile, ReadOptions{WorkDir: work, MaxSize: tt.max})
			if err == nil {
				p.Remove()
				t.Fatalf("read %+v", p)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, pkgFile) {
				t.Errorf("error\n got: %s\nwant: %s ... %s", msg, pkgFile, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			// Nothing left behind, nothing outside the work dir.
			if tree := listTree(t, parent); len(tree) > 1 || len(tree) == 1 && tree[0] != "work" {
				t.Errorf("left behind: %v", tree)
			}
			if _, err := os.Lstat(evilAbs); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was written", evilAbs)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	for j := i; j < i+16 && j < len(c); j++ {
		c[j] ^= 0x55
	}
	return c
}

func TestReadPackageNotAFile(t *testing.T) {
	_, err := ReadPackage(context.Background(), t.TempDir(), ReadOptions{WorkDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is a directory: want a RAM package file") {
		t.Errorf("error %v", err)
	}
	_, err = ReadPackage(context.Background(), filepath.Join(t.TempDir(), "missing.tar.gz"), ReadOptions{WorkDir: t.TempDir()})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v", err)
	}
}

func TestReadPackageCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	work := t.TempDir()
	_, err := ReadPackage(ctx, writeTemp(t, "p.tar.gz", currentPackage(t, "app")), ReadOptions{WorkDir: work})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if tree := listTree(t, work); len(tree) != 0 {
		t.Errorf("left behind: %v", tree)
	}
}

// TestReadPackageExactLimit: a package of exactly MaxSize expanded bytes is read.
func TestReadPackageExactLimit(t *testing.T) {
	raw := rawTar(t, file("app/metadata.json", sampleBytes(t)), file("app/component-images.tar", imagesTar(t, 1, webImage, dbImage)))
	pkg := writeTemp(t, "p.tar.gz", gz(t, raw))
	if _, err := readPackage(t, pkg, ReadOptions{MaxSize: int64(len(raw))}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := readPackage(t, pkg, ReadOptions{MaxSize: int64(len(raw)) - 1}); err == nil || !strings.Contains(err.Error(), "expands past") {
		t.Errorf("one byte under the limit: %v", err)
	}
}

// writeImages is a componentImages callback writing a fixed archive.
func writeImages(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

func TestWritePackageReadBack(t *testing.T) {
	tpl, err := DecodeMetadata(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	tpl.Apps[0].ServiceImage = ServiceImage{HubURL: "hub.example.com", HubUser: "admin", HubPassword: "secret"}
	images := imagesTar(t, 1, webImage, dbImage)
	outDir := t.TempDir()
	out := filepath.Join(outDir, PackageFileName(tpl))
	if filepath.Base(out) != "app-delivery-1.0-ram.tar.gz" {
		t.Errorf("PackageFileName = %s", filepath.Base(out))
	}
	if err := WritePackage(context.Background(), out, tpl, writeImages(images), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if tpl.Apps[0].ServiceImage.HubPassword != "secret" {
		t.Errorf("WritePackage modified the template")
	}
	if tree := listTree(t, outDir); !reflect.DeepEqual(tree, []string{"app-delivery-1.0-ram.tar.gz"}) {
		t.Errorf("output dir holds %v", tree)
	}

	// Layout: one top directory, compact metadata, the images as given, fixed headers.
	b, _ := os.ReadFile(out)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(modTime) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: header %+v", h.Name, h)
		}
		body, _ := io.ReadAll(tr)
		switch h.Name {
		case "app-delivery-1.0-ram/metadata.json":
			if bytes.Contains(body, []byte("\n")) || bytes.Contains(body, []byte(`"secret"`)) || bytes.Contains(body, []byte(`"admin"`)) || bytes.Contains(body, []byte("hub.example.com")) {
				t.Errorf("metadata.json not compact or not blanked: %s", body)
			}
		case "app-delivery-1.0-ram/component-images.tar":
			if !bytes.Equal(body, images) {
				t.Errorf("component-images.tar differs from what was written")
			}
		}
	}
	want := []string{"app-delivery-1.0-ram/", "app-delivery-1.0-ram/metadata.json", "app-delivery-1.0-ram/component-images.tar"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("entries %v, want %v", names, want)
	}

	p, err := readPackage(t, out, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tpl.Apps[0].ServiceImage = ServiceImage{}
	if !reflect.DeepEqual(p.Template, tpl) || p.Dir != "app-delivery-1.0-ram" || p.Layout != LayoutCurrent {
		t.Errorf("read back %+v", p)
	}

	// Deterministic: the same input gives the same bytes.
	out2 := filepath.Join(t.TempDir(), "again.tar.gz")
	if err := WritePackage(context.Background(), out2, tpl, writeImages(images), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(out2); !bytes.Equal(b, b2) {
		t.Errorf("two writes of the same package differ")
	}
}

func TestWritePackageStreamsFromGGCR(t *testing.T) {
	tpl := pluginTemplate(t, "app")
	out := filepath.Join(t.TempDir(), PackageFileName(tpl))
	err := WritePackage(context.Background(), out, tpl,
		func(w io.Writer) error { _, err := w.Write(imagesTar(t, 1, webImage, dbImage)); return err },
		WriteOptions{PluginImages: writeImages(imagesTar(t, 5, "goodrain.me/plugins/mesh:1")), Flavor: Kato})
	if err != nil {
		t.Fatal(err)
	}
	p, err := readPackage(t, out, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p.PluginImages) != PluginImagesFile || len(p.Template.Plugins) != 1 {
		t.Errorf("plugins not read back: %+v", p)
	}
}

func TestWritePackageRefuses(t *testing.T) {
	images := imagesTar(t, 1, webImage, dbImage)
	sample := func(edit func(*Template)) *Template {
		tpl, err := DecodeMetadata(sampleBytes(t))
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(tpl)
		}
		return tpl
	}
	tests := []struct {
		name   string
		tpl    *Template
		images func(io.Writer) error
		opts   WriteOptions
		want   string
	}{
		{name: "plugin in the name", tpl: sample(func(t *Template) { t.GroupName = "my-plugin-app" }), images: writeImages(images),
			want: `package name "my-plugin-app" contains "plugin": the platform importer skips every image tar whose path contains "plugin" when the template has no plugins, so all images would be lost; rename the app (--name)`},
		{name: "plugin in the version", tpl: sample(func(t *Template) { t.GroupVersion = "plugin-2" }), images: writeImages(images),
			want: `package version "plugin-2" contains "plugin"`},
		{name: "separator in the name", tpl: sample(func(t *Template) { t.GroupName = "a/b" }), images: writeImages(images),
			want: `the template's group_name "a/b" cannot be part of the package's directory name: it contains a path separator`},
		{name: "no name", tpl: sample(func(t *Template) { t.GroupName = "" }), images: writeImages(images),
			want: `the template's group_name is empty`},
		{name: "invalid template", tpl: sample(func(t *Template) { t.Apps[1].ShareImage = "" }), images: writeImages(images),
			want: `metadata.json: apps[1] (service_cname "db"): share_image is empty`},
		{name: "image missing from the archive", tpl: sample(nil), images: writeImages(imagesTar(t, 1, webImage)),
			want: `the component-images.tar written does not hold the share_image of apps[1] (service_cname "db"), ` + dbImage + ` (it holds ` + webImage + `)`},
		{name: "images not an archive", tpl: sample(nil), images: writeImages([]byte("nope")),
			want: `the component-images.tar written: it is truncated or corrupt`},
		{name: "callback fails", tpl: sample(nil), images: func(w io.Writer) error { w.Write([]byte("partial")); return errors.New("engine went away") },
			want: `write component-images.tar: engine went away`},
		{name: "plugins without plugin images", tpl: pluginTemplate(t, "app"), images: writeImages(images),
			want: `the template has 1 plugin but no plugin images were given`},
		{name: "no images callback", tpl: sample(nil), want: `no component images: the template has 2 components`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.tar.gz")
			err := WritePackage(context.Background(), out, tt.tpl, tt.images, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "write RAM package "+out+": ") {
				t.Errorf("error\n got: %v\nwant: write RAM package %s: ... %s", err, out, tt.want)
			}
			if tree := listTree(t, dir); len(tree) != 0 {
				t.Errorf("left behind: %v", tree)
			}
		})
	}
}

// The importer extracts an upload into <file name>-cache/ and, without plugins, skips every
// tar whose path contains "plugin" (case-sensitive): the file name is refused as the group name
// is; its directories, which are not uploaded, and other cases are not.
func TestWritePackageFileName(t *testing.T) {
	images := imagesTar(t, 1, webImage, dbImage)
	sample, err := DecodeMetadata(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"shop-plugins-ram.tar.gz", "plugin", "xplugin.zip"} {
		dir := t.TempDir()
		out := filepath.Join(dir, name)
		err := WritePackage(context.Background(), out, sample, writeImages(images), WriteOptions{})
		want := "write RAM package " + out + `: the file name "` + name + `" contains "plugin": the platform importer unpacks an upload into <file name>-cache/ and, for a template without plugins, skips every image tar whose path contains "plugin", so all images would be lost; choose another -o name (the default is app-delivery-1.0-ram.tar.gz)`
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", name, err, want)
		}
		if tree := listTree(t, dir); len(tree) != 0 {
			t.Errorf("left behind: %v", tree)
		}
	}
	for _, out := range []string{
		filepath.Join(t.TempDir(), "Shop-Plugin-PLUGIN.tar.gz"),
		filepath.Join(t.TempDir(), "plugins", "shop.tar.gz"),
	} {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WritePackage(context.Background(), out, sample, writeImages(images), WriteOptions{}); err != nil {
			t.Errorf("%s: %v", out, err)
		}
	}
	// With plugins, the importer skips nothing.
	tpl := pluginTemplate(t, "app")
	out := filepath.Join(t.TempDir(), "app-plugin.tar.gz")
	if err := WritePackage(context.Background(), out, tpl, writeImages(images), WriteOptions{PluginImages: writeImages(imagesTar(t, 9, "goodrain.me/plugins/mesh:1"))}); err != nil {
		t.Errorf("with plugins: %v", err)
	}
	if err := CheckPackageFileName("out/my-plugin.tar.gz"); err == nil || !strings.HasPrefix(err.Error(), `output out/my-plugin.tar.gz: the file name "my-plugin.tar.gz" contains "plugin"`) || !strings.HasSuffix(err.Error(), "(the default is <group_name>-<group_version>-ram.tar.gz)") {
		t.Errorf("CheckPackageFileName: %v", err)
	}
	if err := CheckPackageFileName("plugins/My-Plugin.tar.gz"); err != nil {
		t.Errorf("CheckPackageFileName: %v", err)
	}
}

func TestWritePackageKeepsExistingOnError(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.tar.gz")
	os.WriteFile(out, []byte("previous"), 0o644)
	tpl, _ := DecodeMetadata(sampleBytes(t))
	err := WritePackage(context.Background(), out, tpl, writeImages([]byte("bad")), WriteOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(out); string(b) != "previous" {
		t.Errorf("existing output replaced on error")
	}
	if tree := listTree(t, dir); !reflect.DeepEqual(tree, []string{"out.tar.gz"}) {
		t.Errorf("left behind: %v", tree)
	}
}

func TestFlavor(t *testing.T) {
	if Rainbond.FormatName() != "rainbond-app" || Kato.FormatName() != "kato-app" || Kato.DisplayName() != "Kato" || Flavor("").DisplayName() != "Rainbond" {
		t.Errorf("flavor names")
	}
}

// legacyPluginZip is a Rainbond 5.2 package of tpl (the sample with one plugin), as the 5.2
// exporter (builder/exector/export_app.go, savePlugins) laid it out: the plugin's image in a
// directory named after plugin_name, <last segment, ':' -> '--'>.image.tar, saved under its
// short name. pluginTar replaces that tar when not nil.
func legacyPluginZip(t *testing.T, tpl *Template, pluginTar []byte) []byte {
	t.Helper()
	top := tpl.GroupName + "-" + tpl.GroupVersion
	ref := tpl.Plugins[0].ShareImage
	if pluginTar == nil {
		pluginTar = imagesTar(t, 9, LegacySaveName(ref))
	}
	return zipOf(t,
		dir(top+"/"),
		file(top+"/metadata.json", marshal(t, tpl)),
		dir(top+"/web/"),
		file(top+"/web/"+legacyFileName(webImage), imagesTar(t, 1, LegacySaveName(webImage))),
		dir(top+"/db/"),
		file(top+"/db/"+legacyFileName(dbImage), imagesTar(t, 2, LegacySaveName(dbImage))),
		dir(top+"/"+tpl.Plugins[0].PluginName+"/"),
		file(top+"/"+tpl.Plugins[0].PluginName+"/"+legacyFileName(ref), pluginTar),
	)
}

func TestReadPackageLegacyPlugins(t *testing.T) {
	tpl := pluginTemplate(t, "app")
	p, err := readPackage(t, writeTemp(t, "app-1.0.zip", legacyPluginZip(t, tpl, nil)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Layout != LayoutLegacy52 || p.PluginImages != "" || len(p.Template.Plugins) != 1 || len(p.Warnings) != 0 {
		t.Errorf("package %+v", p)
	}
	if len(p.LegacyImages) != 2 || filepath.Base(filepath.Dir(p.LegacyImages[webImage])) != "web" || filepath.Base(filepath.Dir(p.LegacyImages[dbImage])) != "db" {
		t.Errorf("LegacyImages = %v", p.LegacyImages)
	}
	want := map[string]string{"goodrain.me/plugins/mesh:1": filepath.Join(p.Root, "app-1.0", "mesh", "mesh--1.image.tar")}
	if !reflect.DeepEqual(p.LegacyPluginImages, want) {
		t.Errorf("LegacyPluginImages = %v, want %v", p.LegacyPluginImages, want)
	}

	t.Run("untagged plugin tar, found by its file name", func(t *testing.T) {
		untagged := rewriteManifest(t, imagesTar(t, 9, "x:1"), func(m []map[string]any) { m[0]["RepoTags"] = nil })
		p, err := readPackage(t, writeTemp(t, "app-1.0.zip", legacyPluginZip(t, tpl, untagged)), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p.LegacyPluginImages["goodrain.me/plugins/mesh:1"]) != "mesh--1.image.tar" || len(p.LegacyImages) != 2 {
			t.Errorf("LegacyPluginImages = %v, LegacyImages = %v", p.LegacyPluginImages, p.LegacyImages)
		}
	})
	t.Run("plugin image missing", func(t *testing.T) {
		b := zipOf(t,
			file("app-1.0/metadata.json", marshal(t, tpl)),
			file("app-1.0/web/"+legacyFileName(webImage), imagesTar(t, 1, LegacySaveName(webImage))),
			file("app-1.0/db/"+legacyFileName(dbImage), imagesTar(t, 2, LegacySaveName(dbImage))),
			file("app-1.0/mesh/other--1.image.tar", imagesTar(t, 9, "other:1")),
		)
		p, err := readPackage(t, writeTemp(t, "app-1.0.zip", b), ReadOptions{})
		want := `: plugins[0] (plugin_name "mesh"): share_image goodrain.me/plugins/mesh:1 is in none of the package's image tars (a Rainbond 5.2 package holds it as mesh:1, in <plugin_name>/mesh--1.image.tar): the platform importer needs it; a bundle ships no plugin images`
		if err != nil {
			t.Fatalf("error %v, want a warning: %s", err, want)
		}
		if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], want) {
			t.Errorf("warnings %q, want %s", p.Warnings, want)
		} else if len(p.LegacyImages) != 2 || p.LegacyPluginImages != nil {
			t.Errorf("LegacyImages %v, LegacyPluginImages %v", p.LegacyImages, p.LegacyPluginImages)
		}
	})
	t.Run("the plugin tar is not taken for a component's", func(t *testing.T) {
		// The web component's tar is missing; the plugin's, saved without a tag under web's
		// file name, must not stand in for it.
		tp := pluginTemplate(t, "app")
		tp.Plugins[0].ShareImage = "goodrain.me/plugins/" + path.Base(webImage)
		untagged := rewriteManifest(t, imagesTar(t, 9, "x:1"), func(m []map[string]any) { m[0]["RepoTags"] = nil })
		b := zipOf(t,
			file("app-1.0/metadata.json", marshal(t, tp)),
			file("app-1.0/db/"+legacyFileName(dbImage), imagesTar(t, 2, LegacySaveName(dbImage))),
			file("app-1.0/mesh/"+legacyFileName(webImage), untagged),
		)
		_, err := readPackage(t, writeTemp(t, "app-1.0.zip", b), ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "share_image "+webImage+" is in none of the package's image tars") {
			t.Errorf("error %v", err)
		}
	})
}

func TestReadPackageNoPluginImages(t *testing.T) {
	b := gzipTar(t,
		file("app-1.0-ram/metadata.json", marshal(t, pluginTemplate(t, "app"))),
		file("app-1.0-ram/component-images.tar", imagesTar(t, 1, webImage, dbImage)),
	)
	p, err := readPackage(t, writeTemp(t, "p.tar.gz", b), ReadOptions{})
	want := ": the template has 1 plugin but the package has no plugin-images.tar (nor, as Rainbond 5.2 stored them, <plugin_name>/<image>.image.tar): the platform importer needs its image; a bundle ships no plugin images"
	if err != nil {
		t.Fatalf("error %v, want a warning: %s", err, want)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], want) {
		t.Errorf("warnings %q, want %s", p.Warnings, want)
	}
}

// The importer skips, in a template without plugins, every tar whose path contains "plugin"
// (case-sensitive), the uploaded file's name included: airpack reads such a package, warning.
func TestReadPackageWarnsPluginPaths(t *testing.T) {
	t.Run("file name", func(t *testing.T) {
		p, err := readPackage(t, writeTemp(t, "shop-plugins.tar.gz", currentPackage(t, "app-delivery-1.0-ram")), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := `the file name "shop-plugins.tar.gz" contains "plugin" and the template has no plugins: uploaded under that name, the platform importer would skip every image tar in it; rename the file before uploading`
		if len(p.Warnings) != 1 || p.Warnings[0] != want {
			t.Errorf("warnings %q", p.Warnings)
		}
	})
	t.Run("upper case is not matched", func(t *testing.T) {
		p, err := readPackage(t, writeTemp(t, "Shop-PLUGIN-Plugin.tar.gz", currentPackage(t, "app-delivery-1.0-ram")), ReadOptions{})
		if err != nil || len(p.Warnings) != 0 {
			t.Errorf("warnings %q (%v)", p.Warnings, err)
		}
	})
	t.Run("a 5.2 component directory", func(t *testing.T) {
		top := "app-delivery-1.0"
		b := zipOf(t,
			file(top+"/metadata.json", sampleBytes(t)),
			file(top+"/web-plugin/"+legacyFileName(webImage), imagesTar(t, 1, LegacySaveName(webImage))),
			file(top+"/db/"+legacyFileName(dbImage), imagesTar(t, 2, LegacySaveName(dbImage))),
		)
		p, err := readPackage(t, writeTemp(t, "p.zip", b), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := `"app-delivery-1.0/web-plugin/" contains "plugin" and the template has no plugins: the platform importer would skip the image tar in it`
		if len(p.Warnings) != 1 || p.Warnings[0] != want || len(p.LegacyImages) != 2 {
			t.Errorf("warnings %q, images %v", p.Warnings, p.LegacyImages)
		}
	})
}
