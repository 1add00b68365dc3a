// Command genapp generates the application scripts/bench.sh (`make bench`) measures: images
// with the file count, size mix and compressibility of real distribution images, sharing one
// base layer. Every run with the same seed gives byte-identical images (seeded ChaCha8 streams,
// fixed mtimes and owners, members in directory-walk order). It pushes them to a registry and
// writes a Compose project using them.
//
// The base layer (-base-mib, 280 by default) is a Debian-like system and a Python runtime:
// with the defaults, 22,400 files in 3,100 directories up to 9 levels deep, the median file
// 2.4 KiB, 28% of the files under 1 KiB, 24 binaries and libraries of 1-14 MiB, 550 symlinks
// (usrmerge, sonames, ca-certificates' hash links, zoneinfo aliases) and a few hard links. On
// it, image i has two layers of its own, of -own-mib (60) x 1.2, 0.8, 1.1, 0.9 (in turn) in
// all: its dependencies (85%: node_modules, site-packages, more Debian packages, or a static
// server with its web assets, in turn) and its application code (15%); 3,000 to 10,000 files
// per image. File contents are text (code, docs: about 36% of the bytes), machine code (46%),
// mixed (.pyc, .mo, zoneinfo: 15%) and already compressed data (.gz, .png: 4%), so a layer
// gzips at the fast level used here to about 0.4 of its size (0.36 at gzip -6), as real images
// do (Debian bookworm's /usr/bin, /usr/lib and /usr/share: 0.35-0.45 at gzip -1).
//
//	genapp port
//	    prints a free TCP port on 127.0.0.1
//	genapp push -registry HOST:PORT -dir DIR [-images 4] [-base-mib 280] [-own-mib 60] [-seed 1]
//	    builds the images, pushes them as HOST:PORT/bench/<service>:1.0, writes DIR/compose.yaml
//	    (one service per image) and prints what it made as "key value" lines:
//	      ref REF                      one per image, in service order
//	      layer DIGEST                 one per distinct layer (compressed digest), base first
//	      layer_bytes N                compressed bytes of distinct layers (what a registry stores)
//	      image_bytes N                compressed bytes summed image by image (shared layer counted
//	                                   once per image)
//	      uncompressed_bytes N         uncompressed layer bytes summed image by image
//	      distinct_bytes N             uncompressed bytes of the distinct layers (what a load unpacks)
//	      base_bytes N / own_bytes N   uncompressed size of the shared layer / of an image's own
//	                                   layers (mean over the images)
//	      files N                      regular files in the distinct layers
//	      base_files N / own_files N   regular files in the base layer / in an image's own layers
//	                                   (mean)
//	      gen_seconds S                time taken to build the layers (before the push)
//	    and, on stderr, a table of the layers.
//	      bumped_layer_bytes N         with -bump: compressed bytes of the changed layer
//	genapp push -bump SERVICE ...
//	    version 1.1 of the same app (same flags and seed as the 1.0 push): SERVICE's application
//	    code layer, its top layer, has the same tree (paths, modes, sizes) with other content
//	    (another content stream); every other layer is byte-identical to 1.0's. Pushes SERVICE
//	    as bench/SERVICE:1.1 and the others as bench/<service>:1.0 again (the same images), and
//	    writes DIR/compose.yaml for 1.1 (SERVICE on :1.1, the others on :1.0).
//	genapp stats [-images 4] [-base-mib 280] [-own-mib 60] [-seed 1] [-bump SERVICE] [-save DIR]
//	    builds the layers only (no registry) and prints the same lines but ref; -save writes each
//	    layer's gzip blob to DIR/NAME.tar.gz.
//
// -cpuprofile FILE writes a CPU profile of genapp itself. Layers are gzip at a fast level
// (klauspost/compress), built concurrently; pkg/v1/random is not used because it is not
// deterministic.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"

	"github.com/airpack/airpack/internal/xio"
)

// Services name the images, in order; more images than names get "svcN".
var services = []string{"web", "api", "worker", "cache", "search", "mail", "jobs", "admin"}

// ownScale spreads the images' own sizes around -own-mib, image by image in turn.
var ownScale = []float64{1.2, 0.8, 1.1, 0.9}

// appShare is the part of an image's own bytes in its top (application) layer.
const appShare = 0.15

