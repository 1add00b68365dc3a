package imageset

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"hash"
	"io"
	"io/fs"
	"os"
	slashpath "path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TarImage says where an image is: the archive file and the name it is tagged with inside it.
type TarImage struct{ Path, Tag string }

// Tarfile finds images in image archive files: `docker save` archives (one image or many,
// Docker's manifest.json), OCI layouts in a tar (index.json), and airpack's own archives, which
// are both. It is the source of the images of an application package, whose archives name
// images differently from its compose file (a short `abc:v1` for `goodrain.me/ns/abc:v1`).
//
// Each archive is indexed once, by walking its tar headers; blobs are read in place, never
// loaded whole. An image the archive holds as an OCI image keeps its manifest (and so the
// containerd image ID); an image only in manifest.json keeps its config (the classic image ID)
// and gets a manifest built for it, its uncompressed layers gzipped into the staging directory.
type Tarfile struct {
	refs     map[string]TarImage // by normalised reference
	open     func(string) (archiveFile, error)
	archives memo[*tarArchive]
}

// archiveFile is what a Tarfile reads an archive through (an *os.File; tests count reads).
type archiveFile interface {
	io.ReaderAt
	io.ReadSeeker
	io.Closer
}

// NewTarfile returns a source holding the images of archive files: refs maps the reference a
// compose file uses (e.g. the share_image) to where that image is. A TarImage without a Tag
// means the image is tagged in the archive with the reference itself.
func NewTarfile(refs map[string]TarImage) *Tarfile {
	t := &Tarfile{refs: map[string]TarImage{}, open: openArchiveFile}
	for r, ti := range refs {
		if ti.Tag == "" {
			ti.Tag = r
		}
		t.refs[normName(r)] = ti
	}
	return t
}

func openArchiveFile(p string) (archiveFile, error) { return os.Open(p) }

func (t *Tarfile) String() string { return "package" }

func (t *Tarfile) Find(ctx context.Context, ref name.Reference, p v1.Platform) (Found, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ti, ok := t.refs[ref.Name()]
	if !ok {
		return nil, fmt.Errorf("%w: not among the package's images", ErrNotFound)
	}
	tag, err := name.ParseReference(ti.Tag, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("image archive %s: invalid image name %q: %w", ti.Path, ti.Tag, err)
	}
	key := ti.Path
	if abs, err := filepath.Abs(ti.Path); err == nil {
		key = abs
	}
	a, err := t.archives.get(key, func() (*tarArchive, error) { return indexArchive(ti.Path, t.open) })
	if err != nil {
		return nil, err
	}
	return a.find(tag, ti.Tag, p)
}

// ArchiveTags lists the tags (RepoTags of manifest.json, and OCI index name annotations) in a
// tar, each image name once (the first spelling met: manifest.json's, then index.json's).
// An OCI ref.name annotation holding only a tag (`1.0`) names no image and is left out.
func ArchiveTags(path string) ([]string, error) {
	a, err := indexArchive(path, openArchiveFile)
	if err != nil {
		return nil, err
	}
	return a.tags(), nil
}

// metaLimit bounds the JSON documents (manifest.json, index.json, manifests, configs) read
// into memory, so a mislabelled layer can never be.
const metaLimit = 64 << 20

// tarEntry is a file of the archive: where its body is, or the entry it links to.
type tarEntry struct {
	off, size int64
	link      string
}

// tarArchive is an indexed image archive.
type tarArchive struct {
	path    string
	open    func(string) (archiveFile, error)
	entries map[string]tarEntry // by cleaned entry name
	docker  []dockerManifestEntry
	index   *v1.IndexManifest

	digests memo[v1.Hash]      // compressed layer body offset -> its sha256
	staged  memo[*stagedLayer] // dir + uncompressed layer body offset -> its gzip in dir
}

