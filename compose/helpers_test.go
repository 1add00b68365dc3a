package compose

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v4"
)

func TestMain(m *testing.M) {
	// compose-go warns like docker compose does (unset variables, ...)
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// fixture returns the absolute path of a directory under testdata.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// cleanEnv unsets variables the fixtures use, so the test process's own
// environment cannot take part in interpolation.
func cleanEnv(t *testing.T, names ...string) {
	t.Helper()
	names = append(names, "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_COMPATIBILITY",
		"COMPOSE_DISABLE_ENV_FILE", "COMPOSE_PATH_SEPARATOR")
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			t.Setenv(n, v) // registers the restore
			os.Unsetenv(n)
		}
	}
}

var fixtureVars = []string{"TAG", "GREETING", "PG_VERSION", "HTTP_PORT", "DB_USER", "DB_PASS", "DB_NAME",
	"TIER", "READ_ONLY", "CONF_DIR", "API_HOST", "API_PORT", "PASSTHROUGH", "word"}

func mustLoad(t *testing.T, opts LoadOptions) *Project {
	t.Helper()
	p, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// defaultImages maps each service to the image Images() says it runs.
func defaultImages(p *Project) map[string]string {
	m := map[string]string{}
	for _, i := range p.Images() {
		m[i.Service] = i.Image
	}
	return m
}

func mustRewrite(t *testing.T, p *Project, opts RewriteOptions) *Output {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "bundle"
	}
	if opts.Images == nil {
		opts.Images = defaultImages(p)
	}
	out, err := p.Rewrite(opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeBundle writes out as a bundle directory would hold it.
func writeBundle(t *testing.T, out *Output) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel string, b []byte, mode os.FileMode) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(ComposeFileName, out.ComposeYAML, 0o644)
	write(".env", out.DotEnv, 0o644)
	for _, f := range out.Files {
		if f.Dir {
			if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(f.Dst)), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(f.Src)
		if err != nil {
			t.Fatal(err)
		}
		write(f.Dst, b, f.Mode)
	}
	return dir
}

// writeProject writes files (relative path -> content) into a new
// directory and returns it.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func parseYAML(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, b)
	}
	return m
}

// at walks a parsed YAML document: keys for maps, ints for lists.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %v is not a map", path, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("at %v: no key %q in %v", path, k, m)
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: %v is not a list with %d entries", path, v, k+1)
			}
			v = l[k]
		}
	}
	return v
}

func has(v any, key string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}
