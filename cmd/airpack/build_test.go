package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDocker puts a docker on PATH whose engine and compose plugin answer and whose
// `compose build` prints a line and exits 3; it logs its arguments to the returned file.
func fakeDocker(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(bin, "args")
	script := `#!/bin/sh
echo "$*" >> ` + log + `
case "$*" in
*" version --format"*) echo 29.0.0 ;;
*"compose version"*) echo 2.40.3 ;;
*" build "*) echo "step 2/2: COPY failed: demoapp: not found" >&2; exit 3 ;;
*) exit 99 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

// captureStderr runs f with os.Stderr going to a file, and returns what was written there.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = saved }()
	f()
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func buildProjectDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: shop\nservices:\n  api:\n    build: ./api\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pack --build runs docker compose build of the project; a failed build is one line after its
// output, which --quiet shows only then.
func TestPackBuildFlag(t *testing.T) {
	log := fakeDocker(t)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
	dir := buildProjectDir(t)
	out := filepath.Join(t.TempDir(), "shop-1.0.tar")
	for _, quiet := range []bool{false, true} {
		args := []string{"pack", "--project-directory", dir, "--version", "1.0", "-o", out, "--build"}
		if quiet {
			args = append(args, "-q")
		}
		var err error
		stderr := captureStderr(t, func() { _, _, err = run(t, args...) })
		wantErr(t, err, "docker compose build of service api failed (exit 3): its output is above")
		if !strings.Contains(stderr, "step 2/2: COPY failed: demoapp: not found\n") {
			t.Errorf("quiet %v: the build's output is not on stderr:\n%s", quiet, stderr)
		}
		if quiet == strings.Contains(stderr, "building 1 service: docker compose build api") {
			t.Errorf("quiet %v: stderr\n%s", quiet, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s written", out)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "--host unix:///nonexistent.sock compose --project-name shop --project-directory " + dir + " --file " + filepath.Join(dir, "compose.yaml") + " build api\n"
	if !strings.Contains(string(b), want) {
		t.Errorf("docker ran with\n%s\nwant the line\n%s", b, want)
	}
}

// --build refuses an engine that does not answer (the real docker CLI, if any, or none), and
// --ram, and shows in --help.
func TestPackBuildRefused(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
	dir := buildProjectDir(t)
	_, _, err := run(t, "pack", "--project-directory", dir, "--version", "1.0", "-o", filepath.Join(t.TempDir(), "o.tar"), "--build")
	if err == nil || !strings.HasPrefix(err.Error(), "--build needs the Docker engine, which builds the images: `docker --host unix:///nonexistent.sock version` failed: ") &&
		!strings.HasPrefix(err.Error(), "--build runs docker compose build, but the docker CLI is not in PATH") {
		t.Errorf("no engine: %v", err)
	}
	_, _, err = run(t, "pack", "--ram", "x.tar.gz", "--build")
	wantErr(t, err, "--ram cannot be combined with --build: the application and its images come from the RAM package")
	_, _, err = run(t, "pack", "--project-directory", dir, "--version", "1.0", "--build", "--source", "registry")
	wantErr(t, err, "--build puts the images it builds in the docker engine, but --source registry leaves the engine out: add --source engine (or leave --source out)")
	stdout, _, err := run(t, "pack", "--help")
	if err != nil || !strings.Contains(stdout, "--build ") || !strings.Contains(stdout, "--build first builds the active services with build:") {
		t.Errorf("pack --help: %v\n%s", err, stdout)
	}
}
