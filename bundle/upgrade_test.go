package bundle

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanUpgrade(t *testing.T) {
	layer := func(d string, n int64) Layer {
		return Layer{Digest: "sha256:" + d, DiffID: "sha256:diff-" + d, Size: n}
	}
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

// A layer above a changed one is carried: the classic store reuses a layer only on the same
// layers below (its chain ID), so leaving it out would break docker load there.
func TestPlanUpgradeCarriesLayersAboveAChange(t *testing.T) {
	layer := func(d string) Layer { return Layer{Digest: "sha256:" + d, DiffID: "sha256:diff-" + d, Size: 10} }
	base := &Manifest{Images: []Image{{Ref: "app:1.0", Layers: []Layer{layer("a"), layer("b"), layer("c")}}}}
	m := &Manifest{Images: []Image{{Ref: "app:1.1", Layers: []Layer{layer("a"), layer("b2"), layer("c")}}}}
	u := PlanUpgrade(base, m)
	if len(u.Reused) != 1 || u.Reused[0].Digest != "sha256:a" || len(u.Carried) != 2 {
		t.Errorf("reused %v, carried %v: want a reused, b2 and c carried", u.Reused, u.Carried)
	}
	// One image uses c on a held chain, another on a new one: the blob is needed, so carried.
	m.Images = append([]Image{{Ref: "same:1.1", Layers: []Layer{layer("a"), layer("b"), layer("c")}}}, m.Images...)
	u = PlanUpgrade(base, m)
	if u.Omits("sha256:c") || !u.Omits("sha256:b") {
		t.Errorf("reused %v: want a and b, not c", u.Reused)
	}
}

func TestChainIDs(t *testing.T) {
	// The OCI image spec's definition, by hand for two layers.
	got := ChainIDs([]Layer{{DiffID: "sha256:aa"}, {DiffID: "sha256:bb"}})
	if got[0] != "sha256:aa" || got[1] != "sha256:b68ad689d6d1ec110ea1c13617437ad6f3766d4b3b309f6a603a222e07a0164f" {
		t.Errorf("ChainIDs: %v", got)
	}
}

// The rule by content agrees with the rule by digest, and an upgrade from what a stream left
// out is PlanUpgrade's; a digest left out that PlanUpgrade carries is refused.
func TestUpgradeLeaving(t *testing.T) {
	layer := func(d string) Layer { return Layer{Digest: "sha256:" + d, DiffID: "sha256:diff-" + d, Size: 10} }
	base := &Manifest{Name: "app", Version: "1.0", Images: []Image{{Ref: "app:1.0", Layers: []Layer{layer("a"), layer("b"), layer("c")}}}}
	m := &Manifest{Images: []Image{
		{Ref: "same:1.1", Layers: []Layer{layer("a"), layer("b"), layer("c")}},
		{Ref: "app:1.1", Layers: []Layer{layer("a"), layer("b2"), layer("c")}},
	}}
	byContent := OmittableDiffIDs(m.Images, Chains(base.Images))
	if !byContent["sha256:diff-a"] || !byContent["sha256:diff-b"] || byContent["sha256:diff-c"] || byContent["sha256:diff-b2"] {
		t.Fatalf("OmittableDiffIDs %v: want a and b", byContent)
	}
	u, err := UpgradeLeaving(base, m, map[string]bool{"sha256:a": true, "sha256:b": true})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(PlanUpgrade(base, m), u); d != "" {
		t.Errorf("UpgradeLeaving is not PlanUpgrade's plan (-plan +got):\n%s", d)
	}
	if _, err := UpgradeLeaving(base, m, map[string]bool{"sha256:c": true}); err == nil {
		t.Error("a layer on new layers below was left out without an error")
	}
}
