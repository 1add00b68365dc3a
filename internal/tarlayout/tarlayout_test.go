package tarlayout

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
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
