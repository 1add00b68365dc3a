package bundle

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanUpgrade(t *testing.T) {
	layer := func(d string, n int64) Layer { return Layer{Digest: "sha256:" + d, Size: n} }
	base := &Manifest{Name: "shop", Version: "1.0", Images: []Image{
		{Ref: "web:1.0", ConfigDigest: "c-web", ManifestDigest: "m-web", Layers: []Layer{layer("base", 100), layer("web1", 10)}},
		{Ref: "api:1.0", ConfigDigest: "c-api", ManifestDigest: "m-api", Layers: []Layer{layer("base", 100), layer("api1", 20)}},
		{Ref: "db:1.0", ConfigDigest: "c-db", ManifestDigest: "m-db", Layers: []Layer{layer("db1", 30)}},
	}}
	m := &Manifest{Name: "shop", Version: "1.1", Images: []Image{
		{Ref: "web:1.1", Layers: []Layer{layer("base", 100), layer("web2", 11)}},
		{Ref: "api:1.1", Layers: []Layer{layer("base", 100), layer("api1", 20)}},
		{Ref: "cache:1.1", Layers: []Layer{layer("cache", 5), layer("web2", 11)}},
	}}
	u := PlanUpgrade(base, m)
	want := Upgrade{
		Carried:      []Layer{layer("web2", 11), layer("cache", 5)},
		CarriedBytes: 16,
		Reused:       []Layer{layer("base", 100), layer("api1", 20)},
		ReusedBytes:  120,
		Needs:        []BaseImage{{Ref: "web:1.0", ConfigDigest: "c-web", ManifestDigest: "m-web"}, {Ref: "api:1.0", ConfigDigest: "c-api", ManifestDigest: "m-api"}},
	}
	if d := cmp.Diff(want, u); d != "" {
		t.Errorf("PlanUpgrade (-want +got):\n%s", d)
	}
	if !u.Omits("sha256:base") || u.Omits("sha256:web2") {
		t.Error("Omits disagrees with Reused")
	}
	b := u.Base(base, []byte("{}"))
	if b.Name != "shop" || b.Version != "1.0" || len(b.Layers) != 2 || len(b.Images) != 2 ||
		b.ManifestSHA256 != "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
		t.Errorf("Base: %+v", b)
	}
}
