package pack

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/imageset"
	"github.com/airpack/airpack/internal/ramtest"
	"github.com/airpack/airpack/ram"
)

// exProject is a Compose project of two services whose images the in-process registry at host
// serves, with a config file and settings RAM cannot carry.
func exProject(t *testing.T, host string) string {
	t.Helper()
	dir := project(t, `name: shop
services:
  web:
    image: `+host+`/shop/web:1.0
    ports: ["80:80"]
    environment:
      DB_HOST: db
    volumes:
      - ./conf/app.conf:/etc/app.conf:ro
    depends_on: [db]
    cap_add: [NET_ADMIN]
  db:
    image: `+host+`/shop/db:8
    volumes: [dbdata:/var/lib/db]
    networks: [back]
networks:
  back: {}
volumes:
  dbdata: {}
`)
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "app.conf"), []byte("listen 80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// exBundle packs exProject into out (a directory or an archive).
func exBundle(t *testing.T, out string) (*bundle.Manifest, string) {
	t.Helper()
	host := testRegistry(t, "shop/web:1.0", "shop/db:8")
	dir := exProject(t, host)
	res, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out, Sources: []string{"registry"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Manifest, host
}

// exRead reads the package back as the platform importer would need it.
func exRead(t *testing.T, file string) *ram.Package {
	t.Helper()
	pkg, err := ram.ReadPackage(context.Background(), file, ram.ReadOptions{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("read the package back: %v", err)
	}
	t.Cleanup(func() { pkg.Remove() })
	return pkg
}

func exLs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func exJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var exWantWarnings = []string{
	"networks: back: RAM has no networks (components reach each other by name); dropped",
	"service db: networks: back: RAM has no networks (components reach each other by name); dropped",
	"service db: ports: none: on the platform a component without ports gets no Kubernetes Service, so db does not resolve for web (depends_on, environment DB_HOST): list the port it listens on under expose",
	"service web: cap_add: RAM has no Linux capabilities; dropped",
}

func TestExportRAMFromBundleDirectory(t *testing.T) {
	bdir := filepath.Join(t.TempDir(), "shop-1.0")
	m, host := exBundle(t, bdir)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "shop.tar.gz")
	var logged []string
	res, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: out, Log: func(f string, a ...any) { logged = append(logged, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != out || len(logged) == 0 {
		t.Errorf("result output %s, log %q", res.Output, logged)
	}
	if !reflect.DeepEqual(res.Warnings, exWantWarnings) {
		t.Errorf("warnings:\n%q\nwant\n%q", res.Warnings, exWantWarnings)
	}
	if got := exLs(t, outDir); !reflect.DeepEqual(got, []string{"shop.tar.gz"}) {
		t.Errorf("output directory holds %v: something was left behind", got)
	}

	pkg := exRead(t, out)
	tpl := pkg.Template
	if pkg.Dir != "shop-1.0-ram" || pkg.Layout != ram.LayoutCurrent || tpl.GroupName != "shop" || tpl.GroupVersion != "1.0" {
		t.Errorf("package %s (%s): %s %s", pkg.Dir, pkg.Layout, tpl.GroupName, tpl.GroupVersion)
	}
	if tpl.GroupKey != ram.StableID("shop") {
		t.Errorf("group_key %s", tpl.GroupKey)
	}
	// Every image is the image as the bundle shipped it; every share_image a name of the
	// component's own (docs/ram-format.md §8.1), which ReadPackage found in
	// component-images.tar under exactly that name.
	shipped := map[string]string{}
	for _, im := range m.Images {
		for _, s := range im.Services {
			shipped[s] = im.Ref
		}
	}
	for _, a := range tpl.Apps {
		if a.ShareImage != ram.ShareImageName("shop", "1.0", a.ServiceID) || a.Image != shipped[a.ServiceCname] {
			t.Errorf("%s: share_image %s, image %s; shipped as %s", a.ServiceCname, a.ShareImage, a.Image, shipped[a.ServiceCname])
		}
		key := ram.StableID("shop", a.ServiceCname)
		if a.ServiceKey != key || a.ServiceID != key || a.ServiceShareUUID != key+"+"+key {
			t.Errorf("%s: ids %s %s %s", a.ServiceCname, a.ServiceKey, a.ServiceID, a.ServiceShareUUID)
		}
	}
	// ... and under exactly that name, as the importer looks it up.
	tags, err := imageset.ArchiveTags(pkg.ComponentImages)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range tpl.Apps {
		if !slices.Contains(tags, a.ShareImage) {
			t.Errorf("component-images.tar names %v, not %s", tags, a.ShareImage)
		}
		// The shipped name too, for the same image.
		if same, err := imageset.ArchiveSameImage(pkg.ComponentImages, a.Image, a.ShareImage); err != nil || !same {
			t.Errorf("component-images.tar: %s and %s are not one image: %v", a.Image, a.ShareImage, err)
		}
	}
	web := tpl.FindComponent(ram.StableID("shop", "web"))
	if web == nil || len(web.ServiceVolumeMapList) != 1 || web.ServiceVolumeMapList[0].FileContent != "listen 80\n" || web.ServiceVolumeMapList[0].VolumeType != ram.VolumeConfigFile {
		t.Errorf("web config file: %+v", web)
	}
	if web.Image != host+"/shop/web:1.0" || web.ShareImage != "goodrain.me/shop/"+web.ServiceID+":1.0" {
		t.Errorf("web image %s, share_image %s", web.Image, web.ShareImage)
	}

	// The same bundle gives the same package, byte for byte.
	again := filepath.Join(t.TempDir(), "again.tar.gz")
	if _, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: again}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if string(a) != string(b) {
		t.Error("exporting the same bundle twice gives different packages")
	}
}

func TestExportRAMFromBundleArchive(t *testing.T) {
	tmp := t.TempDir()
	bdir := filepath.Join(tmp, "shop-1.0")
	archive := filepath.Join(tmp, "shop-1.0.tar.gz")
	host := testRegistry(t, "shop/web:1.0", "shop/db:8")
	dir := exProject(t, host)
	for _, out := range []string{bdir, archive} {
		if _, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out, Sources: []string{"registry"}}); err != nil {
			t.Fatal(err)
		}
	}
	// The default output: <name>-<version>-ram.tar.gz in the current directory.
	cwd := t.TempDir()
	t.Chdir(cwd)
	res, err := ExportRAM(context.Background(), ExportOptions{Input: archive, Flavor: ram.Kato})
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "shop-1.0-ram.tar.gz" {
		t.Errorf("default output %s", res.Output)
	}
	if got := exLs(t, cwd); !reflect.DeepEqual(got, []string{"shop-1.0-ram.tar.gz"}) {
		t.Errorf("current directory holds %v", got)
	}
	fromArchive := exRead(t, res.Output).Template
	fromDir, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: filepath.Join(t.TempDir(), "d.tar.gz")})
	if err != nil {
		t.Fatal(err)
	}
	if exJSON(t, fromArchive) != exJSON(t, fromDir.Template) {
		t.Errorf("the archive and the directory of one bundle give different templates:\n%s\n%s", exJSON(t, fromArchive), exJSON(t, fromDir.Template))
	}
}

