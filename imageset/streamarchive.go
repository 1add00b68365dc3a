package imageset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/internal/tarlayout"
	"github.com/airpack/airpack/internal/xio"
)

// StreamArchive is an image archive holding images from the docker engine, written as the
// engine's export arrives: each layer is compressed straight into its place in the archive,
// nothing is staged. Those blobs come first, in the order the export gives them, each with a
// header written once its size and digest are known (tarlayout.StreamedHeader); the rest of the
// archive follows, planned as an Archive once the export is read: the other images' layers,
// every config and manifest, oci-layout, index.json and manifest.json (both `docker load`
// paths take them after the blobs). Its size and its images' description
// are known only once it is written: Skeleton gives the shape of that description beforehand,
// at its longest.
type StreamArchive struct {
	path   string
	images []Image
	size   int64
	done   []bundle.Image
	// leave and heldDiffIDs: LeaveOut's; left: what was left out, digest -> size.
	leave       map[string]bool
	heldDiffIDs map[string]string
	left        map[string]int64
	// saves reads the engine's exports of refs into sink: Engine.saves; tests read files.
	saves func(ctx context.Context, refs []string, sink layerSink, p ExportProgress) ([]*engineExport, error)
}

// Streamable reports whether the image can be read from its source while its archive is
// written (an Image's Deferred, for NewStreamArchive) instead of by Image first: the docker
// engine's images.
func (r *Resolved) Streamable() bool {
	_, ok := r.found.(*engineImage)
	return ok
}

// NewStreamArchive returns the archive at path (relative to the bundle) holding images, in the
// order given; those with Deferred set (and no Image) are read from the docker engine, in one
// export, as the archive is written.
func NewStreamArchive(path string, images []Image) (*StreamArchive, error) {
	var engine *Engine
	for _, im := range images {
		if im.Deferred == nil {
			continue
		}
		ei, ok := im.Deferred.found.(*engineImage)
		if !ok {
			return nil, fmt.Errorf("image %s from %s: only images of the docker engine are read as the archive is written", im.Ref, im.Source)
		}
		if engine != nil && ei.e != engine {
			return nil, fmt.Errorf("image %s: images of two docker engine sources in one archive", im.Ref)
		}
		engine = ei.e
	}
	return &StreamArchive{path: path, images: images, size: -1}, nil
}

// Path is the archive's path relative to the bundle directory.
func (a *StreamArchive) Path() string { return a.path }

// Size is the archive's size in bytes once written, -1 before.
func (a *StreamArchive) Size() int64 { return a.size }

// Images describes the archive's images for airpack.json, once written.
func (a *StreamArchive) Images() []bundle.Image { return a.done }

// MaxSize is the largest archive or layer size a Skeleton stands for: 16 decimal digits, more
// than any real one has.
const MaxSize = 1<<50 - 1

// Skeleton describes the archive's images as Images will once it is written, with every value
// not known before (digests, sizes, media types) as long as it can be: a description of the
// archive written afterwards fits in the space the skeleton's takes. The diff IDs are the
// images' own (the engine says them before its export).
func (a *StreamArchive) Skeleton() ([]bundle.Image, error) {
	digest := "sha256:" + strings.Repeat("f", 64)
	longest := func(ts ...types.MediaType) string {
		return string(slices.MaxFunc(ts, func(a, b types.MediaType) int { return len(a) - len(b) }))
	}
	manifestType := longest(types.DockerManifestSchema2, types.OCIManifestSchema1)
	layerType := longest(types.DockerLayer, types.DockerForeignLayer, types.DockerUncompressedLayer, types.OCILayer,
		types.OCILayerZStd, types.OCIUncompressedLayer, types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer)
	var out []bundle.Image
	for _, im := range a.images {
		var diffIDs []string
		if im.Deferred != nil {
			diffIDs = im.Deferred.found.(*engineImage).diffIDs
		} else {
			cf, err := im.Image.ConfigFile()
			if err != nil {
				return nil, fmt.Errorf("image %s: read config: %w", im.Ref, err)
			}
			for _, d := range cf.RootFS.DiffIDs {
				diffIDs = append(diffIDs, d.String())
			}
		}
		bi := archiveImage(im, a.path)
		bi.ManifestDigest, bi.ManifestMediaType, bi.ConfigDigest = digest, manifestType, digest
		for _, d := range diffIDs {
			if len(d) != len(digest) {
				return nil, fmt.Errorf("image %s: diff ID %q is not sha256:<64 hex digits>", im.Ref, d)
			}
			bi.Layers = append(bi.Layers, bundle.Layer{Digest: digest, DiffID: d, Size: MaxSize, MediaType: layerType})
		}
		out = append(out, bi)
	}
	return out, nil
}

// LeaveOut makes the archive leave out every layer whose diff ID leave lists (an upgrade's
// layers the target holds, bundle.OmittableDiffIDs of the Skeleton), decided as each is
// written. A layer the engine hands over compressed is known by its digest alone until the
// export ends: held gives the diff ID of each digest the target holds (the base bundle's
// layers), and a digest it lacks is kept. LeftOut says what was left out.
func (a *StreamArchive) LeaveOut(leave map[string]bool, held map[string]string) {
	a.leave, a.heldDiffIDs = leave, held
}

// LeftOut are the layers the archive left out (LeaveOut), digest -> size, once written.
func (a *StreamArchive) LeftOut() map[string]int64 { return a.left }

// leaves reports whether the layer digest, of content diffID (zero when not known), is left
// out.
func (a *StreamArchive) leaves(digest, diffID v1.Hash) bool {
	if len(a.leave) == 0 {
		return false
	}
	d := diffID.String()
	if diffID.Hex == "" {
		var ok bool
		if d, ok = a.heldDiffIDs[digest.String()]; !ok {
			return false
		}
	}
	return a.leave[d]
}

