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

// Layout finds images in an OCI image layout directory, by the index's name annotations. A
// reference pinned by digest ("name:tag@sha256:…") must find the pinned manifest (or the index
// holding it) under its name; one by digest alone ("name@sha256:…") finds it by the digest,
// whatever the layout names it, since the digest identifies the content.
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
	r, err := ParseRef(ref.String())
	if err != nil {
		return nil, err
	}
	byDigest := r.Pinned() && r.Tag() == ""
	for _, d := range im.Manifests {
		if byDigest {
			if f, err := l.pinned(idx, d, r.Pin, p); f != nil || err != nil {
				return f, err
			}
			continue
		}
		if !namesRef(d.Annotations, r) {
			continue
		}
		return l.image(idx, d, p)
	}
	return nil, fmt.Errorf("%w: not in OCI layout %s", ErrNotFound, l.dir)
}

// image returns the image an index entry names, for platform p.
func (l *Layout) image(idx v1.ImageIndex, d v1.Descriptor, p v1.Platform) (Found, error) {
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
		return foundImage{img: img, index: d.Digest}, nil
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("OCI layout %s: %w", l.dir, err)
		}
		if err := matchPlatform(img, p); err != nil {
			return nil, err
		}
		return foundImage{img: img}, nil
	}
	return nil, fmt.Errorf("OCI layout %s: %s has media type %s, not an image or an index", l.dir, d.Digest, d.MediaType)
}

// pinned returns the image with digest pin that entry d is or holds (as the entry of a nested
// index), nil when it has none.
func (l *Layout) pinned(idx v1.ImageIndex, d v1.Descriptor, pin v1.Hash, p v1.Platform) (Found, error) {
	if d.Digest == pin {
		return l.image(idx, d, p)
	}
	if !d.MediaType.IsIndex() {
		return nil, nil
	}
	child, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", l.dir, err)
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", l.dir, err)
	}
	for _, cd := range cm.Manifests {
		if f, err := l.pinned(child, cd, pin, p); f != nil || err != nil {
			return f, err
		}
	}
	return nil, nil
}

// namesRef reports whether an index entry's annotations name ref (its digest aside): the full
// name in io.containerd.image.name, or the reference (as written or normalised) in ref.name.
func namesRef(a map[string]string, ref Reference) bool {
	for _, k := range []string{AnnotationImageName, AnnotationRefName} {
		if n, ok := a[k]; ok && sameName(n, ref) {
			return true
		}
	}
	return false
}

// sameName reports whether s names ref's repository and tag.
func sameName(s string, ref Reference) bool {
	other, err := ParseRef(s)
	if err != nil {
		return false
	}
	return Reference{Named: other.Named}.Shipped() == Reference{Named: ref.Named}.Shipped()
}

func sameRef(s string, ref name.Reference) bool {
	other, err := name.ParseReference(s)
	if err != nil {
		return false
	}
	return other.Name() == ref.Name()
}
