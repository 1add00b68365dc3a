package compose

import (
	"context"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		opts     func(t *testing.T) LoadOptions
		env      map[string]string
		wantName string
		want     []ServiceImage
		check    func(t *testing.T, p *types.Project)
	}{
		{
			name: "several -f files merged in order",
			opts: func(t *testing.T) LoadOptions {
				dir := fixture(t, "merge")
				return LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.prod.yaml")}}
			},
			wantName: "merge",
			want: []ServiceImage{
				{Service: "cache", Image: "redis:7"},
				{Service: "web", Image: "example/web:2.0"},
				{Service: "worker", Image: "example/worker:1.0"},
			},
			check: func(t *testing.T, p *types.Project) {
				web := p.Services["web"]
				if got := *web.Environment["MODE"]; got != "prod" {
					t.Errorf("MODE = %q, want the override's prod", got)
				}
				if got := *web.Environment["LOG"]; got != "info" {
					t.Errorf("LOG = %q, want info kept from the first file", got)
				}
				var ports []string
				for _, pc := range web.Ports {
					ports = append(ports, pc.Published+":"+strconv.Itoa(int(pc.Target)))
				}
				if want := []string{"8080:80", "8443:443"}; !reflect.DeepEqual(ports, want) {
					t.Errorf("ports = %v, want %v", ports, want)
				}
			},
		},
		{
			name:     "no profile: services without profiles only",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "profiles")} },
			wantName: "profiles",
			want:     []ServiceImage{{Service: "web", Image: "example/web:1.0"}},
		},
		{
			name: "--profile debug",
			opts: func(t *testing.T) LoadOptions {
				return LoadOptions{WorkDir: fixture(t, "profiles"), Profiles: []string{"debug"}}
			},
			wantName: "profiles",
			want: []ServiceImage{
				{Service: "debug", Image: "example/debug:1.0"},
				{Service: "tools", Image: "example/tools:1.0"},
				{Service: "web", Image: "example/web:1.0"},
			},
		},
		{
			name:     "COMPOSE_PROFILES when no --profile",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "profiles")} },
			env:      map[string]string{"COMPOSE_PROFILES": "tools"},
			wantName: "profiles",
			want: []ServiceImage{
				{Service: "tools", Image: "example/tools:1.0"},
				{Service: "web", Image: "example/web:1.0"},
			},
		},
		{
			name:     "project .env",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "envfiles")} },
			wantName: "envfiles",
			want:     []ServiceImage{{Service: "app", Image: "example/app:1.0"}},
			check: func(t *testing.T, p *types.Project) {
				if got := *p.Services["app"].Environment["GREETING"]; got != "from-dotenv" {
					t.Errorf("GREETING = %q, want from-dotenv", got)
				}
			},
		},
		{
			name: "--env-file replaces .env",
			opts: func(t *testing.T) LoadOptions {
				dir := fixture(t, "envfiles")
				return LoadOptions{WorkDir: dir, EnvFiles: []string{filepath.Join(dir, "alt.env")}}
			},
			wantName: "envfiles",
			want:     []ServiceImage{{Service: "app", Image: "example/app:2.0"}},
			check: func(t *testing.T, p *types.Project) {
				if got := *p.Services["app"].Environment["GREETING"]; got != "hello" {
					t.Errorf("GREETING = %q, want the default hello", got)
				}
			},
		},
		{
			name:     "OS environment wins over .env",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "envfiles")} },
			env:      map[string]string{"TAG": "3.0"},
			wantName: "envfiles",
			want:     []ServiceImage{{Service: "app", Image: "example/app:3.0"}},
		},
		{
			name:     "extends from another file",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "extends")} },
			wantName: "extends",
			want:     []ServiceImage{{Service: "web", Image: "example/web:1.0"}},
			check: func(t *testing.T, p *types.Project) {
				web := p.Services["web"]
				if *web.Environment["ROLE"] != "web" || *web.Environment["REGION"] != "eu" {
					t.Errorf("environment = %v, want ROLE=web (own) and REGION=eu (extended)", web.Environment)
				}
				want := filepath.Join(p.WorkingDir, "common", "conf", "base.conf")
				if len(web.Volumes) != 1 || web.Volumes[0].Source != want {
					t.Errorf("volumes = %+v, want source %s, relative to the extended file", web.Volumes, want)
				}
			},
		},
		{
			name:     "include",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "include")} },
			wantName: "include",
			want: []ServiceImage{
				{Service: "db", Image: "postgres:16"},
				{Service: "web", Image: "example/web:1.0"},
			},
			check: func(t *testing.T, p *types.Project) {
				want := filepath.Join(p.WorkingDir, "db", "init.sql")
				if got := p.Services["db"].Volumes[0].Source; got != want {
					t.Errorf("db volume source = %s, want %s, relative to the included file", got, want)
				}
				if _, ok := p.Volumes["dbdata"]; !ok {
					t.Errorf("volume dbdata of the included file missing: %v", p.Volumes)
				}
			},
		},
		{
			name:     "default file discovery with override",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "discover")} },
			wantName: "discover",
			want:     []ServiceImage{{Service: "web", Image: "example/web:override"}},
			check: func(t *testing.T, p *types.Project) {
				var names []string
				for _, f := range p.ComposeFiles {
					names = append(names, filepath.Base(f))
				}
				if want := []string{"docker-compose.yml", "docker-compose.override.yml"}; !reflect.DeepEqual(names, want) {
					t.Errorf("compose files = %v, want %v", names, want)
				}
			},
		},
		{
			name: "project directory from the first -f file",
			opts: func(t *testing.T) LoadOptions {
				return LoadOptions{Files: []string{filepath.Join(fixture(t, "discover"), "docker-compose.yml")}}
			},
			wantName: "discover",
			want:     []ServiceImage{{Service: "web", Image: "example/web:1.0"}},
		},
		{
			name:     "build services get compose's default image name",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "build")} },
			wantName: "build",
			want: []ServiceImage{
				{Service: "api", Image: "build-api", Build: true, Platform: "linux/arm64"},
				{Service: "web", Image: "example/web:1.0", Build: true},
			},
		},
		{
			name:     "project name override names the default image",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "build"), ProjectName: "shop"} },
			wantName: "shop",
			want: []ServiceImage{
				{Service: "api", Image: "shop-api", Build: true, Platform: "linux/arm64"},
				{Service: "web", Image: "example/web:1.0", Build: true},
			},
		},
		{
			name:     "COMPOSE_COMPATIBILITY uses _",
			opts:     func(t *testing.T) LoadOptions { return LoadOptions{WorkDir: fixture(t, "build")} },
			env:      map[string]string{"COMPOSE_COMPATIBILITY": "true"},
			wantName: "build",
			want: []ServiceImage{
				{Service: "api", Image: "build_api", Build: true, Platform: "linux/arm64"},
				{Service: "web", Image: "example/web:1.0", Build: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, fixtureVars...)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opts := tt.opts(t)
			p := mustLoad(t, opts)
			if p.Name() != tt.wantName {
				t.Errorf("Name() = %q, want %q", p.Name(), tt.wantName)
			}
			if !filepath.IsAbs(p.Dir()) {
				t.Errorf("Dir() = %q, not absolute", p.Dir())
			}
			if got := p.Images(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Images() = %+v\nwant %+v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, p.Typed())
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		opts LoadOptions
		env  map[string]string
		want string // the whole message, or its start when ending with "…"
	}{
		{
			name: "YAML syntax error names the file and line",
			opts: LoadOptions{WorkDir: fixture(t, "badyaml")},
			want: "load compose project: docker-compose.yaml: yaml: line 4, column 12: block sequence entries are not allowed in this context",
		},
		{
			name: "schema error names the file and attribute",
			opts: LoadOptions{WorkDir: writeProject(t, map[string]string{"compose.yaml": "services:\n  web:\n    imag: x\n"})},
			want: "load compose project: validating compose.yaml: services.web.imag: unknown attribute",
		},
		{
			name: "no compose file",
			opts: LoadOptions{WorkDir: empty},
			want: "load compose project: no compose file found in " + empty +
				" or its parent directories (looked for compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml); pass one with -f",
		},
		{
			name: "missing -f file",
			opts: LoadOptions{WorkDir: fixture(t, "merge"), Files: []string{filepath.Join(fixture(t, "merge"), "nope.yaml")}},
			want: "load compose project: compose file nope.yaml does not exist",
		},
		{
			name: "missing --env-file",
			opts: LoadOptions{WorkDir: fixture(t, "envfiles"), EnvFiles: []string{filepath.Join(fixture(t, "envfiles"), "nope.env")}},
			want: "load compose project: couldn't find env file: " + filepath.Join(fixture(t, "envfiles"), "nope.env"),
		},
		{
			name: "required variable unset",
			opts: LoadOptions{WorkDir: fixture(t, "required")},
			want: "load compose project: error while interpolating services.web.image: required variable TAG is missing a value: TAG must be set to the release tag",
		},
		{
			name: "invalid project name",
			opts: LoadOptions{WorkDir: fixture(t, "merge"), ProjectName: "Bad Name"},
			want: `load compose project: invalid project name "Bad Name": …`,
		},
		{
			name: "stdin",
			opts: LoadOptions{Files: []string{"-"}},
			want: "load compose project: reading the compose file from stdin is not supported: pass a file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, fixtureVars...)
			p, err := Load(context.Background(), tt.opts)
			if err == nil {
				t.Fatalf("Load succeeded with %d services, want an error", len(p.Typed().Services))
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("error = %q, want it to start with %q", msg, prefix)
				}
			} else if msg != tt.want {
				t.Errorf("error = %q\nwant    %q", msg, tt.want)
			}
		})
	}
}

