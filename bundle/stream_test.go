package bundle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// streamedArchive is an archive whose size is known only once written, like an archive the
// docker engine's export streams into; it also writes past its end, as a StreamArchive that
// stores a blob and then finds it had it.
type streamedArchive struct {
	body []byte
	size int64
}

func (a *streamedArchive) Path() string { return ImageArchive }
func (a *streamedArchive) Size() int64  { return a.size }
func (a *streamedArchive) WriteAt(ctx context.Context, w ReadWriterAt, base int64) (string, error) {
	if _, err := w.WriteAt(append(append([]byte(nil), a.body...), overshoot...), base); err != nil {
		return "", err
	}
	a.size = int64(len(a.body))
	return sum(a.body), nil
}

var overshoot = bytes.Repeat([]byte("OVERSHOOT!"), 300)

// A streamed archive and files written after it (Late, in the space Reserve kept): every
// format holds them with their sums, and nothing the archive wrote past its end.
func TestWriteStreamedArchiveAndLateFiles(t *testing.T) {
	body := bytes.Repeat([]byte("layer"), 3000)
	const reserve = 40
	for _, name := range []string{"shop-1.0", "shop-1.0.tar", "shop-1.0.tar.gz", "shop-1.0.tar.zst", "split:shop-1.0.tar"} {
		t.Run(name, func(t *testing.T) {
			a := &streamedArchive{body: body, size: -1}
			c := testContents(t, fakeArchive{})
			c.Archives = []ArchiveWriter{a}
			late := func() ([]byte, error) {
				if a.size < 0 {
					return nil, fmt.Errorf("Late called before the archive was written")
				}
				b := []byte(fmt.Sprintf("{\"size\": %d}", a.size))
				return append(b, bytes.Repeat([]byte("\n"), reserve-len(b))...), nil
			}
			c.Files = append(c.Files, File{Name: ManifestFile, Late: late, Reserve: reserve})
			var opts []WriteOption
			out := filepath.Join(t.TempDir(), strings.TrimPrefix(name, "split:"))
			if strings.HasPrefix(name, "split:") {
				opts = append(opts, WithSplit(7000))
			}
			if err := Write(context.Background(), out, c, false, opts...); err != nil {
				t.Fatal(err)
			}
			if len(opts) > 0 {
				out += ".sha256"
			}
			got := map[string]string{}
			err := Walk(context.Background(), out, func(n string, r io.Reader, _ int64) error {
				b, err := io.ReadAll(r)
				got[n] = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			wantLate := fmt.Sprintf("{\"size\": %d}", len(body))
			if got[ImageArchive] != string(body) || strings.TrimRight(got[ManifestFile], "\n") != wantLate || len(got[ManifestFile]) != reserve {
				t.Fatalf("archive of %d bytes (want %d), %s %q", len(got[ImageArchive]), len(body), ManifestFile, got[ManifestFile])
			}
			sums, err := ParseSums([]byte(got[SumsFile]))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{ImageArchive, ManifestFile, LoaderFile} {
				if sums[n] != sum([]byte(got[n])) {
					t.Errorf("%s: SHA256SUMS has %q", n, sums[n])
				}
			}
			// Nothing the archive wrote past its end is left, in any file written.
			filepath.Walk(filepath.Dir(out), func(p string, info os.FileInfo, err error) error {
				if err == nil && info.Mode().IsRegular() {
					if b, _ := os.ReadFile(p); bytes.Contains(b, overshoot[:20]) {
						t.Errorf("%s holds what the archive wrote past its end", p)
					}
				}
				return nil
			})
		})
	}
}

// A streamed archive must be the last: the archives after it would have no place.
func TestWriteRefusesStreamedArchiveBeforeAnother(t *testing.T) {
	c := testContents(t, fakeArchive{body: []byte("x")})
	c.Archives = append([]ArchiveWriter{&streamedArchive{body: []byte("y"), size: -1}}, c.Archives...)
	err := Write(context.Background(), filepath.Join(t.TempDir(), "b.tar"), c, false)
	if err == nil || !strings.Contains(err.Error(), "must be the bundle's last") {
		t.Fatalf("err %v", err)
	}
}
