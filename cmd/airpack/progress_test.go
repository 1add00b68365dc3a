package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/airpack/airpack/imageset"
)

// Off a terminal, progress is plain lines: one per image fetched, then a summary.
func TestProgressPlainLines(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(w, false)
	if l.tty {
		t.Fatal("a pipe taken for a terminal")
	}
	l.Start([]imageset.ImageTotal{{Ref: "a:1", Bytes: 1000}, {Ref: "b:1", Bytes: 500}})
	l.Add(0, 400)
	l.Add(1, 500)
	l.Add(0, 600)
	l.finish(false)
	w.Close()
	b, _ := io.ReadAll(r)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "fetched b:1 (500 B)" || lines[1] != "fetched a:1 (1.0 kB)" || !strings.HasPrefix(lines[2], "fetched 1.5 kB in ") {
		t.Fatalf("progress lines:\n%s", b)
	}
	if q := newLogger(w, true); q.progress() != nil {
		t.Fatal("--quiet still reports progress")
	}
}

// The docker engine's export, read as the archive is written: off a terminal, one line when it
// ends; nothing fetched from elsewhere, no "fetched" line.
func TestProgressExportLine(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(w, false)
	var p imageset.Progress = l
	ep, ok := p.(imageset.ExportProgress)
	if !ok {
		t.Fatal("the logger does not show the engine's export")
	}
	ep.ExportRead(1000)
	ep.ExportRead(500)
	ep.ExportDone()
	l.Start([]imageset.ImageTotal{{Ref: "a:1"}})
	l.finish(false)
	w.Close()
	b, _ := io.ReadAll(r)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "read 1.5 kB from the docker engine in ") {
		t.Fatalf("progress lines:\n%s", b)
	}
}
