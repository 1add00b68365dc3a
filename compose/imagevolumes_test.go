package compose

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
	for _, w := range []string{
		"service api: the type: image volume at /models (demo/models:latest) needs Docker Engine 28 or later on the target: older engines refuse to create the container",
		"service web: the type: image volume at /assets (demo/assets:1.0) needs Docker Engine 28 or later on the target: older engines refuse to create the container",
	} {
		if !slices.Contains(out.Warnings, w) {
			t.Errorf("warnings %q lack %q", out.Warnings, w)
		}
	}
}
