package imageset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry finds images in registries, with the docker config's credentials.
//
// Two retry policies apply. Lookups (a tag's or digest's manifest, at resolve time) fail fast:
// a typo or a registry that is down is reported in about a second. Layer downloads, which may
// run for minutes, are tried again: BlobAttempts times in all, waiting BlobBackoff between
// tries, each try fetching the whole blob again (a body that breaks mid-stream included).
type Registry struct {
	keychain authn.Keychain
	insecure map[string]bool
	// blobs fetches layers, with the transport's own retry off: Archive.WriteAt retries a
	// download as a whole (see BlobRetry), which the transport, retrying requests but not
	// bodies, cannot do; both would multiply the attempts.
	blobs *remote.Puller
	retry BlobRetry
}

// BlobRetry is how layer downloads from a registry are retried.
type BlobRetry struct {
	// Attempts is how many times a download is tried in all.
	Attempts int
	// Backoff is the wait between two tries; it grows by Factor each time, up to Cap.
	Backoff remote.Backoff
}

// DefaultBlobRetry tries a layer 5 times, waiting about 1, 2, 4 and 8 seconds in between.
var DefaultBlobRetry = BlobRetry{
	Attempts: 5,
	Backoff:  remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 5, Cap: 10 * time.Second},
}

// NewRegistry returns a registry source. Registries named in insecure are reached over plain
// HTTP; loopback registries always are.
func NewRegistry(keychain authn.Keychain, insecure ...string) *Registry {
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	r := &Registry{keychain: keychain, insecure: map[string]bool{}, retry: DefaultBlobRetry}
	for _, h := range insecure {
		r.insecure[h] = true
	}
	var err error
	r.blobs, err = remote.NewPuller(
		remote.WithAuthFromKeychain(r.keychain),
		remote.WithUserAgent("airpack"),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}), // one request per try: see Registry.blobs
	)
	if err != nil {
		panic(err) // only for conflicting auth options, which these are not
	}
	return r
}

// WithBlobRetry sets how layer downloads are retried (DefaultBlobRetry unless set) and
// returns r.
func (r *Registry) WithBlobRetry(b BlobRetry) *Registry {
	if b.Attempts < 1 {
		b.Attempts = 1
	}
	r.retry = b
	return r
}

func (r *Registry) String() string { return "registry" }

// Reference parses s, marking it insecure when its registry was named so.
func (r *Registry) Reference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, err
	}
	if r.insecure[ref.Context().RegistryStr()] {
		return name.ParseReference(s, name.Insecure)
	}
	return ref, nil
}

func (r *Registry) options(ctx context.Context, p v1.Platform) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.keychain),
		remote.WithPlatform(p),
		remote.WithUserAgent("airpack"),
		// Resolution must fail in seconds, not minutes of backoff.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 2}),
	}
}

func (r *Registry) Find(ctx context.Context, ref name.Reference, p v1.Platform) (Found, error) {
	if r.insecure[ref.Context().RegistryStr()] {
		var err error
		if ref, err = name.ParseReference(ref.String(), name.Insecure); err != nil {
			return nil, err
		}
	}
	desc, err := remote.Get(ref, r.options(ctx, p)...)
	if err != nil {
		return nil, r.explain(ctx, ref, p, describeRegistryError(ref, err))
	}
	var img v1.Image
	var index v1.Hash
	if desc.MediaType.IsIndex() {
		index = desc.Digest
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, describeRegistryError(ref, err)
		}
		img, err = childForPlatform(idx, p)
		if err != nil {
			return nil, err
		}
	} else {
		if img, err = desc.Image(); err != nil {
			return nil, describeRegistryError(ref, err)
		}
		if err := matchPlatform(img, p); err != nil {
			return nil, err
		}
	}
	return foundImage{img: registryImage{Image: img, ctx: ctx, repo: ref.Context(), r: r}, index: index}, nil
}

// registryImage is an image in a registry whose layers are fetched by Registry.blobs and
// retried as Archive.WriteAt downloads them.
type registryImage struct {
	v1.Image
	ctx  context.Context
	repo name.Repository
	r    *Registry
}

// LayersVerified: registry layers check their own size and digest as they are read.
func (registryImage) LayersVerified() bool { return true }

func (i registryImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &registryLayer{Layer: l, img: i, digest: h}, nil
}

// registryLayer is a layer of a registry image; each call of Compressed is one download.
type registryLayer struct {
	v1.Layer
	img    registryImage
	digest v1.Hash
}

func (l *registryLayer) Compressed() (io.ReadCloser, error) {
	bl, err := l.img.r.blobs.Layer(l.img.ctx, l.img.repo.Digest(l.digest.String()))
	if err != nil {
		return nil, err
	}
	return bl.Compressed()
}

// refetch: a failed download of the layer is tried again.
func (l *registryLayer) refetch() refetchPolicy {
	return refetchPolicy{BlobRetry: l.img.r.retry, host: l.img.repo.RegistryStr()}
}

// explain refines "no such tag": Distribution answers MANIFEST_UNKNOWN for a repository that
// does not exist at all, and telling the two apart saves the user a wrong hunt for tags.
func (r *Registry) explain(ctx context.Context, ref name.Reference, p v1.Platform, err error) error {
	if _, isTag := ref.(name.Tag); !isTag || !strings.Contains(err.Error(), "no such tag") {
		return err
	}
	tags, lerr := remote.List(ref.Context(), r.options(ctx, p)...)
	if lerr == nil && len(tags) > 0 {
		return err
	}
	var te *transport.Error
	if len(tags) == 0 && (lerr == nil || errors.As(lerr, &te) && te.StatusCode == http.StatusNotFound) {
		return fmt.Errorf("%w: repository %s does not exist in %s", ErrNotFound, ref.Context().RepositoryStr(), ref.Context().RegistryStr())
	}
	return err
}

// childForPlatform picks the manifest for p from an index, listing what it has otherwise.
func childForPlatform(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		if d.Platform.Satisfies(p) && (p.Variant != "" || d.Platform.OS == p.OS) {
			return idx.Image(d.Digest)
		}
		if d.Platform.OS != "unknown" {
			have = append(have, d.Platform.String())
		}
	}
	return nil, &PlatformError{Want: p, Have: have}
}

// describeRegistryError turns registry errors into what a user can act on.
func describeRegistryError(ref name.Reference, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.NameUnknownErrorCode:
				return fmt.Errorf("%w: repository %s does not exist in %s", ErrNotFound, ref.Context().RepositoryStr(), ref.Context().RegistryStr())
			case transport.ManifestUnknownErrorCode:
				return fmt.Errorf("%w: no such tag %s in %s", ErrNotFound, refIdentifier(ref), ref.Context().Name())
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("auth refused by %s (run `docker login %s`)", ref.Context().RegistryStr(), ref.Context().RegistryStr())
			}
		}
		switch te.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s not found in %s", ErrNotFound, refIdentifier(ref), ref.Context().Name())
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("auth refused by %s (run `docker login %s`)", ref.Context().RegistryStr(), ref.Context().RegistryStr())
		}
	}
	return fmt.Errorf("%w: registry %s unreachable or failing: %v", ErrNotFound, ref.Context().RegistryStr(), err)
}

func refIdentifier(ref name.Reference) string { return ref.Identifier() }
