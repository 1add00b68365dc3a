package tarlayout

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanWriteReadBack(t *testing.T) {
	long := "blobs/sha256/" + string(bytes.Repeat([]byte("a"), 120))
	entries := []Entry{
		{Name: "oci-layout", Size: 5, Body: []byte("hello")},
		{Name: "blobs/", Dir: true},
		{Name: "blobs/x", Size: 1000},
		{Name: long, Size: 3},
		{Name: "empty", Size: 0, Body: []byte{}},
	}
	l, err := Plan(entries)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "a.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Bodies first, frame last: order must not matter.
	x := bytes.Repeat([]byte{7}, 1000)
	bw := l.Body(f, 0, 2)
	if _, err := bw.Write(x); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	bw = l.Body(f, 0, 3)
	bw.Write([]byte("abc"))
	if err := l.WriteFrame(f, 0); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	if st.Size() != l.Size() {
		t.Fatalf("file size %d, planned %d", st.Size(), l.Size())
	}
	f.Seek(0, 0)
	tr := tar.NewReader(f)
	want := map[string]string{"oci-layout": "hello", "blobs/x": string(x), long: "abc", "empty": ""}
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if h.Typeflag == tar.TypeDir {
			continue
		}
		b, _ := io.ReadAll(tr)
		if string(b) != want[h.Name] {
			t.Errorf("%s: got %q", h.Name, b)
		}
		if !h.ModTime.Equal(ModTime) || h.Uid != 0 {
			t.Errorf("%s: header not fixed: %v %d", h.Name, h.ModTime, h.Uid)
		}
	}
	if n != len(entries) {
		t.Fatalf("read %d entries, want %d", n, len(entries))
	}
}

func TestBodyWriterBounds(t *testing.T) {
	l, _ := Plan([]Entry{{Name: "a", Size: 2}})
	var buf writerAt
	bw := l.Body(&buf, 0, 0)
	if _, err := bw.Write([]byte("abc")); err == nil {
		t.Fatal("overlong write accepted")
	}
	bw.Write([]byte("a"))
	if err := bw.Close(); err == nil {
		t.Fatal("short body accepted")
	}
}

func TestPlanRejectsBodySizeMismatch(t *testing.T) {
	if _, err := Plan([]Entry{{Name: "a", Size: 2, Body: []byte("abc")}}); err == nil {
		t.Fatal("mismatch accepted")
	}
}

type writerAt struct{ b []byte }

func (w *writerAt) WriteAt(p []byte, off int64) (int, error) {
	if n := off + int64(len(p)); n > int64(len(w.b)) {
		w.b = append(w.b, make([]byte, n-int64(len(w.b)))...)
	}
	return copy(w.b[off:], p), nil
}

// A member added with Member is what Plan would have laid out.
func TestMemberAppends(t *testing.T) {
	a := Entry{Name: "top/a", Size: 3, Body: []byte("abc")}
	b := Entry{Name: "top/b.sig", Size: 600, Body: bytes.Repeat([]byte{1}, 600)}
	frame := func(entries ...Entry) []byte {
		l, err := Plan(entries)
		if err != nil {
			t.Fatal(err)
		}
		w := &writerAt{}
		if err := l.WriteFrame(w, 0); err != nil {
			t.Fatal(err)
		}
		return w.b
	}
	m, err := Member(b)
	if err != nil {
		t.Fatal(err)
	}
	one := frame(a)
	got := append(append(one[:len(one)-2*block:len(one)-2*block], m...), make([]byte, 2*block)...)
	if !bytes.Equal(got, frame(a, b)) {
		t.Fatal("Member differs from the planned member")
	}
	if _, err := Member(Entry{Name: "x", Size: 2, Body: []byte("a")}); err == nil {
		t.Fatal("a body shorter than its size was taken")
	}
}

