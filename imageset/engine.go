package imageset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"
)

// Engine finds images in the local Docker engine (the one DOCKER_HOST or the default socket
// names). The images found are exported together, with one `docker save` read as a stream
// (see enginestream.go): each layer gzip-compressed once, on every CPU, straight into the
// archive (StreamArchive) or into a staging directory (Image), so the archive gets compressed
// layers and the image keeps its config digest, the image ID of the classic store.
type Engine struct {
	once sync.Once
	cli  *client.Client
	err  error

	mu      sync.Mutex
	found   []string // engine names of the images found, in order
	exports []*engineExport
}

// NewEngine returns an engine source; the connection is made on first use.
func NewEngine() *Engine { return &Engine{} }

func (e *Engine) String() string { return "engine" }

func (e *Engine) client() (*client.Client, error) {
	e.once.Do(func() {
		e.cli, e.err = client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	})
	return e.cli, e.err
}

// Close releases the engine connection.
func (e *Engine) Close() error {
	if e.cli != nil {
		return e.cli.Close()
	}
	return nil
}

func (e *Engine) Find(ctx context.Context, ref name.Reference, p v1.Platform) (Found, error) {
	if r, err := ParseRef(ref.String()); err == nil && r.Pinned() {
		return nil, fmt.Errorf("%w: pinned by digest, but the docker engine exports an image under a new manifest digest, so the bundle could not keep the pin: pack it from a registry or an OCI layout (--source registry, --source oci:DIR)", ErrNotFound)
	}
	cli, err := e.client()
	if err != nil {
		return nil, fmt.Errorf("%w: docker engine: %v", ErrNotFound, err)
	}
	insp, err := cli.ImageInspect(ctx, engineName(ref))
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%w: no such image in the local docker engine", ErrNotFound)
		}
		return nil, fmt.Errorf("%w: docker engine unreachable: %v", ErrNotFound, err)
	}
	have := v1.Platform{OS: insp.Os, Architecture: insp.Architecture, Variant: insp.Variant}
	if have.OS != p.OS || have.Architecture != p.Architecture || (p.Variant != "" && have.Variant != p.Variant) {
		return nil, &PlatformError{Want: p, Have: []string{have.String()}}
	}
	e.mu.Lock()
	if !slices.Contains(e.found, engineName(ref)) {
		e.found = append(e.found, engineName(ref))
	}
	e.mu.Unlock()
	return &engineImage{e: e, ref: ref, diffIDs: insp.RootFS.Layers}, nil
}

// export returns the export holding ref: the first call saves every image found so far in
// one stream; an image found later gets a save of its own.
func (e *Engine) export(ctx context.Context, ref name.Reference, dir string) (*engineExport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	want := engineName(ref)
	for _, x := range e.exports {
		if x.sink == dirSink(dir) && slices.Contains(x.refs, want) {
			return x, nil
		}
	}
	var refs []string
	for _, r := range e.found {
		done := false
		for _, x := range e.exports {
			done = done || (x.sink == dirSink(dir) && slices.Contains(x.refs, r))
		}
		if !done {
			refs = append(refs, r)
		}
	}
	if !slices.Contains(refs, want) {
		refs = append(refs, want)
	}
	x, err := e.save(ctx, refs, dirSink(dir))
	if err != nil {
		return nil, err
	}
	e.exports = append(e.exports, x)
	return x, nil
}

