package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fxWalk walks p and returns every file's content by name.
func fxWalk(t *testing.T, p string) (map[string][]byte, error) {
	t.Helper()
	got := map[string][]byte{}
	err := Walk(context.Background(), p, func(name string, r io.Reader, size int64) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if int64(len(b)) != size {
			t.Errorf("%s: read %d bytes, size says %d", name, len(b), size)
		}
		if _, dup := got[name]; dup {
			t.Errorf("%s: walked twice", name)
		}
		got[name] = b
		return nil
	})
	return got, err
}

func TestWalkForms(t *testing.T) {
	b := fxNewBundle(t)
	for _, form := range fxForms {
		t.Run(form, func(t *testing.T) {
			got, err := fxWalk(t, b.write(t, form))
			if err != nil {
				t.Fatal(err)
			}
			if want, have := fxSortedKeys(b.files), fxSortedKeys(got); strings.Join(want, " ") != strings.Join(have, " ") {
				t.Fatalf("walked %v, want %v", have, want)
			}
			for name, data := range b.files {
				if !bytes.Equal(got[name], data) {
					t.Errorf("%s: content differs", name)
				}
			}
		})
	}
}

func TestWalkDirOrderIsSorted(t *testing.T) {
	b := fxNewBundle(t)
	var names []string
	err := Walk(context.Background(), b.write(t, fxDir), func(name string, r io.Reader, size int64) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".env", "SHA256SUMS", "airpack.json", "docker-compose.yaml", "files/app.yaml", "files/db.txt", "files/nginx.conf", "files/static/index.html", "files/web.env", "images/images.tar", "load.sh"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("order %v, want %v", names, want)
	}
}