// Non-ASCII names need PAX records (USTAR holds ASCII only), and their size is planned; owners,
// modes and symbolic links are kept.
func TestPlanNamesOwnersLinks(t *testing.T) {
	entries := []Entry{
		{Name: "b/конфиг/", Dir: true, Mode: 0o700, Uid: 472, Gid: 472},
		{Name: "b/конфиг/設定.conf", Size: 2, Body: []byte("ok"), Mode: 0o640, Uid: 472, Gid: 0},
		{Name: "b/café", Link: "конфиг/設定.conf"},
		{Name: "b/plain", Size: 1, Body: []byte("p")},
		{Name: "b/ldap", Size: 1, Body: []byte("l"), Mode: 0o600, Uid: 3000000, Gid: 3000001}, // past USTAR's 7 octal digits
	}
	l, err := Plan(entries)
	if err != nil {
		t.Fatal(err)
	}
	var buf writerAt
	if err := l.WriteFrame(&buf, 0); err != nil {
		t.Fatal(err)
	}
	if int64(len(buf.b)) != l.Size() {
		t.Fatalf("wrote %d bytes, planned %d", len(buf.b), l.Size())
	}
	tr := tar.NewReader(bytes.NewReader(buf.b))
	type got struct {
		typ               byte
		mode              int64
		uid, gid          int
		uname, link, body string
	}
	want := map[string]got{
		"b/конфиг/":        {tar.TypeDir, 0o700, 472, 472, "", "", ""},
		"b/конфиг/設定.conf": {tar.TypeReg, 0o640, 472, 0, "", "", "ok"},
		"b/café":           {tar.TypeSymlink, 0o777, 0, 0, "root", "конфиг/設定.conf", ""},
		"b/plain":          {tar.TypeReg, 0o644, 0, 0, "root", "", "p"},
		"b/ldap":           {tar.TypeReg, 0o600, 3000000, 3000001, "", "", "l"},
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		g := got{h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Linkname, string(b)}
		if g != want[h.Name] {
			t.Errorf("%s: got %+v, want %+v", h.Name, g, want[h.Name])
		}
		delete(want, h.Name)
	}
	if len(want) != 0 {
		t.Errorf("missing entries: %v", want)
	}
}

// A streamed last entry: planned before its size is known, its body written, then Finish
// writes its header and a trailer; every tar reader sees the entries with their sizes.
func TestStreamedEntry(t *testing.T) {
	for _, size := range []int64{0, 1, 511, 512, 70000} {
		l, err := Plan([]Entry{
			{Name: "top/", Dir: true},
			{Name: "top/small", Size: 3, Body: []byte("abc")},
			{Name: "top/images.tar", Streamed: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		var w bytesWriterAt
		if err := l.WriteFrame(&w, 0); err != nil {
			t.Fatal(err)
		}
		body := bytes.Repeat([]byte{9}, int(size))
		if _, err := w.WriteAt(body, l.DataOffset(2)); err != nil {
			t.Fatal(err)
		}
		total, err := l.Finish(&w, 0, size, Entry{Name: "top/SUMS", Size: 2, Body: []byte("ok")})
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(w.b)) != total || total%block != 0 {
			t.Fatalf("size %d: archive of %d bytes, Finish says %d", size, len(w.b), total)
		}
		tr := tar.NewReader(bytes.NewReader(w.b))
		var got []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			b, _ := io.ReadAll(tr)
			got = append(got, h.Name)
			if h.Name == "top/images.tar" && !bytes.Equal(b, body) {
				t.Fatalf("size %d: streamed body of %d bytes read back as %d", size, size, len(b))
			}
			if h.Name == "top/SUMS" && string(b) != "ok" {
				t.Fatalf("trailer read back as %q", b)
			}
		}
		if want := "top/ top/small top/images.tar top/SUMS"; strings.Join(got, " ") != want {
			t.Fatalf("entries %q, want %q", got, want)
		}
	}
}

// The streamed header has one length for every size, also those USTAR cannot hold.
func TestStreamedHeaderLength(t *testing.T) {
	for _, size := range []int64{0, 1 << 33, 1 << 40} {
		h, err := StreamedHeader(Entry{Name: "blobs/sha256/" + strings.Repeat("a", 64), Size: size})
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != StreamedHeaderSize {
			t.Fatalf("size %d: header of %d bytes", size, len(h))
		}
		hdr, err := tar.NewReader(bytes.NewReader(append(h, make([]byte, 1024)...))).Next()
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Size != size {
			t.Fatalf("header says size %d, want %d", hdr.Size, size)
		}
	}
	if _, err := Plan([]Entry{{Name: "a", Streamed: true}, {Name: "b", Size: 0, Body: []byte{}}}); err == nil {
		t.Fatal("a streamed entry before another was planned")
	}
}

type bytesWriterAt struct{ b []byte }

func (w *bytesWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(w.b)) {
		w.b = append(w.b, make([]byte, end-int64(len(w.b)))...)
	}
	return copy(w.b[off:], p), nil
}
