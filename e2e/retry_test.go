//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airpack/airpack/internal/faultproxy"
)

// The real registry behind a proxy that resets the connection in the middle of a large layer:
// pack tries again and makes the bundle it makes without faults; when every download breaks,
// it stops with one line and writes nothing. No engine is used.
func TestPackRetriesBrokenDownloadsFromTheRealRegistry(t *testing.T) {
	reg := startRegistry(t)
	big, err := random.Layer(4<<20, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, big); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(reg.host + "/flaky/web:1.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(reg.host, faultproxy.Faults{})
	t.Cleanup(proxy.Close)
	dir := t.TempDir()
	compose := "name: flaky\nservices:\n  web:\n    image: " + proxy.Host + "/flaky/web:1.0\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	pack := func(name string) result {
		return airpack(t, dir, "pack", "--version", "1.0", "--source", "registry", "-q", "-o", filepath.Join(out, name))
	}
	if r := pack("clean.tar"); r.err != nil {
		t.Fatalf("pack: %v\n%s", r.err, r)
	}

	proxy.SetFaults(faultproxy.Faults{Times: 2, After: 3<<20 + 99, MinSize: 1 << 20})
	if r := pack("flaky.tar"); r.err != nil {
		t.Fatalf("pack through a flaky registry: %v\n%s", r.err, r)
	}
	if proxy.Broken() != 2 {
		t.Fatalf("%d downloads broken, want 2", proxy.Broken())
	}
	if r := airpack(t, out, "verify", "flaky.tar"); r.err != nil {
		t.Fatalf("verify: %v\n%s", r.err, r)
	}
	a, _ := os.ReadFile(filepath.Join(out, "clean.tar"))
	b, _ := os.ReadFile(filepath.Join(out, "flaky.tar"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatalf("the bundle packed through retries (%d bytes) differs from the clean one (%d bytes)", len(b), len(a))
	}

	proxy.SetFaults(faultproxy.Faults{Times: -1, After: 1 << 20, MinSize: 1 << 20})
	r := pack("failed.tar")
	if r.err == nil {
		t.Fatalf("pack succeeded though every download broke:\n%s", r)
	}
	want := "download failed 5 times (last: connection reset by peer): check the network to " + proxy.Host + " and run pack again"
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "layer sha256:") {
		t.Errorf("want one line saying %q, got:\n%s", want, r.stderr)
	}
	if proxy.Broken() != 5 {
		t.Errorf("%d downloads broken, want 5", proxy.Broken())
	}
	assertNothingWritten(t, filepath.Join(out, "failed.tar"))
}
