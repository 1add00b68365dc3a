package pack

import (
	"fmt"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/imageset"
)

// imageArchives plans the bundle's image archives: the one images/images.tar, or, with
// maxSize > 0 (--max-archive-size) and images that do not fit in one archive of that size,
// images/part-1.tar, part-2.tar, … (imageset.PlanParts), loaded in that order. The warnings
// name each image alone larger than maxSize.
func imageArchives(images []imageset.Image, maxSize int64, opts ...imageset.ArchiveOption) ([]*imageset.Archive, []string, error) {
	if maxSize > 0 {
		parts, over, err := imageset.PlanParts(images, maxSize, bundle.ImagePartArchive, opts...)
		if err != nil {
			return nil, nil, err
		}
		if len(parts) > 1 {
			var warnings []string
			for _, o := range over {
				warnings = append(warnings, fmt.Sprintf("image %s alone takes %s, more than --max-archive-size (%d bytes): it has an archive of its own", o.Ref, bundle.HumanSize(o.Size), maxSize))
			}
			return parts, warnings, nil
		}
		// Everything fits in one archive: an ordinary bundle.
	}
	a, err := imageset.NewArchive(bundle.ImageArchive, images, opts...)
	if err != nil {
		return nil, nil, err
	}
	return []*imageset.Archive{a}, nil, nil
}

// archiveList is what airpack.json says of archives: their images, in load order, and the
// archives themselves.
func archiveList(archives []*imageset.Archive) ([]bundle.Image, []bundle.Archive, int64) {
	var images []bundle.Image
	var list []bundle.Archive
	var total int64
	for _, a := range archives {
		images = append(images, a.Images()...)
		list = append(list, bundle.Archive{Path: a.Path(), Size: a.Size()})
		total += a.Size()
	}
	return images, list, total
}

// archiveWriters writes archives with jobs fetches at once, reporting to progress: archives
// after the first report as the images after those of the earlier ones, so progress is started
// once for all the bundle's images (imageset.Progress).
func archiveWriters(archives []*imageset.Archive, jobs int, progress imageset.Progress) []bundle.ArchiveWriter {
	var aws []bundle.ArchiveWriter
	if len(archives) > 1 && progress != nil {
		var totals []imageset.ImageTotal
		for _, a := range archives {
			totals = append(totals, a.Totals()...)
		}
		progress.Start(totals)
	}
	offset := 0
	for _, a := range archives {
		p := progress
		if len(archives) > 1 && progress != nil {
			p = partProgress{progress, offset}
		}
		offset += len(a.Totals())
		aws = append(aws, archiveWriter{a, []imageset.Option{imageset.WithJobs(jobs), imageset.WithProgress(p)}})
	}
	return aws
}

// partProgress is the progress of one archive of several: started with all of them.
type partProgress struct {
	p      imageset.Progress
	offset int
}

func (partProgress) Start([]imageset.ImageTotal) {}

func (pp partProgress) Add(i int, n int64) { pp.p.Add(pp.offset+i, n) }

// archivesSize is the archives' total size in bytes.
func archivesSize(archives []*imageset.Archive) int64 {
	_, _, n := archiveList(archives)
	return n
}
