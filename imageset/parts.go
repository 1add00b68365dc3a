package imageset

import (
	"fmt"

	"github.com/airpack/airpack/bundle"
)

// Oversized is an image that alone makes an archive larger than the size asked for: it gets an
// archive of its own.
type Oversized struct {
	Ref string
	// Size is the size of its archive.
	Size int64
}

// PlanParts spreads images over archives of at most maxSize bytes each where possible (pack
// --max-archive-size): whole images, taken in order, each added to the current archive while it
// still fits, else starting the next one. An image whose archive alone is larger than maxSize
// gets an archive of its own and is reported in the Oversized list. The archives are named
// path(1), path(2), … and loaded in that order: each leaves out the layers an earlier archive
// stores (WithoutLayers), so every blob is stored once, in the first archive that needs it. opts
// apply to every archive; a WithoutLayers among them (the layers the target holds already) is
// kept as well.
func PlanParts(images []Image, maxSize int64, path func(n int) string, opts ...ArchiveOption) ([]*Archive, []Oversized, error) {
	var cfg archiveConfig
	for _, o := range opts {
		o(&cfg)
	}
	// held are the layer chains the archives closed so far bring (bundle.Chains): a part leaves
	// out a layer only where every image of it using the layer has it on a held chain
	// (bundle.Omittable), as Docker's classic store needs to take it from the engine.
	held := map[string]bool{}
	layers := make(map[string][]bundle.Layer, len(images)) // by ref: read once, not per plan
	for _, im := range images {
		ls, err := chainLayers(im)
		if err != nil {
			return nil, nil, err
		}
		layers[im.Ref] = ls
	}
	plan := func(n int, ims []Image) (*Archive, error) {
		var layered []bundle.Image
		for _, im := range ims {
			layered = append(layered, bundle.Image{Layers: layers[im.Ref]})
		}
		omittable := bundle.Omittable(layered, held)
		omit := WithoutLayers(func(d string) bool {
			return omittable[d] || cfg.omitLayer != nil && cfg.omitLayer(d)
		})
		return NewArchive(path(n), ims, append(append([]ArchiveOption(nil), opts...), omit)...)
	}
	var parts []*Archive
	var over []Oversized
	// Each archive takes the longest run of the images left that fits (at least one). An
	// archive only grows with each image added, so the run is found by doubling then halving
	// its length: a few plans per archive rather than one per image added.
	for i := 0; i < len(images); {
		fits := func(n int) (*Archive, bool, error) {
			a, err := plan(len(parts)+1, images[i:i+n])
			if err != nil {
				return nil, false, err
			}
			return a, a.Size() <= maxSize, nil
		}
		best, ok, err := fits(1)
		if err != nil {
			return nil, nil, err
		}
		n := 1 // images[i:i+n] fits, or is one image alone
		if ok {
			lo, hi := 1, 0 // lo fits; hi, when > 0, does not
			for hi == 0 && i+lo < len(images) {
				try := min(lo*2, len(images)-i)
				a, ok, err := fits(try)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					lo, best = try, a
				} else {
					hi = try
				}
			}
			for hi > lo+1 {
				mid := (lo + hi) / 2
				a, ok, err := fits(mid)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					lo, best = mid, a
				} else {
					hi = mid
				}
			}
			n = lo
		} else {
			over = append(over, Oversized{Ref: images[i].Ref, Size: best.Size()})
		}
		parts = append(parts, best)
		for c := range bundle.Chains(best.Images()) {
			held[c] = true
		}
		i += n
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("no images to put in archives")
	}
	return parts, over, nil
}

// Totals is each image's share of the bytes WriteAt fetches, as it gives them to
// Progress.Start.
func (a *Archive) Totals() []ImageTotal { return a.totals }

// chainLayers are an image's layers with their digests and diff IDs, bottom first.
func chainLayers(im Image) ([]bundle.Layer, error) {
	m, err := im.Image.Manifest()
	if err != nil {
		return nil, fmt.Errorf("image %s: read manifest: %w", im.Ref, err)
	}
	cf, err := im.Image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: read config: %w", im.Ref, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: %d layers but %d diff IDs in its config", im.Ref, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	ls := make([]bundle.Layer, len(m.Layers))
	for i, l := range m.Layers {
		ls[i] = bundle.Layer{Digest: l.Digest.String(), DiffID: cf.RootFS.DiffIDs[i].String()}
	}
	return ls, nil
}