func TestWalkStops(t *testing.T) {
	b := fxNewBundle(t)
	boom := errors.New("boom")
	for _, form := range fxForms {
		p := b.write(t, form)
		for _, tc := range []struct {
			name    string
			ret     error
			wantErr error
		}{
			{"SkipAll", fs.SkipAll, nil},
			{"error", boom, boom},
		} {
			t.Run(form+"/"+tc.name, func(t *testing.T) {
				calls := 0
				err := Walk(context.Background(), p, func(name string, r io.Reader, size int64) error {
					calls++
					return tc.ret
				})
				if err != tc.wantErr {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if calls != 1 {
					t.Fatalf("fn called %d times after stopping", calls)
				}
			})
		}
	}
}

func TestWalkCancelled(t *testing.T) {
	b := fxNewBundle(t)
	for _, form := range fxForms {
		t.Run(form, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := Walk(ctx, b.write(t, form), func(string, io.Reader, int64) error { return nil })
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}
}

// fxArchiveBytes is the archive at p, read back.
func fxArchiveBytes(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	fxCheck(t, err)
	return b
}

// fxWriteBytes writes data as a file named name in a new temporary directory.
func fxWriteBytes(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	fxCheck(t, os.WriteFile(p, data, 0o644))
	return p
}

func TestWalkDamagedArchives(t *testing.T) {
	b := fxNewBundle(t)
	half := func(form string) func(t *testing.T) string {
		return func(t *testing.T) string {
			data := fxArchiveBytes(t, b.write(t, form))
			return fxWriteBytes(t, "shop-1.0"+form, data[:len(data)/2])
		}
	}
	tests := []struct {
		name    string
		archive func(t *testing.T) string
		want    string
	}{
		{"tar.gz cut in half", half(fxTarGz), "is truncated or corrupt"},
		{"tar.zst cut in half", half(fxTarZs), "is truncated or corrupt"},
		{"tar cut in half", half(fxTar), "is truncated or corrupt"},
		{"tar cut at an entry boundary", func(t *testing.T) string {
			data := fxArchiveBytes(t, b.write(t, fxTar))
			return fxWriteBytes(t, "shop-1.0.tar", data[:len(data)-tarEndMarker])
		}, "is truncated or corrupt: it ends without tar's end-of-archive marker"},
		{"tar.gz cut just before gzip's trailer", func(t *testing.T) string {
			data := fxArchiveBytes(t, b.write(t, fxTarGz))
			return fxWriteBytes(t, "shop-1.0.tar.gz", data[:len(data)-4])
		}, "is truncated or corrupt"},
		{"tar.gz with a flipped byte", func(t *testing.T) string {
			data := fxArchiveBytes(t, b.write(t, fxTarGz))
			data[len(data)/2] ^= 0xff
			return fxWriteBytes(t, "shop-1.0.tar.gz", data)
		}, "is truncated or corrupt"},
		{"gzip holding no tar", func(t *testing.T) string {
			data := fxArchiveBytes(t, b.write(t, fxTarGz))
			return fxWriteBytes(t, "shop-1.0.tar.gz", data[:12])
		}, "is truncated or corrupt"},
		{"not an archive", func(t *testing.T) string {
			return fxWriteBytes(t, "shop-1.0.tar", []byte("hello, this is not a tar file at all\n"))
		}, "is neither a bundle directory nor a bundle archive (.tar, .tar.gz, .tar.zst)"},
		{"two top directories", func(t *testing.T) string {
			es := append(b.entries(), fxDirEntry("other/"), fxFileEntry("other/x", 0o644, []byte("x")))
			return fxWriteArchive(t, "shop-1.0.tar", fxTar, es)
		}, "has more than one top-level directory (shop-1.0/ and other/)"},
		{"file at the top level", func(t *testing.T) string {
			es := append([]fxEntry{fxFileEntry("README", 0o644, []byte("hi"))}, b.entries()...)
			return fxWriteArchive(t, "shop-1.0.tar.gz", fxTarGz, es)
		}, "has a file, README, at its top level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.archive(t)
			_, err := fxWalk(t, p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want it to name the archive %s", err, p)
			}
			var ee *EntryError
			if errors.As(err, &ee) {
				t.Errorf("err = %v, want no entry errors", err)
			}
		})
	}
}

func TestWalkBadEntries(t *testing.T) {
	b := fxNewBundle(t)
	tests := []struct {
		name  string
		entry fxEntry
		want  EntryError
	}{
		{"dotdot", fxFileEntry("shop-1.0/../evil.sh", 0o755, []byte("rm -rf /")),
			EntryError{"shop-1.0/../evil.sh", "has a name that leaves the bundle (absolute or with ..): refusing it; `tar xf` could write outside the bundle directory", ""}},
		{"absolute", fxFileEntry("/etc/cron.d/evil", 0o644, []byte("* * * * * root true")),
			EntryError{"/etc/cron.d/evil", "has a name that leaves the bundle (absolute or with ..): refusing it; `tar xf` could write outside the bundle directory", ""}},
		{"symlink", fxEntry{hdr: tar.Header{Name: "shop-1.0/files/passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", ModTime: fxModTime}},
			EntryError{"files/passwd", "is a symbolic link (to /etc/passwd) that airpack.json does not list", "/etc/passwd"}},
		{"hard link", fxEntry{hdr: tar.Header{Name: "shop-1.0/files/again", Typeflag: tar.TypeLink, Linkname: "shop-1.0/files/db.txt", ModTime: fxModTime}},
			EntryError{"files/again", "is a hard link (to shop-1.0/files/db.txt): bundles hold no links", ""}},
		{"fifo", fxEntry{hdr: tar.Header{Name: "shop-1.0/files/fifo", Typeflag: tar.TypeFifo, ModTime: fxModTime}},
			EntryError{"files/fifo", `is not a regular file (tar type '6'): bundles hold only files, directories and listed links`, ""}},
	}
	for _, tc := range tests {
		for _, form := range []string{fxTar, fxTarGz, fxTarZs} {
			t.Run(tc.name+form, func(t *testing.T) {
				es := b.entries()
				// In the middle: everything after it must still be walked.
				es = append(es[:3:3], append([]fxEntry{tc.entry}, es[3:]...)...)
				got, err := fxWalk(t, fxWriteArchive(t, "shop-1.0"+form, form, es))
				var ee *EntryError
				if !errors.As(err, &ee) {
					t.Fatalf("err = %v, want an *EntryError", err)
				}
				if *ee != tc.want {
					t.Fatalf("entry error %q, want %q", ee, &tc.want)
				}
				if len(got) != len(b.files) {
					t.Fatalf("walked %d files, want all %d", len(got), len(b.files))
				}
			})
		}
	}
}

func TestWalkDirSymlink(t *testing.T) {
	b := fxNewBundle(t)
	root := b.write(t, fxDir)
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "files", "passwd")); err != nil {
		t.Fatal("cannot make symlinks here:", err)
	}
	got, err := fxWalk(t, root)
	var ee *EntryError
	if !errors.As(err, &ee) || ee.Name != "files/passwd" || !strings.HasPrefix(ee.Msg, "is a symbolic link (to /etc/passwd)") {
		t.Fatalf("err = %v, want an *EntryError for files/passwd", err)
	}
	if len(got) != len(b.files) {
		t.Fatalf("walked %d files, want all %d", len(got), len(b.files))
	}
}

func TestWalkMissing(t *testing.T) {
	_, err := fxWalk(t, filepath.Join(t.TempDir(), "nope.tar"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

// "hC" happens to be a valid zlib header, and archives tries compressions first: a plain tar
// whose first entry is hCafe-1.0/ must still be read as a tar.
func TestWalkTarLookingLikeZlib(t *testing.T) {
	b := fxNewBundle(t)
	b.top = "hCafe-1.0"
	got, err := fxWalk(t, b.write(t, fxTar))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(b.files) {
		t.Fatalf("walked %d files, want %d", len(got), len(b.files))
	}
}

func TestWalkDirThroughSymlink(t *testing.T) {
	b := fxNewBundle(t)
	link := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(b.write(t, fxDir), link); err != nil {
		t.Fatal("cannot make symlinks here:", err)
	}
	got, err := fxWalk(t, link)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(b.files) {
		t.Fatalf("walked %d files, want %d", len(got), len(b.files))
	}
}
