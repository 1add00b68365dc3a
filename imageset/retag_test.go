package imageset

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// retagFile runs Retag on the archive at src and returns the path of the copy.
func retagFile(t *testing.T, src string, tags map[string][]string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	p := filepath.Join(t.TempDir(), "retagged.tar")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := Retag(out, in, tags); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarBodies reads every regular entry of a tar file.
func tarBodies(t *testing.T, p string) (names []string, bodies map[string][]byte) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bodies = map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		b, _ := io.ReadAll(tr)
		bodies[h.Name] = b
	}
}

// Two images the platform importer would both re-tag goodrain.me/redis:7: each gets a name of its
// own, keeps its shipped one, and the archive's blobs are copied unchanged.
func TestRetagAirpackArchive(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	src := writeArchive(t, []Image{
		{Ref: "redis:7", Platform: amd64, Image: imgs[0]},
		{Ref: "bitnami/redis:7", Platform: amd64, Image: imgs[1]},
	}, 2)
	tags := map[string][]string{
		"docker.io/library/redis:7": {"goodrain.me/shop/aaa:1.0", "goodrain.me/shop/ccc:1.0"},
		"bitnami/redis:7":           {"goodrain.me/shop/bbb:1.0"},
	}
	out := retagFile(t, src, tags)

	srcNames, srcBodies := tarBodies(t, src)
	outNames, outBodies := tarBodies(t, out)
	if !slices.Equal(srcNames, outNames) {
		t.Fatalf("entries %v, want %v", outNames, srcNames)
	}
	for _, n := range srcNames {
		if n != "index.json" && n != "manifest.json" && !bytes.Equal(srcBodies[n], outBodies[n]) {
			t.Errorf("%s changed", n)
		}
	}
	var m []dockerManifestEntry
	if err := json.Unmarshal(outBodies["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"redis:7", "goodrain.me/shop/aaa:1.0", "goodrain.me/shop/ccc:1.0"}, {"bitnami/redis:7", "goodrain.me/shop/bbb:1.0"}}
	for i, e := range m {
		if !slices.Equal(e.RepoTags, want[i]) {
			t.Errorf("manifest.json entry %d: RepoTags %v, want %v", i, e.RepoTags, want[i])
		}
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(outBodies["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 5 {
		t.Fatalf("index.json: %d descriptors, want 5: %s", len(idx.Manifests), outBodies["index.json"])
	}
	if got := idx.Manifests[1].Annotations; got[AnnotationImageName] != "goodrain.me/shop/aaa:1.0" || got[AnnotationRefName] != "1.0" {
		t.Errorf("index.json: new descriptor annotations %v", got)
	}
	if idx.Manifests[1].Digest != idx.Manifests[0].Digest {
		t.Errorf("index.json: the new name's descriptor is of another manifest")
	}

	tagsRead, err := ArchiveTags(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"redis:7", "bitnami/redis:7", "goodrain.me/shop/aaa:1.0", "goodrain.me/shop/bbb:1.0", "goodrain.me/shop/ccc:1.0"} {
		if !slices.ContainsFunc(tagsRead, func(s string) bool { return normName(s) == normName(n) }) {
			t.Errorf("ArchiveTags %v: no %s", tagsRead, n)
		}
	}
	srcTar := NewTarfile(map[string]TarImage{
		"goodrain.me/shop/aaa:1.0": {Path: out},
		"goodrain.me/shop/bbb:1.0": {Path: out},
		"goodrain.me/shop/ccc:1.0": {Path: out},
	})
	sameImage(t, "aaa", mustImage(t, srcTar, "goodrain.me/shop/aaa:1.0", t.TempDir()), imgs[0])
	sameImage(t, "bbb", mustImage(t, srcTar, "goodrain.me/shop/bbb:1.0", t.TempDir()), imgs[1])
	sameImage(t, "ccc", mustImage(t, srcTar, "goodrain.me/shop/ccc:1.0", t.TempDir()), imgs[0])

	for _, c := range []struct {
		x, y string
		same bool
	}{
		{"redis:7", "goodrain.me/shop/aaa:1.0", true},
		{"docker.io/library/redis:7", "goodrain.me/shop/ccc:1.0", true},
		{"redis:7", "goodrain.me/shop/bbb:1.0", false},
		{"bitnami/redis:7", "goodrain.me/shop/bbb:1.0", true},
		{"redis:7", "nothere:1", false},
	} {
		got, err := ArchiveSameImage(out, c.x, c.y)
		if err != nil || got != c.same {
			t.Errorf("ArchiveSameImage(%s, %s) = %v, %v; want %v", c.x, c.y, got, err, c.same)
		}
	}

	// Nothing to do: the archive as it is.
	same := retagFile(t, src, nil)
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(same)
	if !bytes.Equal(a, b) {
		t.Error("Retag with no tags changed the archive")
	}
}

// A docker-save archive (manifest.json only) and an OCI layout (index.json only) are re-tagged
// too; a name the archive does not hold is an error.
func TestRetagSingleFormatArchives(t *testing.T) {
	imgs := sharedBaseImages(t, 1)
	dir := t.TempDir()
	ggcr := filepath.Join(dir, "ggcr.tar")
	ggcrSave(t, ggcr, []taggedImage{{"example.com/a/web:1", imgs[0]}})
	oci, x86, _ := ociArchive(t, false)
	for _, c := range []struct {
		path, from, to string
		want           v1.Image
	}{
		{ggcr, "example.com/a/web:1", "goodrain.me/x/web1:2", imgs[0]},
		{oci, "example.com/multi:1.0", "goodrain.me/x/multi1:2", x86},
	} {
		out := retagFile(t, c.path, map[string][]string{c.from: {c.to}})
		src := NewTarfile(map[string]TarImage{c.to: {Path: out}})
		sameImage(t, c.to, mustImage(t, src, c.to, t.TempDir()), c.want)
		if same, err := ArchiveSameImage(out, c.from, c.to); err != nil || !same {
			t.Errorf("%s: ArchiveSameImage = %v, %v", c.to, same, err)
		}
	}
	in, _ := os.Open(ggcr)
	defer in.Close()
	err := Retag(io.Discard, in, map[string][]string{"example.com/a/other:1": {"goodrain.me/x/y:1"}})
	if err == nil || !strings.Contains(err.Error(), "no image tagged example.com/a/other:1") {
		t.Errorf("missing image: %v", err)
	}
	in.Seek(0, 0)
	if err := Retag(io.Discard, in, map[string][]string{"example.com/a/web:1": {"Bad Name"}}); err == nil {
		t.Error("an invalid new name was accepted")
	}
}

// A new name another image already holds, or that the call gives two images, is an error
// naming both images, in manifest.json and in index.json alike; a name the image itself holds
// already is no change.
func TestRetagNameOfAnotherImage(t *testing.T) {
	imgs := sharedBaseImages(t, 2)
	src := writeArchive(t, []Image{
		{Ref: "redis:7", Platform: amd64, Image: imgs[0]},
		{Ref: "bitnami/redis:7", Platform: amd64, Image: imgs[1]},
	}, 2)
	for _, tags := range []map[string][]string{
		{"redis:7": {"docker.io/bitnami/redis:7"}},
		{"redis:7": {"goodrain.me/x/a:1"}, "bitnami/redis:7": {"goodrain.me/x/a:1"}},
	} {
		in, _ := os.Open(src)
		err := Retag(io.Discard, in, tags)
		in.Close()
		if !namesBoth(err) {
			t.Errorf("Retag %v: %v, want an error naming both images", tags, err)
		}
	}
	_, bodies := tarBodies(t, src)
	for _, want := range []map[string][]string{
		{"redis:7": {"bitnami/redis:7"}},
		{"redis:7": {"goodrain.me/x/a:1"}, "bitnami/redis:7": {"goodrain.me/x/a:1"}},
	} {
		for n, f := range map[string]func([]byte, map[string][]string, map[string]bool) ([]byte, error){
			"manifest.json": retagManifest, "index.json": retagIndex,
		} {
			_, err := f(bodies[n], normWant(want), map[string]bool{})
			if !namesBoth(err) {
				t.Errorf("%s %v: %v, want an error naming both images", n, want, err)
			}
		}
	}

	// Its own name again, in another spelling: nothing to add.
	out := retagFile(t, src, map[string][]string{"redis:7": {"docker.io/library/redis:7", "redis:7"}})
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(out)
	if !bytes.Equal(a, b) {
		t.Error("Retag with a name the image holds changed the archive")
	}
}

func normWant(tags map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range tags {
		out[normName(k)] = v
	}
	return out
}

// namesBoth reports whether err names redis:7 and bitnami/redis:7 as two images.
func namesBoth(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "another image") && strings.Contains(s, "bitnami/redis:7") &&
		strings.Count(s, "redis:7") > strings.Count(s, "bitnami/redis:7")
}
