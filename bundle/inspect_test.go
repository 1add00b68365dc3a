package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fxDigest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// fxReportManifest: nginx and shop/web share two layers, redis shares none.
func fxReportManifest() *Manifest {
	a := Layer{Digest: fxDigest("a"), DiffID: fxDigest("1"), Size: 3_000_000}
	b := Layer{Digest: fxDigest("b"), DiffID: fxDigest("2"), Size: 1_500_000}
	c := Layer{Digest: fxDigest("c"), DiffID: fxDigest("3"), Size: 12_300_000}
	d := Layer{Digest: fxDigest("d"), DiffID: fxDigest("4"), Size: 800_000}
	e := Layer{Digest: fxDigest("e"), DiffID: fxDigest("5"), Size: 800}
	return &Manifest{
		FormatVersion: 1, Name: "shop", Version: "1.0", Platform: "linux/amd64", ComposeFile: ComposeFile,
		Images: []Image{
			{Ref: "nginx:1.25", Services: []string{"proxy"}, Source: "registry", Platform: "linux/amd64",
				ManifestDigest: fxDigest("0"), ConfigDigest: fxDigest("9"), Layers: []Layer{a, b}, Archive: ImageArchive},
			{Ref: "shop/web:1.0", Services: []string{"worker", "web"}, Source: "engine", Platform: "linux/amd64",
				ManifestDigest: fxDigest("6"), ConfigDigest: fxDigest("7"), Layers: []Layer{a, b, c}, Archive: ImageArchive},
			{Ref: "redis:7", Services: []string{"cache"}, Source: "oci:/srv/oci", Platform: "linux/amd64",
				ManifestDigest: fxDigest("8"), ConfigDigest: fxDigest("f"), Layers: []Layer{d, e, e}, Archive: ImageArchive},
		},
	}
}

func TestNewReport(t *testing.T) {
	r := NewReport(fxReportManifest())
	want := Report{
		Name: "shop", Version: "1.0", Platform: "linux/amd64", ComposeFile: ComposeFile, HostPaths: []string{},
		Services: []ServiceImage{
			{Service: "cache", Image: "redis:7"}, {Service: "proxy", Image: "nginx:1.25"}, {Service: "web", Image: "shop/web:1.0"}, {Service: "worker", Image: "shop/web:1.0"},
		},
		Images: []ImageReport{
			{"nginx:1.25", "registry", "linux/amd64", fxDigest("0"), fxDigest("9"), 2, 4_500_000},
			{"shop/web:1.0", "engine", "linux/amd64", fxDigest("6"), fxDigest("7"), 3, 16_800_000},
			{"redis:7", "oci:/srv/oci", "linux/amd64", fxDigest("8"), fxDigest("f"), 3, 801_600},
		},
		SharedLayers: []SharedLayer{
			{fxDigest("a"), 3_000_000, []string{"nginx:1.25", "shop/web:1.0"}},
			{fxDigest("b"), 1_500_000, []string{"nginx:1.25", "shop/web:1.0"}},
		},
		Layers:       5,
		TotalSize:    17_600_800,
		UnsharedSize: 22_101_600,
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("report\n%+v\nwant\n%+v", r, want)
	}
}

func TestReportWriteText(t *testing.T) {
	var out bytes.Buffer
	if err := NewReport(fxReportManifest()).WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := `Bundle:        shop 1.0
Platform:      linux/amd64
Compose file:  docker-compose.yaml

SERVICE  IMAGE
cache    redis:7
proxy    nginx:1.25
web      shop/web:1.0
worker   shop/web:1.0

IMAGE         SOURCE        PLATFORM     LAYERS  SIZE      IMAGE ID (CONFIG)     MANIFEST
nginx:1.25    registry      linux/amd64  2       4.5 MB    sha256:999999999999…  sha256:000000000000…
shop/web:1.0  engine        linux/amd64  3       16.8 MB   sha256:777777777777…  sha256:666666666666…
redis:7       oci:/srv/oci  linux/amd64  3       801.6 kB  sha256:ffffffffffff…  sha256:888888888888…

SHARED LAYER          SIZE    IMAGES
sha256:aaaaaaaaaaaa…  3.0 MB  nginx:1.25, shop/web:1.0
sha256:bbbbbbbbbbbb…  1.5 MB  nginx:1.25, shop/web:1.0

Total: 17.6 MB in 5 distinct layers (22.1 MB without sharing)
`
	if out.String() != want {
		t.Fatalf("text:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReportWriteTextUpgrade(t *testing.T) {
	m := fxReportManifest()
	m.Base = &Base{Name: "shop", Version: "0.9", Layers: []string{fxDigest("a"), fxDigest("b")}, Images: []BaseImage{{Ref: "shop/web:0.9"}, {Ref: "nginx:1.24"}}}
	m.Images = m.Images[:2]
	var out bytes.Buffer
	if err := NewReport(m).WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"Upgrade of:    shop 0.9 (expects 2 layers, 4.5 MB, on the target)\n",
		"Needs loaded:  shop/web:0.9, nginx:1.24 (images of shop 0.9, checked by load.sh)\n",
		"\nTotal: 16.8 MB in 3 distinct layers (21.3 MB without sharing)\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("text has no %q:\n%s", line, out.String())
		}
	}
}