func TestLoadKeepsRawModelUninterpolated(t *testing.T) {
	cleanEnv(t, fixtureVars...)
	p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "interp")})
	if got := p.Typed().Services["web"].Labels["tier"]; got != "front" {
		t.Errorf("typed label tier = %q, want the interpolated front", got)
	}
	web := p.raw["services"].(map[string]any)["web"].(map[string]any)
	if got := web["labels"].(map[string]any)["tier"]; got != "${TIER}" {
		t.Errorf("raw label tier = %v, want ${TIER}", got)
	}
	// pass-through variables are not resolved into the raw model
	if v, ok := web["environment"].(map[string]any)["PASSTHROUGH"]; !ok || v != nil {
		t.Errorf("raw PASSTHROUGH = %v (present %v), want a bare entry", v, ok)
	}
}

// A compose file and an environment given in memory: nothing is read for the compose file, and
// the process's environment plays no part in the typed model, the rewrite or the bundle's .env.
func TestLoadInMemory(t *testing.T) {
	dir := t.TempDir() // holds no compose file
	for k, v := range map[string]string{"TAG": "from-the-shell", "PORT": "9999", "COMPOSE_PROJECT_NAME": "shell", "COMPOSE_PROFILES": "debug"} {
		t.Setenv(k, v)
	}
	content := "services:\n  web:\n    image: web:${TAG}\n    ports: [\"${PORT:-80}:80\"]\n    environment:\n      A: ${A:-none}\n      T: ${TAG}\n" +
		"  debug:\n    image: debug:1\n    profiles: [debug]\n"
	opts := LoadOptions{
		ConfigFiles:  []types.ConfigFile{{Filename: "compose.yaml", Content: []byte(content)}},
		WorkDir:      dir,
		Environment:  map[string]string{"TAG": "1.0"},
		EnvFromShell: []string{"TAG"},
	}
	p, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != filepath.Base(dir) || p.Dir() != dir {
		t.Errorf("name %q, dir %q", p.Name(), p.Dir())
	}
	web := p.Typed().Services["web"]
	if web.Image != "web:1.0" || *web.Environment["A"] != "none" || web.Ports[0].Published != "80" {
		t.Errorf("web: image %s, A %s, ports %+v", web.Image, *web.Environment["A"], web.Ports)
	}
	if _, ok := p.Typed().Services["debug"]; ok {
		t.Error("COMPOSE_PROFILES of the process applied")
	}
	out := mustRewrite(t, p, RewriteOptions{})
	if env := string(out.DotEnv); !strings.Contains(env, "TAG=1.0") || strings.Contains(env, "9999") || strings.Contains(env, "shell") {
		t.Errorf("bundle .env:\n%s", env)
	}
	for _, w := range out.Warnings {
		t.Errorf("warning: %s", w)
	}

	opts.Files = []string{filepath.Join(dir, "compose.yaml")}
	if _, err := Load(context.Background(), opts); err == nil {
		t.Error("compose files both by name and in memory: no error")
	}
}
