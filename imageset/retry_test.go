package imageset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airpack/airpack/internal/faultproxy"
)

var fastRetry = BlobRetry{Attempts: 5, Backoff: remote.Backoff{Duration: 5 * time.Millisecond, Factor: 2, Steps: 5}}

// flakyRegistry serves shop/big:1.0 (a 3 MiB layer and a small one) and shop/small:1.0 through
// a proxy that breaks downloads as faults say.
func flakyRegistry(t *testing.T, f faultproxy.Faults) *faultproxy.Proxy {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	big, err := random.Layer(3<<20, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.AppendLayers(empty.Image, big)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"big", "small"} {
		img := testImage(t, empty.Image, amd64)
		if n == "big" {
			img = testImage(t, base, amd64)
		}
		ref, _ := name.ParseReference(u.Host + "/shop/" + n + ":1.0")
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	p := faultproxy.Start(u.Host, f)
	t.Cleanup(p.Close)
	return p
}

// packVia resolves both images through the proxy and writes their archive, returning its bytes.
func packVia(t *testing.T, p *faultproxy.Proxy, retry BlobRetry, prog Progress) ([]byte, error) {
	t.Helper()
	src := NewRegistry(nil).WithBlobRetry(retry)
	var reqs []Request
	for _, n := range []string{"big", "small"} {
		reqs = append(reqs, Request{Ref: p.Host + "/shop/" + n + ":1.0", Services: []string{n}, Platform: amd64})
	}
	res, err := Resolve(context.Background(), reqs, []Source{src})
	if err != nil {
		t.Fatal(err)
	}
	var images []Image
	for _, r := range res {
		img, err := r.Image(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, Image{Ref: r.Shipped, Services: r.Services, Source: r.Source, Platform: r.Platform, Image: img})
	}
	a, err := NewArchive("images/images.tar", images)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "images.tar")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	opts := []Option{WithJobs(2)}
	if prog != nil {
		opts = append(opts, WithProgress(prog))
	}
	sum, err := a.WriteAt(context.Background(), out, 0, opts...)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	if got := hex.EncodeToString(h[:]); got != sum {
		t.Fatalf("WriteAt says sha256 %s, the file has %s", sum, got)
	}
	return b, nil
}

type countProgress struct{ n atomic.Int64 }

func (c *countProgress) Start([]ImageTotal) {}
func (c *countProgress) Add(_ int, n int64) { c.n.Add(n) }

func TestBlobDownloadBrokenMidStreamIsRetried(t *testing.T) {
	p := flakyRegistry(t, faultproxy.Faults{})
	want, err := packVia(t, p, fastRetry, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []faultproxy.Faults{
		// Cut in the middle of the 3 MiB layer, past the first MiB the archive writes (and
		// the hash follows), twice, then once more at its very start.
		{Times: 2, After: 1<<20 + 12345, MinSize: 1 << 20},
		// The bytes of the broken tries are wrong: none of them may stay in the file or hash.
		{Times: 4, After: 2<<20 + 777, MinSize: 1 << 20, Corrupt: true},
		// Every layer, small ones too, breaks once. (Not the image configs: they are read
		// when the image is looked up, which fails fast.)
		{Times: 1, After: 100, MinSize: 1500},
	} {
		p.SetFaults(f)
		var prog countProgress
		got, err := packVia(t, p, fastRetry, &prog)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if p.Broken() == 0 {
			t.Fatalf("%+v: no download was broken", f)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%+v: archive after retries differs from the archive of a clean run", f)
		}
		if n := prog.n.Load(); n <= 3<<20 || n > 4<<20 {
			t.Errorf("%+v: progress counted %d bytes", f, n)
		}
	}
}

func TestBlobDownloadFailingEveryTimeSaysSo(t *testing.T) {
	p := flakyRegistry(t, faultproxy.Faults{Times: -1, After: 1 << 20, MinSize: 1 << 20})
	_, err := packVia(t, p, fastRetry, nil)
	if err == nil {
		t.Fatal("pack succeeded though every download broke")
	}
	msg := err.Error()
	for _, want := range []string{
		"image " + p.Host + "/shop/big:1.0: layer sha256:",
		": download failed 5 times (last: connection reset by peer): check the network to " + p.Host + " and run pack again",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q\nlacks %q", msg, want)
		}
	}
	if p.Broken() != 5 || p.Served() > 1 {
		t.Errorf("%d downloads broken, %d served; want 5 tries of the big layer", p.Broken(), p.Served())
	}
}

// A lookup is not a download: a registry that fails is reported at once, not after backoff.
func TestLookupFailsFast(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	start := time.Now()
	_, err := Resolve(context.Background(), []Request{{Ref: u.Host + "/shop/web:1.0", Services: []string{"web"}, Platform: amd64}}, []Source{NewRegistry(nil)})
	if err == nil || !strings.Contains(err.Error(), "unreachable or failing") {
		t.Fatalf("want a failing registry reported, got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("lookup took %s to fail", d)
	}
}

// A blob the registry does not have is not tried again.
func TestMissingBlobIsNotRetried(t *testing.T) {
	p := flakyRegistry(t, faultproxy.Faults{})
	img := testImage(t, empty.Image, amd64)
	// A manifest whose layer was never pushed.
	ref, _ := name.ParseReference(p.Host + "/shop/ghost:1.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	req, _ := http.NewRequest(http.MethodDelete, "http://"+p.Host+"/v2/shop/ghost/blobs/"+d.String(), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Skipf("registry does not delete blobs: %v %v", err, resp)
	}
	src := NewRegistry(nil).WithBlobRetry(BlobRetry{Attempts: 5, Backoff: remote.Backoff{Duration: time.Second, Steps: 5}})
	res, err := Resolve(context.Background(), []Request{{Ref: p.Host + "/shop/ghost:1.0", Services: []string{"ghost"}, Platform: amd64}}, []Source{src})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := res[0].Image(context.Background(), "")
	a, err := NewArchive("images/images.tar", []Image{{Ref: res[0].Shipped, Platform: amd64, Image: im}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.Create(filepath.Join(t.TempDir(), "a.tar"))
	defer out.Close()
	start := time.Now()
	_, err = a.WriteAt(context.Background(), out, 0)
	if err == nil || strings.Contains(err.Error(), "download failed") {
		t.Fatalf("missing blob: %v", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("missing blob took %s to report: retried?", d)
	}
}

var _ v1.Image = registryImage{}
