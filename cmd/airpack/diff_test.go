package main

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/bundle"
)

// diffRegistry is one in-process registry serving images built from shared layers, so two
// versions of an image can differ by one layer.
type diffRegistry struct {
	host   string
	layers map[string]v1.Layer
}

func newDiffRegistry(t *testing.T) *diffRegistry {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &diffRegistry{host: u.Host, layers: map[string]v1.Layer{}}
}

// layer is the random layer called name, the same one each time.
func (r *diffRegistry) layer(t *testing.T, name string) v1.Layer {
	t.Helper()
	if l, ok := r.layers[name]; ok {
		return l
	}
	l, err := random.Layer(2048, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	r.layers[name] = l
	return l
}

// push pushes repo (shop/web:1.0) made of the named layers and returns its full reference.
func (r *diffRegistry) push(t *testing.T, repo string, layers ...string) string {
	t.Helper()
	img := empty.Image
	for _, n := range layers {
		var err error
		if img, err = mutate.AppendLayers(img, r.layer(t, n)); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := r.host + "/" + repo
	nr, _ := name.ParseReference(ref)
	if err := remote.Write(nr, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r *diffRegistry) size(t *testing.T, layer string) int64 {
	t.Helper()
	n, err := r.layers[layer].Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// packProject writes compose as a project's compose.yaml and packs it at version to out.
func packProject(t *testing.T, compose, version, out string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "pack", "--project-directory", dir, "--version", version, "--source", "registry", "-o", out, "-q"); err != nil {
		t.Fatal(err)
	}
}

func diffJSON(t *testing.T, old, new string) bundle.Diff {
	t.Helper()
	stdout, stderr, err := run(t, "diff", "--json", old, new)
	if err != nil || stderr != "" {
		t.Fatalf("diff --json %s %s: %v\n%s", old, new, err, stderr)
	}
	var d bundle.Diff
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if strings.Contains(stdout, ": null") && !strings.Contains(stdout, `"size": null`) && !strings.Contains(stdout, `"bundleSize": null`) {
		t.Errorf("a list is null:\n%s", stdout)
	}
	return d
}

func TestDiffCommand(t *testing.T) {
	reg := newDiffRegistry(t)
	web10 := reg.push(t, "shop/web:1.0", "base", "web1")
	web11 := reg.push(t, "shop/web:1.1", "base", "web2")
	worker := reg.push(t, "shop/worker:1.0", "base", "worker")
	cache := reg.push(t, "shop/cache:1.0", "cache")

	compose := func(web, env string, services ...string) string {
		s := "name: shop\nservices:\n  web:\n    image: " + web + "\n    environment:\n      MODE: " + env + "\n    ports: [\"8080:80\"]\n"
		for _, x := range services {
			s += x
		}
		return s
	}
	workerSvc := "  worker:\n    image: " + worker + "\n    command: [run]\n"
	cacheSvc := "  cache:\n    image: " + cache + "\n"

	out := t.TempDir()
	v10 := filepath.Join(out, "shop-1.0")
	v10tar := filepath.Join(out, "shop-1.0.tar")
	packProject(t, compose(web10, "prod", workerSvc), "1.0", v10)
	packProject(t, compose(web10, "prod", workerSvc), "1.0", v10tar)
	image := filepath.Join(out, "shop-1.1-image.tar.gz") // web's image changed, by one layer
	packProject(t, compose(web11, "prod", workerSvc), "1.1", image)
	services := filepath.Join(out, "shop-1.1-services") // worker removed, cache added
	packProject(t, compose(web10, "prod", cacheSvc), "1.1", services)
	env := filepath.Join(out, "shop-1.1-env.tar.zst") // web's environment changed
	packProject(t, compose(web10, "staging", workerSvc), "1.1", env)

	t.Run("identical", func(t *testing.T) {
		// The same bundle as a directory and as an archive.
		stdout, stderr, err := run(t, "diff", v10, v10tar)
		if err != nil || stderr != "" {
			t.Fatalf("%v %s", err, stderr)
		}
		for _, s := range []string{
			"OLD  shop 1.0 (linux/amd64), " + v10 + "\n",
			"NEW  shop 1.0 (linux/amd64), " + v10tar + "\n",
			"\nNo differences: same services, images, compose file and .env.\n",
			"  carries  0 layers, 0 B: NEW's layers OLD does not have\n",
		} {
			if !strings.Contains(stdout, s) {
				t.Errorf("lacks %q:\n%s", s, stdout)
			}
		}
		d := diffJSON(t, v10, v10tar)
		if !d.Same || d.Upgrade.CarriedLayers != 0 || d.Upgrade.ReusedLayers != 3 || d.New.Form != bundle.FormArchive || d.Old.Form != bundle.FormDirectory {
			t.Errorf("%+v", d)
		}
		fi, _ := os.Stat(v10tar)
		if *d.New.Size != fi.Size() || *d.Upgrade.BundleSize >= fi.Size() {
			t.Errorf("sizes: new %d, upgrade %d, archive %d", *d.New.Size, *d.Upgrade.BundleSize, fi.Size())
		}
	})

	t.Run("image changed", func(t *testing.T) {
		d := diffJSON(t, v10tar, image)
		if d.Same || len(d.Services.Changed) != 1 {
			t.Fatalf("services %+v", d.Services)
		}
		c := d.Services.Changed[0]
		if c.Service != "web" || !c.ImageChanged || c.OldImage != "shop/web:1.0" && !strings.HasSuffix(c.OldImage, "/shop/web:1.0") || !strings.HasSuffix(c.NewImage, "/shop/web:1.1") {
			t.Errorf("web: %+v", c)
		}
		if diff := cmp.Diff([]string{"image"}, c.Keys); diff != "" {
			t.Errorf("keys: %s", diff)
		}
		if diff := cmp.Diff([]string{"worker"}, d.Services.Unchanged); diff != "" {
			t.Errorf("unchanged: %s", diff)
		}
		web2, web1 := reg.size(t, "web2"), reg.size(t, "web1")
		if len(d.Images.Changed) != 1 || len(d.Images.Changed[0].LayersAdded) != 1 || d.Images.Changed[0].AddedBytes != web2 || d.Images.Changed[0].RemovedBytes != web1 {
			t.Errorf("images: %+v", d.Images)
		}
		// The upgrade carries exactly the one changed layer.
		if d.Upgrade.CarriedLayers != 1 || d.Upgrade.CarriedLayerBytes != web2 {
			t.Errorf("upgrade carries %d layers, %d bytes; want 1, %d", d.Upgrade.CarriedLayers, d.Upgrade.CarriedLayerBytes, web2)
		}
		stdout, _, err := run(t, "diff", v10tar, image)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{
			"Services: 0 added, 0 removed, 1 changed, 1 unchanged\n",
			"  ~ web  image " + web10 + " -> " + web11 + "; definition: image\n",
			"Images: 0 added, 0 removed, 1 changed, 1 unchanged\n",
			"  carries  1 layer, " + bundle.HumanSize(web2) + ": NEW's layers OLD does not have\n",
		} {
			if !strings.Contains(stdout, s) {
				t.Errorf("lacks %q:\n%s", s, stdout)
			}
		}
		t.Logf("airpack diff %s %s:\n%s", filepath.Base(v10tar), filepath.Base(image), stdout)
	})

	t.Run("service added and removed", func(t *testing.T) {
		d := diffJSON(t, v10, services)
		if diff := cmp.Diff([]bundle.ServiceRef{{Service: "cache", Image: cache}}, d.Services.Added); diff != "" {
			t.Errorf("added: %s", diff)
		}
		if diff := cmp.Diff([]bundle.ServiceRef{{Service: "worker", Image: worker}}, d.Services.Removed); diff != "" {
			t.Errorf("removed: %s", diff)
		}
		if len(d.Services.Changed) != 0 || len(d.Images.Added) != 1 || len(d.Images.Removed) != 1 {
			t.Errorf("%+v %+v", d.Services, d.Images)
		}
		if d.Upgrade.CarriedLayerBytes != reg.size(t, "cache") {
			t.Errorf("carried %d", d.Upgrade.CarriedLayerBytes)
		}
		stdout, _, _ := run(t, "diff", v10, services)
		t.Logf("airpack diff %s %s:\n%s", filepath.Base(v10), filepath.Base(services), stdout)
	})

	t.Run("environment changed", func(t *testing.T) {
		d := diffJSON(t, v10tar, env)
		if len(d.Services.Changed) != 1 || d.Services.Changed[0].Service != "web" || d.Services.Changed[0].ImageChanged {
			t.Fatalf("%+v", d.Services)
		}
		if diff := cmp.Diff([]string{"environment"}, d.Services.Changed[0].Keys); diff != "" {
			t.Errorf("keys: %s", diff)
		}
		if len(d.Images.Changed) != 0 || d.Upgrade.CarriedLayers != 0 || d.New.Form != bundle.FormArchive {
			t.Errorf("%+v", d)
		}
		stdout, _, _ := run(t, "diff", v10tar, env)
		if !strings.Contains(stdout, "  ~ web  definition: environment\n") {
			t.Errorf("text:\n%s", stdout)
		}
	})

	t.Run("airpack.json input", func(t *testing.T) {
		d := diffJSON(t, filepath.Join(v10, bundle.ManifestFile), image)
		if d.Old.Form != bundle.FormManifest || d.Old.Size != nil || d.ComposeCompared {
			t.Errorf("old: %+v, compose compared %v", d.Old, d.ComposeCompared)
		}
		if len(d.Services.Changed) != 1 || d.Services.Changed[0].Service != "web" || len(d.Services.Changed[0].Keys) != 0 || d.Upgrade.CarriedLayerBytes != reg.size(t, "web2") {
			t.Errorf("%+v %+v", d.Services, d.Upgrade)
		}
		// NEW an airpack.json: the image archive estimate alone, no bundle size.
		d = diffJSON(t, v10, filepath.Join(v10, bundle.ManifestFile))
		if d.New.Size != nil || d.Upgrade.BundleSize != nil || !d.Same || d.Upgrade.Ratio <= 0 || d.Upgrade.Ratio >= 1 {
			t.Errorf("%+v", d)
		}
		stdout, _, _ := run(t, "diff", v10, filepath.Join(v10, bundle.ManifestFile))
		if !strings.Contains(stdout, "No differences: same services, images.\n") || !strings.Contains(stdout, "NEW is an airpack.json") {
			t.Errorf("text:\n%s", stdout)
		}
	})

	t.Run("archive read only up to its images", func(t *testing.T) {
		// Cut in the middle of images/images.tar: diff never reads that far.
		b, err := os.ReadFile(v10tar)
		if err != nil {
			t.Fatal(err)
		}
		cut := writeFile(t, t.TempDir(), "cut.tar", string(b[:len(b)-int(imageArchiveSize(t, v10))/2-2048]))
		if d := diffJSON(t, v10, cut); !d.Same {
			t.Errorf("cut archive: %+v", d)
		}
	})

	t.Run("unreadable input", func(t *testing.T) {
		garbage := writeFile(t, t.TempDir(), "garbage.tar", "not a tar at all")
		missing := filepath.Join(out, "shop-0.9.tar")
		for _, c := range []struct{ old, new, bad, msg string }{
			{missing, v10, missing, "no such file or directory"},
			{v10, garbage, garbage, "neither a bundle directory nor a bundle archive"},
			{v10, out, out, "no airpack.json: not an airpack bundle"},
		} {
			stdout, _, err := run(t, "diff", c.old, c.new)
			var ec cli.ExitCoder
			if err == nil || !strings.Contains(err.Error(), c.msg) || strings.Count(err.Error(), c.bad) != 1 ||
				strings.Contains(err.Error(), "\n") || stdout != "" {
				t.Errorf("diff %s %s: %v (stdout %q), want one line naming %s", c.old, c.new, err, stdout, c.bad)
			} else if !errors.As(err, &ec) || ec.ExitCode() != 1 {
				t.Errorf("exit code of %v", err)
			}
		}
		if _, _, err := run(t, "diff", v10); err == nil || !strings.Contains(err.Error(), "want two arguments") {
			t.Errorf("one argument: %v", err)
		}
	})
}

// imageArchiveSize is the size of the image archive of the bundle directory dir.
func imageArchiveSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, bundle.ImageArchive))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
