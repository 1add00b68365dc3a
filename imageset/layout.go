package imageset

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Annotations naming an image in an OCI index.
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// Layout finds images in an OCI image layout directory, by the index's name annotations.
type Layout struct {
	dir string
}

// NewLayout returns a source over the OCI layout in dir.
func NewLayout(dir string) *Layout { return &Layout{dir: dir} }

func (l *Layout) String() string { return "oci:" + l.dir }

func (l *Layout) Find(ctx context.Context, ref name.Reference, p v1.Platform) (Found, error) {
	idx, err := layout.ImageIndexFromPath(l.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: OCI layout %s: %v", ErrNotFound, l.dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", l.dir, err)
	}
	for _, d := range im.Manifests {
		if !namesRef(d.Annotations, ref) {
			continue
		}
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("OCI layout %s: %w", l.dir, err)
			}
			img, err := childForPlatform(child, p)
			if err != nil {
				return nil, err
			}
			return foundImage{img}, nil
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("OCI layout %s: %w", l.dir, err)
			}
			if err := matchPlatform(img, p); err != nil {
				return nil, err
			}
			return foundImage{img}, nil
		}
	}
	return nil, fmt.Errorf("%w: not in OCI layout %s", ErrNotFound, l.dir)
}

// namesRef reports whether an index entry's annotations name ref: the full name in
// io.containerd.image.name, or the reference (as written or normalised) in ref.name.
func namesRef(a map[string]string, ref name.Reference) bool {
	if n, ok := a[AnnotationImageName]; ok && sameRef(n, ref) {
		return true
	}
	if n, ok := a[AnnotationRefName]; ok && sameRef(n, ref) {
		return true
	}
	return false
}

func sameRef(s string, ref name.Reference) bool {
	other, err := name.ParseReference(s)
	if err != nil {
		return false
	}
	return other.Name() == ref.Name()
}