func indexArchive(p string, open func(string) (archiveFile, error)) (*tarArchive, error) {
	f, err := open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: image archive %s does not exist", ErrNotFound, p)
		}
		return nil, fmt.Errorf("read image archive %s: %w", p, err)
	}
	defer f.Close()
	entries, err := indexTar(f)
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: %w (truncated or not a tar file?)", p, err)
	}
	a := &tarArchive{path: p, open: open, entries: entries}
	_, hasDocker := a.lookup("manifest.json")
	_, hasIndex := a.lookup("index.json")
	if !hasDocker && !hasIndex {
		return nil, fmt.Errorf("read image archive %s: neither manifest.json (docker save) nor index.json (OCI layout) in it: not an image archive, or truncated", p)
	}
	if hasDocker {
		b, err := a.read("manifest.json")
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &a.docker); err != nil {
			return nil, fmt.Errorf("read image archive %s: manifest.json: %w", p, err)
		}
	}
	if hasIndex {
		b, err := a.read("index.json")
		if err != nil {
			return nil, err
		}
		if a.index, err = v1.ParseIndexManifest(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("read image archive %s: index.json: %w", p, err)
		}
	}
	return a, nil
}

// indexTar walks the tar headers of r. tar.Reader skips bodies by seeking, so only the headers
// (and the last byte of each body, which proves the archive is not truncated) are read.
func indexTar(r io.ReadSeeker) (map[string]tarEntry, error) {
	entries := map[string]tarEntry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		n := cleanEntryName(h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			if _, sparse := h.PAXRecords["GNU.sparse.major"]; sparse {
				return nil, fmt.Errorf("%s: sparse files are not supported", h.Name)
			}
			off, err := r.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			entries[n] = tarEntry{off: off, size: h.Size}
		case tar.TypeSymlink:
			target := h.Linkname
			if !slashpath.IsAbs(target) {
				target = slashpath.Join(slashpath.Dir(n), target)
			}
			entries[n] = tarEntry{link: cleanEntryName(target)}
		case tar.TypeLink:
			entries[n] = tarEntry{link: cleanEntryName(h.Linkname)}
		case tar.TypeGNUSparse:
			return nil, fmt.Errorf("%s: sparse files are not supported", h.Name)
		}
	}
}

func cleanEntryName(n string) string { return strings.TrimPrefix(slashpath.Clean("/"+n), "/") }

// lookup finds an entry's body, following links (`docker save` links a layer shared by two
// images to its first copy).
func (a *tarArchive) lookup(n string) (tarEntry, bool) {
	n = cleanEntryName(n)
	for range 32 {
		e, ok := a.entries[n]
		if !ok {
			return tarEntry{}, false
		}
		if e.link == "" {
			return e, true
		}
		n = e.link
	}
	return tarEntry{}, false
}

// read reads a small entry (a JSON document) into memory.
func (a *tarArchive) read(n string) ([]byte, error) {
	e, ok := a.lookup(n)
	if !ok {
		return nil, fmt.Errorf("read image archive %s: %s is missing", a.path, n)
	}
	if e.size > metaLimit {
		return nil, fmt.Errorf("read image archive %s: %s is %d bytes, too large for image metadata", a.path, n, e.size)
	}
	f, err := a.open(a.path)
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: %w", a.path, err)
	}
	defer f.Close()
	b := make([]byte, e.size)
	if _, err := f.ReadAt(b, e.off); err != nil {
		return nil, fmt.Errorf("read image archive %s: %s: %w", a.path, n, err)
	}
	return b, nil
}

// section opens an entry's body in place.
func (a *tarArchive) section(n string) (io.ReadCloser, error) {
	e, ok := a.lookup(n)
	if !ok {
		return nil, fmt.Errorf("read image archive %s: %s is missing", a.path, n)
	}
	f, err := a.open(a.path)
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: %w", a.path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, e.off, e.size), f}, nil
}

// tags lists the image names of the archive, each once.
func (a *tarArchive) tags() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" || seen[normName(s)] {
			return
		}
		seen[normName(s)] = true
		out = append(out, s)
	}
	for _, e := range a.docker {
		for _, t := range e.RepoTags {
			add(t)
		}
	}
	if a.index != nil {
		for _, d := range a.index.Manifests {
			add(d.Annotations[AnnotationImageName])
			if r := d.Annotations[AnnotationRefName]; !bareTag(r) {
				add(r)
			}
		}
	}
	return out
}