// created is every image's creation time and every member's mtime: fixed, so layers and
// configs (image IDs) are reproducible.
var created = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "port":
		err = port()
	case "push":
		err = run(os.Args[1], os.Args[2:])
	case "stats":
		err = run(os.Args[1], os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genapp:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: genapp port\n"+
		"       genapp push -registry HOST:PORT -dir DIR [-images N] [-base-mib N] [-own-mib N] [-seed N] [-bump SERVICE] [-cpuprofile FILE]\n"+
		"       genapp stats [-images N] [-base-mib N] [-own-mib N] [-seed N] [-bump SERVICE] [-save DIR] [-cpuprofile FILE]")
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

// app is the generated application: its layers (base first) and, per image, its own layers.
type app struct {
	names  []string
	tags   []string // tags[i]: image i's tag, "1.0", or bumpTag for the bumped service
	layers []*memLayer
	own    [][]*memLayer // own[i]: image i's layers above the base
	bumped *memLayer     // with -bump: the changed layer
}

// options are push's and stats' flags.
type options struct {
	images          int
	baseMiB, ownMiB int
	seed            uint64
	bump            string // service whose application code layer changes (version 1.1)
}

// bumpTag is the tag of the service -bump changes; the others keep 1.0.
const bumpTag = "1.1"

