package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// ReadManifest reads the airpack.json of the bundle at path (a directory or an archive, see
// Walk) and nothing more: an archive is read only up to it.
//
// A bundle archive split in parts (FindParts) is read from its first parts; their checksums are
// not checked (VerifyBundle does).
func ReadManifest(ctx context.Context, path string) (*Manifest, error) {
	ps, err := FindParts(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil && ps == nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	if ps == nil && fi.IsDir() {
		b, err := os.ReadFile(filepath.Join(path, ManifestFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: not an airpack bundle", path, ManifestFile)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ManifestFile, err)
		}
		return ParseManifest(b)
	}
	var data []byte
	err = Walk(ctx, path, func(name string, r io.Reader, size int64) error {
		if name != ManifestFile {
			return nil
		}
		if size > maxSmallFile {
			return fmt.Errorf("%s in %s is too large (%s) to be a bundle manifest", ManifestFile, path, HumanSize(size))
		}
		var err error
		if data, err = io.ReadAll(r); err != nil {
			return fmt.Errorf("read %s: %w", ManifestFile, err)
		}
		return fs.SkipAll
	})
	// Links and the like do not matter here, only whether airpack.json was found.
	if _, err := splitEntryErrors(err); err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("%s has no %s: not an airpack bundle", path, ManifestFile)
	}
	return ParseManifest(data)
}

// Report is what `airpack inspect` shows of a bundle, from its airpack.json alone.
type Report struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Platform    string `json:"platform"`
	ComposeFile string `json:"composeFile"`
	// Base is set for an upgrade bundle.
	Base *Base `json:"base,omitempty"`
	// HostPaths are the target host's paths the compose file mounts (airpack.json).
	HostPaths    []string       `json:"hostPaths"`
	Services     []ServiceImage `json:"services"`
	Images       []ImageReport  `json:"images"`
	SharedLayers []SharedLayer  `json:"sharedLayers"`
	// Layers is the number of distinct layers.
	Layers int `json:"layers"`
	// TotalSize is the size of the distinct layers, each shared layer counted once.
	TotalSize int64 `json:"totalSize"`
	// UnsharedSize is the sum of the images' sizes: what they would take if they shared nothing.
	UnsharedSize int64 `json:"unsharedSize"`
	// BaseSize is the part of TotalSize an upgrade bundle leaves out: the layers of its base.
	BaseSize int64 `json:"baseSize,omitempty"`
}

// ServiceImage is a compose service and the image it runs.
type ServiceImage struct {
	Service string `json:"service"`
	Image   string `json:"image"`
	// Volume marks an image the service mounts as a `type: image` volume.
	Volume bool `json:"volume,omitempty"`
	// Pin is the digest the project pinned the image to, if any.
	Pin string `json:"pin,omitempty"`
}

// ImageReport is one image of the bundle.
type ImageReport struct {
	Ref            string `json:"ref"`
	Source         string `json:"source"`
	Platform       string `json:"platform"`
	ManifestDigest string `json:"manifestDigest"`
	ConfigDigest   string `json:"configDigest"`
	Layers         int    `json:"layers"`
	// Size is the sum of the image's layer sizes, as stored (compressed).
	Size int64 `json:"size"`
}

// SharedLayer is a layer more than one image uses, shipped once.
type SharedLayer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Images are the refs of the images using it, in airpack.json's order.
	Images []string `json:"images"`
}