func (a *tarArchive) find(tag name.Reference, tagStr string, p v1.Platform) (Found, error) {
	de := a.dockerEntry(tag)
	if a.index != nil {
		for _, d := range a.index.Manifests {
			imageName, refName := d.Annotations[AnnotationImageName], d.Annotations[AnnotationRefName]
			full := imageName != "" && sameRef(imageName, tag) || !bareTag(refName) && sameRef(refName, tag)
			bare := !full && imageName == "" && refName != "" && refName == tag.Identifier()
			if !full && !(bare && de != nil) {
				continue
			}
			img, err := a.ociImageFor(d, p)
			if err != nil {
				if bare {
					continue // not known to be the image asked for: manifest.json decides
				}
				return nil, err
			}
			// manifest.json's entry for the same image: by its config, which both formats share.
			same := de != nil && a.sameEntry(de.Config, blobPath(img.configDigest))
			if bare && !same {
				continue // a bare tag names no repository; only manifest.json could say which
			}
			if img.uncompressed && same {
				// Served as stored, the layers would ship uncompressed (a `docker save` of
				// Docker 25+'s classic store); manifest.json's path gzips them and keeps the
				// config digest, the only image ID such an image has.
				break
			}
			return foundImage{img: img.image}, nil
		}
	}
	if de == nil {
		return nil, fmt.Errorf("%w: no image tagged %s in %s (it has: %s)", ErrNotFound, tagStr, filepath.Base(a.path), listTags(a.tags()))
	}
	return a.dockerImageFor(de, p)
}

func listTags(tags []string) string {
	const show = 5
	switch {
	case len(tags) == 0:
		return "no tagged image"
	case len(tags) > show:
		return strings.Join(tags[:show], ", ") + fmt.Sprintf(" and %d more", len(tags)-show)
	}
	return strings.Join(tags, ", ")
}

// bareTag reports whether an annotation holds a tag alone ("1.0"), which names no repository.
func bareTag(s string) bool { return !strings.ContainsAny(s, "/:@") }

func normName(s string) string {
	r, err := name.ParseReference(s, name.WeakValidation)
	if err != nil {
		return s
	}
	return r.Name()
}

func (a *tarArchive) dockerEntry(tag name.Reference) *dockerManifestEntry {
	for i, e := range a.docker {
		for _, t := range e.RepoTags {
			if sameRef(t, tag) {
				return &a.docker[i]
			}
		}
	}
	return nil
}

// sameEntry reports whether two entry names lead to the same body.
func (a *tarArchive) sameEntry(x, y string) bool {
	ex, okx := a.lookup(x)
	ey, oky := a.lookup(y)
	return okx && oky && ex == ey
}

// The OCI path.

type ociFound struct {
	image        v1.Image
	configDigest v1.Hash
	uncompressed bool // some layer is stored uncompressed
}

