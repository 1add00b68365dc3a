package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// airpack ram of a Compose project: a host path gets the one warning that applies, ram's (the
// platform has no host paths), not the pack stage's about the bundle's target host, whose advice
// (--allow-outside) would change nothing.
func TestRAMProjectHostPathWarnings(t *testing.T) {
	ref := testImage(t, "shop/web:1.0")
	dir := t.TempDir()
	body := "name: shop\nservices:\n  web:\n    image: " + ref + "\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n      - ./missing:/data\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(t.TempDir(), "shop-1.0-ram.tar.gz")
	_, stderr, err := run(t, "ram", dir, "--version", "1.0", "--source", "registry", "-o", pkg, "-q")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "host paths kept as the target's") || strings.Contains(stderr, "--allow-outside") {
		t.Errorf("a warning about the bundle's target host:\n%s", stderr)
	}
	for _, path := range []string{"/var/run/docker.sock", "missing"} {
		n := 0
		for _, l := range strings.Split(stderr, "\n") {
			if strings.Contains(l, path) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("want one warning naming %s:\n%s", path, stderr)
		}
	}

	// airpack pack still says what the target host must provide.
	_, stderr, err = run(t, "pack", "--project-directory", dir, "--version", "1.0", "--source", "registry", "-o", filepath.Join(t.TempDir(), "b"), "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"host paths kept as the target's, not shipped: /var/run/docker.sock", "bind mount source ./missing does not exist"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("pack: stderr lacks %q:\n%s", w, stderr)
		}
	}
}
