package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

// --max-archive-size takes the sizes --max-size takes, and gives a bundle in parts.
func TestPackMaxArchiveSizeFlag(t *testing.T) {
	if _, _, err := run(t, "pack", "--version", "1.0", "--max-archive-size", "lots"); err == nil || !strings.HasPrefix(err.Error(), "--max-archive-size: size \"lots\"") {
		t.Fatalf("bad size: %v", err)
	}
	a, b := testImage(t, "shop/a:1.0"), testImage(t, "shop/b:1.0")
	dir := t.TempDir()
	body := "name: shop\nservices:\n  a:\n    image: " + a + "\n  b:\n    image: " + b + "\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shop-1.0")
	if _, stderr, err := run(t, "pack", "--project-directory", dir, "--version", "1.0", "--source", "registry", "-o", out, "-q", "--max-archive-size", "1KiB"); err != nil {
		t.Fatal(err, stderr)
	} else if !strings.Contains(stderr, "airpack: warning: image ") || !strings.Contains(stderr, "more than --max-archive-size (1024 bytes): it has an archive of its own") {
		t.Errorf("stderr %q, want the oversized images named", stderr)
	}
	for _, n := range []int{1, 2} {
		if _, err := os.Stat(filepath.Join(out, bundle.ImagePartArchive(n))); err != nil {
			t.Error(err)
		}
	}
}
