package imageset

import (
	"fmt"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Reference is a compose image reference as docker reads it.
type Reference struct {
	// Named is the normalised reference ("nginx" is docker.io/library/nginx), tag and digest
	// as written.
	Named reference.Named
	// Pin is the digest the reference pins the image to ("name:tag@sha256:…", "name@sha256:…"),
	// the zero Hash when it pins none.
	Pin v1.Hash
}

// ParseRef parses a compose image reference as docker does (Docker Hub by default).
func ParseRef(s string) (Reference, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	r := Reference{Named: named}
	if d, ok := named.(reference.Digested); ok {
		h, err := v1.NewHash(d.Digest().String())
		if err != nil {
			return Reference{}, fmt.Errorf("invalid image reference %q: %w", s, err)
		}
		r.Pin = h
	}
	return r, nil
}

// Pinned reports whether the reference pins a digest.
func (r Reference) Pinned() bool { return r.Pin.Hex != "" }

// Tag is the reference's tag, "" when it has none.
func (r Reference) Tag() string {
	if t, ok := r.Named.(reference.Tagged); ok {
		return t.Tag()
	}
	return ""
}

// Familiar is the reference as docker shows it ("nginx:1.25", "alpine:3.19@sha256:…"), with
// ":latest" added when it has neither tag nor digest: the one spelling of every way of writing
// the same image ("nginx", "nginx:latest", "docker.io/library/nginx:latest").
func (r Reference) Familiar() string {
	return reference.FamiliarString(reference.TagNameOnly(r.Named))
}

// Shipped is the tagged reference the bundle ships the image under, in docker's familiar form:
// the reference's tag (":latest" when it has neither tag nor digest), and for a reference by
// digest alone the tag "sha256-<hex>", because `docker load` restores tags, not digests.
func (r Reference) Shipped() string {
	repo := reference.TrimNamed(r.Named)
	tag := r.Tag()
	switch {
	case tag != "":
	case r.Pinned():
		tag = r.Pin.Algorithm + "-" + r.Pin.Hex
	default:
		tag = "latest"
	}
	t, err := reference.WithTag(repo, tag)
	if err != nil { // a digest's hex is longer than a tag may be: cannot happen for sha256
		return reference.FamiliarName(repo) + ":" + tag
	}
	return reference.FamiliarString(t)
}

// ShippedRef is the tagged reference the bundle uses for the compose reference s (see
// Reference.Shipped).
func ShippedRef(s string) (string, error) {
	r, err := ParseRef(s)
	if err != nil {
		return "", err
	}
	return r.Shipped(), nil
}

// checkPin checks that an image found for a pinned reference is the pinned one: its manifest
// has the pinned digest, or it was picked for the platform from the index that has it.
func checkPin(s string, found Found) error {
	r, err := ParseRef(s)
	if err != nil || !r.Pinned() {
		return err
	}
	fi, ok := found.(foundImage)
	if !ok {
		return fmt.Errorf("cannot check the pinned digest %s", r.Pin)
	}
	if fi.index == r.Pin {
		return nil
	}
	got, err := fi.img.Digest()
	if err != nil {
		return fmt.Errorf("read manifest digest: %w", err)
	}
	if got != r.Pin {
		what := "has digest"
		if fi.index.Hex != "" {
			what = fmt.Sprintf("has index digest %s, manifest digest", fi.index)
		}
		return fmt.Errorf("pinned to digest %s, but the image found %s %s: the source holds another image under this name", r.Pin, what, got)
	}
	return nil
}
