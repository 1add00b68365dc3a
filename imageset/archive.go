package imageset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"io"
	"sort"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/internal/tarlayout"
)

// Image is an image to put in an archive.
type Image struct {
	// Ref is the tagged reference the archive tags the image with.
	Ref      string
	Services []string
	Source   string
	Platform v1.Platform
	Image    v1.Image
}

// Archive is a planned dual-format image archive: every size and digest is known, no layer has
// been read yet.
type Archive struct {
	path   string
	images []bundle.Image
	layout *tarlayout.Layout
	// fetch are the entries whose bodies WriteAt fetches, largest first.
	fetch []fetchBlob
	// totals is each image's share of the bytes to fetch.
	totals []ImageTotal
}

type fetchBlob struct {
	entry  int
	owner  int
	digest v1.Hash
	size   int64
	layer  v1.Layer
}

type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// NewArchive plans the archive at path (relative to the bundle, e.g. "images/images.tar")
// holding images, in the order given. Only manifests and configs are read.
func NewArchive(path string, images []Image) (*Archive, error) {
	a := &Archive{path: path}
	type blob struct {
		size  int64
		body  []byte
		layer v1.Layer
		owner int
	}
	blobs := map[v1.Hash]*blob{}
	var index v1.IndexManifest
	index.SchemaVersion = 2
	index.MediaType = types.OCIImageIndex
	var docker []dockerManifestEntry
	for i, im := range images {
		a.totals = append(a.totals, ImageTotal{Ref: im.Ref})
		rawManifest, err := im.Image.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("image %s: read manifest: %w", im.Ref, err)
		}
		m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
		if err != nil {
			return nil, fmt.Errorf("image %s: parse manifest: %w", im.Ref, err)
		}
		mt, err := im.Image.MediaType()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Ref, err)
		}
		rawConfig, err := im.Image.RawConfigFile()
		if err != nil {
			return nil, fmt.Errorf("image %s: read config: %w", im.Ref, err)
		}
		if got := sha256Hex(rawConfig); got != m.Config.Digest.Hex {
			return nil, fmt.Errorf("image %s: config digest sha256:%s does not match its manifest (%s)", im.Ref, got, m.Config.Digest)
		}
		cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
		if err != nil {
			return nil, fmt.Errorf("image %s: parse config: %w", im.Ref, err)
		}
		if len(cf.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("image %s: %d layers but %d diff IDs in its config", im.Ref, len(m.Layers), len(cf.RootFS.DiffIDs))
		}
		manifestDigest := v1.Hash{Algorithm: "sha256", Hex: sha256Hex(rawManifest)}
		ref, err := name.ParseReference(im.Ref, name.WeakValidation)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Ref, err)
		}
		fullName, err := ContainerdName(im.Ref)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Ref, err)
		}
		add := func(h v1.Hash, b *blob) {
			if _, ok := blobs[h]; !ok {
				b.owner = i
				blobs[h] = b
				if b.layer != nil {
					a.totals[i].Bytes += b.size
				}
			}
		}
		add(manifestDigest, &blob{size: int64(len(rawManifest)), body: rawManifest})
		add(m.Config.Digest, &blob{size: int64(len(rawConfig)), body: rawConfig})
		bi := bundle.Image{
			Ref:               im.Ref,
			Services:          im.Services,
			Source:            im.Source,
			ManifestDigest:    manifestDigest.String(),
			ManifestMediaType: string(mt),
			ConfigDigest:      m.Config.Digest.String(),
			Platform:          im.Platform.String(),
			Archive:           path,
		}
		de := dockerManifestEntry{Config: blobPath(m.Config.Digest), RepoTags: []string{im.Ref}}
		for j, ld := range m.Layers {
			l, err := im.Image.LayerByDigest(ld.Digest)
			if err != nil {
				return nil, fmt.Errorf("image %s: layer %s: %w", im.Ref, ld.Digest, err)
			}
			add(ld.Digest, &blob{size: ld.Size, layer: l})
			bi.Layers = append(bi.Layers, bundle.Layer{Digest: ld.Digest.String(), DiffID: cf.RootFS.DiffIDs[j].String(), Size: ld.Size, MediaType: string(ld.MediaType)})
			de.Layers = append(de.Layers, blobPath(ld.Digest))
		}
		a.images = append(a.images, bi)
		docker = append(docker, de)
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: mt,
			Digest:    manifestDigest,
			Size:      int64(len(rawManifest)),
			Annotations: map[string]string{
				AnnotationImageName: fullName,
				AnnotationRefName:   ref.Identifier(),
			},
		})
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	dockerJSON, err := json.Marshal(docker)
	if err != nil {
		return nil, err
	}
	layoutJSON := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	entries := []tarlayout.Entry{
		{Name: "oci-layout", Size: int64(len(layoutJSON)), Body: layoutJSON},
		{Name: "index.json", Size: int64(len(indexJSON)), Body: indexJSON},
		{Name: "manifest.json", Size: int64(len(dockerJSON)), Body: dockerJSON},
		{Name: "blobs/", Dir: true},
		{Name: "blobs/sha256/", Dir: true},
	}
	digests := make([]v1.Hash, 0, len(blobs))
	for h := range blobs {
		digests = append(digests, h)
	}
	sort.Slice(digests, func(i, j int) bool { return digests[i].String() < digests[j].String() })
	for _, h := range digests {
		b := blobs[h]
		entries = append(entries, tarlayout.Entry{Name: blobPath(h), Size: b.size, Body: b.body})
		if b.layer != nil {
			a.fetch = append(a.fetch, fetchBlob{entry: len(entries) - 1, owner: b.owner, digest: h, size: b.size, layer: b.layer})
		}
	}
	sort.SliceStable(a.fetch, func(i, j int) bool { return a.fetch[i].size > a.fetch[j].size })
	if a.layout, err = tarlayout.Plan(entries); err != nil {
		return nil, err
	}
	return a, nil
}