// The host paths the compose file keeps as the target's are listed.
func TestReportHostPaths(t *testing.T) {
	m := fxReportManifest()
	m.HostPaths = []string{"/etc/localtime", "~/data"}
	r := NewReport(m)
	if !reflect.DeepEqual(r.HostPaths, m.HostPaths) {
		t.Errorf("HostPaths = %v", r.HostPaths)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if line := "Compose file:  docker-compose.yaml\nHost paths:    /etc/localtime, ~/data (the target's, not in the bundle)\n"; !strings.Contains(out.String(), line) {
		t.Errorf("text has no %q:\n%s", line, out.String())
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	for _, m := range []*Manifest{fxReportManifest(), fxNewBundle(t).manifest} {
		r := NewReport(m)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip\n%+v\nwant\n%+v", back, r)
		}
	}
	b, _ := json.Marshal(NewReport(fxReportManifest()))
	for _, s := range []string{`"totalSize":17600800`, `"unsharedSize":22101600`, `"sharedLayers":[{"digest":"` + fxDigest("a") + `","size":3000000,"images":["nginx:1.25","shop/web:1.0"]}`, `"services":[{"service":"cache","image":"redis:7"}`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("JSON has no %s:\n%s", s, b)
		}
	}
}

func TestSizeText(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1.0 kB"},
		{999_949, "999.9 kB"},
		{999_950, "1.0 MB"},
		{12_345_678, "12.3 MB"},
		{3_400_000_000, "3.4 GB"},
		{5_000_000_000_000_000, "5.0 PB"},
	} {
		if got := HumanSize(tc.n); got != tc.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestReadManifest(t *testing.T) {
	b := fxNewBundle(t)
	for _, form := range fxForms {
		t.Run(form, func(t *testing.T) {
			m, err := ReadManifest(context.Background(), b.write(t, form))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, b.manifest) {
				t.Fatalf("manifest %+v, want %+v", m, b.manifest)
			}
		})
	}
	// airpack.json comes before images/images.tar: a bundle cut short after it still gives its
	// manifest, since ReadManifest stops there.
	t.Run("stops at airpack.json", func(t *testing.T) {
		data := fxArchiveBytes(t, b.write(t, fxTarGz))
		m, err := ReadManifest(context.Background(), fxWriteBytes(t, "shop-1.0.tar.gz", data[:len(data)*3/4]))
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != "shop" {
			t.Fatalf("name %q", m.Name)
		}
	})
}

func TestReadManifestErrors(t *testing.T) {
	newer := fxNewBundle(t)
	newer.manifest.FormatVersion = FormatVersion + 1
	newer.seal(t)
	none := fxNewBundle(t)
	delete(none.files, ManifestFile)
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"newer, dir", func(t *testing.T) string { return newer.write(t, fxDir) }, "newer than this airpack understands (1): upgrade airpack"},
		{"newer, tar", func(t *testing.T) string { return newer.write(t, fxTar) }, "newer than this airpack understands (1): upgrade airpack"},
		{"none, dir", func(t *testing.T) string { return none.write(t, fxDir) }, "has no airpack.json: not an airpack bundle"},
		{"none, tar.gz", func(t *testing.T) string { return none.write(t, fxTarGz) }, "has no airpack.json: not an airpack bundle"},
		{"not a bundle", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.txt")
			fxCheck(t, os.WriteFile(p, []byte("just some notes\n"), 0o644))
			return p
		}, "is neither a bundle directory nor a bundle archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadManifest(context.Background(), tc.path(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestReportPinsAndImageVolumes(t *testing.T) {
	m := fxReportManifest()
	m.Images[0].MountedBy = []string{"web"}
	m.Images[2].Pin = fxDigest("8")
	r := NewReport(m)
	want := []ServiceImage{
		{Service: "cache", Image: "redis:7", Pin: fxDigest("8")},
		{Service: "proxy", Image: "nginx:1.25"},
		{Service: "web", Image: "shop/web:1.0"},
		{Service: "web", Image: "nginx:1.25", Volume: true},
		{Service: "worker", Image: "shop/web:1.0"},
	}
	if !reflect.DeepEqual(r.Services, want) {
		t.Fatalf("services\n%+v\nwant\n%+v", r.Services, want)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"cache    redis:7 (pinned sha256:888888888888…)\n",
		"web      nginx:1.25 (type: image volume)\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("text lacks %q:\n%s", line, out.String())
		}
	}
}
