package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func dl(d string, n int64) Layer {
	return Layer{Digest: "sha256:" + d, DiffID: "sha256:diff-" + d, Size: n}
}

// diffFixture is shop 1.0: web and db on a shared base layer, worker alone.
func diffFixture() *Manifest {
	return &Manifest{FormatVersion: 1, Name: "shop", Version: "1.0", Platform: "linux/amd64", Images: []Image{
		{Ref: "shop/web:1.0", Services: []string{"web"}, ManifestDigest: "sha256:mweb", ConfigDigest: "sha256:cweb", Layers: []Layer{dl("base", 1000), dl("web1", 100)}},
		{Ref: "postgres:16", Services: []string{"db"}, ManifestDigest: "sha256:mdb", ConfigDigest: "sha256:cdb", Layers: []Layer{dl("base", 1000), dl("pg", 5000)}},
		{Ref: "shop/worker:1.0", Services: []string{"worker"}, ManifestDigest: "sha256:mwk", ConfigDigest: "sha256:cwk", Layers: []Layer{dl("wk", 300)}},
	}, Archives: []Archive{{Path: ImageArchive, Size: 20000}}}
}

func clone(t *testing.T, m *Manifest) *Manifest {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var c Manifest
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func side(m *Manifest, size int64) *DiffSide {
	return &DiffSide{Path: m.Name + "-" + m.Version, Form: FormDirectory, Manifest: m, Size: size}
}

func TestDiffIdentical(t *testing.T) {
	m := diffFixture()
	d := NewDiff(side(m, 30000), side(m, 30000))
	if !d.Same || len(d.Warnings) != 0 {
		t.Errorf("identical: same %v, warnings %v", d.Same, d.Warnings)
	}
	if d.Upgrade.CarriedLayers != 0 || d.Upgrade.CarriedLayerBytes != 0 || d.Upgrade.ReusedLayerBytes != 6400 {
		t.Errorf("upgrade: %+v", d.Upgrade)
	}
	// NEW less every layer blob with its tar header and padding.
	left := tarMemberSize(1000) + tarMemberSize(100) + tarMemberSize(5000) + tarMemberSize(300)
	if d.Upgrade.ImageArchiveSize != 20000-left || *d.Upgrade.BundleSize != 30000-left {
		t.Errorf("upgrade sizes: %+v", d.Upgrade)
	}
	if d.Services.Unchanged == nil || len(d.Services.Unchanged) != 3 || len(d.Images.Unchanged) != 3 {
		t.Errorf("unchanged: %v %v", d.Services.Unchanged, d.Images.Unchanged)
	}
	// Every list is a list, also empty.
	b, _ := json.Marshal(d)
	if bytes.Contains(b, []byte("null")) {
		t.Errorf("null in %s", b)
	}
	var out bytes.Buffer
	if err := d.WriteText(&out); err != nil || !strings.Contains(out.String(), "No differences: same services, images.") {
		t.Errorf("text:\n%s", out.String())
	}
}

// web gets a new image with one new top layer: the upgrade carries that layer only.
func TestDiffImageChanged(t *testing.T) {
	old := diffFixture()
	m := clone(t, old)
	m.Version = "1.1"
	m.Images[0] = Image{Ref: "shop/web:1.1", Services: []string{"web"}, ManifestDigest: "sha256:mweb2", ConfigDigest: "sha256:cweb2", Layers: []Layer{dl("base", 1000), dl("web2", 120)}}
	d := NewDiff(side(old, 30000), side(m, 30020))
	if d.Same {
		t.Error("same")
	}
	want := Services{
		Added: []ServiceRef{}, Removed: []ServiceRef{},
		Changed:   []ServiceChange{{Service: "web", OldImage: "shop/web:1.0", NewImage: "shop/web:1.1", OldDigest: "sha256:mweb", NewDigest: "sha256:mweb2", ImageChanged: true, VolumeImages: []string{}, Keys: []string{}, EnvVariables: []string{}}},
		Unchanged: []string{"db", "worker"},
	}
	if diff := cmp.Diff(want, d.Services); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	wantImages := Images{
		Added: []ImageSummary{}, Removed: []ImageSummary{},
		Changed: []ImageChange{{OldRef: "shop/web:1.0", NewRef: "shop/web:1.1", OldManifestDigest: "sha256:mweb", NewManifestDigest: "sha256:mweb2", OldConfigDigest: "sha256:cweb", NewConfigDigest: "sha256:cweb2",
			LayersAdded: []LayerRef{{"sha256:web2", 120}}, LayersRemoved: []LayerRef{{"sha256:web1", 100}}, AddedBytes: 120, RemovedBytes: 100}},
		Unchanged: []string{"postgres:16", "shop/worker:1.0"},
	}
	if diff := cmp.Diff(wantImages, d.Images); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	u := PlanUpgrade(old, m)
	if d.Upgrade.CarriedLayers != 1 || d.Upgrade.CarriedLayerBytes != 120 || d.Upgrade.CarriedLayerBytes != u.CarriedBytes || d.Upgrade.ReusedLayerBytes != u.ReusedBytes {
		t.Errorf("upgrade %+v, plan %+v", d.Upgrade, u)
	}
	if len(d.Upgrade.BaseImages) != 3 {
		t.Errorf("base images %v", d.Upgrade.BaseImages)
	}
	var out bytes.Buffer
	_ = d.WriteText(&out)
	for _, s := range []string{
		"  ~ web  image shop/web:1.0 -> shop/web:1.1\n",
		"  ~ shop/web:1.0 -> shop/web:1.1  sha256:mweb -> sha256:mweb2\n",
		"      + layer sha256:web2  120 B\n",
		"      - layer sha256:web1  100 B\n",
		"  carries  1 layer, 120 B: NEW's layers OLD does not have\n",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, out.String())
		}
	}
}

