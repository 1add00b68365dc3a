package imageset

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// Request is one image an application needs.
type Request struct {
	// Ref is the reference as the compose file names it.
	Ref      string
	Services []string
	// MountedBy are the services mounting the image as a `type: image` volume.
	MountedBy []string
	Platform  v1.Platform
	// Build marks an image built locally (`build:`): registries are not asked for it.
	Build bool
}

// Resolved is a request and where it was found.
type Resolved struct {
	Request
	// Shipped is the tagged reference the bundle names the image by.
	Shipped string
	// Pin is the digest the reference pins ("sha256:…"), checked against the source; "" if none.
	Pin    string
	Source string
	found  Found
}

// Image materialises the resolved image; staging files go under dir.
func (r *Resolved) Image(ctx context.Context, dir string) (v1.Image, error) {
	img, err := r.found.Image(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("image %s from %s: %w", r.Ref, r.Source, err)
	}
	return img, nil
}

// ParseReference parses a compose image reference, as docker does (Docker Hub by default).
func ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return ref, nil
}

// Resolve finds every request in the first source that has it. Build requests are looked up in
// every source but registries. It fails with one line per image that could not be resolved.
func Resolve(ctx context.Context, reqs []Request, sources []Source, opts ...Option) ([]*Resolved, error) {
	o := makeOptions(opts)
	out := make([]*Resolved, len(reqs))
	errs := make([]error, len(reqs))
	// Not errgroup.WithContext: found images keep ctx for their later blob fetches, so it must
	// outlive this call.
	var g errgroup.Group
	g.SetLimit(max(o.jobs, 4))
	for i, req := range reqs {
		g.Go(func() error {
			out[i], errs[i] = resolveOne(ctx, req, sources)
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func resolveOne(ctx context.Context, req Request, sources []Source) (*Resolved, error) {
	what := fmt.Sprintf("service %s: image %s", strings.Join(req.Services, ", "), req.Ref)
	ref, err := ParseReference(req.Ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	parsed, err := ParseRef(req.Ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	shipped := parsed.Shipped()
	var pin string
	if parsed.Pinned() {
		pin = parsed.Pin.String()
	}
	var why []string
	for _, src := range sources {
		if _, isRegistry := src.(*Registry); isRegistry && req.Build {
			continue
		}
		found, err := src.Find(ctx, ref, req.Platform)
		if err == nil {
			if err := checkPin(req.Ref, found); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", what, src, err)
			}
			return &Resolved{Request: req, Shipped: shipped, Pin: pin, Source: src.String(), found: found}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, ErrNotFound) {
			// The image is there but unusable (wrong platform, auth refused): say so, don't
			// look further and report a misleading "not found".
			return nil, fmt.Errorf("%s: %s: %s", what, src, trimNotFound(err))
		}
		why = append(why, fmt.Sprintf("%s: %s", src, trimNotFound(err)))
	}
	if req.Build {
		return nil, fmt.Errorf("%s is built by compose but not found (%s): run `docker compose build` first, or pack with --build", what, strings.Join(why, "; "))
	}
	if len(why) == 0 {
		return nil, fmt.Errorf("%s: no source to look in", what)
	}
	return nil, fmt.Errorf("%s: %s", what, strings.Join(why, "; "))
}

func trimNotFound(err error) string {
	return strings.TrimPrefix(err.Error(), ErrNotFound.Error()+": ")
}
