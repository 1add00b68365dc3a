package loader

import (
	"fmt"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

// partsManifest is a bundle packed with --max-archive-size in three parts: nginx:1.25 in part-1;
// the api and redis:7 in part-2, which leaves out a layer part-1 stores; shop/worker:1.0 in
// part-3, which leaves out a layer part-2 stores.
func partsManifest() *bundle.Manifest {
	m := splitManifest()
	m.Images = append(m.Images, bundle.Image{
		Ref: "shop/worker:1.0", Services: []string{"worker"}, Source: "registry",
		ManifestDigest: digest('1'), ConfigDigest: digest('2'), Platform: "linux/amd64",
		Archive: bundle.ImagePartArchive(3),
	})
	m.Archives = append(m.Archives, bundle.Archive{Path: bundle.ImagePartArchive(3)})
	return m
}

// partsDocker makes docker load of part N fail unless the engine holds the layers of part N-1
// it relies on: some image of that part is there (loaded then, or before).
func partsDocker(fx *fixture) {
	fx.addBin("docker-fake", fakeDocker)
	has := func(refs ...string) string {
		var c []string
		for _, r := range refs {
			c = append(c, fmt.Sprintf("[ -e \"$FAKE_DOCKER_STATE/images/%s\" ]", imageKey(r)))
		}
		return strings.Join(c, " || ")
	}
	fx.addBin("docker", `#!/bin/sh
case "$*" in
"load -i ./images/part-2.tar") `+has("nginx:1.25")+` || { echo "open /var/lib/docker/layer: no such file or directory" >&2; exit 1; } ;;
"load -i ./images/part-3.tar") `+has("127.0.0.1:5000/demo/api:1.0", "redis:7")+` || { echo "open /var/lib/docker/layer: no such file or directory" >&2; exit 1; } ;;
esac
exec "${0%/*}/docker-fake" "$@"
`)
}

// load.sh loads the parts holding a missing image, in order: a part's images rely on layers of
// the parts before it, which the engine has when one of their images is there, and which
// load.sh loads first otherwise (they then hold a missing image too).
func TestPartsLoadInOrder(t *testing.T) {
	tests := []struct {
		name    string
		present map[string]string // ref -> ID on the engine before the run
		loads   []string
		last    string
	}{
		{"empty engine", nil, []string{"./images/part-1.tar", "./images/part-2.tar", "./images/part-3.tar"}, "4 image(s) loaded, 0 already present"},
		{"part-1 there", map[string]string{"nginx:1.25": digest('b')}, []string{"./images/part-2.tar", "./images/part-3.tar"}, "3 image(s) loaded, 1 already present"},
		{"part-3 missing only", map[string]string{"nginx:1.25": digest('b'), "127.0.0.1:5000/demo/api:1.0": digest('d'), "redis:7": digest('f')}, []string{"./images/part-3.tar"}, "1 image(s) loaded, 3 already present"},
		{"part-2 there, 1 and 3 missing", map[string]string{"127.0.0.1:5000/demo/api:1.0": digest('d'), "redis:7": digest('f')}, []string{"./images/part-1.tar", "./images/part-3.tar"}, "2 image(s) loaded, 2 already present"},
		{"part-1's image another", map[string]string{"nginx:1.25": digest('9'), "127.0.0.1:5000/demo/api:1.0": digest('d'), "redis:7": digest('f'), "shop/worker:1.0": digest('2')}, []string{"./images/part-1.tar"}, "1 image(s) loaded, 3 already present"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, partsManifest(), "sha256sum")
				partsDocker(fx)
				for ref, id := range tc.present {
					fx.setImage(ref, id)
				}
				r := fx.run(sh, "-q")
				wantCode(t, r, 0)
				var want []string
				for _, l := range tc.loads {
					want = append(want, "load -q -i "+l)
				}
				fx.wantLoads(r, want...)
				wantLastLine(t, r, tc.last)
				for _, im := range fx.m.Images {
					if got := fx.imageID(im.Ref); got != im.ConfigDigest {
						t.Errorf("%s: ID %q after the run, want %s", im.Ref, got, im.ConfigDigest)
					}
				}
			})
		})
	}
}

// The shim bites: with part-2 listed first (loaded first), its docker load fails and load.sh
// stops at step 5 naming it. load.sh keeps airpack.json's order, which pack and verify hold to.
func TestPartsOutOfOrderFail(t *testing.T) {
	m := partsManifest()
	m.Archives[0], m.Archives[1] = m.Archives[1], m.Archives[0]
	fx := newFixture(t, m, "sha256sum")
	partsDocker(fx)
	r := fx.run([]string{"sh"})
	wantCode(t, r, 1)
	fx.wantLoads(r) // the shim stopped it before the fake engine
	wantContains(t, r, "images/part-2.tar: docker load", "open /var/lib/docker/layer: no such file or directory")
	wantLastLine(t, r, "FAILED at step 5 (load): docker load -i images/part-2.tar failed")
}
