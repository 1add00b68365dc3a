package compose

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// envProject is a project using variables the packing machine's
// environment sets (issue 9 item 5).
var envProject = map[string]string{
	"compose.yaml": `name: envproj
services:
  app:
    image: example/app:1.0
    environment:
      - AWS_SECRET_ACCESS_KEY
      - HOME_DIR=${HOME}
      - LEVEL=${LOG_LEVEL:-info}
      - TAG=${TAG}
      - SHIPPED=${SHIPPED_VAR}
    secrets: [api_token]
secrets:
  api_token:
    environment: API_TOKEN
`,
	".env": "TAG=1.0\n",
}

// envShell is the packing machine's environment for envProject.
var envShell = map[string]string{
	"AWS_SECRET_ACCESS_KEY": "s3cr3t-aws", "HOME": "/home/packer", "LOG_LEVEL": "debug", "TAG": "2.0",
	"SHIPPED_VAR": "yes", "API_TOKEN": "s3cr3t-token",
}

func setShell(t *testing.T, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestPackingEnvironmentNotShipped(t *testing.T) {
	cleanEnv(t)
	setShell(t, envShell)
	t.Setenv("PWD", "/home/packer/src")
	files := map[string]string{".env": envProject[".env"],
		"compose.yaml": envProject["compose.yaml"] + "    # compose's own\n"}
	files["compose.yaml"] = strings.Replace(files["compose.yaml"], "      - SHIPPED=", "      - DIR=${PWD}\n      - SHIPPED=", 1)
	dir := writeProject(t, files)
	p := mustLoad(t, LoadOptions{WorkDir: dir, EnvFromShell: []string{"SHIPPED_VAR"}})
	out := mustRewrite(t, p, RewriteOptions{Name: "envproj"})

	wantEnv := strings.Join([]string{
		"# API_TOKEN is not set: the packing machine's value is not shipped; set it here or in the target's environment",
		"# AWS_SECRET_ACCESS_KEY is not set: the packing machine's value is not shipped; set it here or in the target's environment",
		"# HOME: the packing machine's value is not shipped; the target's environment sets it, else this value, which changes nothing",
		"HOME=",
		"# LOG_LEVEL: the packing machine's value is not shipped; the target's environment sets it, else this value, which changes nothing",
		"LOG_LEVEL=info",
		"SHIPPED_VAR=yes",
		"TAG=1.0",
	}, "\n") + "\n"
	if string(out.DotEnv) != wantEnv {
		t.Errorf(".env =\n%s\nwant\n%s", out.DotEnv, wantEnv)
	}
	for _, secret := range []string{"s3cr3t", "/home/packer", "debug", "2.0"} {
		if strings.Contains(string(out.DotEnv), secret) || strings.Contains(string(out.ComposeYAML), secret) {
			t.Errorf("the bundle holds the packing machine's %q:\n%s\n%s", secret, out.ComposeYAML, out.DotEnv)
		}
	}
	wantWarnings := []string{
		"API_TOKEN (secret api_token) is set only in the packing machine's environment, which is not shipped: " +
			"the bundle leaves it to the target's environment (see .env); pass --env-from-shell API_TOKEN to ship this value",
		"AWS_SECRET_ACCESS_KEY (service app) is set only in the packing machine's environment, which is not shipped: " +
			"the bundle leaves it to the target's environment (see .env); pass --env-from-shell AWS_SECRET_ACCESS_KEY to ship this value",
		"HOME (service app) is set only in the packing machine's environment, which is not shipped: " +
			"the bundle leaves it to the target's environment (see .env); pass --env-from-shell HOME to ship this value",
		"LOG_LEVEL (service app) is set only in the packing machine's environment, which is not shipped: " +
			"the bundle leaves it to the target's environment (see .env); pass --env-from-shell LOG_LEVEL to ship this value",
		"TAG (service app): the packing machine's environment sets it to another value than the project's env file, " +
			"whose value the bundle's .env keeps; pass --env-from-shell TAG to ship the environment's",
	}
	if !reflect.DeepEqual(out.Warnings, wantWarnings) {
		t.Errorf("warnings:\n%q\nwant\n%q", out.Warnings, wantWarnings)
	}
	// the rewritten file still says where each value comes from
	app := at(t, parseYAML(t, out.ComposeYAML), "services", "app")
	if got := at(t, app, "environment", 0); got != "AWS_SECRET_ACCESS_KEY" {
		t.Errorf("environment[0] = %v, want the pass-through AWS_SECRET_ACCESS_KEY", got)
	}
}

// TestPackingEnvironmentShipped: --env-from-shell ships the shell's value,
// and a variable both the shell and .env set the same is no warning.
func TestPackingEnvironmentShipped(t *testing.T) {
	cleanEnv(t)
	setShell(t, envShell)
	t.Setenv("TAG", "1.0")
	dir := writeProject(t, envProject)
	p := mustLoad(t, LoadOptions{WorkDir: dir, EnvFromShell: []string{"AWS_SECRET_ACCESS_KEY", "HOME", "LOG_LEVEL", "SHIPPED_VAR", "API_TOKEN"}})
	out := mustRewrite(t, p, RewriteOptions{Name: "envproj"})
	want := "API_TOKEN=s3cr3t-token\nAWS_SECRET_ACCESS_KEY=s3cr3t-aws\nHOME=/home/packer\nLOG_LEVEL=debug\nSHIPPED_VAR=yes\nTAG=1.0\n"
	if string(out.DotEnv) != want {
		t.Errorf(".env =\n%s\nwant\n%s", out.DotEnv, want)
	}
	if len(out.Warnings) != 0 {
		t.Errorf("warnings: %q", out.Warnings)
	}
}

func TestPackingEnvironmentRefusals(t *testing.T) {
	tests := []struct {
		name, compose string
		envFile       string // db.env
		fromShell     []string
		want          string
	}{
		{
			name:    "required variable set only by the shell",
			compose: "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}\n",
			want: "rewrite compose project: DB_PASSWORD is required by service db (${DB_PASSWORD:?...}) and set only in the packing machine's " +
				"environment, which is not shipped, so docker compose would refuse to run the bundle: give it a value in the project's .env " +
				"or an --env-file, or pass --env-from-shell DB_PASSWORD to ship this value",
		},
		{
			name:    "required if unset (?), set only by the shell",
			compose: "services:\n  db:\n    image: postgres\n    command: [\"${DB_PASSWORD?err}\"]\n",
			want: "rewrite compose project: DB_PASSWORD is required by service db (${DB_PASSWORD:?...}) and set only in the packing machine's " +
				"environment, which is not shipped, so docker compose would refuse to run the bundle: give it a value in the project's .env " +
				"or an --env-file, or pass --env-from-shell DB_PASSWORD to ship this value",
		},
		{
			name:    "required by an env_file, set only by the shell",
			compose: "services:\n  db:\n    image: postgres\n    env_file: db.env\n",
			envFile: "POSTGRES_PASSWORD=${DB_PASSWORD:?set DB_PASSWORD}\n",
			want: "rewrite compose project: DB_PASSWORD is required by env_file of service db (${DB_PASSWORD:?...}) and set only in the packing machine's " +
				"environment, which is not shipped, so docker compose would refuse to run the bundle: give it a value in the project's .env " +
				"or an --env-file, or pass --env-from-shell DB_PASSWORD to ship this value",
		},
		{
			name:      "--env-from-shell of an unset variable",
			compose:   "services:\n  db:\n    image: postgres\n",
			fromShell: []string{"NOT_SET_HERE"},
			want:      "load compose project: --env-from-shell NOT_SET_HERE: NOT_SET_HERE is not set in this environment",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, "NOT_SET_HERE")
			t.Setenv("DB_PASSWORD", "s3cr3t")
			files := map[string]string{"compose.yaml": tt.compose}
			if tt.envFile != "" {
				files["db.env"] = tt.envFile
			}
			dir := writeProject(t, files)
			p, err := Load(context.Background(), LoadOptions{WorkDir: dir, EnvFromShell: tt.fromShell})
			if err == nil {
				_, err = p.Rewrite(RewriteOptions{Name: "bundle", Images: defaultImages(p)})
			}
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err, tt.want)
			}
		})
	}
}

