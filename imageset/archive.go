package imageset

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"hash"
	"io"
	"sort"
	"sync/atomic"

	"github.com/distribution/reference"
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
	// MountedBy are the services mounting the image as a `type: image` volume.
	MountedBy []string
	// Pin is the digest the compose file pinned the image to, "" if none.
	Pin      string
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
	// fetch are the entries whose bodies WriteAt fetches, in archive order, so the archive's
	// hash can follow the written prefix closely.
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
	// verified: the layer's reader checks the digest itself (registry layers), so the archive
	// does not hash it a second time.
	verified bool
}

// LayersVerified is implemented by images whose layers' Compressed readers check size and
// digest themselves.
type LayersVerified interface {
	LayersVerified() bool
}

// selfVerifying marks an image whose layer readers verify their content.
type selfVerifying struct{ v1.Image }

func (selfVerifying) LayersVerified() bool { return true }

func layersVerified(img v1.Image) bool {
	v, ok := img.(LayersVerified)
	return ok && v.LayersVerified()
}

type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// ArchiveOption configures NewArchive.
type ArchiveOption func(*archiveConfig)

type archiveConfig struct {
	omitLayer func(digest string) bool
}

// WithoutLayers leaves out of the archive the blob of every layer for which omit (given the
// layer's digest, "sha256:…") reports true: layers the target already holds (an upgrade
// bundle's base, an earlier archive of the same bundle). The images still list them, in
// manifest.json, index.json's manifests and airpack.json: `docker load` takes a layer it
// already has from the engine, on both image stores. Manifests and configs are always stored.
func WithoutLayers(omit func(digest string) bool) ArchiveOption {
	return func(c *archiveConfig) { c.omitLayer = omit }
}

// NewArchive plans the archive at path (relative to the bundle, e.g. "images/images.tar")
// holding images, in the order given. Only manifests and configs are read.
func NewArchive(path string, images []Image, opts ...ArchiveOption) (*Archive, error) {
	var cfg archiveConfig
	for _, o := range opts {
		o(&cfg)
	}
	a := &Archive{path: path}
	type blob struct {
		size     int64
		body     []byte
		layer    v1.Layer
		owner    int
		verified bool
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
		annotations, err := nameAnnotations(im.Ref)
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
			MountedBy:         im.MountedBy,
			Pin:               im.Pin,
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
			if cfg.omitLayer == nil || !cfg.omitLayer(ld.Digest.String()) {
				add(ld.Digest, &blob{size: ld.Size, layer: l, verified: layersVerified(im.Image)})
			}
			bi.Layers = append(bi.Layers, bundle.Layer{Digest: ld.Digest.String(), DiffID: cf.RootFS.DiffIDs[j].String(), Size: ld.Size, MediaType: string(ld.MediaType)})
			de.Layers = append(de.Layers, blobPath(ld.Digest))
		}
		a.images = append(a.images, bi)
		docker = append(docker, de)
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType:   mt,
			Digest:      manifestDigest,
			Size:        int64(len(rawManifest)),
			Annotations: annotations,
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
			a.fetch = append(a.fetch, fetchBlob{entry: len(entries) - 1, owner: b.owner, digest: h, size: b.size, layer: b.layer, verified: b.verified})
		}
	}
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

// WriteAt writes the whole archive at offset base of f, fetching layers concurrently and
// checking each against its digest, and returns the archive's hex sha256. The hash follows the
// part of the archive already complete, reading it back (from the page cache) while later
// layers are still being fetched, so it costs no extra pass at the end.
func (a *Archive) WriteAt(ctx context.Context, f ReadWriterAt, base int64, opts ...Option) (string, error) {
	o := makeOptions(opts)
	if err := a.layout.WriteFrame(f, base); err != nil {
		return "", fmt.Errorf("write %s: %w", a.path, err)
	}
	o.progress.Start(a.totals)
	g, ctx := errgroup.WithContext(ctx)
	t := newTracker(len(a.fetch))
	// One slot more than jobs: the hasher runs beside the fetches.
	g.SetLimit(o.jobs + 1)
	var sum string
	g.Go(func() (err error) {
		sum, err = a.hashFollowing(ctx, f, base, t)
		return err
	})
	for i, fb := range a.fetch {
		g.Go(func() error {
			if err := a.fetchBlob(ctx, f, base, fb, o.progress, t.writer(i)); err != nil {
				return fmt.Errorf("image %s: layer %s: %w", a.images[fb.owner].Ref, fb.digest, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	return sum, nil
}

// tracker tells the hasher how much of each fetched blob is written: blobs are written front
// to back, so the hasher can follow right behind a large layer instead of waiting for its end.
type tracker struct {
	written []atomic.Int64
	wake    chan struct{}
}

func newTracker(n int) *tracker {
	return &tracker{written: make([]atomic.Int64, n), wake: make(chan struct{}, 1)}
}

// writer counts the bytes written of blob i and wakes the hasher.
func (t *tracker) writer(i int) io.Writer { return trackWriter{t, i} }

type trackWriter struct {
	t *tracker
	i int
}

func (w trackWriter) Write(p []byte) (int, error) {
	w.t.written[w.i].Add(int64(len(p)))
	select {
	case w.t.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// hashFollowing hashes the archive from its start, following the written part of each fetched
// blob in archive order (the fetch order), then the rest.
func (a *Archive) hashFollowing(ctx context.Context, f io.ReaderAt, base int64, t *tracker) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var pos int64
	upTo := func(end int64) error {
		if end <= pos {
			return nil
		}
		_, err := io.CopyBuffer(h, io.NewSectionReader(f, base+pos, end-pos), buf)
		pos = end
		if err != nil {
			return fmt.Errorf("hash %s: %w", a.path, err)
		}
		return nil
	}
	for i, fb := range a.fetch {
		start := a.layout.DataOffset(fb.entry)
		for {
			n := t.written[i].Load()
			if err := upTo(start + n); err != nil {
				return "", err
			}
			if n == fb.size {
				break
			}
			select {
			case <-t.wake:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	if err := upTo(a.layout.Size()); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ReadWriterAt is a file an archive is written into (and read back from, to hash it).
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

func (a *Archive) fetchBlob(ctx context.Context, w io.WriterAt, base int64, f fetchBlob, p Progress, written io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, err := f.layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	body := a.layout.Body(w, base, f.entry)
	// Large writes: one pwrite per MiB rather than per read of the network. Only bytes in the
	// file count as written for the hasher.
	bw := bufio.NewWriterSize(io.MultiWriter(body, written), 1<<20)
	var h hash.Hash
	dst := io.MultiWriter(bw, progressWriter{p: p, i: f.owner})
	if !f.verified {
		h = sha256.New()
		dst = io.MultiWriter(bw, h, progressWriter{p: p, i: f.owner})
	}
	if _, err := io.Copy(dst, xio.ContextReader(ctx, rc)); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := body.Close(); err != nil {
		return err
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != f.digest.Hex {
			return fmt.Errorf("content has digest sha256:%s, want %s", got, f.digest)
		}
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
