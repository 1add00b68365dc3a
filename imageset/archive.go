package imageset

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airpack/airpack/internal/xio"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
	// Deferred, set instead of Image, is an image read from its source as a StreamArchive is
	// written (see Resolved.Streamable).
	Deferred *Resolved
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
	// prefix: the archive is the end of a larger one whose first prefix bytes lie before it in
	// the file (a StreamArchive's streamed blobs); the hash WriteAt returns covers them.
	prefix int64
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
	// retry: how a failed download is tried again; zero for layers read from local files,
	// which a second read would not mend.
	retry refetchPolicy
}

// refetchable is implemented by layers fetched over a network (registryLayer): a download
// that fails is tried again, from the start of the blob.
type refetchable interface {
	refetch() refetchPolicy
}

type refetchPolicy struct {
	BlobRetry
	// host is where the layer comes from, for the message when every try failed.
	host string
}

func layerRefetch(l v1.Layer) refetchPolicy {
	if r, ok := l.(refetchable); ok {
		return r.refetch()
	}
	return refetchPolicy{BlobRetry: BlobRetry{Attempts: 1}}
}

// LayersVerified is implemented by images whose layers' Compressed readers check size and
// digest themselves.
type LayersVerified interface {
	LayersVerified() bool
}

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
		retry    refetchPolicy
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
		bi := archiveImage(im, path)
		bi.ManifestDigest, bi.ManifestMediaType, bi.ConfigDigest = manifestDigest.String(), string(mt), m.Config.Digest.String()
		de := dockerManifestEntry{Config: blobPath(m.Config.Digest), RepoTags: []string{im.Ref}}
		for j, ld := range m.Layers {
			l, err := im.Image.LayerByDigest(ld.Digest)
			if err != nil {
				return nil, fmt.Errorf("image %s: layer %s: %w", im.Ref, ld.Digest, err)
			}
			if cfg.omitLayer == nil || !cfg.omitLayer(ld.Digest.String()) {
				add(ld.Digest, &blob{size: ld.Size, layer: l, verified: layersVerified(im.Image), retry: layerRefetch(l)})
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
			a.fetch = append(a.fetch, fetchBlob{entry: len(entries) - 1, owner: b.owner, digest: h, size: b.size, layer: b.layer, verified: b.verified, retry: b.retry})
		}
	}
	if a.layout, err = tarlayout.Plan(entries); err != nil {
		return nil, err
	}
	return a, nil
}