func TestExportRAMFromComposeProject(t *testing.T) {
	host := testRegistry(t, "shop/web:1.0", "shop/db:8")
	dir := exProject(t, host)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "shop-ram.tar.gz")
	if _, err := ExportRAM(context.Background(), ExportOptions{Input: dir, Output: out, Sources: []string{"registry"}}); err == nil || !strings.Contains(err.Error(), "--version is required") {
		t.Fatalf("no version: %v", err)
	}
	res, err := ExportRAM(context.Background(), ExportOptions{Input: dir, Output: out, Version: "2.0", Sources: []string{"registry"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Warnings, exWantWarnings) {
		t.Errorf("warnings: %q", res.Warnings)
	}
	tpl := exRead(t, out).Template
	if tpl.GroupName != "shop" || tpl.GroupVersion != "2.0" || len(tpl.Apps) != 2 {
		t.Errorf("template %s %s, %d components", tpl.GroupName, tpl.GroupVersion, len(tpl.Apps))
	}
	if got := exLs(t, outDir); !reflect.DeepEqual(got, []string{"shop-ram.tar.gz"}) {
		t.Errorf("output directory holds %v: the temporary bundle was left behind", got)
	}
	// A compose file as the input, the project's own name overridden.
	out2 := filepath.Join(t.TempDir(), "o.tar.gz")
	res, err = ExportRAM(context.Background(), ExportOptions{Input: filepath.Join(dir, "compose.yaml"), Output: out2, Name: "boutique", Version: "2.0", Sources: []string{"registry"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Template.GroupName != "boutique" || res.Template.GroupKey != ram.StableID("boutique") {
		t.Errorf("--name: %s %s", res.Template.GroupName, res.Template.GroupKey)
	}
}

func TestExportRAMRefuses(t *testing.T) {
	tmp := t.TempDir()
	bdir := filepath.Join(tmp, "shop-1.0")
	_, host := exBundle(t, bdir)
	// Upgrades of it (pack --base), a directory and an archive, elsewhere.
	updir := filepath.Join(t.TempDir(), "shop-1.1")
	uptar := filepath.Join(t.TempDir(), "shop-1.1.tar")
	for _, out := range []string{updir, uptar} {
		if _, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: exProject(t, host)}, Version: "1.1", Output: out, Sources: []string{"registry"}, Base: bdir}); err != nil {
			t.Fatal(err)
		}
	}
	existing := filepath.Join(tmp, "existing.tar.gz")
	if err := os.WriteFile(existing, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		opts ExportOptions
		want []string
	}{
		{"existing output", ExportOptions{Input: bdir, Output: existing}, []string{"already exists", "--force"}},
		{"plugin name", ExportOptions{Input: bdir, Output: filepath.Join(tmp, "p.tar.gz"), Name: "my-plugin"}, []string{`"my-plugin" contains "plugin"`, "importer skips every image tar", "--name"}},
		{"plugin version", ExportOptions{Input: bdir, Output: filepath.Join(tmp, "p.tar.gz"), Version: "plugin1"}, []string{`contains "plugin"`, "--version"}},
		{"plugin in the output's file name", ExportOptions{Input: bdir, Output: filepath.Join(tmp, "shop-plugins.tar.gz")}, []string{"output " + filepath.Join(tmp, "shop-plugins.tar.gz") + `: the file name "shop-plugins.tar.gz" contains "plugin"`, "<file name>-cache/", "choose another -o name"}},
		{"flavor", ExportOptions{Input: bdir, Output: filepath.Join(tmp, "p.tar.gz"), Flavor: "openshift"}, []string{"want rainbond or kato"}},
		{"missing input", ExportOptions{Input: filepath.Join(tmp, "nope"), Output: filepath.Join(tmp, "p.tar.gz")}, []string{"nope", "no such file"}},
		{"not a bundle", ExportOptions{Input: existing, Output: filepath.Join(tmp, "p.tar.gz")}, []string{"existing.tar.gz"}},
		{"compose options with a bundle", ExportOptions{Input: bdir, Output: filepath.Join(tmp, "p.tar.gz"), Sources: []string{"registry"}, Platform: "linux/arm64"}, []string{"is a bundle: image sources, a platform apply only to a Compose project"}},
		{"plugin name, default output", ExportOptions{Input: bdir, Name: "my-plugin-app"}, []string{`package name "my-plugin-app" contains "plugin"`}},
		{"plain tar name", ExportOptions{Input: bdir, Output: filepath.Join(tmp, "shop.tar")}, []string{"output " + filepath.Join(tmp, "shop.tar") + ": the package is a gzip-compressed tar: name it .tar.gz or .tgz"}},
		{"zip name", ExportOptions{Input: bdir, Output: filepath.Join(tmp, "shop.zip")}, []string{"name it .tar.gz or .tgz"}},
		{"upgrade bundle", ExportOptions{Input: updir, Output: filepath.Join(tmp, "up.tar.gz")}, []string{updir + " is an upgrade of shop 1.0 and lacks its layers: a RAM package holds every image; export the full bundle (pack without --base)"}},
		{"upgrade bundle archive", ExportOptions{Input: uptar, Output: filepath.Join(tmp, "up.tar.gz")}, []string{uptar + " is an upgrade of shop 1.0 and lacks its layers"}},
	} {
		// Refused before any work: nothing verified, packed or converted.
		var log []string
		c.opts.Log = func(f string, a ...any) { log = append(log, f) }
		_, err := ExportRAM(context.Background(), c.opts)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q", c.name, err, w)
			}
		}
		if c.name != "not a bundle" && len(log) > 0 {
			t.Errorf("%s: refused only after %q", c.name, log)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Error("the existing output was touched")
	}
	if got := exLs(t, tmp); !reflect.DeepEqual(got, []string{"existing.tar.gz", "shop-1.0"}) {
		t.Errorf("left behind: %v", got)
	}

	// --force replaces.
	if _, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: existing, Force: true}); err != nil {
		t.Fatal(err)
	}
	exRead(t, existing)

	// A bundle whose own name holds "plugin": WritePackage's refusal reaches the caller.
	pdir := filepath.Join(t.TempDir(), "plugin-shop-1.0")
	host = testRegistry(t, "shop/web:1.0", "shop/db:8")
	if _, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: exProject(t, host)}, Name: "plugin-shop", Version: "1.0", Output: pdir, Sources: []string{"registry"}}); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	_, err := ExportRAM(context.Background(), ExportOptions{Input: pdir, Output: filepath.Join(outDir, "x.tar.gz")})
	if err == nil || !strings.Contains(err.Error(), `package name "plugin-shop" contains "plugin"`) || !strings.Contains(err.Error(), "rename the app (--name)") {
		t.Errorf("plugin bundle: %v", err)
	}
	if got := exLs(t, outDir); len(got) != 0 {
		t.Errorf("left behind: %v", got)
	}
}