// WriteAt writes the archive at offset base of f and returns its hex sha256; Size and Images
// are known afterwards.
func (a *StreamArchive) WriteAt(ctx context.Context, f ReadWriterAt, base int64, opts ...Option) (string, error) {
	var refs []string
	saves := a.saves
	for _, im := range a.images {
		if im.Deferred != nil {
			ei := im.Deferred.found.(*engineImage)
			if saves == nil {
				saves = ei.e.saves
			}
			if r := engineName(ei.ref); !slices.Contains(refs, r) {
				refs = append(refs, r)
			}
		}
	}
	sink := &archiveSink{f: f, base: base, at: map[v1.Hash]int64{}, left: map[v1.Hash]int64{}, leaves: a.leaves}
	images := slices.Clone(a.images)
	if len(refs) > 0 {
		ep, _ := makeOptions(opts).progress.(ExportProgress)
		xs, err := saves(ctx, refs, sink, ep)
		if ep != nil {
			ep.ExportDone()
		}
		if err != nil {
			return "", err
		}
		for i, im := range images {
			if im.Deferred == nil {
				continue
			}
			ei := im.Deferred.found.(*engineImage)
			img, err := exportedImage(xs, ei)
			if errors.Is(err, errImageChanged) {
				return "", err
			}
			if err != nil {
				return "", fmt.Errorf("image %s from engine: docker save of %s: %w", im.Ref, im.Deferred.Ref, err)
			}
			images[i].Image, images[i].Deferred = img, nil
		}
	}
	// The other images' layers are left out by the same rule, by their diff IDs.
	for _, im := range a.images {
		if im.Deferred != nil {
			continue
		}
		if err := leaveKnown(im.Image, a.leaves, sink.left); err != nil {
			return "", fmt.Errorf("image %s: %w", im.Ref, err)
		}
	}
	rest, err := NewArchive(a.path, images, WithoutLayers(func(d string) bool {
		h, err := v1.NewHash(d)
		if err != nil {
			return false
		}
		_, stored := sink.at[h]
		_, left := sink.left[h]
		return stored || left
	}))
	if err != nil {
		return "", err
	}
	rest.prefix = sink.pos
	sum, err := rest.WriteAt(ctx, f, base+sink.pos, opts...)
	if err != nil {
		return "", err
	}
	a.size, a.done = sink.pos+rest.Size(), rest.Images()
	a.left = map[string]int64{}
	for h, n := range sink.left {
		a.left[h.String()] = n
	}
	return sum, nil
}

// exportedImage is ei's image from the export holding it.
func exportedImage(xs []*engineExport, ei *engineImage) (v1.Image, error) {
	for _, x := range xs {
		if x.entry(ei.ref) != nil {
			return x.image(ei.ref, ei.diffIDs)
		}
	}
	return nil, fmt.Errorf("%s is not in it", ei.ref)
}

// leaveKnown adds to left the layers of img, whose digests and diff IDs its manifest and config
// say, that leaves leaves out.
func leaveKnown(img v1.Image, leaves func(digest, diffID v1.Hash) bool, left map[v1.Hash]int64) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("%d layers but %d diff IDs in its config", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		if leaves(l.Digest, cf.RootFS.DiffIDs[i]) {
			left[l.Digest] = l.Size
		}
	}
	return nil
}

// archiveSink puts layers into an archive being written at base of f, one after the other from
// its start: a header's space, the blob, its padding; the header is written once the blob's
// size and digest are known. A blob already there is not stored twice.
type archiveSink struct {
	mu   sync.Mutex // one blob at a time: several streams may put blobs
	f    ReadWriterAt
	base int64
	pos  int64             // where the next blob's header goes, relative to base
	at   map[v1.Hash]int64 // where each stored blob's body starts, relative to base
	// leaves reports whether a blob is left out (its digest and, when known, diff ID); left
	// are those left out, with their sizes.
	leaves func(digest, diffID v1.Hash) bool
	left   map[v1.Hash]int64
}

func (s *archiveSink) put(fill func(w io.Writer) (v1.Hash, v1.Hash, error)) (int64, func() (io.ReadCloser, error), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.pos + tarlayout.StreamedHeaderSize
	bw := bufio.NewWriterSize(writeErrors{io.NewOffsetWriter(s.f, s.base+start)}, 1<<20)
	cw := &xio.CountWriter{W: bw}
	d, diffID, err := fill(cw)
	if err != nil {
		return 0, nil, err
	}
	if err := bw.Flush(); err != nil {
		return 0, nil, err
	}
	n := cw.N
	if s.leaves != nil && s.leaves(d, diffID) {
		// Left out: the next blob is written over it.
		s.left[d] = n
		return n, func() (io.ReadCloser, error) {
			return nil, fmt.Errorf("layer %s was left out of the archive", d)
		}, nil
	}
	if at, ok := s.at[d]; ok {
		// The same blob again: the copy already stored serves, this one is written over.
		start = at
	} else {
		h, err := tarlayout.StreamedHeader(tarlayout.Entry{Name: blobPath(d), Size: n})
		if err != nil {
			return 0, nil, err
		}
		padded := (n + 511) &^ 511
		if _, err := s.f.WriteAt(h, s.base+s.pos); err != nil {
			return 0, nil, err
		}
		if _, err := s.f.WriteAt(make([]byte, padded-n), s.base+start+n); err != nil {
			return 0, nil, err
		}
		s.at[d] = start
		s.pos = start + padded
	}
	r := io.NewSectionReader(s.f, s.base+start, n)
	return n, func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(r, 0, n)), nil }, nil
}
