package imageset

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// pinLayout writes an OCI layout naming a single image demo/web:1.0, a two-platform index
// demo/multi:1.0 and an image demo/other:1.0.
func pinLayout(t *testing.T) (dir string, web, x86, other v1.Image, idx v1.ImageIndex) {
	t.Helper()
	web = testImage(t, empty.Image, amd64)
	other = testImage(t, empty.Image, amd64)
	x86 = testImage(t, empty.Image, amd64)
	arm := testImage(t, empty.Image, v1.Platform{OS: "linux", Architecture: "arm64"})
	idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: x86, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	dir = t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for n, img := range map[string]v1.Image{"demo/web:1.0": web, "demo/other:1.0": other} {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{AnnotationRefName: n})); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{AnnotationImageName: "docker.io/demo/multi:1.0"})); err != nil {
		t.Fatal(err)
	}
	return dir, web, x86, other, idx
}

func TestPinnedDigestsFromLayout(t *testing.T) {
	dir, web, x86, other, idx := pinLayout(t)
	webD, x86D, otherD, idxD := digestOf(t, web), digestOf(t, x86), digestOf(t, other), digestOf(t, idx)
	src := []Source{NewLayout(dir)}
	ctx := context.Background()
	for ref, want := range map[string]v1.Image{
		"demo/web:1.0@" + webD.String():   web,
		"demo/web@" + webD.String():       web, // by digest alone
		"demo/anyname@" + webD.String():   web, // the digest identifies the content
		"demo/multi:1.0@" + idxD.String(): x86, // the index pinned: its amd64 entry
		"demo/multi@" + idxD.String():     x86,
		"demo/multi:1.0@" + x86D.String(): x86, // the platform's manifest pinned
		"demo/multi@" + x86D.String():     x86,
	} {
		res, err := Resolve(ctx, []Request{{Ref: ref, Services: []string{"web"}, Platform: amd64}}, src)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		img, _ := res[0].Image(ctx, "")
		if got := digestOf(t, img); got != digestOf(t, want) {
			t.Errorf("%s: got %s", ref, got)
		}
		r, _ := ParseRef(ref)
		if res[0].Pin != r.Pin.String() || res[0].Shipped != r.Shipped() {
			t.Errorf("%s: pin %q shipped %q", ref, res[0].Pin, res[0].Shipped)
		}
	}

	for ref, want := range map[string]string{
		"demo/web:1.0@" + otherD.String():            "service web: image demo/web:1.0@" + otherD.String() + ": oci:" + dir + ": pinned to digest " + otherD.String() + ", but the image found has digest " + webD.String() + ": the source holds another image under this name",
		"demo/multi:1.0@" + webD.String():            "service web: image demo/multi:1.0@" + webD.String() + ": oci:" + dir + ": pinned to digest " + webD.String() + ", but the image found has index digest " + idxD.String() + ", manifest digest " + x86D.String() + ": the source holds another image under this name",
		"demo/web@sha256:" + strings.Repeat("e", 64): "service web: image demo/web@sha256:" + strings.Repeat("e", 64) + ": oci:" + dir + ": not in OCI layout " + dir,
	} {
		_, err := Resolve(ctx, []Request{{Ref: ref, Services: []string{"web"}, Platform: amd64}}, src)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", ref, err, want)
		}
	}
}

func TestPinnedDigestsFromRegistry(t *testing.T) {
	f := newRegistry(t)
	ctx := context.Background()
	web := f.images[f.host+"/shop/web:1.0"]
	api := f.images[f.host+"/shop/api:1.0"]
	webD, apiD := digestOf(t, web), digestOf(t, api)
	src := []Source{NewRegistry(nil)}
	res, err := Resolve(ctx, []Request{{Ref: f.host + "/shop/web:1.0@" + webD.String(), Services: []string{"web"}, Platform: amd64}}, src)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Pin != webD.String() || res[0].Shipped != f.host+"/shop/web:1.0" {
		t.Errorf("pin %q shipped %q", res[0].Pin, res[0].Shipped)
	}
	// A registry answers by digest: another image's digest under this name is not there.
	ref := f.host + "/shop/web:1.0@" + apiD.String()
	_, err = Resolve(ctx, []Request{{Ref: ref, Services: []string{"web"}, Platform: amd64}}, src)
	if err == nil || !strings.HasPrefix(err.Error(), "service web: image "+ref+": registry: ") {
		t.Errorf("wrong digest from the registry: %v", err)
	}
}

func TestEngineRefusesPinnedImages(t *testing.T) {
	ref := "demo/web:1.0@sha256:" + strings.Repeat("a", 64)
	_, err := Resolve(context.Background(), []Request{{Ref: ref, Services: []string{"web"}, Platform: amd64}}, []Source{NewEngine()})
	want := "service web: image " + ref + ": engine: pinned by digest, but the docker engine exports an image under a new manifest digest, so the bundle could not keep the pin: pack it from a registry or an OCI layout (--source registry, --source oci:DIR)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