// saves reads the `docker save` of refs, putting their layers into sink, telling p (when not
// nil) how much it read. The classic store prepares a whole export on one CPU before its first
// byte: there, the images are split into groups (exportGroups), the engine is asked for a save
// of each at once, and the saves are read one after the other, in order (so the archive is the
// same whatever the timing): the later ones are prepared while the first is read. Each layer is
// put once (layerClaims: by the first save holding it). The containerd store streams its blobs
// at once: one save.
func (e *Engine) saves(ctx context.Context, refs []string, sink layerSink, p ExportProgress) ([]*engineExport, error) {
	cli, err := e.client()
	if err != nil {
		return nil, err
	}
	groups := exportGroups(refs, e.classicStore(ctx))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type opened struct {
		rc  io.ReadCloser
		err error
	}
	bodies := make([]chan opened, len(groups))
	for i, refs := range groups {
		bodies[i] = make(chan opened, 1)
		go func() {
			rc, err := cli.ImageSave(ctx, refs)
			bodies[i] <- opened{rc, err}
		}()
	}
	defer func() {
		// The saves not read (after a failure): closed once the engine answers, or cancelled.
		cancel()
		for _, ch := range bodies {
			if o, ok := <-ch; ok && o.rc != nil {
				o.rc.Close()
			}
		}
	}()
	claims := &layerClaims{}
	var xs []*engineExport
	for i, refs := range groups {
		o := <-bodies[i]
		close(bodies[i])
		if o.err != nil {
			return nil, fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), o.err)
		}
		x, err := readSave(ctx, o.rc, refs, sink, p, claims)
		o.rc.Close()
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return xs, shareLayers(xs)
}

// exportGroups splits refs into the saves to ask the engine for at once: on the classic store,
// two, images taken in turn (the layers they share are exported by both, read from one); else
// one. Not the machine's CPUs: the archive's order follows the groups, and the same images
// give the same bundle on every machine.
func exportGroups(refs []string, classic bool) [][]string {
	n := min(len(refs), 2)
	if !classic || n <= 1 {
		return [][]string{refs}
	}
	groups := make([][]string, n)
	for i, r := range refs {
		groups[i%n] = append(groups[i%n], r)
	}
	return groups
}

// classicStore reports whether the engine keeps its images in Docker's classic store (graph
// drivers) rather than the containerd store (snapshotters); an engine that does not say is
// taken for the containerd store, whose exports stream at once.
func (e *Engine) classicStore(ctx context.Context) bool {
	cli, err := e.client()
	if err != nil {
		return false
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return false
	}
	for _, kv := range info.Info.DriverStatus {
		if len(kv) == 2 && strings.HasPrefix(kv[1], "io.containerd.snapshotter") {
			return false
		}
	}
	return info.Info.Driver != ""
}

// save reads one `docker save` of refs, putting its layers into sink.
func (e *Engine) save(ctx context.Context, refs []string, sink layerSink) (*engineExport, error) {
	cli, err := e.client()
	if err != nil {
		return nil, err
	}
	rc, err := cli.ImageSave(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err)
	}
	defer rc.Close()
	return readSave(ctx, rc, refs, sink, nil, nil)
}

// readSave reads the `docker save` of refs from rc, telling p (when not nil) how much it read;
// claims, when not nil, shares its layers out with other saves.
func readSave(ctx context.Context, rc io.Reader, refs []string, sink layerSink, p ExportProgress, claims *layerClaims) (*engineExport, error) {
	r := rc
	if p != nil {
		r = exportCounter{rc, p}
	}
	x, err := readExport(ctx, r, refs, sink, claims)
	if err != nil {
		return nil, fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err)
	}
	return x, nil
}

// exportCounter tells an ExportProgress the bytes read.
type exportCounter struct {
	r io.Reader
	p ExportProgress
}

func (c exportCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.ExportRead(int64(n))
	return n, err
}

// engineName is the reference as the engine knows it: familiar form for Docker Hub images.
func engineName(ref name.Reference) string {
	return ref.String()
}

type engineImage struct {
	e   *Engine
	ref name.Reference
	// diffIDs are the image's layers as the engine says it has them ("sha256:…"), bottom first.
	diffIDs []string
}

func (i *engineImage) Image(ctx context.Context, dir string) (v1.Image, error) {
	x, err := i.e.export(ctx, i.ref, dir)
	if err != nil {
		return nil, err
	}
	img, err := x.image(i.ref, i.diffIDs)
	if errors.Is(err, errImageChanged) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("docker save of %s: %w", i.ref, err)
	}
	return img, nil
}