// Same tag, new content: the service changed by digest; no retag pairing needed.
func TestDiffSameTagNewDigest(t *testing.T) {
	old := diffFixture()
	m := clone(t, old)
	m.Images[2].ManifestDigest, m.Images[2].Layers = "sha256:mwk2", []Layer{dl("wk2", 310)}
	d := NewDiff(side(old, 1), side(m, 1))
	if len(d.Services.Changed) != 1 || d.Services.Changed[0].Service != "worker" || !d.Services.Changed[0].ImageChanged {
		t.Fatalf("services %+v", d.Services)
	}
	var out bytes.Buffer
	_ = d.WriteText(&out)
	if !strings.Contains(out.String(), "  ~ worker  image shop/worker:1.0: sha256:mwk -> sha256:mwk2\n") {
		t.Errorf("text:\n%s", out.String())
	}
}

func TestDiffAddedRemoved(t *testing.T) {
	old := diffFixture()
	m := clone(t, old)
	m.Version = "1.1"
	m.Images = m.Images[:2]
	m.Images = append(m.Images, Image{Ref: "redis:7", Services: []string{"cache"}, ManifestDigest: "sha256:mredis", Layers: []Layer{dl("base", 1000), dl("redis", 700)}})
	d := NewDiff(side(old, 1), side(m, 1))
	if diff := cmp.Diff([]ServiceRef{{"cache", "redis:7"}}, d.Services.Added); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]ServiceRef{{"worker", "shop/worker:1.0"}}, d.Services.Removed); diff != "" {
		t.Error(diff)
	}
	if len(d.Images.Added) != 1 || d.Images.Added[0].Ref != "redis:7" || len(d.Images.Removed) != 1 || d.Images.Removed[0].Ref != "shop/worker:1.0" {
		t.Errorf("images %+v", d.Images)
	}
	if d.Upgrade.CarriedLayerBytes != 700 {
		t.Errorf("carried %d", d.Upgrade.CarriedLayerBytes)
	}
}

func TestDiffCompose(t *testing.T) {
	old := diffFixture()
	m := clone(t, old)
	od, nd := side(old, 1), side(m, 1)
	od.Compose = []byte(`name: shop
services:
  web:
    image: shop/web:1.0
    environment: [MODE=prod, "GREETING=${GREETING}"]
    ports: ["8080:80"]
  db: {image: "postgres:16", volumes: [{type: volume, source: data, target: /var/lib/postgresql/data}]}
  worker: {image: "shop/worker:1.0", command: [run]}
  ai: {provider: {type: model}}
volumes: {data: {}}
`)
	// Key order and list-vs-map spelling differ but mean the same; web's MODE changed, worker's
	// command too; .env's GREETING changed, SECRET added.
	nd.Compose = []byte(`services:
  worker: {command: [run, --fast], image: "shop/worker:1.0"}
  db: {volumes: [{source: data, target: /var/lib/postgresql/data, type: volume}], image: "postgres:16"}
  web:
    ports: ["8080:80"]
    environment: {GREETING: "${GREETING}", MODE: staging}
    image: shop/web:1.0
  ai: {provider: {type: model}}
name: shop
volumes: {data: {labels: {keep: "yes"}}}
`)
	od.Env = []byte("GREETING=hello\nUNUSED=1\n")
	nd.Env = []byte("GREETING=hi\nUNUSED=1\nSECRET=x\n")
	d := NewDiff(od, nd)
	if !d.ComposeCompared {
		t.Fatal("compose not compared")
	}
	var got []string
	for _, c := range d.Services.Changed {
		got = append(got, c.Service+": "+strings.Join(c.Keys, ",")+" env "+strings.Join(c.EnvVariables, ","))
	}
	want := []string{"web: environment env GREETING", "worker: command env "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ai", "db"}, d.Services.Unchanged); diff != "" {
		t.Errorf("unchanged: %s", diff)
	}
	if diff := cmp.Diff([]string{"volumes"}, d.ComposeKeys); diff != "" {
		t.Errorf("compose keys: %s", diff)
	}
	if diff := cmp.Diff(EnvChanges{Added: []string{"SECRET"}, Removed: []string{}, Changed: []string{"GREETING"}}, d.EnvVariables); diff != "" {
		t.Errorf("env: %s", diff)
	}
	var out bytes.Buffer
	_ = d.WriteText(&out)
	for _, s := range []string{"  ~ web  definition: environment; .env: GREETING\n", "  ~ worker  definition: command\n", "Compose file, top level: volumes changed\n", ".env variables: added SECRET; changed GREETING (values not shown)\n"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, out.String())
		}
	}
	// Without a compose file on one side, only the images are compared.
	nd.Compose = nil
	if d := NewDiff(od, nd); d.ComposeCompared || len(d.Services.Changed) != 0 || !d.Same {
		t.Errorf("without compose: %+v", d.Services)
	}
}