func run(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	var o options
	registry := fs.String("registry", "", "registry HOST:PORT (push: required)")
	dir := fs.String("dir", "", "directory for compose.yaml (push: required)")
	save := fs.String("save", "", "stats: write each layer's gzip blob to DIR/NAME.tar.gz")
	fs.IntVar(&o.images, "images", 4, "number of images")
	fs.IntVar(&o.baseMiB, "base-mib", 280, "file bytes of the shared base layer, MiB (uncompressed)")
	fs.IntVar(&o.ownMiB, "own-mib", 60, "file bytes of each image's own layers, MiB (uncompressed, mean over the images)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the layers' trees and content")
	fs.StringVar(&o.bump, "bump", "", "version 1.1: this service's application code layer gets other content (tag "+bumpTag+")")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of genapp to this file")
	fs.Parse(args)
	pushing := cmd == "push"
	if pushing && (*registry == "" || *dir == "") || !pushing && (*registry != "" || *dir != "") ||
		pushing && *save != "" || o.images < 1 || o.baseMiB < 1 || o.ownMiB < 1 || fs.NArg() > 0 {
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

	t0 := time.Now()
	a, err := build(o)
	if err != nil {
		return err
	}
	genTime := time.Since(t0)
	a.table(os.Stderr, genTime)

	var refs []string
	if pushing {
		if refs, err = a.push(*registry, *dir); err != nil {
			return err
		}
	}
	if *save != "" {
		if err := os.MkdirAll(*save, 0o755); err != nil {
			return err
		}
		for _, l := range a.layers {
			if err := os.WriteFile(filepath.Join(*save, l.name+".tar.gz"), l.gz.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}

	var layerBytes, imageBytes, uncompressed, distinct, ownBytes, files, ownFiles int64
	for _, l := range a.layers {
		layerBytes += int64(l.gz.Len())
		distinct += l.rawSize
		files += int64(l.files)
		fmt.Println("layer", l.digest)
	}
	for i := range a.names {
		for _, l := range append([]*memLayer{a.layers[0]}, a.own[i]...) {
			imageBytes += int64(l.gz.Len())
			uncompressed += l.rawSize
		}
		for _, l := range a.own[i] {
			ownBytes += l.rawSize
			ownFiles += int64(l.files)
		}
	}
	for _, r := range refs {
		fmt.Println("ref", r)
	}
	n := int64(len(a.names))
	fmt.Println("layer_bytes", layerBytes)
	fmt.Println("image_bytes", imageBytes)
	fmt.Println("uncompressed_bytes", uncompressed)
	fmt.Println("distinct_bytes", distinct)
	fmt.Println("base_bytes", a.layers[0].rawSize)
	fmt.Println("own_bytes", ownBytes/n)
	fmt.Println("files", files)
	fmt.Println("base_files", a.layers[0].files)
	fmt.Println("own_files", ownFiles/n)
	if a.bumped != nil {
		fmt.Println("bumped_layer_bytes", a.bumped.gz.Len())
	}
	fmt.Printf("gen_seconds %.2f\n", genTime.Seconds())
	return nil
}

// build plans and writes every layer, as many at once as there are CPUs, the largest first.
func build(o options) (*app, error) {
	a := &app{}
	specs := []layerSpec{{name: "base", budget: int64(o.baseMiB) << 20, plan: planBase}}
	for i := range o.images {
		n := fmt.Sprintf("svc%d", i+1)
		if i < len(services) {
			n = services[i]
		}
		a.names = append(a.names, n)
		own := int64(float64(int64(o.ownMiB)<<20) * ownScale[i%len(ownScale)])
		app := int64(float64(own) * appShare)
		f := flavors[i%len(flavors)]
		appSpec := layerSpec{name: n + "-app", budget: app, plan: func(p *planner) { planApp(p, n, f.ext) }}
		tag := "1.0"
		if n == o.bump {
			appSpec.rev, tag = bumpTag, bumpTag
		}
		a.tags = append(a.tags, tag)
		specs = append(specs, layerSpec{name: n + "-" + f.name, budget: own - app, plan: f.plan}, appSpec)
	}
	if o.bump != "" && !slices.Contains(a.names, o.bump) {
		return nil, fmt.Errorf("-bump %s: no such service (the app's services: %s)", o.bump, strings.Join(a.names, ", "))
	}
	c := newCorpora(o.seed)
	order := make([]int, len(specs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return int(specs[y].budget>>20 - specs[x].budget>>20) })
	a.layers = make([]*memLayer, len(specs))
	errs := make([]error, len(specs))
	work := make(chan int, len(order))
	for _, i := range order {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range min(len(specs), runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range work {
				a.layers[i], errs[i] = buildLayer(c, o.seed, specs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range a.names {
		a.own = append(a.own, a.layers[1+2*i:3+2*i])
		if a.names[i] == o.bump {
			a.bumped = a.layers[2+2*i]
		}
	}
	return a, nil
}

// table prints one line per layer, then the totals of the distinct layers.
func (a *app) table(w io.Writer, took time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\tunpacked MiB\tgzip MiB\tratio\tfiles\tdirs\tsymlinks\thardlinks\tmedian file\t< 1 KiB\t>= 1 MiB\t")
	var t memLayer
	for _, l := range a.layers {
		l.row(tw, l.name)
		t.rawSize += l.rawSize
		t.files += l.files
		t.dirs += l.dirs
		t.symlinks += l.symlinks
		t.hardlinks += l.hardlinks
		t.small += l.small
		t.big += l.big
		t.sizes = append(t.sizes, l.sizes...)
		for k, n := range l.kindBytes {
			t.kindBytes[k] += n
		}
		t.gzLen += l.gz.Len()
	}
	t.row(tw, "all")
	tw.Flush()
	var sum int64
	for _, n := range t.kindBytes {
		sum += n
	}
	sum = max(sum, 1)
	fmt.Fprintf(w, "genapp: file bytes: %.0f%% text, %.0f%% machine code, %.0f%% mixed, %.0f%% compressed\n",
		100*float64(t.kindBytes[kText])/float64(sum), 100*float64(t.kindBytes[kBinary])/float64(sum),
		100*float64(t.kindBytes[kMixed])/float64(sum), 100*float64(t.kindBytes[kRandom])/float64(sum))
	fmt.Fprintf(w, "genapp: built %d layers in %.2fs (%d CPUs)\n", len(a.layers), took.Seconds(), runtime.GOMAXPROCS(0))
}

func (a *app) push(registry, dir string) ([]string, error) {
	todo := map[name.Reference]remote.Taggable{}
	var refs []string
	for i, n := range a.names {
		img, err := buildImage(n, append([]*memLayer{a.layers[0]}, a.own[i]...))
		if err != nil {
			return nil, err
		}
		s := fmt.Sprintf("%s/bench/%s:%s", registry, n, a.tags[i])
		ref, err := name.ParseReference(s)
		if err != nil {
			return nil, err
		}
		todo[ref] = img
		refs = append(refs, s)
	}
	if err := remote.MultiWrite(todo, remote.WithJobs(4)); err != nil {
		return nil, fmt.Errorf("push to %s: %w", registry, err)
	}

	var compose strings.Builder
	compose.WriteString("# Generated by internal/bench/genapp for scripts/bench.sh.\nname: benchapp\nservices:\n")
	for i, n := range a.names {
		fmt.Fprintf(&compose, "  %s:\n    image: %s\n", n, refs[i])
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose.String()), 0o644); err != nil {
		return nil, err
	}
	return refs, nil
}

func buildImage(service string, layers []*memLayer) (v1.Image, error) {
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{
			Created: v1.Time{Time: created}, CreatedBy: "airpack bench genapp: " + l.name}})
	}
	img, err := mutate.Append(empty.Image, adds...)
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
	cf.Config.Entrypoint = []string{"/usr/local/bin/" + service}
	cf.Config.WorkingDir = "/app"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cf.Config.Labels = map[string]string{"org.airpack.bench": "1", "org.opencontainers.image.title": "airpack bench " + service}
	return mutate.ConfigFile(img, cf)
}

type layerSpec struct {
	name   string
	budget int64 // file bytes
	plan   func(*planner)
	// rev, when set, is a new version of the layer: the same tree (drawn from the name's
	// stream) with other content (the stream of name@rev), named name@rev.
	rev string
}

// buildLayer plans the layer's tree from the seed, then writes it as a gzip tar in memory,
// with fixed headers: the same seed and spec always give the same bytes.
func buildLayer(c *corpora, seed uint64, s layerSpec) (*memLayer, error) {
	p := newPlanner(rngFor(seed, "tree/"+s.name), s.budget)
	s.plan(p)
	sortEntries(p.entries)

	l := &memLayer{name: s.name}
	contentLabel := "content/" + s.name
	if s.rev != "" {
		l.name += "@" + s.rev
		contentLabel += "@" + s.rev
	}
	l.gz.Grow(int(s.budget/2 + 1<<20))
	digest := sha256.New()
	// pgzip compresses blocks of 1 MiB on every CPU: the base layer, half the bytes, would
	// otherwise take as long as all the others on one CPU. Its output depends on the block
	// size only, not on the number of CPUs.
	zw, err := pgzip.NewWriterLevel(io.MultiWriter(&l.gz, digest), pgzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := zw.SetConcurrency(1<<20, runtime.GOMAXPROCS(0)); err != nil {
		return nil, err
	}
	diffID := sha256.New()
	cw := &xio.CountWriter{W: io.MultiWriter(zw, diffID)}
	tw := tar.NewWriter(cw)
	r := rngFor(seed, contentLabel)
	for _, e := range p.entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: created, Uname: "root", Gname: "root"}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
			l.dirs++
		case tar.TypeSymlink:
			l.symlinks++
		case tar.TypeLink:
			l.hardlinks++
		case tar.TypeReg:
			h.Size = e.size
			l.files++
			l.sizes = append(l.sizes, e.size)
			l.kindBytes[e.kind] += e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer %s: %s: %w", s.name, e.name, err)
		}
		if e.typ == tar.TypeReg {
			if err := c.writeContent(tw, r, e.kind, e.size); err != nil {
				return nil, err
			}
		}
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
	l.gzLen = l.gz.Len()
	for _, n := range l.sizes {
		if n < 1024 {
			l.small++
		}
		if n >= 1<<20 {
			l.big++
		}
	}
	return l, nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// memLayer is a gzip layer held in memory with its digests already known, and what it holds.
type memLayer struct {
	name           string
	gz             bytes.Buffer
	gzLen          int
	rawSize        int64
	digest, diffID v1.Hash

	files, dirs, symlinks, hardlinks int
	small, big                       int // files < 1 KiB, >= 1 MiB
	sizes                            []int64
	kindBytes                        [nKinds]int64
}

func (l *memLayer) row(w io.Writer, name string) {
	s := slices.Clone(l.sizes)
	slices.Sort(s)
	var med int64
	if len(s) > 0 {
		med = s[len(s)/2]
	}
	fmt.Fprintf(w, "%s\t%.1f\t%.1f\t%.3f\t%d\t%d\t%d\t%d\t%d B\t%.0f%%\t%d\t\n", name,
		float64(l.rawSize)/(1<<20), float64(l.gzLen)/(1<<20), float64(l.gzLen)/float64(l.rawSize),
		l.files, l.dirs, l.symlinks, l.hardlinks, med, 100*float64(l.small)/float64(max(1, l.files)), l.big)
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
