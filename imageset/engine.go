package imageset

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// Engine finds images in the local Docker engine (the one DOCKER_HOST or the default socket
// names). Images are exported with `docker save` and their layers gzip-compressed once into a
// staging directory, so the archive gets compressed layers and the image keeps its config
// digest, the image ID of the classic store.
type Engine struct {
	once sync.Once
	cli  *client.Client
	err  error
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
	return &engineImage{e: e, ref: ref}, nil
}

// engineName is the reference as the engine knows it: familiar form for Docker Hub images.
func engineName(ref name.Reference) string {
	return ref.String()
}

type engineImage struct {
	e   *Engine
	ref name.Reference
}

func (i *engineImage) Image(ctx context.Context, dir string) (v1.Image, error) {
	cli, err := i.e.client()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "engine-save-*.tar")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rc, err := cli.ImageSave(ctx, []string{engineName(i.ref)})
	if err != nil {
		return nil, fmt.Errorf("docker save %s: %w", i.ref, err)
	}
	_, err = io.Copy(f, rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("docker save %s: %w", i.ref, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	img, err := tarball.ImageFromPath(f.Name(), nil)
	if err != nil {
		return nil, fmt.Errorf("read docker save of %s: %w", i.ref, err)
	}
	return stage(ctx, img, dir)
}
