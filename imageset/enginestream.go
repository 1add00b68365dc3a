package imageset

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	slashpath "path"
	"runtime"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"

	"github.com/airpack/airpack/internal/xio"
)

// The engine source reads `docker save` of its images as one stream, once: the small JSON
// documents (manifest.json, configs, OCI manifests) stay in memory, each layer goes, as it
// arrives, through a parallel gzip (blocks of gzipBlock compressed on every CPU) into a layer
// sink: straight into the image archive being written (StreamArchive), or, where the archive
// must be planned from every blob's size first (archives in parts, --max-archive-size), into
// files of a staging directory. Layers the engine hands over compressed (the
// containerd store's gzip or zstd blobs) are kept as they are. Nothing else is written: no
// copy of the `docker save` output. See DEVELOPERS.md, "The engine source".

// gzipBlock is the block size of the parallel gzip. The output depends on it (and on the
// level), never on the number of CPUs: the same layer always gets the same digest for a given
// airpack version.
const gzipBlock = 1 << 20

// layerSink is where an export's compressed layers go as they arrive.
type layerSink interface {
	// put stores one compressed layer: fill writes its bytes and returns their digest and, when
	// it computed it, the diff ID of their content (zero otherwise). put returns the layer's
	// size and how to read it back.
	put(fill func(w io.Writer) (digest, diffID v1.Hash, err error)) (size int64, open func() (io.ReadCloser, error), err error)
}

// dirSink stages each layer in a file of a directory.
type dirSink string

func (d dirSink) put(fill func(w io.Writer) (digest, diffID v1.Hash, err error)) (int64, func() (io.ReadCloser, error), error) {
	f, err := os.CreateTemp(string(d), "layer-*")
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := &xio.CountWriter{W: bw}
	if _, _, err := fill(cw); err != nil {
		return 0, nil, err
	}
	if err := bw.Flush(); err != nil {
		return 0, nil, err
	}
	if err := f.Close(); err != nil {
		return 0, nil, err
	}
	path := f.Name()
	return cw.N, func() (io.ReadCloser, error) { return os.Open(path) }, nil
}

// exportLayer is a layer of an export, compressed, in its sink.
type exportLayer struct {
	open   func() (io.ReadCloser, error)
	size   int64
	digest v1.Hash
	mt     types.MediaType
	// diffID is the sha256 of the uncompressed content when airpack compressed it; zero when
	// the engine's blob was kept as it came.
	diffID v1.Hash
}

// engineExport is what one `docker save` stream left.
type engineExport struct {
	refs   []string
	meta   map[string][]byte       // cleaned entry name -> body
	layers map[string]*exportLayer // cleaned entry name -> its compressed file
	links  map[string]string       // cleaned entry name -> the cleaned name it links to
	docker []dockerManifestEntry
	staged memo[*exportLayer] // layers found among the small documents, compressed on demand
	sink   layerSink
	// elsewhere are the layers another stream read at the same time put in the sink
	// (layerClaims; shareLayers adds them to layers).
	elsewhere map[string]bool
}

// looksJSON reports whether an entry starting with b is a JSON document rather than a layer.
func looksJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// layerClaims shares out the layers of several `docker save` streams read at once (Engine.saves):
// a layer in more than one (a base layer under images of both) is put in the sink by the first
// stream to reach it; the others read past it. Layers are named by their content in a save
// (Docker 20.10: the layer's v1 ID, from its chain and, for an image's top layer, its config;
// OCI layouts: the digest), so one name is one layer in every stream of an engine.
type layerClaims struct {
	mu sync.Mutex
	m  map[string]bool
}

// claim reports whether the caller is the first to claim the layer named n.
func (c *layerClaims) claim(n string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[n] {
		return false
	}
	if c.m == nil {
		c.m = map[string]bool{}
	}
	c.m[n] = true
	return true
}

// shareLayers gives each export the layers another export of the same claims put in the sink.
func shareLayers(xs []*engineExport) error {
	all := map[string]*exportLayer{}
	for _, x := range xs {
		for n, l := range x.layers {
			all[n] = l
		}
	}
	for _, x := range xs {
		for n := range x.elsewhere {
			l, ok := all[n]
			if !ok {
				return fmt.Errorf("layer %s was read past in one docker save but put by no other", n)
			}
			x.layers[n] = l
		}
	}
	return nil
}