// ociImageFor is the image an index.json entry names, for platform p.
func (a *tarArchive) ociImageFor(d v1.Descriptor, p v1.Platform) (*ociFound, error) {
	var img v1.Image
	var err error
	switch {
	case d.MediaType.IsIndex():
		var idx *tarIndex
		if idx, err = a.ociIndex(d.Digest, d.MediaType); err != nil {
			return nil, err
		}
		if img, err = childForPlatform(idx, p); err != nil {
			return nil, err
		}
	case d.MediaType.IsImage():
		if img, err = a.ociImage(d.Digest, d.MediaType); err != nil {
			return nil, err
		}
		if err := matchPlatform(img, p); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("read image archive %s: index.json names %s of unknown media type %q", a.path, d.Digest, d.MediaType)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	f := &ociFound{image: img, configDigest: m.Config.Digest}
	for _, l := range m.Layers {
		switch l.MediaType {
		case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer, types.DockerUncompressedLayer:
			f.uncompressed = true
		}
	}
	return f, nil
}

func (a *tarArchive) ociIndex(h v1.Hash, mt types.MediaType) (*tarIndex, error) {
	raw, err := a.read(blobPath(h))
	if err != nil {
		return nil, err
	}
	if err := checkDigest(raw, h); err != nil {
		return nil, fmt.Errorf("read image archive %s: %s: %w", a.path, blobPath(h), err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: index %s: %w", a.path, h, err)
	}
	// An archive often holds a multi-platform index but the manifests of one platform only
	// (`docker save` of a pulled image): what is absent is not offered.
	present := *im
	present.Manifests = nil
	for _, d := range im.Manifests {
		if _, ok := a.lookup(blobPath(d.Digest)); ok {
			present.Manifests = append(present.Manifests, d)
		}
	}
	return &tarIndex{a: a, raw: raw, digest: h, mt: mt, manifest: &present}, nil
}

// ociImage is the image whose manifest is blob h, served with its original manifest bytes and
// its layers as stored.
func (a *tarArchive) ociImage(h v1.Hash, mt types.MediaType) (v1.Image, error) {
	raw, err := a.read(blobPath(h))
	if err != nil {
		return nil, err
	}
	if err := checkDigest(raw, h); err != nil {
		return nil, fmt.Errorf("read image archive %s: %s: %w", a.path, blobPath(h), err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: manifest %s: %w", a.path, h, err)
	}
	if m.MediaType != "" {
		mt = m.MediaType
	}
	cfg, err := a.read(blobPath(m.Config.Digest))
	if err != nil {
		return nil, err
	}
	if err := checkDigest(cfg, m.Config.Digest); err != nil {
		return nil, fmt.Errorf("read image archive %s: config of %s: %w", a.path, h, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: config of %s: %w", a.path, h, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("read image archive %s: image %s has %d layers but %d diff IDs", a.path, h, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	core := &tarImageCore{config: cfg, manifest: raw, mt: mt, configDigest: m.Config.Digest, layers: map[v1.Hash]*tarLayer{}}
	for i, l := range m.Layers {
		n := blobPath(l.Digest)
		e, ok := a.lookup(n)
		if !ok {
			return nil, fmt.Errorf("read image archive %s: layer %s of image %s is not in it", a.path, l.Digest, h)
		}
		if e.size != l.Size {
			return nil, fmt.Errorf("read image archive %s: layer %s is %d bytes, its manifest says %d", a.path, l.Digest, e.size, l.Size)
		}
		core.layers[l.Digest] = &tarLayer{
			open:   func() (io.ReadCloser, error) { return a.section(n) },
			digest: l.Digest, size: l.Size, mt: l.MediaType, diffID: cf.RootFS.DiffIDs[i],
		}
	}
	return core.image(), nil
}

// tarIndex is an OCI image index in an archive, so that childForPlatform can pick from it.
type tarIndex struct {
	a        *tarArchive
	raw      []byte
	digest   v1.Hash
	mt       types.MediaType
	manifest *v1.IndexManifest
}

var _ v1.ImageIndex = (*tarIndex)(nil)

func (x *tarIndex) MediaType() (types.MediaType, error)       { return x.mt, nil }
func (x *tarIndex) Digest() (v1.Hash, error)                  { return x.digest, nil }
func (x *tarIndex) Size() (int64, error)                      { return int64(len(x.raw)), nil }
func (x *tarIndex) IndexManifest() (*v1.IndexManifest, error) { return x.manifest, nil }
func (x *tarIndex) RawManifest() ([]byte, error)              { return x.raw, nil }
func (x *tarIndex) Image(h v1.Hash) (v1.Image, error)         { return x.a.ociImage(h, x.childType(h)) }
func (x *tarIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return x.a.ociIndex(h, x.childType(h))
}

func (x *tarIndex) childType(h v1.Hash) types.MediaType {
	for _, d := range x.manifest.Manifests {
		if d.Digest == h {
			return d.MediaType
		}
	}
	return ""
}

// The manifest.json path.

// dockerFound is an image of manifest.json: its config, as stored, and its layer files.
type dockerFound struct {
	a       *tarArchive
	config  []byte
	layers  []string // entry names
	diffIDs []v1.Hash
}

func (a *tarArchive) dockerImageFor(de *dockerManifestEntry, p v1.Platform) (Found, error) {
	cfg, err := a.read(de.Config)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return nil, fmt.Errorf("read image archive %s: config %s: %w", a.path, de.Config, err)
	}
	if err := matchPlatform(configOnly(cfg), p); err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(de.Layers) {
		return nil, fmt.Errorf("read image archive %s: image %s has %d layer files but %d diff IDs", a.path, de.RepoTags[0], len(de.Layers), len(cf.RootFS.DiffIDs))
	}
	for _, l := range de.Layers {
		if _, ok := a.lookup(l); !ok {
			return nil, fmt.Errorf("read image archive %s: layer file %s of %s is not in it", a.path, l, de.RepoTags[0])
		}
	}
	return &dockerFound{a: a, config: cfg, layers: de.Layers, diffIDs: cf.RootFS.DiffIDs}, nil
}

// Image builds the image: layers compressed in the archive are served as they are (hashed once),
// uncompressed ones are gzipped once into dir. The config keeps its bytes, so its digest, the
// classic store's image ID.
func (f *dockerFound) Image(ctx context.Context, dir string) (v1.Image, error) {
	var ls []*tarLayer
	for i, n := range f.layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, err := f.a.layer(ctx, n, f.diffIDs[i], dir)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	core, err := savedImageCore(f.config, ls)
	if err != nil {
		return nil, err
	}
	return core.image(), nil
}

// layer serves layer file n compressed: as stored when it is, else gzipped once into dir.
func (a *tarArchive) layer(ctx context.Context, n string, diffID v1.Hash, dir string) (*tarLayer, error) {
	e, _ := a.lookup(n)
	// Keyed by where the body is: a layer file linked from several images is done once.
	key := strconv.FormatInt(e.off, 10)
	mt, err := a.compression(n, e)
	if err != nil {
		return nil, err
	}
	open := func() (io.ReadCloser, error) { return a.section(n) }
	if mt != "" {
		d, err := a.digests.get(key, func() (v1.Hash, error) {
			rc, err := open()
			if err != nil {
				return v1.Hash{}, err
			}
			defer rc.Close()
			h := sha256.New()
			if _, err := io.Copy(h, xio.ContextReader(ctx, rc)); err != nil {
				return v1.Hash{}, fmt.Errorf("read image archive %s: %s: %w", a.path, n, err)
			}
			return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
		})
		if err != nil {
			return nil, err
		}
		return &tarLayer{open: open, digest: d, size: e.size, mt: mt, diffID: diffID}, nil
	}
	sl, err := a.staged.get(dir+"\x00"+key, func() (*stagedLayer, error) {
		raw, err := partial.UncompressedToLayer(&rawLayer{
			diffID: diffID,
			open: func() (io.ReadCloser, error) {
				rc, err := open()
				if err != nil {
					return nil, err
				}
				return &diffIDReader{r: xio.ContextReader(ctx, rc), c: rc, h: sha256.New(), want: diffID, what: a.path + ": " + n}, nil
			},
		})
		if err != nil {
			return nil, err
		}
		sl, err := compressLayer(raw, dir)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", n, err)
		}
		return sl, nil
	})
	if err != nil {
		return nil, err
	}
	return &tarLayer{
		open:   func() (io.ReadCloser, error) { return os.Open(sl.path) },
		digest: sl.digest, size: sl.size, mt: types.DockerLayer, diffID: diffID,
	}, nil
}

// compression tells a layer file's compression by its magic bytes: the media type to serve it
// with, or "" when it is an uncompressed tar.
func (a *tarArchive) compression(n string, e tarEntry) (types.MediaType, error) {
	rc, err := a.section(n)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var magic [6]byte
	k, err := io.ReadFull(rc, magic[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", fmt.Errorf("read image archive %s: %s: %w", a.path, n, err)
	}
	b := magic[:k]
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return types.DockerLayer, nil
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return types.OCILayerZStd, nil
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}), bytes.HasPrefix(b, []byte("BZh")):
		return "", fmt.Errorf("read image archive %s: layer %s is xz or bzip2 compressed, which airpack does not convert", a.path, n)
	}
	return "", nil
}

// Shared image plumbing.

// tarImageCore is an image whose every blob is known: the base of both paths.
type tarImageCore struct {
	config, manifest []byte
	mt               types.MediaType
	configDigest     v1.Hash
	layers           map[v1.Hash]*tarLayer
}

// savedImageCore is the image a docker-save archive describes by its config and layers (bottom
// first): its manifest is written here, Docker's schema 2, or OCI when a layer is zstd (schema
// 2 has no zstd layer type). The config keeps its bytes, so its digest, the classic store's
// image ID.
func savedImageCore(config []byte, ls []*tarLayer) (*tarImageCore, error) {
	core := &tarImageCore{
		config:       config,
		configDigest: v1.Hash{Algorithm: "sha256", Hex: sha256Hex(config)},
		layers:       map[v1.Hash]*tarLayer{},
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(config)), Digest: core.configDigest},
	}
	zstd := slices.ContainsFunc(ls, func(l *tarLayer) bool { return l.mt == types.OCILayerZStd })
	if zstd {
		m.MediaType, m.Config.MediaType = types.OCIManifestSchema1, types.OCIConfigJSON
	}
	for _, l := range ls {
		if zstd && l.mt == types.DockerLayer {
			l.mt = types.OCILayer
		}
		core.layers[l.digest] = l
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mt, Size: l.size, Digest: l.digest})
	}
	core.mt = m.MediaType
	var err error
	if core.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return core, nil
}