// Path is the archive's path relative to the bundle directory.
func (a *Archive) Path() string { return a.path }

// Size is the archive's size in bytes.
func (a *Archive) Size() int64 { return a.layout.Size() }

// Images describes the archive's images for airpack.json.
func (a *Archive) Images() []bundle.Image { return a.images }

// WriteAt writes the whole archive at offset base of w, fetching layers concurrently and
// checking each against its digest.
func (a *Archive) WriteAt(ctx context.Context, w io.WriterAt, base int64, opts ...Option) error {
	o := makeOptions(opts)
	if err := a.layout.WriteFrame(w, base); err != nil {
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	o.progress.Start(a.totals)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs)
	for _, f := range a.fetch {
		g.Go(func() error {
			if err := a.fetchBlob(ctx, w, base, f, o.progress); err != nil {
				return fmt.Errorf("image %s: layer %s: %w", a.images[f.owner].Ref, f.digest, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (a *Archive) fetchBlob(ctx context.Context, w io.WriterAt, base int64, f fetchBlob, p Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, err := f.layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	body := a.layout.Body(w, base, f.entry)
	h := sha256.New()
	dst := io.MultiWriter(body, h, progressWriter{p: p, i: f.owner})
	if _, err := io.Copy(dst, xio.ContextReader(ctx, rc)); err != nil {
		return err
	}
	if err := body.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.digest.Hex {
		return fmt.Errorf("content has digest sha256:%s, want %s", got, f.digest)
	}
	return nil
}

type progressWriter struct {
	p Progress
	i int
}

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.Add(w.i, int64(len(b)))
	return len(b), nil
}

// ContainerdName is the name the containerd image store keys an image by: the normalised
// reference with "docker.io" for Docker Hub (not go-containerregistry's "index.docker.io"),
// which is what `docker` looks up on that store.
func ContainerdName(ref string) (string, error) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	return reference.TagNameOnly(n).String(), nil
}