// readExport reads a `docker save` stream of refs, putting layers into sink. With claims (the
// stream is one of several read at once), a layer another stream claimed is read past.
func readExport(ctx context.Context, r io.Reader, refs []string, sink layerSink, claims *layerClaims) (*engineExport, error) {
	x := &engineExport{refs: refs, meta: map[string][]byte{}, layers: map[string]*exportLayer{}, links: map[string]string{}, sink: sink, elsewhere: map[string]bool{}}
	tr := tar.NewReader(bufio.NewReaderSize(xio.ContextReader(ctx, r), 1<<20))
	br := bufio.NewReaderSize(nil, 64<<10)
	// One gzip writer for every layer: its block buffers are reused, not garbage per layer.
	zw, err := newGzip()
	if err != nil {
		return nil, err
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		n := cleanEntryName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			x.links[n] = cleanEntryName(slashpath.Join(slashpath.Dir(n), hdr.Linkname))
			continue
		case tar.TypeLink:
			x.links[n] = cleanEntryName(hdr.Linkname)
			continue
		case tar.TypeReg:
		default:
			continue
		}
		br.Reset(tr)
		head, _ := br.Peek(512)
		isMeta := hdr.Size <= metaLimit && (looksJSON(head) || hdr.Size < 512)
		if claims != nil && !isMeta && !claims.claim(n) {
			// Another stream puts this layer in the sink.
			if _, err := io.Copy(io.Discard, br); err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			x.elsewhere[n] = true
			continue
		}
		switch {
		case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
			l, err := keepLayer(br, sink, types.DockerLayer)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			x.layers[n] = l
		case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			l, err := keepLayer(br, sink, types.OCILayerZStd)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			x.layers[n] = l
		case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}), bytes.HasPrefix(head, []byte("BZh")):
			return nil, fmt.Errorf("layer %s is xz or bzip2 compressed, which airpack does not convert", n)
		case isMeta:
			// A JSON document, or a file too short to be a layer tar with an entry: kept in
			// memory (a layer among them is compressed when an image asks for it).
			b, err := io.ReadAll(br)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			x.meta[n] = b
		default:
			l, err := gzipLayer(zw, br, sink)
			if err != nil {
				return nil, fmt.Errorf("compress %s: %w", n, err)
			}
			x.layers[n] = l
		}
	}
	if b, ok := x.meta["manifest.json"]; ok {
		if err := json.Unmarshal(b, &x.docker); err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
	} else {
		return nil, fmt.Errorf("no manifest.json in it")
	}
	return x, nil
}

