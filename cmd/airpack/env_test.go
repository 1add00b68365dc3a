package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackEnvFromShell: a value only the packing machine's environment sets
// is not shipped, with a warning, unless --env-from-shell names it (issue 9
// item 5); airpack ram takes the flag too, and prints the pack's warnings.
func TestPackEnvFromShell(t *testing.T) {
	ref := testImage(t, "shop/web:1.0")
	project := t.TempDir()
	writeFile(t, project, "compose.yaml", "name: shop\nservices:\n  web:\n    image: "+ref+"\n    environment:\n"+
		"      - API_TOKEN\n      - DIR=${APP_HOME}\n      - LEVEL=${LOG_LEVEL:-info}\n")
	t.Setenv("API_TOKEN", "s3cr3t")
	t.Setenv("APP_HOME", "/home/packer")
	t.Setenv("LOG_LEVEL", "debug")
	warning := "airpack: warning: API_TOKEN (service web) is set only in the packing machine's environment, which is not shipped: " +
		"the bundle leaves it to the target's environment (see .env); pass --env-from-shell API_TOKEN to ship this value\n"
	warnings := warning +
		"airpack: warning: APP_HOME (service web) is set only in the packing machine's environment, which is not shipped: " +
		"the bundle leaves it to the target's environment (see .env); pass --env-from-shell APP_HOME to ship this value\n" +
		"airpack: warning: LOG_LEVEL (service web) is set only in the packing machine's environment, which is not shipped: " +
		"the bundle leaves it to the target's environment (see .env); pass --env-from-shell LOG_LEVEL to ship this value\n"

	out := filepath.Join(t.TempDir(), "shop-1.0")
	_, stderr, err := run(t, "pack", "--project-directory", project, "--version", "1.0", "--source", "registry", "-o", out, "-q")
	if err != nil {
		t.Fatal(err)
	}
	if stderr != warnings {
		t.Errorf("stderr = %q\nwant     %q", stderr, warnings)
	}
	env, _ := os.ReadFile(filepath.Join(out, ".env"))
	want := "# API_TOKEN is not set: the packing machine's value is not shipped; set it here or in the target's environment\n" +
		"# APP_HOME: the packing machine's value is not shipped; the target's environment sets it, else this value, which changes nothing\n" +
		"APP_HOME=\n" +
		"# LOG_LEVEL: the packing machine's value is not shipped; the target's environment sets it, else this value, which changes nothing\n" +
		"LOG_LEVEL=info\n"
	if string(env) != want {
		t.Errorf(".env = %q, want %q", env, want)
	}
	// what pack writes, verify accepts
	if stdout, _, err := run(t, "verify", out); err != nil || !strings.Contains(stdout, ": sound (") {
		t.Errorf("verify: %v\n%s", err, stdout)
	}

	out = filepath.Join(t.TempDir(), "shop-1.0")
	_, stderr, err = run(t, "pack", "--project-directory", project, "--version", "1.0", "--source", "registry", "-o", out, "-q",
		"--env-from-shell", "API_TOKEN", "--env-from-shell", "APP_HOME", "--env-from-shell", "LOG_LEVEL")
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	if env, _ := os.ReadFile(filepath.Join(out, ".env")); string(env) != "API_TOKEN=s3cr3t\nAPP_HOME=/home/packer\nLOG_LEVEL=debug\n" {
		t.Errorf(".env = %q, want the shipped value", env)
	}

	pkg := filepath.Join(t.TempDir(), "shop-1.0-ram.tar.gz")
	_, stderr, err = run(t, "ram", project, "--version", "1.0", "--source", "registry", "-o", pkg, "-q")
	if err != nil {
		t.Fatal(err)
	}
	if want := warning; !strings.Contains(stderr, want) {
		t.Errorf("airpack ram stderr = %q, want it to hold %q", stderr, want)
	}
	_, _, err = run(t, "ram", project, "--version", "1.0", "--source", "registry", "-o", pkg, "-q", "--force",
		"--env-from-shell", "NOT_SET_FOR_AIRPACK")
	wantErr(t, err, "load compose project: --env-from-shell NOT_SET_FOR_AIRPACK: NOT_SET_FOR_AIRPACK is not set in this environment")

	_, _, err = run(t, "pack", "--ram", "x.tar.gz", "--env-from-shell", "API_TOKEN")
	wantErr(t, err, "--ram cannot be combined with --env-from-shell: the application and its images come from the RAM package")
}

func wantErr(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil || err.Error() != msg {
		t.Errorf("got %v\nwant %s", err, msg)
	}
}

// --env-from-shell applies to a Compose project: with a bundle, airpack ram refuses it.
func TestRAMBundleRefusesEnvFromShell(t *testing.T) {
	f := newSignFixture(t)
	b := filepath.Join(t.TempDir(), "shop-1.0")
	f.pack(t, b)
	t.Setenv("API_TOKEN", "x")
	_, _, err := run(t, "ram", b, "-o", filepath.Join(t.TempDir(), "p.tar.gz"), "--env-from-shell", "API_TOKEN")
	wantErr(t, err, b+" is a bundle: shell variables to ship apply only to a Compose project, which is packed first")
}
