package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/imageset"
)

// logger prints step lines, and image transfer progress: bars on a terminal, plain lines
// (one per image done, and a summary) otherwise.
type logger struct {
	w     io.Writer
	quiet bool
	tty   bool

	mu     sync.Mutex
	p      *mpb.Progress
	bars   []*mpb.Bar
	totals []imageset.ImageTotal
	done   []int64
	start  time.Time

	// The docker engine's export, read before the other images are fetched.
	export      *mpb.Bar
	exported    int64
	exportStart time.Time
}

func newLogger(w *os.File, quiet bool) *logger {
	return &logger{w: w, quiet: quiet, tty: term.IsTerminal(int(w.Fd()))}
}

func (l *logger) logf(format string, args ...any) {
	if l.quiet {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

func (l *logger) progress() imageset.Progress {
	if l.quiet {
		return nil
	}
	return l
}

// Start implements imageset.Progress.
func (l *logger) Start(totals []imageset.ImageTotal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.totals, l.done, l.start = totals, make([]int64, len(totals)), time.Now()
	if !l.tty {
		return
	}
	l.startBars()
	for _, t := range totals {
		bar := l.p.AddBar(t.Bytes,
			mpb.PrependDecorators(decor.Name(t.Ref, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
			mpb.AppendDecorators(
				decor.Counters(decor.SizeB1000(0), "% .1f / % .1f"),
				decor.Name("  "),
				decor.AverageSpeed(decor.SizeB1000(0), "% .1f", decor.WCSyncSpace),
			),
		)
		if t.Bytes == 0 {
			bar.SetTotal(0, true)
		}
		l.bars = append(l.bars, bar)
	}
}

// startBars starts the progress bars' container, once.
func (l *logger) startBars() {
	if l.p == nil {
		l.p = mpb.New(mpb.WithOutput(l.w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	}
}

// ExportRead implements imageset.ExportProgress: a bar of unknown total on a terminal.
func (l *logger) ExportRead(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exportStart.IsZero() {
		l.exportStart = time.Now()
		if l.tty {
			l.startBars()
			l.export = l.p.AddSpinner(0,
				mpb.PrependDecorators(decor.Name("docker save (compressed as it arrives)", decor.WC{C: decor.DindentRight | decor.DextraSpace})),
				mpb.AppendDecorators(decor.Current(decor.SizeB1000(0), "% .1f"), decor.Name("  "), decor.AverageSpeed(decor.SizeB1000(0), "% .1f", decor.WCSyncSpace)))
		}
	}
	l.exported += n
	if l.export != nil {
		l.export.IncrInt64(n)
	}
}

// ExportDone implements imageset.ExportProgress.
func (l *logger) ExportDone() {
	l.mu.Lock()
	bar, n, start := l.export, l.exported, l.exportStart
	l.mu.Unlock()
	if start.IsZero() {
		return
	}
	if bar != nil {
		bar.SetTotal(-1, true) // the completed bar stays, with what was read
		return
	}
	secs := time.Since(start).Seconds()
	l.logf("read %s from the docker engine in %.1fs (%s/s)", bundle.HumanSize(n), secs, bundle.HumanSize(int64(float64(n)/max(secs, 0.001))))
}

// Add implements imageset.Progress.
func (l *logger) Add(i int, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done[i] += n
	if l.tty {
		l.bars[i].IncrInt64(n)
		return
	}
	if l.done[i] == l.totals[i].Bytes {
		fmt.Fprintf(l.w, "fetched %s (%s)\n", l.totals[i].Ref, bundle.HumanSize(l.totals[i].Bytes))
	}
}

// finish stops the bars (completed on success, aborted on failure) and prints the transfer
// summary.
func (l *logger) finish(failed bool) {
	l.mu.Lock()
	p, start := l.p, l.start
	var total int64
	for _, n := range l.done {
		total += n
	}
	l.mu.Unlock()
	if start.IsZero() && p == nil {
		return
	}
	secs := time.Since(start).Seconds()
	if p != nil {
		if l.export != nil && !l.export.Completed() {
			l.export.Abort(false)
		}
		for _, b := range l.bars {
			if failed || !b.Completed() {
				b.Abort(false)
			}
		}
		p.Wait()
	}
	// Nothing fetched: every image came from the docker engine, read as the archive was written.
	if !failed && total > 0 {
		l.logf("fetched %s in %.1fs (%s/s)", bundle.HumanSize(total), secs, bundle.HumanSize(int64(float64(total)/max(secs, 0.001))))
	}
}