// keepLayer puts a compressed blob into sink as it is, hashing it.
func keepLayer(r io.Reader, sink layerSink, mt types.MediaType) (*exportLayer, error) {
	l := &exportLayer{mt: mt}
	var err error
	l.size, l.open, err = sink.put(func(w io.Writer) (v1.Hash, v1.Hash, error) {
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), r); err != nil {
			return v1.Hash{}, v1.Hash{}, err
		}
		l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
		return l.digest, v1.Hash{}, nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// newGzip returns the parallel gzip: level 1 (BestSpeed), blocks of gzipBlock, as many in
// flight as CPUs (each holds about 3 blocks of buffers).
func newGzip() (*pgzip.Writer, error) {
	zw, err := pgzip.NewWriterLevel(io.Discard, pgzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	return zw, zw.SetConcurrency(gzipBlock, runtime.GOMAXPROCS(0))
}

// gzipLayer compresses an uncompressed layer into sink with the parallel gzip zw, hashing
// both sides: the digest of what is stored, the diff ID of what came.
func gzipLayer(zw *pgzip.Writer, r io.Reader, sink layerSink) (*exportLayer, error) {
	l := &exportLayer{mt: types.DockerLayer}
	var err error
	l.size, l.open, err = sink.put(func(w io.Writer) (v1.Hash, v1.Hash, error) {
		h := sha256.New()
		zw.Reset(io.MultiWriter(w, h))
		if err := zw.SetConcurrency(gzipBlock, runtime.GOMAXPROCS(0)); err != nil {
			return v1.Hash{}, v1.Hash{}, err
		}
		diffID := sha256.New()
		if _, err := io.Copy(io.MultiWriter(zw, diffID), r); err != nil {
			zw.Close()
			return v1.Hash{}, v1.Hash{}, err
		}
		if err := zw.Close(); err != nil {
			return v1.Hash{}, v1.Hash{}, err
		}
		l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
		l.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffID.Sum(nil))}
		return l.digest, l.diffID, nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (x *engineExport) resolve(n string) string {
	n = cleanEntryName(n)
	for i := 0; i < 16; i++ {
		t, ok := x.links[n]
		if !ok {
			break
		}
		n = t
	}
	return n
}

// entry is the manifest.json entry of ref.
func (x *engineExport) entry(ref name.Reference) *dockerManifestEntry {
	for i, e := range x.docker {
		for _, t := range e.RepoTags {
			if sameRef(t, ref) {
				return &x.docker[i]
			}
		}
	}
	// One image asked for by something else than a tag (an ID): the only entry.
	if len(x.refs) == 1 && len(x.docker) == 1 && x.refs[0] == engineName(ref) {
		return &x.docker[0]
	}
	return nil
}

func (x *engineExport) layer(n string) (*exportLayer, error) {
	n = x.resolve(n)
	if l, ok := x.layers[n]; ok {
		return l, nil
	}
	b, ok := x.meta[n]
	if !ok {
		return nil, fmt.Errorf("layer file %s is not in it", n)
	}
	return x.staged.get(n, func() (*exportLayer, error) {
		zw, err := newGzip()
		if err != nil {
			return nil, err
		}
		return gzipLayer(zw, bytes.NewReader(b), x.sink)
	})
}

// errImageChanged marks an image whose export has other layers than the engine said when it
// was looked up (Find): rebuilt or retagged while being packed.
var errImageChanged = errors.New("changed in the docker engine while it was being packed")

// image builds ref's image from the export: its config as the engine gave it (so the config
// digest, the classic store's image ID, is kept) and the staged layers.
// lookedUp, when not nil, are the diff IDs the engine gave for it in Find: an export with others
// is errImageChanged.
func (x *engineExport) image(ref name.Reference, lookedUp []string) (v1.Image, error) {
	de := x.entry(ref)
	if de == nil {
		return nil, fmt.Errorf("%s is not in it", ref)
	}
	cfg, ok := x.meta[x.resolve(de.Config)]
	if !ok {
		return nil, fmt.Errorf("config %s of %s is not in it", de.Config, ref)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", ref, err)
	}
	if len(cf.RootFS.DiffIDs) != len(de.Layers) {
		return nil, fmt.Errorf("%s: %d layers but %d diff IDs in its config", ref, len(de.Layers), len(cf.RootFS.DiffIDs))
	}
	if lookedUp != nil && !slices.EqualFunc(cf.RootFS.DiffIDs, lookedUp, func(h v1.Hash, d string) bool { return h.String() == d }) {
		return nil, fmt.Errorf("image %s %w (its export has other layers than when it was looked up): pack again once nothing rebuilds or retags it", ref, errImageChanged)
	}
	var ls []*tarLayer
	for i, n := range de.Layers {
		el, err := x.layer(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		diffID := cf.RootFS.DiffIDs[i]
		if el.diffID.Hex != "" && el.diffID != diffID {
			return nil, fmt.Errorf("%s: layer %s has content %s, its image config says %s", ref, n, el.diffID, diffID)
		}
		ls = append(ls, &tarLayer{
			open:   el.open,
			digest: el.digest, size: el.size, mt: el.mt, diffID: diffID,
		})
	}
	core, err := savedImageCore(cfg, ls)
	if err != nil {
		return nil, err
	}
	// Every layer was hashed as it was put in its sink: the archive need not hash it again.
	return selfVerifying{core.image()}, nil
}

// selfVerifying marks an image whose layers were hashed as they were put in their sink: the archive need
// not hash them again (LayersVerified).
type selfVerifying struct{ v1.Image }

func (selfVerifying) LayersVerified() bool { return true }
