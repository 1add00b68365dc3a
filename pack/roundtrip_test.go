package pack

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
)

// TestComposeBundleRAMRoundTrip: a Compose bundle exported to RAM and packed back keeps its
// services, images (same image IDs on both stores), ports, environment, volumes, tmpfs mounts,
// file contents and dependencies.
func TestComposeBundleRAMRoundTrip(t *testing.T) {
	host := testRegistry(t, "rt/web:1.0", "rt/api:1.0")
	dir := project(t, `name: rt
services:
  web:
    image: `+host+`/rt/web:1.0
    ports:
      - "8080:8080"
    environment:
      GREETING: ${GREETING}
      MODE: production
    volumes:
      - ./conf/app.conf:/etc/app.conf:ro
    depends_on: [api]
  api:
    image: `+host+`/rt/api:1.0
    env_file: api.env
    expose: ["9000"]
    volumes:
      - data:/data
    tmpfs: [/run/api]
volumes:
  data: {}
`)
	for name, body := range map[string]string{
		".env":          "GREETING=hello round trip\n",
		"api.env":       "API_TOKEN=s3cret\n",
		"conf/app.conf": "listen 8080;\nmode production;\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	tmp := t.TempDir()
	first := filepath.Join(tmp, "rt-1.0")
	if _, err := Pack(ctx, Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: first, Sources: []string{"registry"}}); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(tmp, "rt-1.0-ram.tar.gz")
	if _, err := ExportRAM(ctx, ExportOptions{Input: first, Output: pkg}); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(tmp, "back")
	if _, err := PackRAM(ctx, RAMOptions{Package: pkg, Output: second}); err != nil {
		t.Fatal(err)
	}
	if _, problems, err := bundle.Verify(ctx, second); err != nil || len(problems) > 0 {
		t.Fatalf("the bundle packed back is not sound: %v %v", err, problems)
	}

	a, b := loadBundle(t, first), loadBundle(t, second)
	if got, want := serviceNames(b), serviceNames(a); got != want {
		t.Fatalf("services %s, want %s", got, want)
	}
	ma, mb := manifestOf(t, first), manifestOf(t, second)
	for _, name := range []string{"web", "api"} {
		sa, sb := a.Services[name], b.Services[name]
		ia, ib := imageOf(t, ma, name), imageOf(t, mb, name)
		if ia.Ref != ib.Ref || ia.ConfigDigest != ib.ConfigDigest || ia.ManifestDigest != ib.ManifestDigest {
			t.Errorf("%s: image %s %s %s, want %s %s %s", name, ib.Ref, ib.ConfigDigest, ib.ManifestDigest, ia.Ref, ia.ConfigDigest, ia.ManifestDigest)
		}
		if got, want := ports(sb), ports(sa); got != want {
			t.Errorf("%s: ports %s, want %s", name, got, want)
		}
		for k, v := range sa.Environment {
			if w := sb.Environment[k]; w == nil || v == nil || *w != *v {
				t.Errorf("%s: environment %s = %v, want %q", name, k, w, deref(v))
			}
		}
		if got, want := dependsOn(sb), dependsOn(sa); got != want {
			t.Errorf("%s: depends_on %s, want %s", name, got, want)
		}
		if got, want := strings.Join(sb.Tmpfs, ","), strings.Join(sa.Tmpfs, ","); got != want {
			t.Errorf("%s: tmpfs %s, want %s", name, got, want)
		}
		if len(sb.Volumes) != len(sa.Volumes) {
			t.Fatalf("%s: %d volumes, want %d", name, len(sb.Volumes), len(sa.Volumes))
		}
		for i, va := range sa.Volumes {
			vb := sb.Volumes[i]
			if va.Type != vb.Type || va.Target != vb.Target || va.ReadOnly != vb.ReadOnly {
				t.Errorf("%s: volume %+v, want %+v", name, vb, va)
			}
			if va.Type == types.VolumeTypeBind {
				ca, _ := os.ReadFile(va.Source)
				cb, _ := os.ReadFile(vb.Source)
				if len(ca) == 0 || string(ca) != string(cb) {
					t.Errorf("%s: file at %s holds %q, want %q", name, va.Target, cb, ca)
				}
			}
		}
	}
	// The named volume keeps its role: one volume, mounted by api at /data (RAM names it per
	// component, so its name may change).
	if len(b.Volumes) != 1 {
		t.Errorf("named volumes %v, want one", b.Volumes)
	}
}

func loadBundle(t *testing.T, dir string) *types.Project {
	t.Helper()
	p, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return p.Typed()
}

func manifestOf(t *testing.T, dir string) *bundle.Manifest {
	t.Helper()
	m, err := bundle.ReadManifest(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func imageOf(t *testing.T, m *bundle.Manifest, service string) bundle.Image {
	t.Helper()
	for _, im := range m.Images {
		for _, s := range im.Services {
			if s == service {
				return im
			}
		}
	}
	t.Fatalf("no image for service %s", service)
	return bundle.Image{}
}

func serviceNames(p *types.Project) string {
	names := p.ServiceNames()
	sort.Strings(names)
	return strings.Join(names, ",")
}

func ports(s types.ServiceConfig) string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, p.Published+":"+strconv.FormatUint(uint64(p.Target), 10)+"/"+p.Protocol)
	}
	out = append(out, s.Expose...)
	sort.Strings(out)
	return strings.Join(out, ",")
}

func dependsOn(s types.ServiceConfig) string {
	var out []string
	for k := range s.DependsOn {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