// An included project's .env value is the one shipped when the packing
// machine's environment sets it otherwise.
func TestPackingEnvironmentIncludedDotEnv(t *testing.T) {
	cleanEnv(t, "DB_USER")
	t.Setenv("DB_NAME", "from-shell")
	p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "includeenv")})
	out := mustRewrite(t, p, RewriteOptions{})
	if want := "DB_NAME=shop\nDB_USER=postgres\n"; string(out.DotEnv) != want {
		t.Errorf(".env = %q, want %q (DB_NAME from the included project's .env)", out.DotEnv, want)
	}
	want := []string{"DB_NAME (service db): the packing machine's environment sets it to another value than the project's env file, " +
		"whose value the bundle's .env keeps; pass --env-from-shell DB_NAME to ship the environment's"}
	if !reflect.DeepEqual(out.Warnings, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", out.Warnings, want)
	}
}

// A variable an env_file interpolates is the project's like any other.
func TestPackingEnvironmentInEnvFile(t *testing.T) {
	cleanEnv(t)
	t.Setenv("API_HOST", "packer.internal")
	dir := writeProject(t, map[string]string{
		"compose.yaml": "services:\n  app:\n    image: example/app:1.0\n    env_file: app.env\n",
		"app.env":      "URL=http://${API_HOST}/v1\n",
	})
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{})
	want := "# API_HOST: the packing machine's value is not shipped; the target's environment sets it, else this value, which changes nothing\nAPI_HOST=\n"
	if string(out.DotEnv) != want {
		t.Errorf(".env =\n%s\nwant\n%s", out.DotEnv, want)
	}
	wantWarnings := []string{"API_HOST (env_file of service app) is set only in the packing machine's environment, which is not shipped: " +
		"the bundle leaves it to the target's environment (see .env); pass --env-from-shell API_HOST to ship this value"}
	if !reflect.DeepEqual(out.Warnings, wantWarnings) {
		t.Errorf("warnings:\n%q\nwant\n%q", out.Warnings, wantWarnings)
	}
}
