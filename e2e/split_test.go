//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bundle packed in parts (--split-size): the parts verify as they are, a missing and a damaged
// part are each named, and on the target `sha256sum -c` and `cat` (the README's steps) give the
// archive packed whole, byte for byte, which loads and runs.
func TestSplitPartsJoinLoadRun(t *testing.T) {
	reg := startRegistry(t)
	pk := packProject(t, reg, "e2esplit")
	whole, err := os.ReadFile(pk.archive)
	if err != nil {
		t.Fatal(err)
	}
	media := t.TempDir()
	out := filepath.Join(media, "e2esplit-1.0.tar")
	// About 8 parts, whatever the images' size.
	size := len(whole)/8 + 1
	r := airpack(t, pk.proj.dir, "pack", "--version", "1.0", "-o", out, "--split-size", fmt.Sprint(size))
	if r.err != nil {
		t.Fatalf("pack --split-size: %v\n%s", r.err, r)
	}
	parts, _ := filepath.Glob(out + ".[0-9]*")
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	for _, arg := range []string{out + ".sha256", parts[0], out} {
		r = airpack(t, "", "verify", arg)
		if r.err != nil || !strings.Contains(r.stdout, fmt.Sprintf("sound (e2esplit 1.0, 4 images, linux/amd64, %d parts)", len(parts))) {
			t.Fatalf("verify %s: %v\n%s", arg, r.err, r)
		}
	}
	r = airpack(t, "", "inspect", out+".001")
	if r.err != nil || !strings.Contains(r.stdout, "e2esplit") {
		t.Fatalf("inspect of a part: %v\n%s", r.err, r)
	}

	// The target: the parts and the list copied off the media, checked and joined.
	removeImages(t, pk.proj.images...)
	reg.stop()
	target := t.TempDir()
	must(t, "", "sh", "-c", "cp "+media+"/e2esplit-1.0.tar.* "+target+"/")
	must(t, target, "sh", "-c", "sha256sum -c e2esplit-1.0.tar.sha256 && cat e2esplit-1.0.tar.[0-9]* > e2esplit-1.0.tar")
	joined, err := os.ReadFile(filepath.Join(target, "e2esplit-1.0.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(joined, whole) {
		t.Fatalf("the joined parts (%d bytes) differ from the archive packed whole (%d bytes)", len(joined), len(whole))
	}
	pk.archive = filepath.Join(target, "e2esplit-1.0.tar")
	pk.extract(t)
	r = must(t, pk.dir, "./load.sh")
	if !strings.Contains(r.String(), "4 image(s) loaded, 0 already present") {
		t.Errorf("load.sh of the joined parts:\n%s", r)
	}
	pk.checkIDs(t)
	t.Cleanup(func() { run(t, pk.dir, nil, "docker", "compose", "down", "-v") })
	must(t, pk.dir, "docker", "compose", "up", "-d")
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", pk.proj.webPort))
	if !strings.Contains(body, "greeting=hello-e2e") {
		t.Errorf("web answered:\n%s", body)
	}
	must(t, pk.dir, "docker", "compose", "down", "-v")

	// A damaged part, then a missing one: each named.
	p2 := parts[1]
	b, err := os.ReadFile(p2)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p2, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r = airpack(t, "", "verify", out+".sha256")
	if r.err == nil || !strings.Contains(r.stderr, filepath.Base(p2)+": damaged (sha256 ") {
		t.Errorf("verify with a damaged part: %v\n%s", r.err, r)
	}
	last := parts[len(parts)-1]
	if err := os.Remove(last); err != nil {
		t.Fatal(err)
	}
	r = airpack(t, "", "verify", out)
	if r.err == nil || !strings.Contains(r.stderr, filepath.Base(last)+": missing") {
		t.Errorf("verify with a missing part: %v\n%s", r.err, r)
	}
	r = run(t, media, nil, "sha256sum", "-c", "e2esplit-1.0.tar.sha256")
	if r.err == nil || !strings.Contains(r.String(), filepath.Base(p2)+": FAILED") {
		t.Errorf("sha256sum -c with a damaged and a missing part: %v\n%s", r.err, r)
	}
}
