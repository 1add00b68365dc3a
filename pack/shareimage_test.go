package pack

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/ram"
)

// Images the platform importer re-tags to one name (redis:7 and bitnami/redis:7 both become
// goodrain.me/redis:7): exported to RAM, each component gets a share_image of its own that
// survives the re-tag, component-images.tar holds each component's image under it (and under
// the name it was shipped as), and packing that package gives the services their images'
// original names back; exported again, the same template.
func TestExportRAMShareImagesSurviveImport(t *testing.T) {
	host := testRegistry(t, "redis:7", "bitnami/redis:7", "myorg/api:1.0", "otherorg/api:1.0")
	images := map[string]string{
		"cache":  host + "/redis:7",
		"cache2": host + "/bitnami/redis:7",
		"cache3": host + "/redis:7", // the same image as cache's
		"api":    host + "/myorg/api:1.0",
		"api2":   host + "/otherorg/api:1.0",
	}
	var b strings.Builder
	b.WriteString("name: shop\nservices:\n")
	for _, s := range []string{"api", "api2", "cache", "cache2", "cache3"} {
		b.WriteString("  " + s + ":\n    image: " + images[s] + "\n")
	}
	dir := project(t, b.String())
	pkgFile := filepath.Join(t.TempDir(), "shop-1.0-ram.tar.gz")
	res, err := ExportRAM(context.Background(), ExportOptions{Input: dir, Output: pkgFile, Version: "1.0", Sources: []string{"registry"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %s", w)
	}
	pkg := exRead(t, pkgFile)
	if len(pkg.Warnings) > 0 {
		t.Errorf("reading the package: %q", pkg.Warnings)
	}
	if p := ram.ImportProblems(pkg.Template); len(p) > 0 {
		t.Errorf("import problems: %q", p)
	}
	imported := map[string]string{}
	for _, a := range pkg.Template.Apps {
		svc := a.ServiceCname
		if a.Image != images[svc] {
			t.Errorf("%s: image %s, want %s", svc, a.Image, images[svc])
		}
		n, err := ram.ImportedName(a.ShareImage, ram.ImportHub, "")
		if err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		if other, dup := imported[n]; dup {
			t.Errorf("%s and %s both become %s on import", other, svc, n)
		}
		imported[n] = svc
		if a.ShareImage != strings.ToLower(a.ShareImage) || strings.Contains(a.ShareImage, "@") || len(n) > 200 {
			t.Errorf("%s: share_image %s", svc, a.ShareImage)
		}
		// The image under share_image (as the importer reads component-images.tar: docker load)
		// is the service's image.
		want := registryConfigName(t, images[svc])
		for _, ref := range []string{a.ShareImage, a.Image} {
			tag, err := name.NewTag(ref)
			if err != nil {
				t.Fatal(err)
			}
			img, err := tarball.ImageFromPath(pkg.ComponentImages, &tag)
			if err != nil {
				t.Fatalf("%s: %s not in component-images.tar: %v", svc, ref, err)
			}
			if got, _ := img.ConfigName(); got.String() != want {
				t.Errorf("%s: component-images.tar holds image %s under %s, want %s", svc, got, ref, want)
			}
		}
	}

	// airpack pack --ram: every service runs its original image name.
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := PackRAM(context.Background(), RAMOptions{Package: pkgFile, Output: out, WorkDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	m, problems, err := bundle.Verify(context.Background(), out)
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", err, problems)
	}
	got := map[string]string{}
	for _, im := range m.Images {
		for _, s := range im.Services {
			got[s] = im.Ref
		}
	}
	p, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: out})
	if err != nil {
		t.Fatal(err)
	}
	for svc, ref := range images {
		if got[svc] != ref {
			t.Errorf("bundle: service %s ships %s, want %s", svc, got[svc], ref)
		}
		if s, ok := p.Typed().Services[svc]; !ok || s.Image != ref {
			t.Errorf("bundle: service %s runs image %q, want %s", svc, s.Image, ref)
		}
	}

	// ... and exported again, the same share_images.
	again := filepath.Join(t.TempDir(), "again.tar.gz")
	res2, err := ExportRAM(context.Background(), ExportOptions{Input: out, Output: again})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res2.Warnings {
		t.Errorf("warning: %s", w)
	}
	back := exRead(t, again).Template
	for i, a := range back.Apps {
		o := pkg.Template.FindComponent(a.ServiceKey)
		if o == nil || o.ShareImage != a.ShareImage || o.Image != a.Image {
			t.Errorf("apps[%d] %s: share_image %s, image %s after the round trip; was %+v", i, a.ServiceCname, a.ShareImage, a.Image, o)
		}
	}
}

func registryConfigName(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}
