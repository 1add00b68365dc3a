package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command prints its warnings the same way, "airpack: warning: ", with --quiet too:
// pack, ram, and pack --ram.
func TestWarningsWithQuiet(t *testing.T) {
	ref := testImage(t, "shop/web:1.0")
	dir := t.TempDir()
	body := "name: shop\nservices:\n  web:\n    image: " + ref + "\n    cap_add: [NET_ADMIN]\n  job:\n    image: " + ref + "\n    deploy:\n      mode: replicated-job\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	pkg := filepath.Join(out, "shop-1.0-ram.tar.gz")
	_, stderr, err := run(t, "ram", dir, "--version", "1.0", "--source", "registry", "-o", pkg, "-q")
	if err != nil {
		t.Fatal(err)
	}
	onlyWarnings(t, "ram -q", stderr, "service web: cap_add: RAM has no Linux capabilities; dropped")

	// A name holding "plugin" is a warning of the package reader's; the job one of the
	// conversion's.
	renamed := filepath.Join(out, "shop-plugin-1.0-ram.tar.gz")
	if err := os.Rename(pkg, renamed); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, "pack", "--ram", renamed, "-o", filepath.Join(out, "b"), "-q")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != "" {
		t.Errorf("pack --ram -q printed %q", stdout)
	}
	onlyWarnings(t, "pack --ram -q", stderr, `the file name "shop-plugin-1.0-ram.tar.gz" contains "plugin"`, "is a job: docker compose runs it once")
}

// onlyWarnings checks that every line of stderr is a warning, and that some hold each of want.
func onlyWarnings(t *testing.T, what, stderr string, want ...string) {
	t.Helper()
	if stderr == "" {
		t.Errorf("%s printed no warnings", what)
		return
	}
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "airpack: warning: ") && !strings.HasPrefix(l, " ") {
			t.Errorf("%s: %q is not an airpack warning", what, l)
		}
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr lacks %q:\n%s", what, w, stderr)
		}
	}
}
