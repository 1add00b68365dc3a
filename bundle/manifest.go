package bundle

import (
	"encoding/json"
	"fmt"
)

// FormatVersion is the airpack.json format this build writes and the newest it reads.
const FormatVersion = 1

// Names of the files and directories of a bundle, relative to its top directory.
const (
	ComposeFile  = "docker-compose.yaml"
	EnvFile      = ".env"
	LoaderFile   = "load.sh"
	ManifestFile = "airpack.json"
	SumsFile     = "SHA256SUMS"
	SigFile      = "SHA256SUMS.sig"
	ImagesDir    = "images"
	FilesDir     = "files"
	// ImageArchive is the single image archive of a bundle, relative to the bundle directory.
	ImageArchive = ImagesDir + "/images.tar"
)

// EnvFileMode is the .env file's mode in a bundle, directory or archive: it can hold generated
// passwords (RAM templates' **None** values), so only its owner reads it.
const EnvFileMode = 0o600

// Manifest is airpack.json: enough for the loader, verify and inspect to work without opening the
// image archives.
type Manifest struct {
	FormatVersion int    `json:"formatVersion"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	// Platform is os/arch[/variant], the platform every image was packed for.
	Platform    string `json:"platform"`
	ComposeFile string `json:"composeFile"`
	// CreatedBy names the airpack build that wrote the bundle.
	CreatedBy string    `json:"createdBy,omitempty"`
	Images    []Image   `json:"images"`
	Archives  []Archive `json:"archives"`
	// Base is set for an upgrade bundle: the bundle whose images it builds on.
	Base *Base `json:"base,omitempty"`
	// HostPaths are the target host's paths the compose file mounts, as written (IsHostPath):
	// the bundle ships nothing for them; the target must provide them.
	HostPaths []string `json:"hostPaths,omitempty"`
	// Links are the symbolic links under files/ (bundle path -> relative target): links of a
	// shipped directory that stay inside it. SHA256SUMS lists regular files only; load.sh and
	// verify check these.
	Links map[string]string `json:"links,omitempty"`
}

// Image is one image the compose file names.
type Image struct {
	// Ref is the reference as the bundle's compose file names it, always with a tag
	// (e.g. "nginx:1.25", "registry.example.com/shop/web:1.0"). The archive tags the image so.
	Ref string `json:"ref"`
	// Services are the compose services that use this image.
	Services []string `json:"services"`
	// MountedBy are the compose services that mount this image as a `type: image` volume.
	MountedBy []string `json:"mountedBy,omitempty"`
	// Pin is the digest the project pinned the image to (`image: name:tag@sha256:…`): the
	// manifest digest itself, or the digest of the multi-platform index whose entry for the
	// bundle's platform is the shipped manifest. pack checked it against the image's source. The
	// compose file names the image by tag alone: Docker's classic image store cannot resolve a
	// digest for a loaded image, and load.sh checks the loaded image's ID instead.
	Pin string `json:"pin,omitempty"`
	// Source says where the image came from: "registry", "engine", "oci:DIR" or "package" (the
	// image archives of a RAM package).
	Source string `json:"source"`
	// ManifestDigest is the image ID after loading on the containerd image store.
	ManifestDigest string `json:"manifestDigest"`
	// ManifestMediaType is the media type of the manifest blob.
	ManifestMediaType string `json:"manifestMediaType"`
	// ConfigDigest is the image ID after loading on the classic image store.
	ConfigDigest string  `json:"configDigest"`
	Platform     string  `json:"platform"`
	Layers       []Layer `json:"layers"`
	// Archive is the image archive holding the image, relative to the bundle directory.
	Archive string `json:"archive"`
}

// Layer is one layer of an image, as stored in the archive.
type Layer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diffID"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// Archive is one image archive file of the bundle.
type Archive struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Base identifies the bundle an upgrade bundle builds on.
type Base struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// ManifestSHA256 is the sha256 of the base bundle's airpack.json.
	ManifestSHA256 string `json:"manifestSHA256"`
	// Layers are the layer digests the target must already have.
	Layers []string `json:"layers"`
	// Images are the base's images holding those layers: load.sh checks each is in the engine
	// (by its ID, as for the bundle's own images) before loading anything.
	Images []BaseImage `json:"images,omitempty"`
}

// BaseImage is an image of the base bundle an upgrade bundle needs on the target.
type BaseImage struct {
	Ref            string `json:"ref"`
	ConfigDigest   string `json:"configDigest"`
	ManifestDigest string `json:"manifestDigest"`
}

// Size is the sum of the image's layer sizes (compressed, as stored).
func (i Image) Size() int64 {
	var n int64
	for _, l := range i.Layers {
		n += l.Size
	}
	return n
}

// Marshal encodes the manifest as indented JSON with a trailing newline.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseManifest decodes airpack.json, refusing a format newer than this build knows.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", ManifestFile, err)
	}
	if m.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%s has format version %d, newer than this airpack understands (%d): upgrade airpack", ManifestFile, m.FormatVersion, FormatVersion)
	}
	if m.FormatVersion < 1 {
		return nil, fmt.Errorf("%s has no formatVersion: not an airpack bundle manifest", ManifestFile)
	}
	return &m, nil
}
