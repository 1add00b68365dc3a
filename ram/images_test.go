package ram

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airpack/airpack/compose"
)

// The table of docs/ram-format.md §8.1 (the fact sheet's examples, computed with the
// importer's own NewImageName logic).
func TestImportedName(t *testing.T) {
	const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		in, def, ns, err string
	}{
		{"redis:7", "goodrain.me/redis:7", "goodrain.me/myns/redis:7", ""},
		{"redis", "goodrain.me/redis:latest", "goodrain.me/myns/redis:latest", ""},
		{"bitnami/redis:7", "goodrain.me/redis:7", "goodrain.me/myns/redis:7", ""},
		{"docker.io/library/redis:7", "goodrain.me/redis:7", "goodrain.me/myns/redis:7", ""},
		{"myorg/api:1.0", "goodrain.me/api:1.0", "goodrain.me/myns/api:1.0", ""},
		{"otherorg/api:1.0", "goodrain.me/api:1.0", "goodrain.me/myns/api:1.0", ""},
		{"reg.example.com:5000/a/b/c:1", "goodrain.me/b/c:1", "goodrain.me/myns/b/c:1", ""},
		{"ghcr.io/org/team/app:2", "goodrain.me/team/app:2", "goodrain.me/myns/team/app:2", ""},
		{"localhost/foo:1", "goodrain.me/foo:1", "goodrain.me/myns/foo:1", ""},
		{"localhost:5000/foo:1", "goodrain.me/foo:1", "goodrain.me/myns/foo:1", ""},
		{"goodrain.me/ns/abc:v1", "goodrain.me/abc:v1", "goodrain.me/myns/abc:v1", ""},
		{"goodrain.me/0123abcd:20250101120000", "goodrain.me/0123abcd:20250101120000", "goodrain.me/myns/0123abcd:20250101120000", ""},
		{"redis@sha256:" + hex, "", "", "digest"},
		{"redis:7@sha256:" + hex, "", "", "digest"},
		{"Redis:7", "", "", "lowercase"},
		{"", "", "", "invalid reference format"},
	} {
		got, err := ImportedName(c.in, ImportHub, "")
		gotNS, errNS := ImportedName(c.in, ImportHub, "myns")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || errNS == nil {
				t.Errorf("ImportedName(%q) = %q, %v; want an error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.def || errNS != nil || gotNS != c.ns {
			t.Errorf("ImportedName(%q) = %q, %v and %q, %v; want %q and %q", c.in, got, err, gotNS, errNS, c.def, c.ns)
		}
	}
	if got, _ := ImportedName("redis:7", "hub.example.com:5000", ""); got != "hub.example.com:5000/redis:7" {
		t.Errorf("another hub: %q", got)
	}
}

func TestImportProblems(t *testing.T) {
	tm := &Template{Apps: []Component{
		{ServiceCname: "cache", ShareImage: "redis:7"},
		{ServiceCname: "cache2", ShareImage: "bitnami/redis:7"},
		{ServiceCname: "cache3", ShareImage: "docker.io/library/redis:7"}, // the same image as cache's
		{ServiceCname: "api", ShareImage: "myorg/api:1.0"},
		{ServiceCname: "api2", ShareImage: "otherorg/api:1.0"},
		{ServiceCname: "ok", ShareImage: "goodrain.me/shop/0123:1"},
		{ServiceCname: "pinned", ShareImage: "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{ServiceCname: "Upper", ShareImage: "Shop/Web:1"},
	}, Plugins: []Plugin{{PluginName: "mesh", ShareImage: "goodrain.me/plugins/api:1.0"}}}
	got := ImportProblems(tm)
	want := []string{
		`apps[0] (service_cname "cache") and apps[1] (service_cname "cache2") both become goodrain.me/redis:7 on import`,
		`apps[3] (service_cname "api") and apps[4] (service_cname "api2") both become goodrain.me/api:1.0 on import`,
		`apps[6] (service_cname "pinned"): share_image "redis@sha256:`,
		`apps[7] (service_cname "Upper"): share_image "Shop/Web:1" cannot be imported`,
		`apps[3] (service_cname "api") and plugins[0] (plugin_name "mesh") both become goodrain.me/api:1.0`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d: %s\nwant it to contain %s", i, got[i], want[i])
		}
	}
	if p := ImportProblems(&Template{Apps: []Component{{ShareImage: "a/x:1"}, {ShareImage: "a/x:1"}, {ShareImage: "b/x:2"}}}); len(p) != 0 {
		t.Errorf("fine template: %v", p)
	}
}

func TestShareImageName(t *testing.T) {
	id := StableID("shop", "web")
	for _, c := range []struct{ group, version, id, want string }{
		{"shop", "1.0", id, "goodrain.me/shop/" + id + ":1.0"},
		{"My Shop_2", "v2.1-rc_1", id, "goodrain.me/my-shop-2/" + id + ":v2.1-rc_1"},
		{"商店", "1.0", id, "goodrain.me/app/" + id + ":1.0"},
		{"shop", "1.0 Beta", id, "goodrain.me/shop/" + id + ":1.0-beta-" + StableID("group_version", "1.0 Beta")[:8]},
		{"shop", "V1", id, "goodrain.me/shop/" + id + ":v1-" + StableID("group_version", "V1")[:8]},
		{"shop", "-1", "Web_ID", "goodrain.me/shop/" + StableID("service_id", "Web_ID") + ":1-" + StableID("group_version", "-1")[:8]},
	} {
		got := ShareImageName(c.group, c.version, c.id)
		if got != c.want {
			t.Errorf("ShareImageName(%q, %q, %q) = %q, want %q", c.group, c.version, c.id, got, c.want)
		}
		if n, err := ImportedName(got, ImportHub, ""); err != nil || n != ImportHub+"/"+got[strings.LastIndexByte(got, '/')+1:] {
			t.Errorf("%s: re-tagged %q, %v", got, n, err)
		}
	}
	long := ShareImageName(strings.Repeat("g", 300), strings.Repeat("Ü", 300), strings.Repeat("x", 300))
	n, err := ImportedName(long, ImportHub, "")
	if err != nil || len(n) > 200 {
		t.Errorf("long names: %q (%d characters), %v", n, len(n), err)
	}
}

