package pack

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/internal/ramtest"
	"github.com/airpack/airpack/ram"
)

// Templates the platform itself wrote (ram/testdata/platform, see its README) and airpack's
// sample: RAM package -> bundle (pack --ram) -> RAM package (ExportRAM) keeps every value the
// importer and the console read, and keeps absent keys absent.
func TestPlatformTemplatesRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../ram/testdata/platform/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no platform templates: %v", err)
	}
	files = append(files, "../ram/testdata/example-metadata.json")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := ram.DecodeMetadata(raw)
			if err != nil {
				t.Fatal(err)
			}
			images := map[string]v1.Image{}
			for _, a := range orig.Apps {
				images[a.ShareImage] = platformImage(t, "amd64")
			}
			for _, p := range orig.Plugins {
				images[p.ShareImage] = platformImage(t, "amd64")
			}
			pkgFile := ramtest.WritePackage(t, orig, images)
			bdir := filepath.Join(t.TempDir(), "bundle")
			var log []string
			logf := func(format string, args ...any) { log = append(log, formatLog(format, args...)) }
			if _, err := PackRAM(context.Background(), RAMOptions{Package: pkgFile, Output: bdir, Log: logf}); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(filepath.Base(file), "kong") {
				// kong's own KONG_PG_HOST=127.0.0.1 (no port) means its one dependency (§6).
				proj, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: bdir})
				if err != nil {
					t.Fatal(err)
				}
				if v := proj.Typed().Services["kong"].Environment["KONG_PG_HOST"]; v == nil || *v != "kong-postgres" {
					t.Errorf("bundle: kong KONG_PG_HOST = %v, want kong-postgres", v)
				}
			}
			out := filepath.Join(t.TempDir(), "back.tar.gz")
			res, err := ExportRAM(context.Background(), ExportOptions{Input: bdir, Output: out})
			if err != nil {
				t.Fatal(err)
			}
			back := exRead(t, out).Template
			backRaw := packageMetadata(t, out)

			// What airpack changes on purpose, each documented in docs/ram-format.md:
			want := *orig
			want.Apps = slices.Clone(orig.Apps)
			// plugins: a bundle holds no plugin images, dropped with a warning (§6, §7).
			want.Plugins = nil
			for i := range want.Apps {
				want.Apps[i].PluginConfigs = nil
				// service_image: registry credentials, blanked in every package airpack writes (§1).
				want.Apps[i].ServiceImage = ram.ServiceImage{}
			}
			if len(orig.Plugins) > 0 && !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "plugins ") }) {
				t.Errorf("plugins dropped without a warning: %q", res.Warnings)
			}
			opts := cmp.Options{
				cmp.Comparer(func(a, b ram.OptInt) bool { return a == b }),
				cmpopts.SortSlices(func(a, b ram.Component) bool { return a.ServiceKey < b.ServiceKey }),
				// k8s_service_name: renamed for the console's DNS rules (§8.2).
				cmpopts.IgnoreFields(ram.Port{}, "K8sServiceName"),
			}
			if d := cmp.Diff(&want, back, opts); d != "" {
				t.Errorf("RAM -> bundle -> RAM changed the template (-want +got):\n%s", d)
			}

			// The raw key sets, so that absent stays absent. A key the platform wrote may be
			// missing only when the importer drops it too: a key ram/types.go does not model
			// (it follows rainbond-oam's structs key for key, whose decoding drops the others),
			// or an omitempty one holding an empty value (the importer's structs omit it as
			// well), or the plugins dropped above. A key may be added only when the model always
			// writes it (the importer's structs write those keys anyway), never one the
			// importer reads raw (memory, cpu, extend_method_map).
			origKeys, backKeys := rawApps(t, raw), rawApps(t, backRaw)
			removed, added := keyDiff(origKeys, backKeys)
			for _, k := range slices.Sorted(maps.Keys(removed)) {
				modelled, omitempty := modelKey(k)
				switch {
				case !modelled:
				case omitempty && !slices.ContainsFunc(removed[k], func(v any) bool { return !isEmpty(v) }):
				case len(orig.Plugins) > 0 && (k == ".plugins" || strings.HasSuffix(k, ".service_related_plugin_config")):
				default:
					t.Errorf("key lost: %s", k)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(added)) {
				if modelled, omitempty := modelKey(k); !modelled || omitempty {
					t.Errorf("key added: %s", k)
				}
				for _, read := range []string{".memory", ".cpu", ".extend_method_map"} {
					if strings.Contains(k, read) {
						t.Errorf("key the importer reads raw added: %s", k)
					}
				}
			}
			if t.Failed() {
				t.Logf("pack --ram log:\n%s", strings.Join(log, "\n"))
			}
		})
	}
}