func TestDiffWarnings(t *testing.T) {
	old := diffFixture()
	m := clone(t, old)
	m.Name, m.Platform = "store", "linux/arm64"
	d := NewDiff(side(old, 1), side(m, 1))
	if len(d.Warnings) != 2 || !strings.Contains(d.Warnings[0], "different names (shop, store)") || !strings.Contains(d.Warnings[1], "different platforms (linux/amd64, linux/arm64)") {
		t.Errorf("warnings %q", d.Warnings)
	}
	if d.Same {
		t.Error("same")
	}
}

func TestReadDiffSide(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, _ := diffFixture().Marshal()
	j := filepath.Join(dir, "airpack.json")
	if err := os.WriteFile(j, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadDiffSide(ctx, j)
	if err != nil || s.Form != FormManifest || s.Size != -1 || s.Manifest.Name != "shop" || s.Compose != nil {
		t.Fatalf("airpack.json: %+v %v", s, err)
	}
	// A directory: its files' sizes.
	if err := os.WriteFile(filepath.Join(dir, ComposeFile), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = ReadDiffSide(ctx, dir)
	if err != nil || s.Form != FormDirectory || s.Size != int64(len(b))+13 || string(s.Compose) != "services: {}\n" || s.Env != nil {
		t.Fatalf("directory: %+v %v", s, err)
	}
	for name, want := range map[string]string{
		"missing":   "missing: no such file or directory",
		"garbage":   "garbage is neither a bundle directory nor a bundle archive",
		"bad.json":  "bad.json: parse airpack.json",
		"empty.dir": "empty.dir: no airpack.json: not an airpack bundle",
	} {
		p := filepath.Join(dir, name)
		switch name {
		case "garbage":
			_ = os.WriteFile(p, []byte("hello, world"), 0o644)
		case "bad.json":
			_ = os.WriteFile(p, []byte("{nope"), 0o644)
		case "empty.dir":
			_ = os.Mkdir(p, 0o755)
		}
		_, err := ReadDiffSide(ctx, p)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), p) != 1 || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q naming the file once", name, err, want)
		}
	}
}

// NEW may be an upgrade bundle itself: its archive already leaves out its base's layers, so
// the estimate subtracts only the reused layers NEW stores, and adds back a carried layer NEW
// left out (OLD lacks it, so an upgrade from OLD must carry it).
func TestDiffNewIsUpgrade(t *testing.T) {
	old := diffFixture()
	nm := clone(t, old)
	nm.Version = "1.1"
	nm.Images[0].Ref, nm.Images[0].Layers = "shop/web:1.1", []Layer{dl("base", 1000), dl("web2", 200)}
	// NEW was packed on a base holding base, pg, wk and web2 (another 1.0 build): it stores none.
	nm.Base = &Base{Name: "shop", Version: "1.0", Layers: []string{"sha256:base", "sha256:pg", "sha256:wk", "sha256:web2"}}
	nm.Archives = []Archive{{Path: ImageArchive, Size: 3000}}
	d := NewDiff(side(old, 30000), side(nm, 5000))
	if d.Upgrade.CarriedLayerBytes != 200 {
		t.Fatalf("carried %d bytes, want web2's 200", d.Upgrade.CarriedLayerBytes)
	}
	if want := int64(3000) + tarMemberSize(200); d.Upgrade.ImageArchiveSize != want {
		t.Errorf("image archive estimate %d, want NEW's 3000 plus web2's member %d", d.Upgrade.ImageArchiveSize, want)
	}
}
