package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeArchive is an image archive of fixed bytes; fail makes WriteAt fail after half of it.
type fakeArchive struct {
	body []byte
	fail error
}

func (a fakeArchive) Path() string { return ImageArchive }
func (a fakeArchive) Size() int64  { return int64(len(a.body)) }
func (a fakeArchive) WriteAt(ctx context.Context, w ReadWriterAt, base int64) (string, error) {
	half := len(a.body) / 2
	if _, err := w.WriteAt(a.body[:half], base); err != nil {
		return "", err
	}
	if a.fail != nil {
		return "", a.fail
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	_, err := w.WriteAt(a.body[half:], base+int64(half))
	return sum(a.body), err
}

func testContents(t *testing.T, archive fakeArchive) Contents {
	t.Helper()
	src := filepath.Join(t.TempDir(), "app.conf")
	if err := os.WriteFile(src, []byte("listen 80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Contents{
		Dir: "shop-1.0",
		Files: []File{
			{Name: ComposeFile, Body: []byte("services: {}\n")},
			{Name: EnvFile, Body: nil}, // empty .env: a project with no variables
			{Name: LoaderFile, Body: []byte("#!/bin/sh\n"), Mode: 0o755},
			{Name: "files/conf/app.conf", Src: src},
		},
		Archives: []ArchiveWriter{archive},
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestWriteEveryFormat(t *testing.T) {
	archive := fakeArchive{body: bytes.Repeat([]byte("layer"), 1000)}
	want := map[string]string{
		ComposeFile:           "services: {}\n",
		EnvFile:               "",
		LoaderFile:            "#!/bin/sh\n",
		"files/conf/app.conf": "listen 80\n",
		ImageArchive:          string(archive.body),
	}
	for _, name := range []string{"shop-1.0", "shop-1.0.tar", "shop-1.0.tar.gz", "shop-1.0.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "sub", name)
			if err := Write(context.Background(), out, testContents(t, archive), false); err != nil {
				t.Fatal(err)
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
			sums, err := ParseSums([]byte(got[SumsFile]))
			if err != nil {
				t.Fatal(err)
			}
			for n, content := range want {
				if got[n] != content {
					t.Errorf("%s: got %q", n, got[n])
				}
				if sums[n] != sum([]byte(content)) {
					t.Errorf("%s: SHA256SUMS has %q", n, sums[n])
				}
			}
			if len(got) != len(want)+1 || len(sums) != len(want) {
				t.Errorf("files %d, sums %d; want %d and %d", len(got), len(sums), len(want)+1, len(want))
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "sub", ".*"))
			if len(leftovers) != 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
			if FormatOf(out) == FormatDir {
				st, err := os.Stat(filepath.Join(out, LoaderFile))
				if err != nil || st.Mode().Perm() != 0o755 {
					t.Errorf("load.sh mode %v, %v", st.Mode(), err)
				}
			}
		})
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	archive := fakeArchive{body: bytes.Repeat([]byte{1, 2, 3}, 5000)}
	for _, ext := range []string{".tar", ".tar.gz", ".tar.zst"} {
		var outs [][]byte
		for i := 0; i < 2; i++ {
			out := filepath.Join(t.TempDir(), "b"+ext)
			if err := Write(context.Background(), out, testContents(t, archive), false); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(out)
			outs = append(outs, b)
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s: two writes of the same bundle differ", ext)
		}
	}
}

func TestWriteRefusesExistingUnlessForced(t *testing.T) {
	archive := fakeArchive{body: []byte("abc")}
	out := filepath.Join(t.TempDir(), "b.tar")
	os.WriteFile(out, []byte("precious"), 0o644)
	err := Write(context.Background(), out, testContents(t, archive), false)
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing output: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Fatal("existing output changed")
	}
	if err := Write(context.Background(), out, testContents(t, archive), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) == "precious" {
		t.Fatal("--force did not replace the output")
	}
}

func TestWriteLeavesNothingOnFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := map[string]struct {
		ctx     context.Context
		archive fakeArchive
	}{
		"archive fails": {context.Background(), fakeArchive{body: []byte("abcdef"), fail: errors.New("registry went away")}},
		"interrupted":   {ctx, fakeArchive{body: []byte("abcdef")}},
	}
	for name, c := range cases {
		for _, ext := range []string{"", ".tar", ".tar.gz"} {
			t.Run(name+ext, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "b"+ext)
				if err := Write(c.ctx, out, testContents(t, c.archive), false); err == nil {
					t.Fatal("Write succeeded")
				}
				entries, _ := os.ReadDir(dir)
				if len(entries) != 0 {
					t.Fatalf("left behind: %v", entries)
				}
			})
		}
	}
}

func TestWriteForceKeepsOldOnFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.tar")
	os.WriteFile(out, []byte("old bundle"), 0o644)
	err := Write(context.Background(), out, testContents(t, fakeArchive{body: []byte("abcdef"), fail: errors.New("boom")}), true)
	if err == nil {
		t.Fatal("Write succeeded")
	}
	if b, _ := os.ReadFile(out); string(b) != "old bundle" {
		t.Fatal("a failed --force write lost the old bundle")
	}
}

// Directories given as files (empty, or with a mode and owner) and the owners of files are kept
// in every archive format; non-ASCII names are written too.
func TestWriteKeepsDirsOwnersModes(t *testing.T) {
	archive := fakeArchive{body: []byte("img")}
	for _, name := range []string{"shop-1.0.tar", "shop-1.0.tar.gz"} {
		t.Run(name, func(t *testing.T) {
			c := testContents(t, archive)
			c.Files = append(c.Files,
				File{Name: "files/data", Dir: true, Mode: 0o700, Owner: &Owner{472, 472}},
				File{Name: "files/data/grafana.db", Body: []byte("db"), Mode: 0o640, Owner: &Owner{472, 0}},
				File{Name: "files/empty", Dir: true, Mode: 0o750},
				File{Name: "files/shared", Dir: true, Mode: os.ModeSetgid | 0o775},
				File{Name: "files/конфиг/設定 é.conf", Body: []byte("x")},
			)
			out := filepath.Join(t.TempDir(), name)
			if err := Write(context.Background(), out, c, false); err != nil {
				t.Fatal(err)
			}
			type meta struct {
				typ      byte
				mode     int64
				uid, gid int
			}
			got := map[string]meta{}
			for _, h := range readTarHeaders(t, out) {
				got[strings.TrimSuffix(h.Name, "/")] = meta{h.Typeflag, h.Mode, h.Uid, h.Gid}
			}
			for n, want := range map[string]meta{
				"shop-1.0/files/data":             {tar.TypeDir, 0o700, 472, 472},
				"shop-1.0/files/data/grafana.db":  {tar.TypeReg, 0o640, 472, 0},
				"shop-1.0/files/shared":           {tar.TypeDir, 0o2775, 0, 0},
				"shop-1.0/files/empty":            {tar.TypeDir, 0o750, 0, 0},
				"shop-1.0/files/конфиг":           {tar.TypeDir, 0o755, 0, 0},
				"shop-1.0/files/конфиг/設定 é.conf": {tar.TypeReg, 0o644, 0, 0},
				"shop-1.0/files/conf/app.conf":    {tar.TypeReg, 0o644, 0, 0},
			} {
				if got[n] != want {
					t.Errorf("%s: %+v, want %+v", n, got[n], want)
				}
			}
			if err := Walk(context.Background(), out, func(string, io.Reader, int64) error { return nil }); err != nil {
				t.Errorf("Walk: %v", err)
			}
		})
	}
}

// A bundle directory keeps modes, empty directories and links; owners when written as root (only
// root can give files away), else the writer's.
func TestWriteDirKeepsOwnersModes(t *testing.T) {
	c := testContents(t, fakeArchive{body: []byte("img")})
	c.Files = append(c.Files,
		File{Name: "files/data", Dir: true, Mode: 0o700, Owner: &Owner{472, 472}},
		File{Name: "files/data/grafana.db", Body: []byte("db"), Mode: 0o640, Owner: &Owner{472, 0}},
		File{Name: "files/data/current", Link: "grafana.db"},
		File{Name: "files/empty", Dir: true, Mode: 0o750},
	)
	out := filepath.Join(t.TempDir(), "shop-1.0")
	if err := Write(context.Background(), out, c, false); err != nil {
		t.Fatal(err)
	}
	owner := func(u, g int) (int, int) {
		if os.Geteuid() == 0 {
			return u, g
		}
		return os.Geteuid(), os.Getegid()
	}
	for _, want := range []struct {
		name     string
		mode     os.FileMode
		uid, gid int
	}{
		{"files/data", os.ModeDir | 0o700, 472, 472},
		{"files/data/grafana.db", 0o640, 472, 0},
		{"files/empty", os.ModeDir | 0o750, 0, 0},
	} {
		fi, err := os.Lstat(filepath.Join(out, want.name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		wu, wg := owner(want.uid, want.gid)
		if fi.Mode() != want.mode || int(st.Uid) != wu || int(st.Gid) != wg {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", want.name, fi.Mode(), st.Uid, st.Gid, want.mode, wu, wg)
		}
	}
	if target, err := os.Readlink(filepath.Join(out, "files/data/current")); err != nil || target != "grafana.db" {
		t.Errorf("link: %q %v", target, err)
	}
}

func readTarHeaders(t *testing.T, p string) []*tar.Header {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	var hs []*tar.Header
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}
