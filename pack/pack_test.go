package pack

import (
	"archive/tar"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
)

func testRegistry(t *testing.T, repos ...string) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	for _, r := range repos {
		img := amd64Image(t, 2)
		ref, _ := name.ParseReference(u.Host + "/" + r)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	return u.Host
}

// amd64Image is a random linux/amd64 image of layers layers.
func amd64Image(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(512, layers)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func project(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPackSharesImagesBetweenServices(t *testing.T) {
	host := testRegistry(t, "shop/web:1.0", "shop/db")
	dir := project(t, "name: shop\nservices:\n  web:\n    image: "+host+"/shop/web:1.0\n  web2:\n    image: "+host+"/shop/web:1.0\n  db:\n    image: "+host+"/shop/db\n")
	out := filepath.Join(t.TempDir(), "shop-1.0")
	res, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out, Sources: []string{"registry"}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Name != "shop" || m.Platform != DefaultPlatform || len(m.Images) != 2 {
		t.Fatalf("manifest: %+v", m)
	}
	byRef := map[string]bundle.Image{}
	for _, im := range m.Images {
		byRef[im.Ref] = im
	}
	if got := byRef[host+"/shop/web:1.0"].Services; strings.Join(got, ",") != "web,web2" {
		t.Errorf("web image services %v", got)
	}
	if _, ok := byRef[host+"/shop/db:latest"]; !ok {
		t.Errorf("untagged image not shipped as :latest: %v", byRef)
	}
	compose, err := os.ReadFile(filepath.Join(out, bundle.ComposeFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(compose), "image: "+host+"/shop/db:latest") {
		t.Errorf("compose file does not name the shipped tag:\n%s", compose)
	}
	if _, problems, err := bundle.Verify(context.Background(), out); err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", err, problems)
	}
}

func TestPackPlatform(t *testing.T) {
	for _, c := range []struct {
		services []compose.ServiceImage
		override string
		want     string
	}{
		{[]compose.ServiceImage{{Service: "a", Image: "x"}}, "", "linux/amd64"},
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64"}, {Service: "b", Image: "y", Platform: "linux/arm64"}}, "", "linux/arm64"},
		// the one platform the services name is the bundle's
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64"}, {Service: "b", Image: "y"}}, "", "linux/arm64"},
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64/v8"}, {Service: "b", Image: "y"}}, "linux/arm64", "linux/arm64"},
		{[]compose.ServiceImage{{Service: "a", Image: "x"}}, "linux/arm/v7", "linux/arm/v7"},
	} {
		reqs, _, _, got, err := requests(c.services, nil, c.override)
		if err != nil || got != c.want {
			t.Errorf("%+v override %q: platform %q, %v; want %q", c.services, c.override, got, err, c.want)
			continue
		}
		for _, r := range reqs {
			if r.Platform.String() != c.want {
				t.Errorf("%+v override %q: request for %v", c.services, c.override, r.Platform)
			}
		}
	}
	for _, c := range []struct {
		services []compose.ServiceImage
		override string
		want     string
	}{
		{[]compose.ServiceImage{{Service: "web", Image: "x", Platform: "linux/amd64"}}, "linux/arm64",
			"service web (linux/amd64) has another platform than the bundle's linux/arm64: a bundle holds one platform; pack one bundle per platform (--platform)"},
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64"}, {Service: "b", Image: "x"}, {Service: "c", Image: "y", Platform: "wasi/wasm"}}, "",
			"services a (linux/arm64), c (wasi/wasm) name different platforms: a bundle holds one platform; pack one bundle per platform (--platform), each with the services of that platform"},
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64"}, {Service: "c", Image: "y", Platform: "wasi/wasm"}}, "linux/arm64",
			"service c (wasi/wasm) has another platform than the bundle's linux/arm64: a bundle holds one platform; pack one bundle per platform (--platform)"},
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux"}}, "",
			`service a: platform "linux": want os/arch[/variant], e.g. linux/amd64`},
		{[]compose.ServiceImage{{Service: "a", Image: "x"}}, "amd64",
			`--platform: platform "amd64": want os/arch[/variant], e.g. linux/amd64`},
	} {
		_, _, _, _, err := requests(c.services, nil, c.override)
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v override %q:\n got %v\nwant %s", c.services, c.override, err, c.want)
		}
	}
}

