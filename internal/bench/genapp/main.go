// Command genapp generates the application scripts/bench.sh (`make bench`) measures: several
// images sharing one large base layer, each with a smaller layer of its own, all of seeded
// pseudo-random (incompressible) bytes, so every run gets byte-identical images. It pushes them
// to a registry and writes a Compose project using them.
//
//	genapp port
//	    prints a free TCP port on 127.0.0.1
//	genapp push -registry HOST:PORT -dir DIR [-images 4] [-base-mib 200] [-own-mib 30] [-seed 1]
//	    builds the images, pushes them as HOST:PORT/bench/<service>:1.0, writes DIR/compose.yaml
//	    (one service per image) and prints what it made as "key value" lines:
//	      ref REF                      one per image, in service order
//	      layer DIGEST                 one per distinct layer (compressed digest), base first
//	      layer_bytes N                compressed bytes of distinct layers (what a registry stores)
//	      image_bytes N                compressed bytes summed image by image (shared layer counted
//	                                   once per image)
//	      uncompressed_bytes N         uncompressed layer bytes summed image by image
//	      base_bytes N / own_bytes N   uncompressed size of the shared layer / of one own layer
//
// -cpuprofile FILE writes a CPU profile of genapp itself. Layers are gzip at a fast level
// (klauspost/compress); pkg/v1/random is not used because it is not deterministic.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/airpack/airpack/internal/xio"
)

// Services name the images, in order; more images than names get "svcN".
var services = []string{"web", "api", "worker", "cache", "search", "mail", "jobs", "admin"}

// created is every image's creation time: fixed, so configs (image IDs) are reproducible.
var created = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// chunk is the size of the files a layer holds (the last one may be smaller).
const chunk = 16 << 20

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "port":
		err = port()
	case "push":
		err = push(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genapp:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: genapp port | genapp push -registry HOST:PORT -dir DIR [-images N] [-base-mib N] [-own-mib N] [-seed N] [-cpuprofile FILE]")
	os.Exit(2)
}

func port() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	registry := fs.String("registry", "", "registry HOST:PORT (required)")
	dir := fs.String("dir", "", "directory for compose.yaml (required)")
	images := fs.Int("images", 4, "number of images")
	baseMiB := fs.Int("base-mib", 200, "size of the shared base layer, MiB (uncompressed)")
	ownMiB := fs.Int("own-mib", 30, "size of each image's own layer, MiB (uncompressed)")
	seed := fs.Uint64("seed", 1, "seed of the pseudo-random layer content")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of genapp to this file")
	fs.Parse(args)
	if *registry == "" || *dir == "" || *images < 1 || *baseMiB < 1 || *ownMiB < 1 || fs.NArg() > 0 {
		usage()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	names := make([]string, *images)
	for i := range names {
		if i < len(services) {
			names[i] = services[i]
		} else {
			names[i] = fmt.Sprintf("svc%d", i+1)
		}
	}

	// Build the layers, as many at once as there are CPUs.
	specs := []layerSpec{{name: "base", size: int64(*baseMiB) << 20}}
	for _, n := range names {
		specs = append(specs, layerSpec{name: n, size: int64(*ownMiB) << 20})
	}
	layers := make([]*memLayer, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			layers[i], errs[i] = buildLayer(*seed, s)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	todo := map[name.Reference]remote.Taggable{}
	var refs []string
	var imageBytes, uncompressed int64
	for i, n := range names {
		img, err := buildImage(n, layers[0], layers[i+1])
		if err != nil {
			return err
		}
		s := fmt.Sprintf("%s/bench/%s:1.0", *registry, n)
		ref, err := name.ParseReference(s)
		if err != nil {
			return err
		}
		todo[ref] = img
		refs = append(refs, s)
		imageBytes += int64(layers[0].gz.Len() + layers[i+1].gz.Len())
		uncompressed += layers[0].rawSize + layers[i+1].rawSize
	}
	if err := remote.MultiWrite(todo, remote.WithJobs(4)); err != nil {
		return fmt.Errorf("push to %s: %w", *registry, err)
	}

	var compose strings.Builder
	compose.WriteString("# Generated by internal/bench/genapp for scripts/bench.sh.\nname: benchapp\nservices:\n")
	for i, n := range names {
		fmt.Fprintf(&compose, "  %s:\n    image: %s\n", n, refs[i])
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "compose.yaml"), []byte(compose.String()), 0o644); err != nil {
		return err
	}

	var layerBytes int64
	for _, l := range layers {
		layerBytes += int64(l.gz.Len())
		fmt.Println("layer", l.digest)
	}
	for _, r := range refs {
		fmt.Println("ref", r)
	}
	fmt.Println("layer_bytes", layerBytes)
	fmt.Println("image_bytes", imageBytes)
	fmt.Println("uncompressed_bytes", uncompressed)
	fmt.Println("base_bytes", layers[0].rawSize)
	fmt.Println("own_bytes", layers[1].rawSize)
	return nil
}

func buildImage(service string, base, own v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, base, own)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = []string{"/bench/" + service}
	cf.Config.Labels = map[string]string{"org.airpack.bench": "1", "org.opencontainers.image.title": "airpack bench " + service}
	for i := range cf.History {
		cf.History[i].Created = v1.Time{Time: created}
		cf.History[i].CreatedBy = "airpack bench genapp"
	}
	return mutate.ConfigFile(img, cf)
}

type layerSpec struct {
	name string
	size int64
}

// buildLayer makes a gzip tar layer holding size bytes of pseudo-random data in files of at
// most chunk bytes under bench/<name>/, with fixed headers: the same seed and spec always give
// the same bytes.
func buildLayer(seed uint64, s layerSpec) (*memLayer, error) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	h := sha256.Sum256(append(key[:8], s.name...))
	src := rand.NewChaCha8(h)

	l := &memLayer{}
	l.gz.Grow(int(s.size + s.size/64 + 1<<20))
	digest := sha256.New()
	zw, err := gzip.NewWriterLevel(io.MultiWriter(&l.gz, digest), gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	diffID := sha256.New()
	cw := &xio.CountWriter{W: io.MultiWriter(zw, diffID)}
	tw := tar.NewWriter(cw)
	hdr := func(h *tar.Header) error {
		h.ModTime, h.Uname, h.Gname, h.Format = created, "root", "root", tar.FormatUSTAR
		return tw.WriteHeader(h)
	}
	for _, d := range []string{"bench/", "bench/" + s.name + "/"} {
		if err := hdr(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, 1<<20)
	for i, left := 0, s.size; left > 0; i++ {
		n := min(left, chunk)
		if err := hdr(&tar.Header{Name: fmt.Sprintf("bench/%s/data-%03d.bin", s.name, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: n}); err != nil {
			return nil, err
		}
		for m := n; m > 0; {
			b := buf[:min(m, int64(len(buf)))]
			src.Read(b)
			if _, err := tw.Write(b); err != nil {
				return nil, err
			}
			m -= int64(len(b))
		}
		left -= n
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	l.rawSize = cw.N
	l.digest = hashOf(digest)
	l.diffID = hashOf(diffID)
	return l, nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// memLayer is a gzip layer held in memory with its digests already known.
type memLayer struct {
	gz             bytes.Buffer
	rawSize        int64
	digest, diffID v1.Hash
}

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz.Bytes())), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.gz.Bytes()))
}
func (l *memLayer) Size() (int64, error)                { return int64(l.gz.Len()), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
