package demo

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// WriteLayout writes images into a new OCI image layout at dir, each named by its reference in
// the org.opencontainers.image.ref.name annotation, as `airpack pack --source oci:DIR` reads it.
func WriteLayout(dir string, images map[string]v1.Image, order []string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("create OCI layout %s: %w", dir, err)
	}
	for _, ref := range order {
		if err := p.AppendImage(images[ref], layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
			return fmt.Errorf("write %s to %s: %w", ref, dir, err)
		}
	}
	return nil
}
