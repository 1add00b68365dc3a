package bundle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/distribution/reference"
)

// ReadBase reads the airpack.json of the bundle an upgrade builds on (`airpack pack --base`):
// path is a bundle directory, a bundle archive (read only up to its airpack.json), or that
// airpack.json itself. It returns the manifest and its exact bytes, whose sha256 the upgrade
// records (Upgrade.Base).
func ReadBase(ctx context.Context, path string) (*Manifest, []byte, error) {
	b, err := ReadBaseFiles(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return b.Manifest, b.ManifestJSON, nil
}

// BaseFiles are what ReadBaseFiles reads of the bundle an upgrade builds on.
type BaseFiles struct {
	Manifest *Manifest
	// ManifestJSON are the exact bytes of its airpack.json.
	ManifestJSON []byte
	// Env is its .env, nil when it has none.
	Env []byte
	// Bare is set when the base was given as its airpack.json alone: its .env is unknown.
	Bare bool
}

// ReadBaseFiles is ReadBase, with the base's .env when path is a bundle (directory, archive or
// parts) rather than its airpack.json: pack --ram --base keeps the values the base generated.
// It reads what `airpack diff` reads of a side (ReadDiffSide): an archive only up to its image
// archives.
func ReadBaseFiles(ctx context.Context, path string) (*BaseFiles, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open base bundle: %w", err)
	}
	side, err := ReadDiffSide(ctx, path)
	var nm noManifestError
	if errors.As(err, &nm) {
		return nil, fmt.Errorf("%s has no %s: not an airpack bundle", path, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	m := side.Manifest
	if m.Name == "" || m.Version == "" || m.Platform == "" || len(m.Images) == 0 {
		return nil, fmt.Errorf("%s of %s lacks the bundle's name, version, platform or images: not a bundle airpack wrote", ManifestFile, path)
	}
	return &BaseFiles{Manifest: m, ManifestJSON: side.ManifestJSON, Env: side.Env, Bare: side.Form == FormManifest}, nil
}

var baseDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// BaseProblems are what is wrong with an upgrade bundle's base record b, as `verify` reports it
// and load.sh generation refuses it: its name and version, manifestSHA256, every layer a sha256
// digest, and the images load.sh checks before loading (step 4): at least one when layers are
// left out, each a tagged reference with well-formed digests.
func BaseProblems(b *Base) []string {
	var out []string
	if b.Name == "" || b.Version == "" {
		out = append(out, "base: no name or version")
	}
	if !isSHA256Hex(b.ManifestSHA256) {
		out = append(out, fmt.Sprintf("base: manifestSHA256 %q is not 64 hex digits", b.ManifestSHA256))
	}
	for _, d := range b.Layers {
		if !baseDigestRE.MatchString(d) {
			out = append(out, fmt.Sprintf("base: layer %q is not sha256:<64 hex digits>", d))
		}
	}
	if len(b.Layers) > 0 && len(b.Images) == 0 {
		out = append(out, "base: lists layers but no images: load.sh could not check the target holds them")
	}
	for _, im := range b.Images {
		if named, err := reference.ParseNormalizedNamed(im.Ref); err != nil {
			out = append(out, fmt.Sprintf("base: image %q is not a valid reference: %v", im.Ref, err))
		} else if _, ok := named.(reference.Tagged); !ok {
			out = append(out, fmt.Sprintf("base: image %q has no tag", im.Ref))
		}
		if !baseDigestRE.MatchString(im.ConfigDigest) || !baseDigestRE.MatchString(im.ManifestDigest) {
			out = append(out, fmt.Sprintf("base: image %s: config and manifest digests must be sha256:<64 hex digits>", im.Ref))
		}
	}
	return out
}

// SamePlatform reports whether platforms a and b (os/arch[/variant]) are one: a variant counts
// only when both name one, as for a service's platform (bundle.Platform).
func SamePlatform(a, b string) bool { return samePlatform(a, b) }