// modelKey reports whether ram.Template models the key at p (a keyDiff path), and whether it
// is omitempty there.
func modelKey(p string) (modelled, omitempty bool) {
	t := reflect.TypeFor[ram.Template]()
	parts := strings.Split(strings.TrimPrefix(p, "."), ".")
	for i := 0; i < len(parts); i++ {
		seg := parts[i]
		list := strings.HasSuffix(seg, "[]")
		seg = strings.TrimSuffix(seg, "[]")
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Map {
			t = t.Elem()
			continue
		}
		if t.Kind() != reflect.Struct {
			return false, false
		}
		found := false
		for j := range t.NumField() {
			f := t.Field(j)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == seg {
				t, found, omitempty = f.Type, true, strings.Contains(opts, "omit")
				break
			}
		}
		if !found {
			return false, false
		}
		if seg == "apps" {
			i++ // the service_key rawApps keys apps by
			t = t.Elem()
		} else if list {
			t = t.Elem()
		}
	}
	return true, omitempty
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func formatLog(format string, args ...any) string {
	b, _ := json.Marshal(args)
	return format + " " + string(b)
}

// packageMetadata is the metadata.json of a package as written.
func packageMetadata(t *testing.T, file string) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no metadata.json in %s: %v", file, err)
		}
		if path.Base(h.Name) == ram.MetadataFile && strings.Count(strings.Trim(h.Name, "/"), "/") == 1 {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// rawApps is a template as generic JSON with apps keyed by service_key, so that key paths do
// not depend on the components' order.
func rawApps(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	apps := map[string]any{}
	for _, a := range doc["apps"].([]any) {
		apps[a.(map[string]any)["service_key"].(string)] = a
	}
	doc["apps"] = apps
	return doc
}

// keyDiff lists the object keys (as paths, lists as []) only a has and only b has, each with
// the values it holds there.
func keyDiff(a, b any) (onlyA, onlyB map[string][]any) {
	onlyA, onlyB = map[string][]any{}, map[string][]any{}
	var walk func(p string, a, b any)
	walk = func(p string, a, b any) {
		switch x := a.(type) {
		case map[string]any:
			y, ok := b.(map[string]any)
			if !ok {
				return
			}
			for k, v := range x {
				if w, ok := y[k]; ok {
					walk(p+"."+k, v, w)
				} else {
					onlyA[p+"."+k] = append(onlyA[p+"."+k], v)
				}
			}
			for k, w := range y {
				if _, ok := x[k]; !ok {
					onlyB[p+"."+k] = append(onlyB[p+"."+k], w)
				}
			}
		case []any:
			y, ok := b.([]any)
			if !ok {
				return
			}
			for i := range min(len(x), len(y)) {
				walk(p+"[]", x[i], y[i])
			}
		}
	}
	walk("", a, b)
	return onlyA, onlyB
}

// pack --ram refuses a template with a VM component in one line naming it, before packing.
func TestPackRAMRefusesVM(t *testing.T) {
	tpl := sampleTemplate(t)
	tpl.Apps[1].VM = &ram.VMTemplate{DiskLayout: []ram.VMDiskLayout{{DiskRole: "root", Image: "goodrain.me/vm/disk:1"}}}
	tpl.TemplateVersion = "v3"
	pkg := ramtest.WritePackage(t, tpl, templateImages(t, tpl))
	out := filepath.Join(t.TempDir(), "b")
	_, err := PackRAM(context.Background(), RAMOptions{Package: pkg, Output: out})
	if err == nil || !strings.Contains(err.Error(), `apps[1] (service_cname "db") is a virtual machine (it has a vm object): docker compose cannot run one`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("%v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a bundle was written")
	}
}
