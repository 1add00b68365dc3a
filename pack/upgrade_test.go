package pack

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/internal/ramtest"
	"github.com/airpack/airpack/ram"
)

func push(t *testing.T, host, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

// changed is img with one more layer: a service whose code changed.
func changed(t *testing.T, img v1.Image) (v1.Image, string) {
	t.Helper()
	l, err := random.Layer(2048, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	return out, d.String()
}

// archiveLayerBlobs are the blobs of the bundle's image archive that are layers of its images.
func archiveLayerBlobs(t *testing.T, dir string, m *bundle.Manifest) []string {
	t.Helper()
	layers := map[string]bool{}
	for _, im := range m.Images {
		for _, l := range im.Layers {
			layers[l.Digest] = true
		}
	}
	f, err := os.Open(filepath.Join(dir, bundle.ImageArchive))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if d := "sha256:" + strings.TrimPrefix(h.Name, "blobs/sha256/"); layers[d] {
			out = append(out, d)
		}
	}
}

// An upgrade 1.1 of shop 1.0 whose web image gained a layer: its archive holds that layer
// alone, airpack.json records the base, the bundle verifies and its load.sh checks the base;
// the base may be given as a directory, an archive or its airpack.json.
func TestPackUpgrade(t *testing.T) {
	host := testRegistry(t)
	web, db := amd64Image(t, 2), amd64Image(t, 2)
	web11, newLayer := changed(t, web)
	push(t, host, "shop/web:1.0", web)
	push(t, host, "shop/db:1.0", db)
	push(t, host, "shop/web:1.1", web11)
	ctx := context.Background()
	tmp := t.TempDir()
	pack := func(version, web, out, base string) (*Result, error) {
		dir := project(t, "name: shop\nservices:\n  web:\n    image: "+host+"/shop/web:"+web+"\n  db:\n    image: "+host+"/shop/db:1.0\n")
		return Pack(ctx, Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: version, Output: out, Sources: []string{"registry"}, Base: base})
	}
	base10 := filepath.Join(tmp, "shop-1.0")
	res10, err := pack("1.0", "1.0", base10, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pack("1.0", "1.0", filepath.Join(tmp, "shop-1.0.tar.gz"), ""); err != nil {
		t.Fatal(err)
	}
	baseJSON, err := os.ReadFile(filepath.Join(base10, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(baseJSON)
	for _, base := range []string{base10, filepath.Join(tmp, "shop-1.0.tar.gz"), filepath.Join(base10, bundle.ManifestFile)} {
		t.Run(filepath.Base(base), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "shop-1.1")
			res, err := pack("1.1", "1.1", out, base)
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if got := archiveLayerBlobs(t, out, m); !slices.Equal(got, []string{newLayer}) {
				t.Errorf("the archive holds layers %v, want only the changed one %s", got, newLayer)
			}
			b := m.Base
			if b == nil || b.Name != "shop" || b.Version != "1.0" || b.ManifestSHA256 != hex.EncodeToString(sum[:]) || len(b.Layers) != 4 {
				t.Fatalf("base: %+v", b)
			}
			var refs []string
			for _, im := range b.Images {
				refs = append(refs, im.Ref)
				i := slices.IndexFunc(res10.Manifest.Images, func(x bundle.Image) bool { return x.Ref == im.Ref })
				if i < 0 || res10.Manifest.Images[i].ConfigDigest != im.ConfigDigest || res10.Manifest.Images[i].ManifestDigest != im.ManifestDigest {
					t.Errorf("base image %+v is not 1.0's", im)
				}
			}
			if want := []string{host + "/shop/db:1.0", host + "/shop/web:1.0"}; !slices.Equal(refs, want) {
				t.Errorf("base images %v, want %v", refs, want)
			}
			if res.Upgrade == nil || len(res.Upgrade.Carried) != 1 || res.ArchiveSize >= res.FullSize || res.ArchiveSize != m.Archives[0].Size {
				t.Errorf("result: upgrade %+v, archive %d of %d", res.Upgrade, res.ArchiveSize, res.FullSize)
			}
			if _, problems, err := bundle.Verify(ctx, out); err != nil || len(problems) > 0 {
				t.Fatalf("verify: %v %v", err, problems)
			}
			script, err := os.ReadFile(filepath.Join(out, bundle.LoaderFile))
			if err != nil || !strings.Contains(string(script), "BASE_NAME='shop' BASE_VERSION='1.0'") || !strings.Contains(string(script), host+"/shop/web:1.0") {
				t.Errorf("load.sh does not check the base: %v", err)
			}
		})
	}

	// What an upgrade cannot build on, refused before anything is written.
	other := filepath.Join(tmp, "other.json")
	if err := os.WriteFile(other, []byte(strings.Replace(string(baseJSON), `"name": "shop"`, `"name": "shop2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	arm := filepath.Join(tmp, "arm.json")
	if err := os.WriteFile(arm, []byte(strings.ReplaceAll(string(baseJSON), "linux/amd64", "linux/arm64")), 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(tmp, "junk.tar")
	if err := os.WriteFile(junk, []byte("not a bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ version, base, want string }{
		{"1.1", other, "is a bundle of shop2 1.0, not of shop: an upgrade runs in place, under the same compose project name: give a base of shop, or pack with --name shop2"},
		{"1.1", arm, "is for linux/arm64, this bundle for linux/amd64: an upgrade reuses its base's layers"},
		{"1.0", base10, "is shop 1.0 itself: an upgrade has another --version than its base"},
		{"1.1", filepath.Join(tmp, "nowhere"), "--base " + filepath.Join(tmp, "nowhere") + ": open base bundle:"},
		{"1.1", junk, "--base " + junk + ": "},
		{"1.1", tmp, "--base " + tmp + ": " + tmp + " has no airpack.json"},
	} {
		out := filepath.Join(t.TempDir(), "shop-x")
		_, err := pack(c.version, "1.1", out, c.base)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--base %s: err %v, want one line containing %q", c.base, err, c.want)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("--base %s: wrote %s", c.base, out)
		}
	}
}

// pack --ram NEW --base OLD: the platform's upgrade of an application template offline.
func TestPackRAMUpgrade(t *testing.T) {
	tpl := sampleTemplate(t)
	images := templateImages(t, tpl)
	ctx := context.Background()
	base := filepath.Join(t.TempDir(), "base")
	if _, err := PackRAM(ctx, RAMOptions{Package: ramtest.WritePackage(t, tpl, images), Version: "1.0", Output: base, WorkDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	share := tpl.Apps[0].ShareImage
	var newLayer string
	images[share], newLayer = changed(t, images[share])
	out := filepath.Join(t.TempDir(), "upgrade")
	res, err := PackRAM(ctx, RAMOptions{Package: ramtest.WritePackage(t, tpl, images), Version: "1.1", Output: out, WorkDir: t.TempDir(), Base: base})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Base == nil || res.Manifest.Base.Version != "1.0" {
		t.Fatalf("base %+v", res.Manifest.Base)
	}
	if got := archiveLayerBlobs(t, out, res.Manifest); !slices.Equal(got, []string{newLayer}) {
		t.Errorf("the archive holds layers %v, want only %s", got, newLayer)
	}
	if _, problems, err := bundle.Verify(ctx, out); err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", err, problems)
	}
}

// pack --ram NEW --base OLD keeps the values OLD generated for the template's "**None**"
// variables (its .env, read from the base bundle in any form): a database keeps its password.
// A variable new in NEW gets a new value; a base given as its airpack.json alone, without the
// .env, gets a warning naming the values that change.
func TestPackRAMUpgradeKeepsGeneratedValues(t *testing.T) {
	tpl := sampleTemplate(t)
	images := templateImages(t, tpl)
	ctx := context.Background()
	pkg10 := ramtest.WritePackage(t, tpl, images)
	tmp := t.TempDir()
	dotEnv := func(t *testing.T, b []byte) map[string]string {
		t.Helper()
		vars, err := dotenv.UnmarshalBytesWithLookup(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return vars
	}
	// Three 1.0 bundles, each with values of its own.
	bases := map[string]map[string]string{}
	for _, c := range []struct{ out, base string }{
		{filepath.Join(tmp, "dir", "shop-1.0"), filepath.Join(tmp, "dir", "shop-1.0")},
		{filepath.Join(tmp, "tar", "shop-1.0.tar.gz"), filepath.Join(tmp, "tar", "shop-1.0.tar.gz")},
		{filepath.Join(tmp, "parts", "shop-1.0.tar"), filepath.Join(tmp, "parts", "shop-1.0.tar.sha256")},
	} {
		opts := RAMOptions{Package: pkg10, Name: "shop", Version: "1.0", Output: c.out, WorkDir: t.TempDir()}
		if strings.Contains(c.base, "parts") {
			opts.SplitSize = 1 << 20
		}
		if _, err := PackRAM(ctx, opts); err != nil {
			t.Fatal(err)
		}
		b, err := bundle.ReadBaseFiles(ctx, c.base)
		if err != nil || b.Bare || b.Env == nil {
			t.Fatalf("read the base's .env of %s: %+v %v", c.base, b, err)
		}
		bases[c.base] = dotEnv(t, b.Env)
	}
	generated := []string{"WEB_ADMIN_TOKEN", "DB_MYSQL_ROOT_PASSWORD"}
	seen := map[string]bool{}
	for _, vars := range bases {
		for _, n := range generated {
			if v := vars[n]; len(v) < 16 || seen[v] {
				t.Fatalf("1.0's .env: %s = %q: not a new generated value", n, v)
			}
			seen[vars[n]] = true
		}
	}

	// 1.1 adds a "**None**" variable to web.
	tpl11 := sampleTemplate(t)
	tpl11.GroupVersion = "1.1"
	tpl11.Apps[0].ServiceEnvMapList = append(tpl11.Apps[0].ServiceEnvMapList, ram.Env{AttrName: "SESSION_KEY", AttrValue: ram.RandomValue})
	if tpl11.Apps[0].ServiceCname != "web" {
		t.Fatalf("apps[0] is %s", tpl11.Apps[0].ServiceCname)
	}
	pkg11 := ramtest.WritePackage(t, tpl11, images)
	pack11 := func(t *testing.T, base string) (map[string]string, *Result, string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "shop-1.1")
		var log []string
		res, err := PackRAM(ctx, RAMOptions{Package: pkg11, Name: "shop", Version: "1.1", Output: out, WorkDir: t.TempDir(), Base: base,
			Log: func(f string, a ...any) { log = append(log, fmt.Sprintf(f, a...)) }})
		if err != nil {
			t.Fatal(err)
		}
		if _, problems, err := bundle.Verify(ctx, out); err != nil || len(problems) > 0 {
			t.Fatalf("verify: %v %v", err, problems)
		}
		b, err := os.ReadFile(filepath.Join(out, bundle.EnvFile))
		if err != nil {
			t.Fatal(err)
		}
		return dotEnv(t, b), res, strings.Join(log, "\n")
	}
	for base, want := range bases {
		t.Run(filepath.Base(base), func(t *testing.T) {
			vars, res, log := pack11(t, base)
			for _, n := range generated {
				if vars[n] != want[n] {
					t.Errorf("1.1's .env %s = %q, want 1.0's %q", n, vars[n], want[n])
				}
			}
			if v := vars["WEB_SESSION_KEY"]; len(v) < 16 || seen[v] {
				t.Errorf("1.1's new WEB_SESSION_KEY = %q, want a new value", v)
			}
			if len(res.Warnings) > 0 {
				t.Errorf("warnings %q", res.Warnings)
			}
			for _, w := range []string{"kept the generated values of shop 1.0's .env: WEB_ADMIN_TOKEN, DB_MYSQL_ROOT_PASSWORD", "generated new values for WEB_SESSION_KEY: not in shop 1.0's .env"} {
				if !strings.Contains(log, w) {
					t.Errorf("log lacks %q:\n%s", w, log)
				}
			}
		})
	}

	// The base's airpack.json alone: no .env to keep values from.
	t.Run("airpack.json", func(t *testing.T) {
		base := filepath.Join(tmp, "dir", "shop-1.0", bundle.ManifestFile)
		vars, res, _ := pack11(t, base)
		for _, n := range append(generated, "WEB_SESSION_KEY") {
			if v := vars[n]; len(v) < 16 || seen[v] {
				t.Errorf("1.1's %s = %q, want a new value", n, v)
			}
		}
		want := "--base " + base + " is an airpack.json alone, without the base bundle's .env: the values generated for the template's \"**None**\" variables (WEB_ADMIN_TOKEN, WEB_SESSION_KEY, DB_MYSQL_ROOT_PASSWORD) are new, not the base's"
		if !slices.ContainsFunc(res.Warnings, func(w string) bool {
			return strings.HasPrefix(w, want) && strings.HasSuffix(w, "pass the base bundle, not its airpack.json, to keep them")
		}) {
			t.Errorf("warnings %q, want one starting %q", res.Warnings, want)
		}
	})
}
