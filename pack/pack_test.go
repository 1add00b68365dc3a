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
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(u.Host + "/" + r)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	return u.Host
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
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64"}, {Service: "b", Image: "y"}}, "", "linux/amd64"},
		{[]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64"}}, "linux/arm/v7", "linux/arm/v7"},
	} {
		reqs, _, got, err := requests(c.services, c.override)
		if err != nil || got != c.want {
			t.Errorf("%+v override %q: platform %q, %v; want %q", c.services, c.override, got, err, c.want)
		}
		if c.override != "" && reqs[0].Platform.String() != c.override {
			t.Errorf("override not applied to the request: %v", reqs[0].Platform)
		}
	}
	if _, _, _, err := requests([]compose.ServiceImage{{Service: "a", Image: "x", Platform: "linux/arm64"}, {Service: "b", Image: "x"}}, ""); err == nil {
		t.Error("one image on two platforms accepted")
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
