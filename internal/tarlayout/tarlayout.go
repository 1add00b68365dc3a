// Package tarlayout plans a tar archive whose entry sizes are all known in advance, so that the
// bodies of its entries can be written concurrently, straight to their final offsets, in any
// order. airpack uses it to fetch image blobs in parallel into one deterministic archive without
// staging them: headers are fixed (owner, mode, mtime), entries keep the order they were given.
package tarlayout

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"time"
)

// ModTime is the modification time of every entry: fixed so archives are reproducible.
var ModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const block = 512

// Entry is one member of the archive.
type Entry struct {
	Name string
	Dir  bool
	Mode int64
	Size int64
	// Uid and Gid are the numeric owner and group (0: root).
	Uid, Gid int
	// Link, when set, makes the entry a symbolic link to Link, with no body.
	Link string
	// Body, when set, is the content, written with the headers. Otherwise the caller writes
	// exactly Size bytes at DataOffset.
	Body []byte
	// Streamed: the body's size is not known when the archive is planned (it is written as it
	// is produced). Only the last entry may be streamed; its header takes StreamedHeaderSize
	// bytes whatever its size, and Finish writes it once the size is known. Size is ignored.
	Streamed bool
}

// StreamedHeaderSize is the length of a streamed entry's header (StreamedHeader), whatever its
// size: a PAX extended header block, its records' block, the USTAR block.
const StreamedHeaderSize = 3 * block

// streamedComment is the PAX record that gives a streamed entry's header its fixed form.
const streamedComment = "written as produced; size set at its end"

// StreamedHeader returns e's header in a form whose length, StreamedHeaderSize, does not depend
// on e.Size: a PAX header carrying a comment record (readers ignore it), and the size in it too
// when USTAR cannot hold it. A writer reserves the space before the body, whose size it learns
// only at the end, and writes the header there afterwards.
func StreamedHeader(e Entry) ([]byte, error) {
	if e.Dir || e.Link != "" {
		return nil, fmt.Errorf("tar entry %s: only a file can be streamed", e.Name)
	}
	h, err := header(e, map[string]string{"comment": streamedComment})
	if err != nil {
		return nil, err
	}
	if len(h) != StreamedHeaderSize {
		return nil, fmt.Errorf("tar entry %s: its name or owner needs a header of %d bytes, more than the %d a streamed entry has", e.Name, len(h), StreamedHeaderSize)
	}
	return h, nil
}

// Layout is a planned archive.
type Layout struct {
	entries []Entry
	headers [][]byte
	offsets []int64 // offset of each entry's data
	size    int64
	// streamed: the last entry is streamed, size is where its body starts.
	streamed bool
}

// Plan computes the layout of entries, in the order given.
func Plan(entries []Entry) (*Layout, error) {
	l := &Layout{entries: entries}
	var off int64
	for i, e := range entries {
		if e.Body != nil && int64(len(e.Body)) != e.Size {
			return nil, fmt.Errorf("tar entry %s: body of %d bytes, size %d", e.Name, len(e.Body), e.Size)
		}
		if e.Streamed {
			if i != len(entries)-1 {
				return nil, fmt.Errorf("tar entry %s: only the last entry can be streamed", e.Name)
			}
			e.Size = 0 // ignored: not known yet
			if _, err := StreamedHeader(e); err != nil {
				return nil, err
			}
			off += StreamedHeaderSize
			l.offsets = append(l.offsets, off)
			l.headers = append(l.headers, nil)
			l.size, l.streamed = off, true
			return l, nil
		}
		h, err := header(e, nil)
		if err != nil {
			return nil, err
		}
		l.headers = append(l.headers, h)
		off += int64(len(h))
		l.offsets = append(l.offsets, off)
		if !entries[i].Dir && entries[i].Link == "" {
			off += pad(e.Size)
		}
	}
	l.size = off + 2*block // end-of-archive marker
	return l, nil
}

func pad(n int64) int64 { return (n + block - 1) / block * block }

