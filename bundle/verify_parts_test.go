package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

// fxDropBlobs is archive without the blobs of digests.
func fxDropBlobs(t *testing.T, archive []byte, digests ...string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		fxCheck(t, err)
		if slices.ContainsFunc(digests, func(d string) bool { return hdr.Name == archiveBlobPath(d) }) {
			continue
		}
		body, err := io.ReadAll(tr)
		fxCheck(t, err)
		fxCheck(t, tw.WriteHeader(hdr))
		_, err = tw.Write(body)
		fxCheck(t, err)
	}
	fxCheck(t, tw.Close())
	return out.Bytes()
}

// fxPartsBundle is fxNewBundle's shop 1.0 packed with --max-archive-size: nginx:1.25 in
// images/part-1.tar, shop/web:1.0 in images/part-2.tar without the two layers it shares with
// nginx, which part-1 stores.
func fxPartsBundle(t *testing.T) *fxBundle {
	t.Helper()
	b := fxNewBundle(t)
	nginx := fxRandomImage(t, 1, nil, 2)
	web := fxRandomImage(t, 2, nginx, 1)
	p1, im1 := fxImageArchive(t, ImagePartArchive(1), []fxImage{{ref: "nginx:1.25", services: []string{"proxy"}, img: nginx}})
	p2, im2 := fxImageArchive(t, ImagePartArchive(2), []fxImage{{ref: "shop/web:1.0", services: []string{"web"}, img: web}})
	p2 = fxDropBlobs(t, p2, im1[0].Layers[0].Digest, im1[0].Layers[1].Digest)
	delete(b.files, ImageArchive)
	b.files[ImagePartArchive(1)], b.files[ImagePartArchive(2)] = p1, p2
	b.manifest.Images = append(im1, im2...)
	b.manifest.Archives = []Archive{{Path: ImagePartArchive(1)}, {Path: ImagePartArchive(2)}}
	b.seal(t)
	return b
}

// A layer may be missing from an image's archive when an archive loaded before it (listed
// before it in airpack.json) stores it; otherwise it is a problem, as in a one-archive bundle.
func TestVerifyArchiveParts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, b *fxBundle)
		want   func(b *fxBundle) []string
	}{
		{"sound", func(*testing.T, *fxBundle) {}, func(*fxBundle) []string { return nil }},
		{
			name: "archives listed in the other order",
			mutate: func(t *testing.T, b *fxBundle) {
				a := b.manifest.Archives
				a[0], a[1] = a[1], a[0]
				b.seal(t)
			},
			want: func(b *fxBundle) []string {
				l := b.manifest.Images[1].Layers
				return []string{
					"images/part-2.tar: image shop/web:1.0: layer 1 (" + shortDigest(l[0].Digest) + ") is missing from the archive and from every archive loaded before it",
					"images/part-2.tar: image shop/web:1.0: layer 2 (" + shortDigest(l[1].Digest) + ") is missing from the archive and from every archive loaded before it",
				}
			},
		},
		{
			name: "a layer in no archive",
			mutate: func(t *testing.T, b *fxBundle) {
				b.files[ImagePartArchive(2)] = fxDropBlobs(t, b.files[ImagePartArchive(2)], b.manifest.Images[1].Layers[2].Digest)
				b.seal(t)
			},
			want: func(b *fxBundle) []string {
				return []string{"images/part-2.tar: image shop/web:1.0: layer 3 (" + shortDigest(b.manifest.Images[1].Layers[2].Digest) + ") is missing from the archive and from every archive loaded before it"}
			},
		},
		{
			name: "a layer only a later archive stores",
			mutate: func(t *testing.T, b *fxBundle) {
				// part-1 leaves out a layer part-2 stores: part-1 is loaded first, without it.
				l := b.manifest.Images[0].Layers[1].Digest
				b.files[ImagePartArchive(1)] = fxDropBlobs(t, b.files[ImagePartArchive(1)], l)
				nginx := fxRandomImage(t, 1, nil, 2)
				web := fxRandomImage(t, 2, nginx, 1)
				p2, _ := fxImageArchive(t, ImagePartArchive(2), []fxImage{{ref: "shop/web:1.0", services: []string{"web"}, img: web}})
				b.files[ImagePartArchive(2)] = fxDropBlobs(t, p2, b.manifest.Images[0].Layers[0].Digest)
				b.seal(t)
			},
			want: func(b *fxBundle) []string {
				return []string{"images/part-1.tar: image nginx:1.25: layer 2 (" + shortDigest(b.manifest.Images[0].Layers[1].Digest) + ") is missing from the archive and from every archive loaded before it"}
			},
		},
	}
	for _, tc := range tests {
		b := fxPartsBundle(t)
		tc.mutate(t, b)
		want := tc.want(b)
		for _, form := range fxForms {
			t.Run(tc.name+"/"+form, func(t *testing.T) {
				_, problems, err := Verify(context.Background(), b.write(t, form))
				if err != nil {
					t.Fatal(err)
				}
				if got := fxProblems(problems); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}
