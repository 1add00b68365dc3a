package pack

import (
	"bytes"
	"context"
	"fmt"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/imageset"
)

// imageWriting is how a bundle's images are written and described.
type imageWriting struct {
	files    []bundle.File // load.sh and airpack.json
	archives []bundle.ArchiveWriter
	warnings []string
	// result gives, once the bundle is written, its upgrade (nil for a full bundle), the image
	// archives' bytes, and those the archives of the full bundle would have.
	result func() (upgrade *bundle.Upgrade, archiveBytes, fullSize int64)
}

// describer gives airpack.json and load.sh for the manifest as it stands.
type describer func() (manifestJSON, script []byte, err error)

// plannedImages plans the image archives before their first byte, from every blob's size and
// digest: images/images.tar, or its parts (--max-archive-size); an upgrade leaves out the
// layers the base holds (bundle.PlanUpgrade). It sets m's images, archives and base.
func plannedImages(images []imageset.Image, m, base *bundle.Manifest, baseJSON []byte, describe describer, opts *Options) (*imageWriting, error) {
	archives, warnings, err := imageArchives(images, opts.MaxArchiveSize)
	if err != nil {
		return nil, err
	}
	fullSize := archivesSize(archives)
	var upgrade *bundle.Upgrade
	if base != nil {
		full, _, _ := archiveList(archives)
		u := bundle.PlanUpgrade(base, &bundle.Manifest{Images: full})
		upgrade, m.Base = &u, u.Base(base, baseJSON)
		if archives, warnings, err = imageArchives(images, opts.MaxArchiveSize, imageset.WithoutLayers(u.Omits)); err != nil {
			return nil, err
		}
	}
	var archiveBytes int64
	m.Images, m.Archives, archiveBytes = archiveList(archives)
	manifestJSON, script, err := describe()
	if err != nil {
		return nil, err
	}
	opts.logf("writing %s (%d images, %s)", opts.Output, len(images), bundle.HumanSize(archiveBytes))
	return &imageWriting{
		files: []bundle.File{
			{Name: bundle.LoaderFile, Body: script, Mode: 0o755},
			{Name: bundle.ManifestFile, Body: manifestJSON},
		},
		archives: archiveWriters(archives, opts.Jobs, opts.Progress),
		warnings: warnings,
		result:   func() (*bundle.Upgrade, int64, int64) { return upgrade, archiveBytes, fullSize },
	}, nil
}

// streamedImages writes images/images.tar as the docker engine's export of the images it has
// (their Deferred) arrives (imageset.StreamArchive); an upgrade leaves out, as they are written,
// the layers whose content the base holds on the same layers below (bundle.OmittableDiffIDs).
// airpack.json and load.sh describe the archive's layers, known only once it is written: they
// get the space their description at its longest takes (StreamArchive.Skeleton; for an upgrade
// every layer reused, every base image needed) and are written afterwards, padded with newlines
// to it. It sets m's images, archives and base, the real ones once the bundle is written.
func streamedImages(images []imageset.Image, m, base *bundle.Manifest, baseJSON []byte, describe describer, opts *Options) (*imageWriting, error) {
	sa, err := imageset.NewStreamArchive(bundle.ImageArchive, images)
	if err != nil {
		return nil, err
	}
	if m.Images, err = sa.Skeleton(); err != nil {
		return nil, err
	}
	m.Archives = []bundle.Archive{{Path: sa.Path(), Size: imageset.MaxSize}}
	if base != nil {
		heldDigests := map[string]string{} // the base's layers: digest -> diff ID
		var most bundle.Upgrade
		for _, im := range base.Images {
			for _, l := range im.Layers {
				heldDigests[l.Digest] = l.DiffID
			}
			most.Needs = append(most.Needs, bundle.BaseImage{Ref: im.Ref, ConfigDigest: im.ConfigDigest, ManifestDigest: im.ManifestDigest})
		}
		for _, im := range m.Images {
			most.Reused = append(most.Reused, im.Layers...)
		}
		sa.LeaveOut(bundle.OmittableDiffIDs(m.Images, bundle.Chains(base.Images)), heldDigests)
		m.Base = most.Base(base, baseJSON)
	}
	maxJSON, maxScript, err := describe()
	if err != nil {
		return nil, err
	}
	var manifestJSON, script []byte
	var upgrade *bundle.Upgrade
	// finish describes the written archive, once.
	finish := func() error {
		if manifestJSON != nil {
			return nil
		}
		m.Images, m.Archives = sa.Images(), []bundle.Archive{{Path: sa.Path(), Size: sa.Size()}}
		if base != nil {
			left := map[string]bool{}
			for d := range sa.LeftOut() {
				left[d] = true
			}
			u, err := bundle.UpgradeLeaving(base, m, left)
			if err != nil {
				return err
			}
			upgrade, m.Base = &u, u.Base(base, baseJSON)
		}
		var err error
		manifestJSON, script, err = describe()
		return err
	}
	late := func(which *[]byte, reserve int) func() ([]byte, error) {
		return func() ([]byte, error) {
			if err := finish(); err != nil {
				return nil, err
			}
			return padTo(*which, reserve)
		}
	}
	n := 0
	for _, im := range images {
		if im.Deferred != nil {
			n++
		}
	}
	opts.logf("writing %s (%d images, %d of them read from the docker engine as the archive is written)", opts.Output, len(images), n)
	return &imageWriting{
		files: []bundle.File{
			{Name: bundle.LoaderFile, Mode: 0o755, Late: late(&script, len(maxScript)), Reserve: int64(len(maxScript))},
			{Name: bundle.ManifestFile, Late: late(&manifestJSON, len(maxJSON)), Reserve: int64(len(maxJSON))},
		},
		archives: []bundle.ArchiveWriter{streamWriter{sa, []imageset.Option{imageset.WithJobs(opts.Jobs), imageset.WithProgress(opts.Progress)}}},
		result: func() (*bundle.Upgrade, int64, int64) {
			// The full archive: this one and the layers it left out.
			full := sa.Size()
			for _, n := range sa.LeftOut() {
				full += n
			}
			return upgrade, sa.Size(), full
		},
	}, nil
}

// padTo pads b with newlines to n bytes: airpack.json and load.sh end in blank lines where
// their description of a streamed archive is shorter than the space kept for it.
func padTo(b []byte, n int) ([]byte, error) {
	if len(b) > n {
		return nil, fmt.Errorf("internal error: a description of %d bytes, more than the %d kept for it", len(b), n)
	}
	return append(b, bytes.Repeat([]byte("\n"), n-len(b))...), nil
}

type streamWriter struct {
	*imageset.StreamArchive
	opts []imageset.Option
}

func (a streamWriter) WriteAt(ctx context.Context, w bundle.ReadWriterAt, base int64) (string, error) {
	return a.StreamArchive.WriteAt(ctx, w, base, a.opts...)
}
