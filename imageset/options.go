package imageset

// Option configures Resolve and Archive.WriteAt.
type Option func(*options)

type options struct {
	jobs     int
	progress Progress
}

func makeOptions(opts []Option) options {
	o := options{jobs: 4, progress: nopProgress{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.jobs < 1 {
		o.jobs = 1
	}
	return o
}

// WithJobs sets how many blobs are fetched (or images resolved) at once; default 4.
func WithJobs(n int) Option { return func(o *options) { o.jobs = n } }

// WithProgress reports the bytes written per image.
func WithProgress(p Progress) Option {
	return func(o *options) {
		if p != nil {
			o.progress = p
		}
	}
}

// Progress receives the progress of Archive.WriteAt. Calls may come from several goroutines.
type Progress interface {
	// Start is called once with the bytes to fetch for each image, in the archive's image
	// order; a blob shared by several images counts for the first.
	Start(totals []ImageTotal)
	// Add is called as n more bytes of image i were written.
	Add(i int, n int64)
}

// ExportProgress is implemented by a Progress that also shows the docker engine's export while
// a StreamArchive reads it (the bytes of `docker save`, uncompressed, whose total the engine
// does not say). ExportDone follows the last ExportRead, before Start.
type ExportProgress interface {
	ExportRead(n int64)
	ExportDone()
}

// ImageTotal is one image's share of the bytes to fetch.
type ImageTotal struct {
	Ref   string
	Bytes int64
}

type nopProgress struct{}

func (nopProgress) Start([]ImageTotal) {}
func (nopProgress) Add(int, int64)     {}
