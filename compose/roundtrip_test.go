package compose

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestRoundTrip writes the rewritten project as a bundle, loads the bundle
// like the target host will, and checks it runs the same thing: the given
// images, the same environment (env_files included), ports, labels, and
// mounts whose sources hold the same content.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		opts func(t *testing.T) LoadOptions
	}{
		{"binds", func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "binds")} }},
		{"interp", func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "interp")} }},
		{"extends", func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "extends")} }},
		{"include", func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "include")} }},
		{"includeenv", func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "includeenv")} }},
		{"build", func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "build")} }},
		{"profiles", func(t *testing.T) LoadOptions {
			return LoadOptions{WorkDir: fixture(t, "profiles"), Profiles: []string{"debug"}}
		}},
		{"merge", func(t *testing.T) LoadOptions {
			dir := fixture(t, "merge")
			return LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.prod.yaml")}}
		}},
		{"outside", func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "outside/project")} }},
		{"envfiles --env-file", func(t *testing.T) LoadOptions {
			dir := fixture(t, "envfiles")
			return LoadOptions{WorkDir: dir, EnvFiles: []string{filepath.Join(dir, "alt.env")}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, fixtureVars...)
			src := mustLoad(t, tt.opts(t))
			images := map[string]string{}
			for _, i := range src.Images() {
				images[i.Service] = "registry.example/" + i.Service + ":7"
			}
			out := mustRewrite(t, src, RewriteOptions{Name: "bundle", Images: images, Outside: []string{"/"}})
			dir := writeBundle(t, out)

			dst := mustLoad(t, LoadOptions{WorkDir: dir})
			if dst.Name() != "bundle" {
				t.Errorf("bundle project name = %q, want bundle", dst.Name())
			}
			for _, i := range dst.Images() {
				if i.Build || i.Image != images[i.Service] {
					t.Errorf("bundle service %s: image %q (build %v), want %q without build", i.Service, i.Image, i.Build, images[i.Service])
				}
			}
			a, b := src.Typed(), dst.Typed()
			if !reflect.DeepEqual(a.ServiceNames(), b.ServiceNames()) {
				t.Fatalf("services = %v, want %v", b.ServiceNames(), a.ServiceNames())
			}
			for _, name := range a.ServiceNames() {
				compareService(t, a.Services[name], b.Services[name])
			}
			for name, c := range b.Configs {
				compareFileObject(t, "config "+name, types.FileObjectConfig(a.Configs[name]), types.FileObjectConfig(c))
			}
			for name, s := range b.Secrets {
				compareFileObject(t, "secret "+name, types.FileObjectConfig(a.Secrets[name]), types.FileObjectConfig(s))
			}
			if !reflect.DeepEqual(keys(a.Volumes), keys(b.Volumes)) {
				t.Errorf("volumes = %v, want %v", keys(b.Volumes), keys(a.Volumes))
			}
			for name, v := range b.Volumes {
				if want := "bundle_" + name; v.Name != want {
					t.Errorf("volume %s is named %s, want %s: from the bundle name", name, v.Name, want)
				}
			}
		})
	}
}

func compareService(t *testing.T, a, b types.ServiceConfig) {
	t.Helper()
	if got, want := resolved(b.Environment), resolved(a.Environment); !reflect.DeepEqual(got, want) {
		t.Errorf("service %s environment =\n%v\nwant\n%v", a.Name, got, want)
	}
	if !reflect.DeepEqual(b.Labels, a.Labels) {
		t.Errorf("service %s labels = %v, want %v", a.Name, b.Labels, a.Labels)
	}
	if !reflect.DeepEqual(b.Ports, a.Ports) {
		t.Errorf("service %s ports = %+v, want %+v", a.Name, b.Ports, a.Ports)
	}
	if b.ReadOnly != a.ReadOnly || b.Platform != a.Platform || !reflect.DeepEqual(b.DependsOn, a.DependsOn) {
		t.Errorf("service %s: read_only %v platform %q depends_on %v, want %v %q %v",
			a.Name, b.ReadOnly, b.Platform, b.DependsOn, a.ReadOnly, a.Platform, a.DependsOn)
	}
	if len(b.Volumes) != len(a.Volumes) {
		t.Fatalf("service %s has %d volumes, want %d", a.Name, len(b.Volumes), len(a.Volumes))
	}
	for i, av := range a.Volumes {
		bv := b.Volumes[i]
		if bv.Type != av.Type || bv.Target != av.Target || bv.ReadOnly != av.ReadOnly {
			t.Errorf("service %s volume %d = %s %s ro=%v, want %s %s ro=%v", a.Name, i, bv.Type, bv.Target, bv.ReadOnly, av.Type, av.Target, av.ReadOnly)
		}
		if av.Type != types.VolumeTypeBind {
			if bv.Source != av.Source {
				t.Errorf("service %s volume %d source = %s, want %s", a.Name, i, bv.Source, av.Source)
			}
			continue
		}
		sameContent(t, av.Source, bv.Source)
	}
}

func compareFileObject(t *testing.T, what string, a, b types.FileObjectConfig) {
	t.Helper()
	if a.Content != b.Content || a.Environment != b.Environment {
		t.Errorf("%s: content %q environment %q, want %q %q", what, b.Content, b.Environment, a.Content, a.Environment)
	}
	if a.File != "" {
		sameContent(t, a.File, b.File)
	}
}

func resolved(m types.MappingWithEquals) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v == nil {
			out[k] = "<unset>"
		} else {
			out[k] = *v
		}
	}
	return out
}

// sameContent checks that b (in the bundle) holds what a holds: the same
// bytes, or the same regular files below a directory.
func sameContent(t *testing.T, a, b string) {
	t.Helper()
	af, bf := files(t, a), files(t, b)
	if !reflect.DeepEqual(keys(af), keys(bf)) {
		t.Errorf("%s holds %v, want %v like %s", b, keys(bf), keys(af), a)
		return
	}
	for rel, content := range af {
		if !bytes.Equal(content, bf[rel]) {
			t.Errorf("%s/%s differs from %s/%s", b, rel, a, rel)
		}
	}
}

func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			b, err := os.ReadFile(p)
			out[rel] = b
			return err
		}
		return nil
	})
	if err != nil {
		t.Errorf("read %s: %v", root, err)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
