package imageset

import "fmt"

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
	stored := map[string]bool{} // the layers of the archives closed so far
	omit := WithoutLayers(func(d string) bool {
		return stored[d] || cfg.omitLayer != nil && cfg.omitLayer(d)
	})
	plan := func(n int, ims []Image) (*Archive, error) {
		return NewArchive(path(n), ims, append(append([]ArchiveOption(nil), opts...), omit)...)
	}
	var parts []*Archive
	var over []Oversized
	var cur []Image
	var curArchive *Archive
	closePart := func() {
		parts = append(parts, curArchive)
		for _, im := range curArchive.Images() {
			for _, l := range im.Layers {
				stored[l.Digest] = true
			}
		}
		if len(cur) == 1 && curArchive.Size() > maxSize {
			over = append(over, Oversized{Ref: cur[0].Ref, Size: curArchive.Size()})
		}
		cur, curArchive = nil, nil
	}
	for _, im := range images {
		a, err := plan(len(parts)+1, append(cur[:len(cur):len(cur)], im))
		if err != nil {
			return nil, nil, err
		}
		if len(cur) > 0 && a.Size() > maxSize {
			closePart()
			if a, err = plan(len(parts)+1, []Image{im}); err != nil {
				return nil, nil, err
			}
		}
		cur, curArchive = append(cur, im), a
	}
	if curArchive != nil {
		closePart()
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("no images to put in archives")
	}
	return parts, over, nil
}

// Totals is each image's share of the bytes WriteAt fetches, as it gives them to
// Progress.Start.
func (a *Archive) Totals() []ImageTotal { return a.totals }