// NewReport describes the bundle whose manifest is m.
func NewReport(m *Manifest) Report {
	r := Report{
		Name:         m.Name,
		Version:      m.Version,
		Platform:     m.Platform,
		ComposeFile:  m.ComposeFile,
		Base:         m.Base,
		HostPaths:    append([]string{}, m.HostPaths...),
		Services:     []ServiceImage{},
		Images:       []ImageReport{},
		SharedLayers: []SharedLayer{},
	}
	if r.ComposeFile == "" {
		r.ComposeFile = ComposeFile
	}
	base := map[string]bool{}
	if m.Base != nil {
		for _, d := range m.Base.Layers {
			base[d] = true
		}
	}
	type layerUse struct {
		size   int64
		images []string
	}
	layers := map[string]*layerUse{}
	for _, im := range m.Images {
		for _, s := range im.Services {
			r.Services = append(r.Services, ServiceImage{Service: s, Image: im.Ref, Pin: im.Pin})
		}
		for _, s := range im.MountedBy {
			r.Services = append(r.Services, ServiceImage{Service: s, Image: im.Ref, Volume: true, Pin: im.Pin})
		}
		r.Images = append(r.Images, ImageReport{
			Ref:            im.Ref,
			Source:         im.Source,
			Platform:       im.Platform,
			ManifestDigest: im.ManifestDigest,
			ConfigDigest:   im.ConfigDigest,
			Layers:         len(im.Layers),
			Size:           im.Size(),
		})
		r.UnsharedSize += im.Size()
		for _, l := range im.Layers {
			u := layers[l.Digest]
			if u == nil {
				u = &layerUse{size: l.Size}
				layers[l.Digest] = u
				r.Layers++
				r.TotalSize += l.Size
				if base[l.Digest] {
					r.BaseSize += l.Size
				}
			}
			// An image may repeat a layer (empty layers often are): count the image once.
			if n := len(u.images); n == 0 || u.images[n-1] != im.Ref {
				u.images = append(u.images, im.Ref)
			}
		}
	}
	sort.SliceStable(r.Services, func(i, j int) bool {
		a, b := r.Services[i], r.Services[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return !a.Volume && b.Volume
	})
	for d, u := range layers {
		if len(u.images) > 1 {
			r.SharedLayers = append(r.SharedLayers, SharedLayer{Digest: d, Size: u.size, Images: u.images})
		}
	}
	// Largest first: they are what sharing saves.
	sort.Slice(r.SharedLayers, func(i, j int) bool {
		a, b := r.SharedLayers[i], r.SharedLayers[j]
		if a.Size != b.Size {
			return a.Size > b.Size
		}
		return a.Digest < b.Digest
	})
	return r
}

// WriteText writes the report as aligned tables, sizes in decimal units ("12.3 MB") and digests
// shortened as docker shows image IDs.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	p("Bundle:\t%s %s\n", r.Name, r.Version)
	p("Platform:\t%s\n", r.Platform)
	p("Compose file:\t%s\n", r.ComposeFile)
	if r.Base != nil {
		p("Upgrade of:\t%s %s (expects %d layers, %s, on the target)\n", r.Base.Name, r.Base.Version, len(r.Base.Layers), HumanSize(r.BaseSize))
		if len(r.Base.Images) > 0 {
			refs := make([]string, len(r.Base.Images))
			for i, im := range r.Base.Images {
				refs[i] = im.Ref
			}
			p("Needs loaded:\t%s (images of %s %s, checked by load.sh)\n", strings.Join(refs, ", "), r.Base.Name, r.Base.Version)
		}
	}

	if len(r.HostPaths) > 0 {
		p("Host paths:\t%s (the target's, not in the bundle)\n", strings.Join(r.HostPaths, ", "))
	}

	p("\nSERVICE\tIMAGE\n")
	for _, s := range r.Services {
		img := s.Image
		if s.Pin != "" {
			img += " (pinned " + shortDigest(s.Pin) + ")"
		}
		if s.Volume {
			img += " (type: image volume)"
		}
		p("%s\t%s\n", s.Service, img)
	}

	p("\nIMAGE\tSOURCE\tPLATFORM\tLAYERS\tSIZE\tIMAGE ID (CONFIG)\tMANIFEST\n")
	for _, im := range r.Images {
		p("%s\t%s\t%s\t%d\t%s\t%s\t%s\n", im.Ref, im.Source, im.Platform, im.Layers, HumanSize(im.Size), shortDigest(im.ConfigDigest), shortDigest(im.ManifestDigest))
	}

	if len(r.SharedLayers) > 0 {
		p("\nSHARED LAYER\tSIZE\tIMAGES\n")
		for _, l := range r.SharedLayers {
			p("%s\t%s\t%s\n", shortDigest(l.Digest), HumanSize(l.Size), strings.Join(l.Images, ", "))
		}
	}

	p("\nTotal: %s in %d distinct layers", HumanSize(r.TotalSize), r.Layers)
	if r.UnsharedSize != r.TotalSize {
		p(" (%s without sharing)", HumanSize(r.UnsharedSize))
	}
	p("\n")
	return tw.Flush()
}

// HumanSize humanises a byte count in decimal units, as docker does: "512 B", "12.3 MB".
func HumanSize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n)/1000, 0
	// 999.95 would print as "1000.0": move up a unit first.
	for f >= 999.95 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
