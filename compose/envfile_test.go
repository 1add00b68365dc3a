package compose

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// composeVarsProject sets COMPOSE_* variables in its .env and names an
// optional env_file that does not exist (issue 9 item 15).
var composeVarsProject = map[string]string{
	".env": "COMPOSE_COMPATIBILITY=true\nCOMPOSE_IGNORE_ORPHANS=true\nCOMPOSE_PROFILES=dbg\nCOMPOSE_FILE=compose.yaml:extra.yaml\n" +
		"COMPOSE_PROJECT_NAME=myproj\nCOMPOSE_PATH_SEPARATOR=:\nGREETING=hi\n",
	"compose.yaml": `services:
  web:
    image: example/web:1.0
    environment:
      GREETING: ${GREETING}
      PROJECT: ${COMPOSE_PROJECT_NAME}
    env_file:
      - path: ./local.env
        required: false
  debug:
    image: example/debug:1.0
    profiles: [dbg]
  tools:
    image: example/tools:1.0
    profiles: [tools]
`,
	"extra.yaml": "services:\n  web:\n    labels:\n      from: extra\n",
}

func TestComposeVariablesOfDotEnv(t *testing.T) {
	cleanEnv(t, "GREETING")
	dir := writeProject(t, composeVarsProject)
	t.Chdir(dir) // COMPOSE_FILE is relative to the working directory
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	if p.Name() != "myproj" {
		t.Fatalf("project name %q, want myproj", p.Name())
	}
	out := mustRewrite(t, p, RewriteOptions{Name: p.Name()})
	// kept: read by docker compose from .env on the target as when packing;
	// applied by pack (files merged, profiles, name:): left out
	want := "COMPOSE_COMPATIBILITY=true\nCOMPOSE_IGNORE_ORPHANS=true\nGREETING=hi\n"
	if string(out.DotEnv) != want {
		t.Errorf(".env =\n%s\nwant\n%s", out.DotEnv, want)
	}
	doc := parseYAML(t, out.ComposeYAML)
	if got := at(t, doc, "name"); got != "myproj" {
		t.Errorf("name = %v", got)
	}
	if got := at(t, doc, "services", "web", "labels", "from"); got != "extra" {
		t.Errorf("web label from = %v, want COMPOSE_FILE's extra.yaml merged", got)
	}
	if got := sortedKeys(at(t, doc, "services").(map[string]any)); !reflect.DeepEqual(got, []string{"debug", "web"}) {
		t.Errorf("services %v, want COMPOSE_PROFILES's debug and web", got)
	}
	wantEnvFile := []any{map[string]any{"path": "./files/local.env", "required": false}}
	if got := at(t, doc, "services", "web", "env_file"); !reflect.DeepEqual(got, wantEnvFile) {
		t.Errorf("web env_file = %v, want %v", got, wantEnvFile)
	}
	wantWarnings := []string{"service web: env_file ./local.env (required: false) does not exist: the bundle names it " +
		"./files/local.env, which docker compose skips until the operator adds it on the target"}
	if !reflect.DeepEqual(out.Warnings, wantWarnings) {
		t.Errorf("warnings = %q, want %q", out.Warnings, wantWarnings)
	}
}

func TestComposeVariablesOfShell(t *testing.T) {
	tests := []struct {
		name      string
		dotenv    string
		shell     map[string]string
		fromShell []string
		wantEnv   string
		warnings  []string
	}{
		{
			name:  "COMPOSE_COMPATIBILITY only in the shell",
			shell: map[string]string{"COMPOSE_COMPATIBILITY": "true", "COMPOSE_MENU": "false", "COMPOSE_PROFILES": "x"},
			warnings: []string{"COMPOSE_COMPATIBILITY is set only in the packing machine's environment, which is not shipped: on the target " +
				"docker compose runs without it unless its environment sets it (container names use '_' instead of '-'); " +
				"pass --env-from-shell COMPOSE_COMPATIBILITY to ship it in .env"},
		},
		{
			name:      "COMPOSE_COMPATIBILITY shipped from the shell",
			shell:     map[string]string{"COMPOSE_COMPATIBILITY": "true"},
			fromShell: []string{"COMPOSE_COMPATIBILITY"},
			wantEnv:   "COMPOSE_COMPATIBILITY=true\n",
		},
		{
			name:    "the shell overrides .env's",
			dotenv:  "COMPOSE_IGNORE_ORPHANS=true\n",
			shell:   map[string]string{"COMPOSE_IGNORE_ORPHANS": "false"},
			wantEnv: "COMPOSE_IGNORE_ORPHANS=true\n",
			warnings: []string{"COMPOSE_IGNORE_ORPHANS: the packing machine's environment sets it to another value than the project's env file, " +
				"whose value the bundle's .env keeps; pass --env-from-shell COMPOSE_IGNORE_ORPHANS to ship the environment's"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, "COMPOSE_MENU", "COMPOSE_IGNORE_ORPHANS")
			setShell(t, tt.shell)
			files := map[string]string{"compose.yaml": "services:\n  web:\n    image: example/web:1.0\n"}
			if tt.dotenv != "" {
				files[".env"] = tt.dotenv
			}
			p := mustLoad(t, LoadOptions{WorkDir: writeProject(t, files), Profiles: []string{"x"}, EnvFromShell: tt.fromShell})
			out := mustRewrite(t, p, RewriteOptions{})
			if string(out.DotEnv) != tt.wantEnv {
				t.Errorf(".env = %q, want %q", out.DotEnv, tt.wantEnv)
			}
			if !reflect.DeepEqual(out.Warnings, tt.warnings) {
				t.Errorf("warnings:\n%q\nwant\n%q", out.Warnings, tt.warnings)
			}
		})
	}
}

// An optional env_file outside the project that does not exist is named
// where the bundle would ship it, under files/_outside/.
func TestMissingOptionalEnvFileOutside(t *testing.T) {
	cleanEnv(t)
	root := t.TempDir()
	dir := filepath.Join(root, "proj")
	writeProjectAt(t, dir, map[string]string{"compose.yaml": "services:\n  web:\n    image: example/web:1.0\n" +
		"    env_file:\n      - path: ../shared/site.env\n        required: false\n        format: raw\n"})
	p, err := Load(context.Background(), LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	out := mustRewrite(t, p, RewriteOptions{})
	abs := filepath.Join(root, "shared", "site.env")
	dst := "./files/_outside/" + strings.TrimPrefix(filepath.ToSlash(abs), "/")
	want := []any{map[string]any{"path": dst, "required": false, "format": "raw"}}
	if got := at(t, parseYAML(t, out.ComposeYAML), "services", "web", "env_file"); !reflect.DeepEqual(got, want) {
		t.Errorf("env_file = %v, want %v", got, want)
	}
	wantWarnings := []string{"service web: env_file " + abs + " (required: false) does not exist: the bundle names it " +
		dst + ", which docker compose skips until the operator adds it on the target"}
	if !reflect.DeepEqual(out.Warnings, wantWarnings) {
		t.Errorf("warnings = %q, want %q", out.Warnings, wantWarnings)
	}
	if len(out.Files) != 0 {
		t.Errorf("files shipped: %v", out.Files)
	}
}

func writeProjectAt(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	src := writeProject(t, files)
	if err := os.Rename(src, dir); err != nil {
		t.Fatal(err)
	}
}