// archiveImage is im as airpack.json describes it in the archive at path, but for what its
// manifest says (digests, layers).
func archiveImage(im Image, path string) bundle.Image {
	return bundle.Image{
		Ref:       im.Ref,
		Services:  im.Services,
		MountedBy: im.MountedBy,
		Pin:       im.Pin,
		Source:    im.Source,
		Platform:  im.Platform.String(),
		Archive:   path,
	}
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
			if err := a.fetchBlob(ctx, f, base, fb, o.progress, t, i); err != nil {
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
// A download that is tried again rewrites its blob from the start: restart tells the hasher to
// forget what it hashed of the failed try.
type tracker struct {
	// written is how many bytes of blob i the current try has put in the file.
	written []atomic.Int64
	// try counts the restarts of blob i.
	try []atomic.Int64
	// done: blob i is complete and checked; no restart follows.
	done []atomic.Bool
	wake chan struct{}
}

func newTracker(n int) *tracker {
	return &tracker{written: make([]atomic.Int64, n), try: make([]atomic.Int64, n), done: make([]atomic.Bool, n), wake: make(chan struct{}, 1)}
}

// restart starts blob i over. written is reset before try moves on, so a hasher that sees the
// new try also sees no byte of the old one counted.
func (t *tracker) restart(i int) {
	t.written[i].Store(0)
	t.try[i].Add(1)
	t.signal()
}

// finish marks blob i complete and checked.
func (t *tracker) finish(i int) {
	t.done[i].Store(true)
	t.signal()
}

func (t *tracker) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// writer counts the bytes written of blob i and wakes the hasher.
func (t *tracker) writer(i int) io.Writer { return trackWriter{t, i} }

type trackWriter struct {
	t *tracker
	i int
}

func (w trackWriter) Write(p []byte) (int, error) {
	w.t.written[w.i].Add(int64(len(p)))
	w.t.signal()
	return len(p), nil
}

// hashFollowing hashes the archive from its start, following the written part of each fetched
// blob in archive order (the fetch order), then the rest. It saves the hash's state at the
// start of each blob and goes back to it when the blob's download starts over, so no byte of a
// failed try is in the sum; it moves past a blob only once the blob is complete and checked.
func (a *Archive) hashFollowing(ctx context.Context, f io.ReaderAt, base int64, t *tracker) (string, error) {
	h := sha256.New()
	state := h.(interface {
		encoding.BinaryMarshaler
		encoding.BinaryUnmarshaler
	})
	buf := make([]byte, 1<<20)
	pos := -a.prefix
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
		if err := upTo(start); err != nil {
			return "", err
		}
		saved, err := state.MarshalBinary()
		if err != nil {
			return "", err
		}
		try := t.try[i].Load()
		for {
			// done before written: once done, written is final.
			done := t.done[i].Load()
			n := t.written[i].Load()
			if err := upTo(start + n); err != nil {
				return "", err
			}
			if now := t.try[i].Load(); now != try {
				// Started over since what was hashed of the blob was read.
				if err := state.UnmarshalBinary(saved); err != nil {
					return "", err
				}
				pos, try = start, now
				continue
			}
			if done {
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

// fetchBlob downloads blob f into its place in the archive, trying again as f.retry says when
// the download fails: each try rewrites the blob's span from its start.
func (a *Archive) fetchBlob(ctx context.Context, w io.WriterAt, base int64, f fetchBlob, p Progress, t *tracker, i int) error {
	backoff := f.retry.Backoff
	var reported int64 // bytes of the blob counted in the progress so far, whatever the try
	for try := 1; ; try++ {
		err := a.fetchOnce(ctx, w, base, f, &progressWriter{p: p, i: f.owner, high: &reported}, t.writer(i))
		if err == nil {
			t.finish(i)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) {
			return err
		}
		if try >= f.retry.Attempts {
			if try == 1 {
				return err
			}
			return fmt.Errorf("download failed %d times (last: %s): check the network to %s and run pack again", try, lastError(err), f.retry.host)
		}
		t.restart(i)
		timer := time.NewTimer(backoff.Step())
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

// fetchOnce is one try of fetchBlob.
func (a *Archive) fetchOnce(ctx context.Context, w io.WriterAt, base int64, f fetchBlob, p io.Writer, written io.Writer) error {
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
	bw := bufio.NewWriterSize(writeErrors{io.MultiWriter(body, written)}, 1<<20)
	var h hash.Hash
	dst := io.MultiWriter(bw, p)
	if !f.verified {
		h = sha256.New()
		dst = io.MultiWriter(bw, h, p)
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

// writeError is a failure to write the archive: trying the download again would not help.
type writeError struct{ error }

func (e writeError) Unwrap() error { return e.error }

type writeErrors struct{ w io.Writer }

func (w writeErrors) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		err = writeError{err}
	}
	return n, err
}

// retryable reports whether a failed download may succeed when tried again: a network error,
// a body cut short or corrupted, a registry answering 408, 429 or 5xx. Not: an error writing
// the archive, or a registry answering that the blob is not there or not for us.
func retryable(err error) bool {
	var we writeError
	if errors.As(err, &we) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests:
			return true
		}
		return te.StatusCode >= 500 || te.Temporary()
	}
	return true
}

// lastError says briefly why the last try failed: "connection reset by peer" rather than the
// whole chain of addresses.
func lastError(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed in the middle of the blob"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}

// progressWriter reports the bytes of one try of a download that go beyond what earlier tries
// reported (high), so a try that starts over does not count its bytes twice.
type progressWriter struct {
	p    Progress
	i    int
	pos  int64
	high *int64
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.pos += int64(len(b))
	if w.pos > *w.high {
		w.p.Add(w.i, w.pos-*w.high)
		*w.high = w.pos
	}
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
