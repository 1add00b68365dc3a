package pack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
)

// ociLayout writes images into an OCI layout, each named by its ref.name annotation, and
// returns the layout and each image's manifest digest.
func ociLayout(t *testing.T, refs ...string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	for _, r := range refs {
		img := amd64Image(t, 1)
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": r})); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests[r] = d.String()
	}
	return dir, digests
}

func TestPackPinsAndImageVolumes(t *testing.T) {
	oci, d := ociLayout(t, "demo/web:1.0", "demo/api:2.0", "demo/assets:1.0", "demo/other:1.0")
	dir := project(t, `name: shop
services:
  web:
    image: demo/web:1.0@`+d["demo/web:1.0"]+`
    volumes:
      - type: image
        source: docker.io/demo/assets:1.0
        target: /assets
  plain:
    image: docker.io/demo/web:1.0
  api:
    image: demo/api@`+d["demo/api:2.0"]+`
`)
	out := filepath.Join(t.TempDir(), "shop-1.0")
	res, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out, Sources: []string{"oci:" + oci}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range res.Manifest.Images {
		got = append(got, im.Ref+" services="+strings.Join(im.Services, ",")+" mountedBy="+strings.Join(im.MountedBy, ",")+" pin="+im.Pin+" manifest="+im.ManifestDigest)
	}
	apiTag := "demo/api:sha256-" + strings.TrimPrefix(d["demo/api:2.0"], "sha256:")
	want := []string{
		apiTag + " services=api mountedBy= pin=" + d["demo/api:2.0"] + " manifest=" + d["demo/api:2.0"],
		"demo/assets:1.0 services= mountedBy=web pin= manifest=" + d["demo/assets:1.0"],
		"demo/web:1.0 services=plain,web mountedBy= pin=" + d["demo/web:1.0"] + " manifest=" + d["demo/web:1.0"],
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("airpack.json images:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cf, err := os.ReadFile(filepath.Join(out, bundle.ComposeFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"image: " + apiTag + "\n", "image: demo/web:1.0\n", "source: demo/assets:1.0\n"} {
		if !strings.Contains(string(cf), w) {
			t.Errorf("compose file lacks %q:\n%s", w, cf)
		}
	}
	if strings.Count(string(cf), "image: demo/web:1.0\n") != 2 || strings.Contains(string(cf), "@sha256") {
		t.Errorf("compose file should name the shipped tags only:\n%s", cf)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %q", res.Warnings)
	}
	if _, problems, err := bundle.Verify(context.Background(), out); err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", err, problems)
	}

	// A layout holding another image under the pinned name is refused, naming both digests.
	dir = project(t, "name: shop\nservices:\n  web:\n    image: demo/other:1.0@"+d["demo/web:1.0"]+"\n")
	_, err = Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: filepath.Join(t.TempDir(), "x"), Sources: []string{"oci:" + oci}})
	wantErr := "service web: image demo/other:1.0@" + d["demo/web:1.0"] + ": oci:" + oci + ": pinned to digest " + d["demo/web:1.0"] + ", but the image found has digest " + d["demo/other:1.0"] + ": the source holds another image under this name"
	if err == nil || err.Error() != wantErr {
		t.Errorf("mismatched pin:\n got %v\nwant %s", err, wantErr)
	}
}

func TestPackRefusesMixedPlatforms(t *testing.T) {
	oci, _ := ociLayout(t, "demo/web:1.0")
	for _, c := range []struct{ body, platform, want string }{
		{"  web:\n    image: demo/web:1.0\n    platform: linux/amd64\n", "linux/arm64",
			"service web (linux/amd64) has another platform than the bundle's linux/arm64: a bundle holds one platform; pack one bundle per platform (--platform)"},
		{"  web:\n    image: demo/web:1.0\n    platform: linux/amd64\n  wasm:\n    image: demo/web:1.0\n    platform: wasi/wasm\n", "",
			"services wasm (wasi/wasm), web (linux/amd64) name different platforms: a bundle holds one platform; pack one bundle per platform (--platform), each with the services of that platform"},
	} {
		dir := project(t, "name: shop\nservices:\n"+c.body)
		out := filepath.Join(t.TempDir(), "x")
		_, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out, Platform: c.platform, Sources: []string{"oci:" + oci}})
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v\nwant %s", err, c.want)
		}
		if _, err := os.Lstat(out); err == nil {
			t.Errorf("refused pack wrote %s", out)
		}
	}
}

func TestPackSaysWhichPlatformItChose(t *testing.T) {
	oci, _ := ociLayout(t, "demo/web:1.0")
	dir := project(t, "name: shop\nservices:\n  web:\n    image: demo/web:1.0\n    platform: linux/amd64\n  db:\n    image: demo/web:1.0\n  cache:\n    image: demo/web:1.0\n")
	res, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: filepath.Join(t.TempDir(), "x"), Sources: []string{"oci:" + oci}})
	if err != nil {
		t.Fatal(err)
	}
	want := "the bundle is for linux/amd64, the platform: of service web; services cache, db name none and get linux/amd64 images too (a bundle holds one platform)"
	if len(res.Warnings) != 1 || res.Warnings[0] != want {
		t.Errorf("warnings %q, want %q", res.Warnings, want)
	}
	// With --platform, or when every service or none names one, there is nothing to say.
	res, err = Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: filepath.Join(t.TempDir(), "x"), Platform: "linux/amd64", Sources: []string{"oci:" + oci}})
	if err != nil || len(res.Warnings) != 0 {
		t.Errorf("with --platform: %v %q", err, res.Warnings)
	}
}
