//go:build e2e

package compose

import (
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"testing"
)

// TestDockerComposeEnvMeaning: with an empty environment on the target, the
// pinned Compose plugin reads the bundle as it reads the project with an
// empty environment, though the packing machine's environment set the
// variables (issue 9 items 5 and 15).
func TestDockerComposeEnvMeaning(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		shell     map[string]string
		fromShell []string
		// projectEnv is the environment the project is read with: the shipped values
		projectEnv []string
	}{
		{name: "packing environment", files: envProject, shell: envShell, fromShell: []string{"SHIPPED_VAR"},
			projectEnv: []string{"SHIPPED_VAR=yes"}},
		{name: "optional env_file and COMPOSE_ variables", files: composeVarsProject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			setShell(t, tt.shell)
			dir := writeProject(t, tt.files)
			t.Chdir(dir) // COMPOSE_FILE is relative to the working directory
			p := mustLoad(t, LoadOptions{WorkDir: dir, EnvFromShell: tt.fromShell})
			out := mustRewrite(t, p, RewriteOptions{Name: p.Name()})
			bundle := writeBundle(t, out)

			want := configIn(t, dir, tt.projectEnv)
			got := configIn(t, bundle, nil)
			if !reflect.DeepEqual(want, got) {
				w, _ := json.MarshalIndent(want, "", "  ")
				g, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("bundle:\n%s\nproject:\n%s", g, w)
			}
		})
	}
}

// configIn is `docker compose config --format json` in dir with only env
// (and PATH) as the environment, without the working directory.
func configIn(t *testing.T, dir string, env []string) map[string]any {
	t.Helper()
	cmd := exec.Command("docker", "compose", "config", "--format", "json")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	b, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("docker compose config in %s: %v\n%s", dir, err, msg)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// the bundle runs the active services without their profiles (see
	// docs/bundle-format.md)
	services, _ := m["services"].(map[string]any)
	for _, s := range services {
		if s, ok := s.(map[string]any); ok {
			delete(s, "profiles")
		}
	}
	return m
}