func TestPackGroupsImagesByNormalizedReference(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	e := "sha256:" + strings.Repeat("e", 64)
	reqs, shipped, volumes, _, err := requests([]compose.ServiceImage{
		{Service: "a", Image: "busybox"},
		{Service: "b", Image: "busybox:latest"},
		{Service: "c", Image: "docker.io/library/busybox:latest"},
		{Service: "d", Image: "nginx:1.25"},
		{Service: "e", Image: "docker.io/library/nginx:1.25@" + d},
		{Service: "f", Image: "index.docker.io/library/redis@" + d},
	}, []compose.VolumeImage{{Service: "a", Image: "nginx:1.25"}, {Service: "b", Image: "docker.io/me/assets"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range reqs {
		got = append(got, r.Ref+" "+strings.Join(r.Services, ",")+" mounted by "+strings.Join(r.MountedBy, ","))
	}
	want := []string{
		"busybox:latest a,b,c mounted by ",
		"me/assets:latest  mounted by b",
		"nginx:1.25@" + d + " d,e mounted by a", // the pin decides for the tag
		"redis@" + d + " f mounted by ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for s, ref := range map[string]string{"a": "busybox:latest", "b": "busybox:latest", "c": "busybox:latest", "d": "nginx:1.25", "e": "nginx:1.25", "f": "redis:sha256-" + strings.Repeat("a", 64)} {
		if shipped[s] != ref {
			t.Errorf("service %s shipped as %q, want %q", s, shipped[s], ref)
		}
	}
	if volumes["nginx:1.25"] != "nginx:1.25" || volumes["docker.io/me/assets"] != "me/assets:latest" {
		t.Errorf("volume images shipped as %v", volumes)
	}
	_, _, _, _, err = requests([]compose.ServiceImage{{Service: "a", Image: "nginx:1.25@" + d}, {Service: "b", Image: "nginx:1.25@" + e}}, nil, "")
	if want := "service b: image nginx:1.25 is pinned to " + e + " here and to " + d + " by service a: a bundle ships one image per tag"; err == nil || err.Error() != want {
		t.Errorf("two pins for one tag:\n got %v\nwant %s", err, want)
	}
}

func TestPackRefusesBadOptionsBeforeWork(t *testing.T) {
	dir := project(t, "services:\n  web:\n    image: 127.0.0.1:1/none:1\n")
	existing := filepath.Join(t.TempDir(), "b.tar")
	os.WriteFile(existing, nil, 0o644)
	// The default output is <name>-<version>.tar in the current directory.
	t.Chdir(filepath.Dir(existing))
	os.WriteFile("b-1.0.tar", nil, 0o644)
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Output: "x.tar"}, "--version is required"},
		{Options{Version: "1.0", Name: "b", Output: ""}, "b-1.0.tar already exists"},
		{Options{Version: "1/0", Output: "x.tar"}, "version \"1/0\""},
		{Options{Version: "1.0", Output: "x.tar", Name: "My.App"}, "lowercase letters"},
		{Options{Version: "1.0", Output: existing}, "already exists"},
		{Options{Version: "1.0", Output: "x.tar", Sources: []string{"ftp"}}, "want auto, registry, engine or oci:DIR"},
		{Options{Version: "1.0", Output: "x.tar", Sources: []string{"oci:/nonexistent"}}, "not a directory holding an OCI image layout"},
	} {
		c.opts.Compose = compose.LoadOptions{WorkDir: dir}
		_, err := Pack(context.Background(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
}

// The bundle's .env can hold generated passwords: only its owner may read it, in a directory
// and in an archive alike.
func TestPackEnvFileMode(t *testing.T) {
	host := testRegistry(t, "shop/web:1.0")
	dir := project(t, "name: shop\nservices:\n  web:\n    image: "+host+"/shop/web:1.0\n    environment:\n      PASSWORD: ${PASSWORD}\n")
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("PASSWORD=s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(t.TempDir(), "shop-1.0"), filepath.Join(t.TempDir(), "shop-1.0.tar")} {
		if _, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out, Sources: []string{"registry"}}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out, ".tar") {
			st, err := os.Stat(filepath.Join(out, bundle.EnvFile))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s/.env: mode %v (%v), want 0600", out, st.Mode().Perm(), err)
			}
			continue
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		found := false
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name == "shop-1.0/.env" {
				found = true
				if h.Mode != 0o600 {
					t.Errorf("%s: .env has mode %o, want 0600", out, h.Mode)
				}
			}
		}
		if !found {
			t.Errorf("%s has no shop-1.0/.env", out)
		}
	}
}