// Images the importer would re-tag to one name get share_images it keeps apart; each
// component's image stays the image as shipped.
func TestFromComposeShareImagesUnique(t *testing.T) {
	p, dir := loadProject(t, map[string]string{"compose.yaml": `
name: shop
services:
  cache:
    image: redis:7
  cache2:
    image: bitnami/redis:7
  cache3:
    image: redis:7
  api:
    image: myorg/api:1.0
  api2:
    image: otherorg/api:1.0
`})
	tpl, _ := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1.0"})
	if problems := ImportProblems(tpl); len(problems) > 0 {
		t.Errorf("import problems: %v", problems)
	}
	seen := map[string]string{}
	for _, a := range tpl.Apps {
		eq(t, a.ServiceCname+" share_image", a.ShareImage, ShareImageName("shop", "1.0", a.ServiceID))
		eq(t, a.ServiceCname+" image", a.Image, p.Services[a.ServiceCname].Image)
		n, _ := ImportedName(a.ShareImage, ImportHub, "")
		if other, dup := seen[n]; dup {
			t.Errorf("%s and %s both become %s", other, a.ServiceCname, n)
		}
		seen[n] = a.ServiceCname
	}
	// The same app under another name or version: other names again.
	other, _ := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Name: "shop2", Version: "1.0"})
	next, _ := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1.1"})
	for _, tp := range []*Template{other, next} {
		for _, a := range tp.Apps {
			n, _ := ImportedName(a.ShareImage, ImportHub, "")
			if c, dup := seen[n]; dup {
				t.Errorf("%s %s: %s becomes %s, as %s of shop 1.0", tp.GroupName, tp.GroupVersion, a.ServiceCname, n, c)
			}
		}
	}
}

// A template (a platform package's) whose share_images collide after the re-tag: the first
// component keeps its share_image, the other gets a new one, with a warning naming it. One
// whose share_images are fine keeps them (TestFromComposeXRAMRoundTrip).
func TestFromComposeXRAMShareImageCollision(t *testing.T) {
	orig, err := DecodeMetadata(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	var db, web int
	for i := range orig.Apps {
		switch orig.Apps[i].ServiceCname {
		case "db":
			db = i
		case "web":
			web = i
		}
	}
	orig.Apps[db].ShareImage = "bitnami/redis:7"
	orig.Apps[web].ShareImage = "redis:7"
	cp, err := ToCompose(orig, ToComposeOptions{Random: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := cp.Write(dir); err != nil {
		t.Fatal(err)
	}
	lp, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got, warnings := convertFromCompose(t, lp.Typed(), FromComposeOptions{Dir: dir})
	eq(t, "db share_image", appNamed(t, got, "db").ShareImage, "bitnami/redis:7")
	w := appNamed(t, got, "web")
	eq(t, "web share_image", w.ShareImage, ShareImageName(got.GroupName, got.GroupVersion, w.ServiceID))
	eq(t, "web image", w.Image, orig.Apps[web].Image)
	if problems := ImportProblems(got); len(problems) > 0 {
		t.Errorf("import problems: %v", problems)
	}
	found := false
	for _, wn := range warnings {
		if strings.HasPrefix(wn, "service web: image: the template's share_image redis:7 would not survive") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning about web's share_image: %v", warnings)
	}
}

// A platform package whose share_images collide after the importer's re-tag, or cannot be
// re-tagged: read with a warning, a problem for inspect, and never written.
func TestPackageShareImageProblems(t *testing.T) {
	doc := sampleDoc(t)
	set(t, doc, "apps.0.share_image", "redis:7")
	set(t, doc, "apps.1.share_image", "bitnami/redis:7")
	top := "app-delivery-1.0-ram"
	p := writeTemp(t, top+".tar.gz", gzipTar(t,
		dir(top+"/"),
		file(top+"/metadata.json", marshal(t, doc)),
		file(top+"/component-images.tar", imagesTar(t, 1, "redis:7", "bitnami/redis:7")),
	))
	const want = `apps[0] (service_cname "web") and apps[1] (service_cname "db") both become goodrain.me/redis:7 on import (share_images redis:7 and bitnami/redis:7): the second overwrites the first`
	pkg, err := ReadPackage(context.Background(), p, ReadOptions{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Remove()
	if len(pkg.Warnings) != 1 || !strings.Contains(pkg.Warnings[0], want) {
		t.Errorf("warnings %q", pkg.Warnings)
	}
	r, err := InspectPackage(context.Background(), p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], want) {
		t.Errorf("problems %q", r.Problems)
	}
	out := filepath.Join(t.TempDir(), "x.tar.gz")
	err = WritePackage(context.Background(), out, pkg.Template, writeImages(imagesTar(t, 1, "redis:7", "bitnami/redis:7")), WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("WritePackage: %v", err)
	}
	pkg.Template.Apps[1].ShareImage = "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	err = WritePackage(context.Background(), out, pkg.Template, writeImages(imagesTar(t, 1, "redis:7")), WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "is pinned to digest") {
		t.Errorf("WritePackage: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a package was written")
	}
}
