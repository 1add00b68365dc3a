package pack

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/imageset"
	"github.com/airpack/airpack/internal/faultproxy"
)

// A registry that resets the connection in the middle of a large layer: pack tries the layer
// again and makes the same bundle as without faults; when every try breaks, pack says so in one
// line and leaves nothing behind.
func TestPackRetriesBrokenBlobDownloads(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	img := amd64Image(t, 1)
	big, err := random.Layer(2<<20, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, big); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(u.Host + "/shop/web:1.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(u.Host, faultproxy.Faults{})
	t.Cleanup(proxy.Close)
	dir := project(t, "name: shop\nservices:\n  web:\n    image: "+proxy.Host+"/shop/web:1.0\n")
	retry := imageset.BlobRetry{Attempts: 5, Backoff: remote.Backoff{Duration: 5 * time.Millisecond, Factor: 2, Steps: 5}}
	pack := func(out string) error {
		_, err := Pack(context.Background(), Options{
			Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: out,
			ImageSources: []imageset.Source{imageset.NewRegistry(nil).WithBlobRetry(retry)},
		})
		return err
	}
	parent := t.TempDir()
	clean := filepath.Join(parent, "clean")
	if err := pack(clean); err != nil {
		t.Fatal(err)
	}

	proxy.SetFaults(faultproxy.Faults{Times: 3, After: 1<<20 + 4321, MinSize: 1 << 20})
	flaky := filepath.Join(parent, "flaky")
	if err := pack(flaky); err != nil {
		t.Fatalf("pack through a flaky registry: %v", err)
	}
	if proxy.Broken() != 3 {
		t.Fatalf("%d downloads broken, want 3", proxy.Broken())
	}
	if _, problems, err := bundle.Verify(context.Background(), flaky); err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", err, problems)
	}
	sameTree(t, clean, flaky)

	proxy.SetFaults(faultproxy.Faults{Times: -1, After: 1 << 20, MinSize: 1 << 20})
	failed := filepath.Join(parent, "failed")
	err = pack(failed)
	if err == nil {
		t.Fatal("pack succeeded though every download broke")
	}
	want := "image " + proxy.Host + "/shop/web:1.0: layer sha256:"
	tail := ": download failed 5 times (last: connection reset by peer): check the network to " + proxy.Host + " and run pack again"
	if msg := err.Error(); !strings.Contains(msg, want) || !strings.HasSuffix(msg, tail) || strings.Count(msg, "\n") > 0 {
		t.Errorf("error %q\nwant one line with %q ending %q", msg, want, tail)
	}
	entries, _ := os.ReadDir(parent)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "clean flaky" {
		t.Errorf("a failed pack left %v in the output's directory", names)
	}
}

// sameTree fails unless directories a and b hold the same files with the same bytes.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	files := func(root string) map[string][]byte {
		m := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				m[rel], _ = os.ReadFile(p)
			}
			return nil
		})
		return m
	}
	fa, fb := files(a), files(b)
	if len(fa) != len(fb) {
		t.Fatalf("%d files in %s, %d in %s", len(fa), a, len(fb), b)
	}
	for n, body := range fa {
		if !bytes.Equal(body, fb[n]) {
			t.Errorf("%s differs between %s and %s", n, a, b)
		}
	}
}
