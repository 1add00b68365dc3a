package pack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/imageset"
)

// buildProject has two services with build: (one in a profile), one with build: and image:,
// one in an inactive profile and one from a registry.
const buildProject = `name: shop
services:
  api:
    build: ./api
  web:
    build: ./web
    image: example/web:1.0
  worker:
    build: ./worker
    profiles: [jobs]
  debug:
    build: ./debug
    profiles: [debug]
  db:
    image: example/db:1.0
`

// exitCode is the error of a command that ran and exited with a code.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitCode) ExitCode() int { return int(e) }

// fakeDocker records the commands run and answers them: fail maps a command's first words
// after --host HOST ("version", "compose version", "compose build") to its exit code, and out
// is what the build writes.
type fakeDocker struct {
	cmds []*exec.Cmd
	fail map[string]int
	out  string
}

func (f *fakeDocker) run(c *exec.Cmd) error {
	f.cmds = append(f.cmds, c)
	args := c.Args[3:] // docker --host HOST
	key := args[0]
	if args[0] == "compose" {
		key = "compose " + args[1]
		if i := slices.Index(args, "build"); i > 0 {
			key = "compose build"
			fmt.Fprint(c.Stdout, f.out)
		}
	}
	if code, ok := f.fail[key]; ok {
		fmt.Fprintf(c.Stderr, "%s: it failed\n", key)
		return exitCode(code)
	}
	return nil
}

func (f *fakeDocker) build(t *testing.T) *exec.Cmd {
	t.Helper()
	for _, c := range f.cmds {
		if slices.Contains(c.Args, "build") {
			return c
		}
	}
	t.Fatalf("no docker compose build among %d commands", len(f.cmds))
	return nil
}

func envValue(c *exec.Cmd, name string) (string, bool) {
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	v, ok := "", false
	for _, kv := range env {
		if k, val, _ := strings.Cut(kv, "="); k == name {
			v, ok = val, true // the last one wins, as for exec
		}
	}
	return v, ok
}

// --build runs docker compose build with the project's settings as airpack loaded them, for
// the active services with build:, before resolving: the images then come from the sources.
func TestPackBuildCommandLine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///tmp/test-docker.sock")
	t.Setenv("DOCKER_DEFAULT_PLATFORM", "")
	os.Unsetenv("DOCKER_DEFAULT_PLATFORM")
	dir := project(t, buildProject)
	envFile := filepath.Join(dir, "build.env")
	if err := os.WriteFile(envFile, []byte("X=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	override := filepath.Join(dir, "override.yaml")
	if err := os.WriteFile(override, []byte("services:\n  api:\n    environment: {A: b}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	fake := &fakeDocker{out: "built\n"}
	var out bytes.Buffer
	var logged []string
	_, err := Pack(context.Background(), Options{
		Compose:      compose.LoadOptions{Files: []string{"compose.yaml", "override.yaml"}, Profiles: []string{"jobs"}, EnvFiles: []string{"build.env"}},
		Version:      "1.0",
		Output:       filepath.Join(t.TempDir(), "out"),
		Platform:     "linux/arm64",
		ImageSources: []imageset.Source{imageset.NewLayout(t.TempDir())},
		Build:        true,
		BuildOutput:  &out,
		RunCommand:   fake.run,
		Log:          func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) },
	})
	// The layout holds nothing: resolving, after the build, fails.
	if err == nil || !strings.Contains(err.Error(), "is built by compose but not found") {
		t.Fatalf("want the resolve error after the build, got %v", err)
	}
	if len(fake.cmds) != 3 {
		t.Fatalf("ran %d commands, want version, compose version, compose build", len(fake.cmds))
	}
	if got := strings.Join(fake.cmds[0].Args, " "); got != "docker --host unix:///tmp/test-docker.sock version --format {{.Server.Version}}" {
		t.Errorf("engine check %q", got)
	}
	if got := strings.Join(fake.cmds[1].Args, " "); got != "docker --host unix:///tmp/test-docker.sock compose version --short" {
		t.Errorf("compose check %q", got)
	}
	c := fake.build(t)
	want := []string{"docker", "--host", "unix:///tmp/test-docker.sock", "compose", "--project-name", "shop", "--project-directory", dir,
		"--file", filepath.Join(dir, "compose.yaml"), "--file", override, "--profile", "jobs", "--env-file", envFile,
		"build", "api", "web", "worker"}
	if !slices.Equal(c.Args, want) {
		t.Errorf("build command\n%q\nwant\n%q", c.Args, want)
	}
	if v, _ := envValue(c, "DOCKER_DEFAULT_PLATFORM"); v != "linux/arm64" {
		t.Errorf("DOCKER_DEFAULT_PLATFORM %q, want the bundle's platform", v)
	}
	if _, ok := envValue(c, "HOME"); os.Getenv("HOME") != "" && !ok {
		t.Error("the build does not run in this environment")
	}
	if out.String() != "built\n" {
		t.Errorf("build output %q not passed on", out.String())
	}
	if !slices.Contains(logged, "building 3 services: docker compose build api web worker") {
		t.Errorf("log %q", logged)
	}
}

// The build runs in LoadOptions.Environment when set, and keeps its DOCKER_DEFAULT_PLATFORM.
func TestPackBuildEnvironment(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	os.Unsetenv("DOCKER_HOST")
	dir := project(t, "services:\n  api:\n    build: ./${SUB}\n")
	fake := &fakeDocker{}
	env := map[string]string{"SUB": "api", "DOCKER_DEFAULT_PLATFORM": "linux/amd64", "PATH": os.Getenv("PATH")}
	_, err := Pack(context.Background(), Options{
		Compose:      compose.LoadOptions{WorkDir: dir, Environment: env},
		Version:      "1.0",
		Output:       filepath.Join(t.TempDir(), "out"),
		ImageSources: []imageset.Source{imageset.NewLayout(t.TempDir())},
		Build:        true,
		BuildOutput:  &bytes.Buffer{},
		RunCommand:   fake.run,
	})
	if err == nil {
		t.Fatal("packed from an empty layout")
	}
	c := fake.build(t)
	if c.Args[2] != defaultDockerHost {
		t.Errorf("host %q without DOCKER_HOST, want %s", c.Args[2], defaultDockerHost)
	}
	proj, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir, Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	name := proj.Name()
	if !slices.Contains(c.Args, name) || c.Args[len(c.Args)-1] != "api" {
		t.Errorf("build command %q: want project %s, service api", c.Args, name)
	}
	wantEnv := []string{"DOCKER_DEFAULT_PLATFORM=linux/amd64", "PATH=" + os.Getenv("PATH"), "SUB=api"}
	if !slices.Equal(c.Env, wantEnv) {
		t.Errorf("build environment %q, want %q", c.Env, wantEnv)
	}
}

// A failed build is one line naming the service, its output being above; nothing is written.
func TestPackBuildFails(t *testing.T) {
	for _, c := range []struct {
		project, fail string
		code          int
		want          string
	}{
		{"services:\n  api:\n    build: ./api\n", "compose build", 17, "docker compose build of service api failed (exit 17): its output is above"},
		{buildProject, "compose build", 1, "docker compose build of services api, web failed (exit 1): its output is above"},
		{buildProject, "version", 1, "--build needs the Docker engine, which builds the images: `docker --host unix:///nonexistent.sock version` failed: version: it failed"},
		{buildProject, "compose version", 125, "--build needs the Docker Compose CLI plugin (docker compose), which builds the images: `docker compose version` failed: compose version: it failed"},
	} {
		t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
		dir := project(t, c.project)
		fake := &fakeDocker{fail: map[string]int{c.fail: c.code}, out: "step 1/2\n"}
		var out bytes.Buffer
		output := filepath.Join(t.TempDir(), "out.tar")
		_, err := Pack(context.Background(), Options{
			Compose:     compose.LoadOptions{WorkDir: dir},
			Version:     "1.0",
			Output:      output,
			Build:       true,
			BuildOutput: &out,
			RunCommand:  fake.run,
		})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s fails: got %v\nwant %s", c.fail, err, c.want)
		}
		if c.fail == "compose build" && out.String() != "step 1/2\ncompose build: it failed\n" {
			t.Errorf("build output %q", out.String())
		}
		if _, err := os.Stat(output); err == nil {
			t.Errorf("%s fails: %s written", c.fail, output)
		}
	}
}

