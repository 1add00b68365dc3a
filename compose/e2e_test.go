//go:build e2e

package compose

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestDockerComposeReadsBundle runs the real `docker compose config` on the
// original project and on the bundle, and compares what it resolves for
// each service. Run with -tags e2e on a machine with docker compose v2.
func TestDockerComposeReadsBundle(t *testing.T) {
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Fatalf("docker compose not available (run scripts/build-tools.sh): %v", err)
	}
	tests := []struct {
		name    string
		opts    LoadOptions
		profile string
	}{
		{name: "binds", opts: LoadOptions{WorkDir: fixture(t, "binds")}},
		{name: "interp", opts: LoadOptions{WorkDir: fixture(t, "interp")}},
		{name: "extends", opts: LoadOptions{WorkDir: fixture(t, "extends")}},
		{name: "include", opts: LoadOptions{WorkDir: fixture(t, "include")}},
		{name: "includeenv", opts: LoadOptions{WorkDir: fixture(t, "includeenv")}},
		{name: "build", opts: LoadOptions{WorkDir: fixture(t, "build")}},
		{name: "profiles", opts: LoadOptions{WorkDir: fixture(t, "profiles"), Profiles: []string{"debug"}}, profile: "debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, fixtureVars...)
			p := mustLoad(t, tt.opts)
			out := mustRewrite(t, p, RewriteOptions{Name: "bundle"})
			dir := writeBundle(t, out)

			args := []string{"compose", "--project-directory", tt.opts.WorkDir}
			if tt.profile != "" {
				args = append(args, "--profile", tt.profile)
			}
			want := composeConfig(t, append(args, "config", "--format", "json")...)
			got := composeConfig(t, "compose", "--project-directory", dir, "config", "--format", "json")
			for name, ws := range want["services"].(map[string]any) {
				gs, ok := got["services"].(map[string]any)[name].(map[string]any)
				if !ok {
					t.Errorf("service %s missing from the bundle", name)
					continue
				}
				w := ws.(map[string]any)
				for _, key := range []string{"environment", "ports", "labels", "read_only", "platform"} {
					if !reflect.DeepEqual(w[key], gs[key]) {
						t.Errorf("service %s %s = %v, want %v", name, key, gs[key], w[key])
					}
				}
				for i, v := range asList(w["volumes"]) {
					gv := asList(gs["volumes"])[i].(map[string]any)
					wv := v.(map[string]any)
					if wv["type"] == "bind" {
						// a shipped copy, or the host path itself
						src, _ := gv["source"].(string)
						if !strings.HasPrefix(src, filepath.Join(dir, "files")+"/") && src != wv["source"] {
							t.Errorf("service %s volume %d source %v is neither shipped nor the host's %v", name, i, src, wv["source"])
						}
						continue
					}
					if !reflect.DeepEqual(wv, gv) {
						t.Errorf("service %s volume %d = %v, want %v", name, i, gv, wv)
					}
				}
			}
		})
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func composeConfig(t *testing.T, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command("docker", args...)
	b, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("docker %v: %v\n%s", args, err, msg)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
