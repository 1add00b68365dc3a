package imageset

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Source is a place images are found.
type Source interface {
	// String names the source as airpack.json records it: "registry", "engine", "oci:DIR".
	String() string
	// Find checks that ref exists for platform p. It is cheap (no layer is read); errors
	// wrap ErrNotFound when the source does not hold the image at all.
	Find(ctx context.Context, ref name.Reference, p v1.Platform) (Found, error)
}

// Found is an image a source holds.
type Found interface {
	// Image returns the image. Sources that must convert the image first (the engine) stage
	// what they need under dir.
	Image(ctx context.Context, dir string) (v1.Image, error)
}

// ErrNotFound marks an image a source does not hold.
var ErrNotFound = errors.New("not found")

// PlatformError reports an image that exists but not for the platform asked for.
type PlatformError struct {
	Want v1.Platform
	Have []string
}

func (e *PlatformError) Error() string {
	if len(e.Have) == 0 {
		return fmt.Sprintf("no manifest for platform %s", e.Want.String())
	}
	return fmt.Sprintf("no manifest for platform %s (image has %v)", e.Want.String(), e.Have)
}

// foundImage is an image a source holds; index is the digest of the index it was picked from
// for the platform, if any (a pinned digest may name either).
type foundImage struct {
	img   v1.Image
	index v1.Hash
}

func (f foundImage) Image(context.Context, string) (v1.Image, error) { return f.img, nil }

// matchPlatform reports whether the image's config is for platform p.
func matchPlatform(img v1.Image, p v1.Platform) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("read image config: %w", err)
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if have.OS == p.OS && have.Architecture == p.Architecture && (p.Variant == "" || have.Variant == p.Variant) {
		return nil
	}
	if have.OS == "" {
		return &PlatformError{Want: p} // an image config that names no platform at all
	}
	return &PlatformError{Want: p, Have: []string{have.String()}}
}

// ParsePlatform parses os/arch[/variant].
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, err)
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	return *p, nil
}
