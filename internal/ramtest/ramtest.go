// Package ramtest writes RAM / KatoApp packages for tests, in both layouts the ram package
// reads: the current <group>-<version>-ram.tar.gz and the Rainbond 5.2 zip.
package ramtest

import (
	"archive/zip"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airpack/airpack/ram"
)

// WritePackage writes tpl, with images (by share_image) in its component-images.tar, as a
// current-layout package in a new directory, and returns its path. The images of tpl's plugins
// go in plugin-images.tar.
func WritePackage(t testing.TB, tpl *ram.Template, images map[string]v1.Image) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), ram.PackageFileName(tpl))
	plugin := map[string]bool{}
	for _, p := range tpl.Plugins {
		plugin[p.ShareImage] = true
	}
	archive := func(plugins bool) func(w io.Writer) error {
		return func(w io.Writer) error {
			refs := map[name.Reference]v1.Image{}
			for r, img := range images {
				if plugin[r] != plugins {
					continue
				}
				ref, err := name.ParseReference(r)
				if err != nil {
					return err
				}
				refs[ref] = img
			}
			return tarball.MultiRefWrite(refs, w)
		}
	}
	var opts ram.WriteOptions
	if len(tpl.Plugins) > 0 {
		opts.PluginImages = archive(true)
	}
	if err := ram.WritePackage(context.Background(), out, tpl, archive(false), opts); err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteLegacyZip writes tpl and images as a Rainbond 5.2 package in a new directory:
// <name>-<version>.zip holding <name>-<version>/metadata.json and, per component,
// <service_alias>/<last segment, ':' -> '--'>.image.tar with the image saved under its short name
// (goodrain.me/ns/abc:v1 as abc:v1); per plugin, the same in <plugin_name>/ (the 5.2 exporter's
// savePlugins). It returns the zip's path.
func WriteLegacyZip(t testing.TB, tpl *ram.Template, images map[string]v1.Image) string {
	t.Helper()
	top := tpl.GroupName + "-" + tpl.GroupVersion
	out := filepath.Join(t.TempDir(), top+".zip")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	meta, err := tpl.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	w, err := zw.Create(top + "/metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(meta); err != nil {
		t.Fatal(err)
	}
	save := func(dir, ref string) {
		short, err := name.NewTag(ram.LegacySaveName(ref))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(top + "/" + dir + "/" + strings.ReplaceAll(path.Base(ref), ":", "--") + ".image.tar")
		if err != nil {
			t.Fatal(err)
		}
		if err := tarball.Write(short, images[ref], w); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range tpl.Apps {
		save(a.ServiceAlias, a.ShareImage)
	}
	for _, p := range tpl.Plugins {
		save(p.PluginName, p.ShareImage)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
