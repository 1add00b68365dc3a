package imageset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// stage gzips every layer of img once into files under dir and returns an image over those
// files with img's exact config bytes, so the config digest (classic image ID) is unchanged.
// The compression is deterministic: the same image always gives the same layer digests.
func stage(ctx context.Context, img v1.Image, dir string) (v1.Image, error) {
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	s := &stagedImage{config: cfg, layers: map[v1.Hash]*stagedLayer{}}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config: v1.Descriptor{
			MediaType: types.DockerConfigJSON,
			Size:      int64(len(cfg)),
			Digest:    v1.Hash{Algorithm: "sha256", Hex: sha256Hex(cfg)},
		},
	}
	for _, l := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sl, err := compressLayer(l, dir)
		if err != nil {
			return nil, err
		}
		s.layers[sl.digest] = sl
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerLayer, Size: sl.size, Digest: sl.digest})
	}
	if s.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(s)
}

func compressLayer(l v1.Layer, dir string) (*stagedLayer, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "layer-*.tar.gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &xio.CountWriter{W: io.MultiWriter(f, h)}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, rc); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &stagedLayer{
		path:   f.Name(),
		size:   cw.N,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
	}, nil
}

type stagedImage struct {
	config   []byte
	manifest []byte
	layers   map[v1.Hash]*stagedLayer
}

func (s *stagedImage) RawConfigFile() ([]byte, error)      { return s.config, nil }
func (s *stagedImage) RawManifest() ([]byte, error)        { return s.manifest, nil }
func (s *stagedImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (s *stagedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := s.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("staged image has no layer %s", h)
}

type stagedLayer struct {
	path   string
	size   int64
	digest v1.Hash
}

func (l *stagedLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *stagedLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
func (l *stagedLayer) Size() (int64, error)                { return l.size, nil }
func (l *stagedLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