func header(e Entry, pax map[string]string) ([]byte, error) {
	h := &tar.Header{
		Name:       e.Name,
		Mode:       e.Mode,
		Size:       e.Size,
		ModTime:    ModTime,
		Typeflag:   tar.TypeReg,
		Uid:        e.Uid,
		Gid:        e.Gid,
		Format:     tar.FormatPAX,
		PAXRecords: pax,
	}
	if e.Uid == 0 {
		h.Uname = "root"
	}
	if e.Gid == 0 {
		h.Gname = "root"
	}
	if e.Mode == 0 {
		h.Mode = 0o644
	}
	if e.Dir {
		h.Typeflag = tar.TypeDir
		h.Size = 0
		if e.Mode == 0 {
			h.Mode = 0o755
		}
	}
	if e.Link != "" {
		h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.Link, 0
		if e.Mode == 0 {
			h.Mode = 0o777
		}
	}
	// USTAR where it can say everything (the smallest header); PAX records for long or
	// non-ASCII names, owners past 7 octal digits (LDAP uids) and members of 8 GiB or more,
	// which USTAR cannot hold.
	if pax == nil && ustarName(e.Name) && ustarName(e.Link) && h.Uid < 1<<21 && h.Gid < 1<<21 && h.Size < 1<<33 {
		h.Format = tar.FormatUSTAR
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(h); err != nil {
		return nil, fmt.Errorf("tar header for %s: %w", e.Name, err)
	}
	// WriteHeader has written the header blocks; the body is the caller's.
	return b.Bytes(), nil
}

func ustarName(s string) bool {
	if len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Member returns entry e as it stands in an archive: its header, its Body and the padding to the
// next block. It is how a member is added to an archive planned without it (Finish).
func Member(e Entry) ([]byte, error) {
	if int64(len(e.Body)) != e.Size {
		return nil, fmt.Errorf("tar entry %s: body of %d bytes, size %d", e.Name, len(e.Body), e.Size)
	}
	h, err := header(e, nil)
	if err != nil {
		return nil, err
	}
	b := make([]byte, int64(len(h))+pad(e.Size))
	copy(b[copy(b, h):], e.Body)
	return b, nil
}

// Size is the size of the archive as planned, end marker included; for an archive whose last
// entry is streamed, where that entry's body starts. Finish gives the total.
func (l *Layout) Size() int64 { return l.size }

// Len is the number of entries.
func (l *Layout) Len() int { return len(l.entries) }

// Entry returns the i-th entry.
func (l *Layout) Entry(i int) Entry { return l.entries[i] }

// DataOffset is where the body of entry i starts, relative to the start of the archive.
func (l *Layout) DataOffset(i int) int64 { return l.offsets[i] }

// WriteFrame writes everything but the bodies the caller writes itself: every header, every
// Body given in the plan, the padding and the end marker, at base in w. A streamed entry's
// header and the end marker after it are Finish's.
func (l *Layout) WriteFrame(w io.WriterAt, base int64) error {
	zero := make([]byte, 2*block)
	for i, h := range l.headers {
		if h == nil {
			return nil // the streamed last entry
		}
		if _, err := w.WriteAt(h, base+l.offsets[i]-int64(len(h))); err != nil {
			return err
		}
		e := l.entries[i]
		if e.Dir || e.Link != "" {
			continue
		}
		if e.Body != nil {
			if _, err := w.WriteAt(e.Body, base+l.offsets[i]); err != nil {
				return err
			}
		}
		if p := pad(e.Size) - e.Size; p > 0 {
			if _, err := w.WriteAt(zero[:p], base+l.offsets[i]+e.Size); err != nil {
				return err
			}
		}
	}
	_, err := w.WriteAt(zero, base+l.size-2*block)
	return err
}

// Finish ends the archive once every body is written: for an archive whose last entry is
// streamed, that entry's header and padding, given the size of its body; then trailer (members
// whose Body is given, e.g. a checksum list of what came before) and the end marker, over the
// one WriteFrame wrote. It returns the archive's total size. size is ignored when no entry is
// streamed.
func (l *Layout) Finish(w io.WriterAt, base, size int64, trailer ...Entry) (int64, error) {
	off := l.size - 2*block // the planned end marker
	var tail []byte
	if l.streamed {
		i := len(l.entries) - 1
		e := l.entries[i]
		e.Size = size
		h, err := StreamedHeader(e)
		if err != nil {
			return 0, err
		}
		if _, err := w.WriteAt(h, base+l.offsets[i]-StreamedHeaderSize); err != nil {
			return 0, err
		}
		off = l.offsets[i] + size
		tail = make([]byte, pad(size)-size)
	}
	for _, t := range trailer {
		m, err := Member(t)
		if err != nil {
			return 0, err
		}
		tail = append(tail, m...)
	}
	tail = append(tail, make([]byte, 2*block)...)
	if _, err := w.WriteAt(tail, base+off); err != nil {
		return 0, err
	}
	return off + int64(len(tail)), nil
}

// Body returns a writer for entry i's body that refuses to write past its size.
func (l *Layout) Body(w io.WriterAt, base int64, i int) *BodyWriter {
	return &BodyWriter{w: io.NewOffsetWriter(w, base+l.offsets[i]), left: l.entries[i].Size, name: l.entries[i].Name}
}

// BodyWriter writes one entry's body; Close reports a short write.
type BodyWriter struct {
	w    io.Writer
	left int64
	name string
}

func (b *BodyWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > b.left {
		return 0, fmt.Errorf("%s: more data than the %d bytes expected", b.name, b.left)
	}
	n, err := b.w.Write(p)
	b.left -= int64(n)
	return n, err
}

// Close fails when fewer bytes than the entry's size were written.
func (b *BodyWriter) Close() error {
	if b.left != 0 {
		return fmt.Errorf("%s: %d bytes short", b.name, b.left)
	}
	return nil
}
