package compose

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestImageVolumesShippedReference(t *testing.T) {
	cleanEnv(t, "ASSETS")
	dir := t.TempDir()
	body := `name: shop
services:
  web:
    image: nginx
    volumes:
      - type: image
        source: docker.io/demo/assets:${ASSETS:-1.0}
        target: /assets
        image:
          subpath: srv
      - type: volume
        source: data
        target: /data
  api:
    image: demo/api:1.0
    volumes:
      - type: image
        source: demo/models
        target: /models
volumes:
  data: {}
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	got := p.ImageVolumes()
	want := []VolumeImage{{Service: "api", Image: "demo/models"}, {Service: "web", Image: "docker.io/demo/assets:1.0"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ImageVolumes() = %+v, want %+v", got, want)
	}
	out, err := p.Rewrite(RewriteOptions{
		Name:         "shop",
		Images:       map[string]string{"web": "nginx:latest", "api": "demo/api:1.0"},
		VolumeImages: map[string]string{"demo/models": "demo/models:latest", "docker.io/demo/assets:1.0": "demo/assets:1.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cf := string(out.ComposeYAML)
	for _, w := range []string{"source: demo/models:latest\n", "source: demo/assets:1.0\n", "subpath: srv\n", "source: data\n"} {
		if !strings.Contains(cf, w) {
			t.Errorf("compose file lacks %q:\n%s", w, cf)
		}
	}
	// The project keeps its meaning: nothing to warn about (the target's compose itself says
	// that Docker Engine 28 or later is needed for image volumes).
	if len(out.Warnings) > 0 {
		t.Errorf("warnings: %q", out.Warnings)
	}
}