func (c *tarImageCore) image() v1.Image {
	img, _ := partial.CompressedToImage(c) // never fails
	return img
}

func (c *tarImageCore) RawConfigFile() ([]byte, error)      { return c.config, nil }
func (c *tarImageCore) RawManifest() ([]byte, error)        { return c.manifest, nil }
func (c *tarImageCore) MediaType() (types.MediaType, error) { return c.mt, nil }
func (c *tarImageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := c.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("image has no layer %s", h)
}

// tarLayer is a compressed layer: an archive entry read in place, or a staged file.
type tarLayer struct {
	open   func() (io.ReadCloser, error)
	digest v1.Hash
	size   int64
	mt     types.MediaType
	diffID v1.Hash
}

func (l *tarLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *tarLayer) Compressed() (io.ReadCloser, error)  { return l.open() }
func (l *tarLayer) Size() (int64, error)                { return l.size, nil }
func (l *tarLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// DiffID comes from the config, so asking for it never decompresses the layer.
func (l *tarLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// rawLayer is an uncompressed layer file, as compressLayer takes it.
type rawLayer struct {
	diffID v1.Hash
	open   func() (io.ReadCloser, error)
}

func (l *rawLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *rawLayer) Uncompressed() (io.ReadCloser, error) { return l.open() }
func (l *rawLayer) MediaType() (types.MediaType, error)  { return types.DockerUncompressedLayer, nil }

// diffIDReader fails the read that ends a layer whose content is not its diff ID: a corrupt
// archive is caught while staging, not after loading.
type diffIDReader struct {
	r    io.Reader
	c    io.Closer
	h    hash.Hash
	want v1.Hash
	what string
}

func (d *diffIDReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(d.h.Sum(nil)); got != d.want.Hex {
			return n, fmt.Errorf("%s has content sha256:%s, its image config says %s: the archive is corrupt", d.what, got, d.want)
		}
	}
	return n, err
}

func (d *diffIDReader) Close() error { return d.c.Close() }

// configOnly is an image known by its config alone, for matchPlatform.
func configOnly(cfg []byte) v1.Image {
	return (&tarImageCore{config: cfg}).image()
}

func checkDigest(b []byte, h v1.Hash) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("unsupported digest algorithm %s", h.Algorithm)
	}
	if got := sha256Hex(b); got != h.Hex {
		return fmt.Errorf("content has digest sha256:%s, want %s", got, h)
	}
	return nil
}

// memo computes a value once per key, concurrency-safe. Failures are not kept: a cancelled
// staging is retried by the next caller.
type memo[T any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[T]
}

type memoEntry[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
}

func (m *memo[T]) get(key string, f func() (T, error)) (T, error) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[string]*memoEntry[T]{}
	}
	e := m.m[key]
	if e == nil {
		e = &memoEntry[T]{}
		m.m[key] = e
	}
	m.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return e.v, nil
	}
	v, err := f()
	if err != nil {
		return v, err
	}
	e.v, e.done = v, true
	return v, nil
}