// No docker CLI at all: --build says so.
func TestPackBuildNoDockerCLI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := project(t, "services:\n  api:\n    build: ./api\n")
	_, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: filepath.Join(t.TempDir(), "o"), Build: true})
	if err == nil || !strings.HasPrefix(err.Error(), "--build runs docker compose build, but the docker CLI is not in PATH") {
		t.Fatalf("got %v", err)
	}
}

// --build refuses sources without the engine, and compose files in memory; a project without
// build: runs no docker command.
func TestPackBuildRefusals(t *testing.T) {
	dir := project(t, "services:\n  api:\n    build: ./api\n")
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Sources: []string{"registry", "oci:x"}}, "--build puts the images it builds in the docker engine, but --source registry, oci:x leaves the engine out: add --source engine (or leave --source out)"},
		{Options{Compose: compose.LoadOptions{ConfigFiles: nil}}, ""},
	} {
		c.opts.Build = true
		if err := checkBuildOptions(&c.opts); c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want) {
			t.Errorf("%+v: got %v, want %q", c.opts.Sources, err, c.want)
		}
	}
	_, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Build: true, Sources: []string{"registry"}, RunCommand: func(*exec.Cmd) error { t.Error("ran docker"); return nil }})
	if err == nil || !strings.HasPrefix(err.Error(), "--build puts the images") {
		t.Errorf("--source registry: %v", err)
	}

	fake := &fakeDocker{}
	var logged []string
	plain := project(t, "services:\n  db:\n    image: example/db:1.0\n")
	_, err = Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: plain}, Version: "1.0", Output: filepath.Join(t.TempDir(), "o"),
		ImageSources: []imageset.Source{imageset.NewLayout(t.TempDir())}, Build: true, RunCommand: fake.run,
		Log: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	if err == nil || len(fake.cmds) > 0 {
		t.Errorf("no build: service: ran %d commands, err %v", len(fake.cmds), err)
	}
	if !slices.Contains(logged, "--build: no service has build:, nothing to build") {
		t.Errorf("log %q", logged)
	}
}
