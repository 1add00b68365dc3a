//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airpack/airpack/internal/demo"
)

// TestPinnedImageAndImageVolume packs services pinned by digest (name:tag@sha256), one of them
// mounting another image as a `type: image` volume, and runs the bundle offline: the compose
// file names the tag (the classic store cannot resolve the digest of a loaded image: compose
// would try to pull), airpack.json keeps the pin, load.sh checks the loaded image's ID, and the
// volume shows the shipped image's files on Docker 28+; Docker 20 refuses image volumes, as
// it does for the project itself, saying Docker 28 is needed.
func TestPinnedImageAndImageVolume(t *testing.T) {
	reg := startRegistry(t)
	pushed := reg.push(t, "pin", "1.0", "", "api", "worker")
	vol := pushed["api"]
	workerRef, err := name.ParseReference(pushed["worker"], name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	workerDesc, err := remote.Head(workerRef)
	if err != nil {
		t.Fatal(err)
	}
	// by digest alone: shipped under the tag sha256-<hex>
	workerPinned := reg.host + "/pin/worker@" + workerDesc.Digest.String()
	workerShipped := reg.host + "/pin/worker:sha256-" + workerDesc.Digest.Hex
	img, err := demo.RoleImage(demoBin, "report", []string{"-listen", ":8080", "-file", "/assets/etc/demo-role"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	webRef := reg.host + "/pin/report:1.0"
	ref, err := name.ParseReference(webRef, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	port, filesPort := freePort(t), freePort(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "compose.yaml"), fmt.Sprintf(`name: pinapp
services:
  web:
    image: %s@%s
    entrypoint: ["/app/demoapp", "report", "-listen", ":8080", "-file", "/etc/demo-role"]
    ports:
      - "%d:8080"
  files:
    image: %s@%s
    ports:
      - "%d:8080"
    volumes:
      - type: image
        source: %s
        target: /assets
  worker:
    image: %s
`, webRef, d, port, webRef, d, filesPort, vol, workerPinned))
	archive := filepath.Join(t.TempDir(), "pinapp-1.0.tar")
	r := airpack(t, dir, "pack", "--version", "1.0", "-o", archive, "--source", "registry")
	if r.err != nil {
		t.Fatalf("pack: %v\n%s", r.err, r)
	}
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("pack warned, but the bundle keeps the project's meaning:\n%s", r)
	}
	if r = airpack(t, "", "verify", archive); r.err != nil || !strings.Contains(r.stdout, "sound") {
		t.Fatalf("verify: %v\n%s", r.err, r)
	}
	reg.stop()
	removeImages(t, webRef, vol, pushed["worker"], workerShipped)
	target := t.TempDir()
	must(t, target, "tar", "xf", archive)
	bd := filepath.Join(target, "pinapp-1.0")
	m := readManifest(t, bd)
	if len(m.Images) != 3 {
		t.Fatalf("airpack.json lists %d images, want 3: %+v", len(m.Images), m.Images)
	}
	for _, im := range m.Images {
		switch im.Ref {
		case webRef:
			if im.Pin != d.String() || im.ManifestDigest != d.String() || strings.Join(im.Services, ",") != "files,web" {
				t.Errorf("pinned image in airpack.json: %+v", im)
			}
		case vol:
			if strings.Join(im.MountedBy, ",") != "files" || len(im.Services) != 0 || im.Pin != "" {
				t.Errorf("volume image in airpack.json: %+v", im)
			}
		case workerShipped:
			if im.Pin != workerDesc.Digest.String() || im.ManifestDigest != im.Pin || strings.Join(im.Services, ",") != "worker" {
				t.Errorf("image pinned by digest alone in airpack.json: %+v", im)
			}
		default:
			t.Errorf("unexpected image %s", im.Ref)
		}
	}
	must(t, bd, "./load.sh")
	for _, im := range m.Images {
		want := im.ConfigDigest
		if containerdStore {
			want = im.ManifestDigest
		}
		if got := imageID(t, im.Ref); got != want {
			t.Errorf("image %s: ID %q after load, want %s", im.Ref, got, want)
		}
	}
	cf := must(t, bd, "cat", "docker-compose.yaml").stdout
	if strings.Contains(cf, "@sha256:") || strings.Count(cf, "image: "+webRef+"\n") != 2 || !strings.Contains(cf, "image: "+workerShipped+"\n") {
		t.Errorf("the compose file should name the pinned image by its tag:\n%s", cf)
	}
	t.Cleanup(func() { run(t, bd, nil, "docker", "compose", "down", "-v") })
	must(t, bd, "docker", "compose", "up", "-d", "web")
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !strings.Contains(body, "file=report") {
		t.Errorf("pinned service answered:\n%s", body)
	}
	must(t, bd, "docker", "compose", "up", "-d", "worker")
	if st := must(t, bd, "docker", "compose", "ps", "--format", "{{.Service}} {{.Image}} {{.State}}", "worker").stdout; strings.TrimSpace(st) != "worker "+workerShipped+" running" {
		t.Errorf("service pinned by digest alone: %q", st)
	}
	r = run(t, bd, nil, "docker", "compose", "up", "-d", "files")
	if containerdStore {
		if r.err != nil {
			t.Fatalf("up with an image volume: %v\n%s", r.err, r)
		}
		if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", filesPort)); !strings.Contains(body, "file=api") {
			t.Errorf("the image volume does not hold the shipped image's files:\n%s", body)
		}
	} else if r.err == nil || !strings.Contains(r.String(), "volume with type=image require Docker Engine v28 or later") {
		t.Errorf("Docker 20 and an image volume: %v\n%s", r.err, r)
	}
}