func TestExportRAMRefusesUnsoundBundle(t *testing.T) {
	bdir := filepath.Join(t.TempDir(), "shop-1.0")
	exBundle(t, bdir)
	conf := filepath.Join(bdir, "files", "conf", "app.conf")
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("the bundle's config file: %v", err)
	}
	if err := os.WriteFile(conf, []byte("listen 81\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	_, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: filepath.Join(outDir, "x.tar.gz")})
	if err == nil || !strings.Contains(err.Error(), "files/conf/app.conf: checksum mismatch") || !strings.Contains(err.Error(), "the bundle is not sound") {
		t.Errorf("unsound bundle: %v", err)
	}
	if got := exLs(t, outDir); len(got) != 0 {
		t.Errorf("left behind: %v", got)
	}
}

// RAM package -> bundle (PackRAM) -> RAM package (ExportRAM) keeps the template.
func TestExportRAMRoundTrip(t *testing.T) {
	orig := sampleTemplate(t)
	images := templateImages(t, orig)
	pkgFile := ramtest.WritePackage(t, orig, images)
	bdir := filepath.Join(t.TempDir(), "app-delivery-1.0")
	if _, err := PackRAM(context.Background(), RAMOptions{Package: pkgFile, Output: bdir}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "back.tar.gz")
	res, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %q", res.Warnings)
	}
	back := exRead(t, out).Template
	// The template, components in any order, registry credentials blanked as WritePackage does.
	want := *orig
	want.Apps = slices.Clone(orig.Apps)
	for i := range want.Apps {
		want.Apps[i].ServiceImage = ram.ServiceImage{}
	}
	sortApps := func(t *ram.Template) {
		sort.Slice(t.Apps, func(i, j int) bool { return t.Apps[i].ServiceKey < t.Apps[j].ServiceKey })
	}
	sortApps(&want)
	sortApps(back)
	if got, w := exJSON(t, back), exJSON(t, &want); got != w {
		t.Errorf("RAM -> bundle -> RAM changed the template:\n got  %s\n want %s", got, w)
	}
}
