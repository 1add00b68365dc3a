package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

// upgradeManifest is sampleManifest as 1.1, an upgrade of shop 1.0 needing two of its images.
func upgradeManifest() *bundle.Manifest {
	m := sampleManifest()
	m.Version = "1.1"
	m.Base = &bundle.Base{Name: "shop", Version: "1.0", ManifestSHA256: strings.Repeat("9", 64),
		Layers: []string{digest('7')},
		Images: []bundle.BaseImage{
			{Ref: "shop/web:1.0", ConfigDigest: digest('1'), ManifestDigest: digest('2')},
			{Ref: "shop/api:1.0", ConfigDigest: digest('3'), ManifestDigest: digest('4')},
		}}
	return m
}

func TestUpgradeBaseLoaded(t *testing.T) {
	for _, store := range []string{"classic", "containerd"} {
		t.Run(store, func(t *testing.T) {
			forEachShell(t, func(t *testing.T, sh []string) {
				fx := newFixture(t, upgradeManifest(), "sha256sum")
				fx.setState("store", store)
				fx.setLoadResult(store)
				for _, b := range fx.m.Base.Images {
					fx.setImage(b.Ref, expectedID(bundle.Image{ConfigDigest: b.ConfigDigest, ManifestDigest: b.ManifestDigest}, store))
				}
				r := fx.run(sh, "--check")
				wantCode(t, r, 0)
				wantContains(t, r, "==> [4] Check the images of shop 1.0, which this upgrade builds on", "shop/web:1.0: ID ", ", as expected")
				fx.nothingLoaded(r)

				r = fx.run(sh)
				wantCode(t, r, 0)
				wantContains(t, r, "==> [4] Check the images of shop 1.0", "shop/api:1.0: ID ")
				fx.wantLoads(r, "load -i ./images/images.tar")
				wantLastLine(t, r, "OK: shop 1.1 is ready: 2 image(s) loaded, 0 already present")

				// Once loaded, the base is not needed: a re-run passes without it.
				fx.setImage("shop/web:1.0", digest('0'))
				r = fx.run(sh)
				wantCode(t, r, 0)
				if strings.Contains(r.out, "[4]") {
					t.Errorf("a re-run with every image loaded checked the base:\n%s", r.out)
				}
			})
		})
	}
}

func TestUpgradeBaseMissing(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, upgradeManifest(), "sha256sum")
		fx.setLoadResult("classic")
		fx.setImage("shop/api:1.0", digest('3')) // present, as expected
		fx.setImage("shop/web:1.0", digest('5')) // another image under the tag, 1.0's is gone
		fx.setImage("nginx:1.25", digest('b'))   // this bundle's images changes nothing
		for _, args := range [][]string{nil, {"--check"}} {
			r := fx.run(sh, args...)
			wantCode(t, r, 1)
			wantContains(t, r, "shop/web:1.0 is missing (expected ID "+digest('1')+")", "shop/api:1.0: ID "+digest('3')+", as expected")
			wantLastLine(t, r, "FAILED at step 4 (base): this bundle upgrades shop 1.0: load shop-1.0 first (missing: shop/web:1.0), then re-run ./load.sh; nothing was loaded")
			fx.nothingLoaded(r)
		}
		must(t, os.Remove(filepath.Join(fx.state, "images", imageKey("shop/api:1.0"))))
		r := fx.run(sh)
		wantCode(t, r, 1)
		wantContains(t, r, "shop/api:1.0 is missing (expected ID "+digest('3')+")")
		wantLastLine(t, r, "(missing: shop/web:1.0, shop/api:1.0)")
		fx.nothingLoaded(r)
	})
}

// The base's images are looked up by ID: a later version that moved a tag the base used (the
// same postgres:16 tag on another image) leaves the base's image in the engine, untagged, and
// step 4 still finds it.
func TestUpgradeBaseTagMoved(t *testing.T) {
	forEachShell(t, func(t *testing.T, sh []string) {
		fx := newFixture(t, upgradeManifest(), "sha256sum")
		fx.setLoadResult("classic")
		fx.setImage("shop/api:1.0", digest('3'))
		fx.setImage("shop/web:1.0", digest('5'))   // the tag now names another image
		fx.setImage("<untagged-web>", digest('1')) // 1.0's web, still in the engine
		r := fx.run(sh, "--check")
		wantCode(t, r, 0)
		wantContains(t, r, "shop/web:1.0: ID "+digest('1')+", as expected")
	})
}
