package imageset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// compressLayer gzips an uncompressed layer once into a file of dir (image archives whose
// layers are not compressed). The compression is deterministic.
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
