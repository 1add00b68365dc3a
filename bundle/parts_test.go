package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/airpack/airpack/internal/sshtest"
)

// fxContents is the sound fixture bundle as Write's input: Write computes SHA256SUMS again.
func fxContents(b *fxBundle) Contents {
	c := Contents{Dir: b.top}
	for _, name := range fxSortedKeys(b.files) {
		switch name {
		case SumsFile:
		case ImageArchive:
			c.Archives = append(c.Archives, fakeArchive{body: b.files[name]})
		default:
			mode := os.FileMode(0o644)
			if name == LoaderFile {
				mode = 0o755
			}
			c.Files = append(c.Files, File{Name: name, Body: b.files[name], Mode: mode})
		}
	}
	return c
}

// partFiles lists the parts of out in order (the names Write gave them).
func partFiles(t *testing.T, out string) []string {
	t.Helper()
	m, err := filepath.Glob(out + ".[0-9]*")
	fxCheck(t, err)
	sort.Strings(m)
	return m
}

func joinParts(t *testing.T, parts []string) []byte {
	t.Helper()
	var all bytes.Buffer
	for _, p := range parts {
		b, err := os.ReadFile(p)
		fxCheck(t, err)
		all.Write(b)
	}
	return all.Bytes()
}

// A bundle written in parts is the same bytes as written whole, for every archive format and
// part size: an exact divisor of the size, one part, a short last part; signed too (the
// signature is written past the planned end).
func TestWriteSplitJoinsToTheWholeArchive(t *testing.T) {
	b := fxNewBundle(t)
	key := sshtest.NewKey(t, t.TempDir(), "ed25519", "alice", "")
	signer, err := LoadSigningKey(key.Private)
	fxCheck(t, err)
	for _, ext := range []string{".tar", ".tar.gz", ".tar.zst"} {
		for _, signed := range []bool{false, true} {
			opts := []WriteOption{}
			if signed {
				opts = append(opts, WithSigner(signer))
			}
			whole := filepath.Join(t.TempDir(), "shop-1.0"+ext)
			fxCheck(t, Write(context.Background(), whole, fxContents(b), false, opts...))
			want, err := os.ReadFile(whole)
			fxCheck(t, err)
			n := int64(len(want))
			var divisor int64 = 512
			for n%divisor != 0 || n/divisor > 20 {
				divisor++
				if divisor > n {
					divisor = n
					break
				}
			}
			for name, size := range map[string]int64{"exact": divisor, "one part": n, "larger than the bundle": n * 3, "short last part": n/3 + 1} {
				t.Run(fmt.Sprintf("%s signed=%v %s", ext, signed, name), func(t *testing.T) {
					dir := t.TempDir()
					out := filepath.Join(dir, "shop-1.0"+ext)
					fxCheck(t, Write(context.Background(), out, fxContents(b), false, append(opts, WithSplit(size))...))
					parts := partFiles(t, out)
					wantParts := int((n + size - 1) / size)
					if len(parts) != wantParts {
						t.Fatalf("%d parts of %d bytes for %d bytes, want %d", len(parts), size, n, wantParts)
					}
					for i, p := range parts {
						if want := fmt.Sprintf("%s.%03d", out, i+1); p != want {
							t.Fatalf("part %d is %s, want %s", i, p, want)
						}
						st, err := os.Stat(p)
						fxCheck(t, err)
						wantSize := size
						if i == len(parts)-1 {
							wantSize = n - int64(i)*size
						}
						if st.Size() != wantSize {
							t.Fatalf("%s: %d bytes, want %d", p, st.Size(), wantSize)
						}
					}
					if got := joinParts(t, parts); !bytes.Equal(got, want) {
						t.Fatalf("joined parts (%d bytes) differ from the whole archive (%d bytes)", len(got), len(want))
					}
					if _, err := os.Stat(out); err == nil {
						t.Fatalf("%s written besides its parts", out)
					}
					entries, _ := os.ReadDir(dir)
					if len(entries) != len(parts)+1 {
						t.Fatalf("the output directory holds %v, want the parts and the list", entries)
					}
					list, err := os.ReadFile(out + PartsSuffix)
					fxCheck(t, err)
					var wantList strings.Builder
					for _, p := range parts {
						b, _ := os.ReadFile(p)
						fmt.Fprintf(&wantList, "%s  %s\n", fxSHA256(b), filepath.Base(p))
					}
					if string(list) != wantList.String() {
						t.Fatalf("parts list:\n%s\nwant:\n%s", list, wantList.String())
					}
				})
			}
		}
	}
}

func TestPartNameWidth(t *testing.T) {
	for _, c := range []struct {
		i, n int
		want string
	}{{0, 1, "b.tar.001"}, {998, 999, "b.tar.999"}, {0, 1000, "b.tar.0001"}, {999, 1000, "b.tar.1000"}, {41, 12345, "b.tar.00042"}} {
		if got := partName("b.tar", c.i, c.n); got != c.want {
			t.Errorf("partName(%d of %d) = %s, want %s", c.i, c.n, got, c.want)
		}
	}
}

// writeSplit writes the sound fixture as a .tar in parts of size and returns the archive's path
// (which does not exist: only its parts and list do).
func writeSplit(t *testing.T, b *fxBundle, ext string, size int64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "shop-1.0"+ext)
	fxCheck(t, Write(context.Background(), out, fxContents(b), false, WithSplit(size)))
	return out
}

func TestVerifyParts(t *testing.T) {
	b := fxNewBundle(t)
	for _, ext := range []string{".tar", ".tar.gz", ".tar.zst"} {
		out := writeSplit(t, b, ext, 4096)
		parts := partFiles(t, out)
		if len(parts) < 3 {
			t.Fatalf("%s: %d parts, want several", ext, len(parts))
		}
		for _, arg := range []string{out, parts[0], parts[len(parts)-1], out + PartsSuffix} {
			t.Run(ext+" "+filepath.Base(arg), func(t *testing.T) {
				v, err := VerifyBundle(context.Background(), arg)
				fxCheck(t, err)
				if len(v.Problems) != 0 {
					t.Fatalf("problems in a sound bundle in parts:\n%s", strings.Join(fxProblems(v.Problems), "\n"))
				}
				if v.Parts != len(parts) || v.Manifest == nil || v.Manifest.Name != "shop" {
					t.Fatalf("parts %d (want %d), manifest %+v", v.Parts, len(parts), v.Manifest)
				}
				m, err := ReadManifest(context.Background(), arg)
				fxCheck(t, err)
				if m.Version != "1.0" {
					t.Fatalf("ReadManifest: %+v", m)
				}
				sums, _, err := ReadSums(context.Background(), arg)
				fxCheck(t, err)
				if !bytes.Contains(sums, []byte(ManifestFile)) {
					t.Fatalf("ReadSums: %s", sums)
				}
			})
		}
	}
}

func TestVerifyPartsNamesMissingAndDamaged(t *testing.T) {
	b := fxNewBundle(t)
	for _, ext := range []string{".tar", ".tar.gz"} {
		t.Run(ext+" missing", func(t *testing.T) {
			out := writeSplit(t, b, ext, 4096)
			parts := partFiles(t, out)
			fxCheck(t, os.Remove(parts[1]))
			v, err := VerifyBundle(context.Background(), parts[0])
			fxCheck(t, err)
			got := fxProblems(v.Problems)
			if len(got) != 2 || got[0] != filepath.Base(parts[1])+": missing" || !strings.Contains(got[1], "1 of its") {
				t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
			}
		})
		t.Run(ext+" missing and damaged", func(t *testing.T) {
			out := writeSplit(t, b, ext, 4096)
			parts := partFiles(t, out)
			fxCheck(t, os.Remove(parts[2]))
			flipByte(t, parts[0], 700)
			v, err := VerifyBundle(context.Background(), out+PartsSuffix)
			fxCheck(t, err)
			got := fxProblems(v.Problems)
			if len(got) != 3 || !strings.HasPrefix(got[0], filepath.Base(parts[0])+": damaged (sha256 ") || got[1] != filepath.Base(parts[2])+": missing" {
				t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
			}
		})
		t.Run(ext+" damaged", func(t *testing.T) {
			out := writeSplit(t, b, ext, 4096)
			parts := partFiles(t, out)
			last := parts[len(parts)-2]
			flipByte(t, last, 100)
			v, err := VerifyBundle(context.Background(), out)
			fxCheck(t, err)
			got := fxProblems(v.Problems)
			if len(got) < 1 || !strings.HasPrefix(got[0], filepath.Base(last)+": damaged (sha256 ") || !strings.Contains(got[0], "shop-1.0"+ext+".sha256 lists") {
				t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
			}
			for _, p := range got[1:] {
				if strings.Contains(p, ": damaged (") {
					t.Fatalf("an intact part reported: %s", p)
				}
			}
		})
	}
}

func flipByte(t *testing.T, p string, at int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	fxCheck(t, err)
	defer f.Close()
	c := make([]byte, 1)
	_, err = f.ReadAt(c, at)
	fxCheck(t, err)
	c[0] ^= 0x20
	_, err = f.WriteAt(c, at)
	fxCheck(t, err)
}

// The parts list is sha256sum's own format: `sha256sum -c` in the parts' directory checks it,
// and names a damaged part.
func TestPartsListChecksWithSha256sum(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("no sha256sum")
	}
	out := writeSplit(t, fxNewBundle(t), ".tar", 3000)
	cmd := exec.Command("sha256sum", "-c", filepath.Base(out)+PartsSuffix)
	cmd.Dir = filepath.Dir(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, b)
	}
	parts := partFiles(t, out)
	flipByte(t, parts[1], 10)
	cmd = exec.Command("sha256sum", "-c", filepath.Base(out)+PartsSuffix)
	cmd.Dir = filepath.Dir(out)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), filepath.Base(parts[1])+": FAILED") {
		t.Fatalf("sha256sum -c of a damaged part: %v\n%s", err, b)
	}
}

func TestWriteSplitLeavesNothingOnFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, c := range map[string]struct {
		ctx     context.Context
		archive fakeArchive
	}{
		"archive fails": {context.Background(), fakeArchive{body: bytes.Repeat([]byte("abcdef"), 2000), fail: errors.New("registry went away")}},
		"interrupted":   {ctx, fakeArchive{body: bytes.Repeat([]byte("abcdef"), 2000)}},
	} {
		for _, ext := range []string{".tar", ".tar.gz"} {
			t.Run(name+ext, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "b"+ext)
				if err := Write(c.ctx, out, testContents(t, c.archive), false, WithSplit(1000)); err == nil {
					t.Fatal("Write succeeded")
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Fatalf("left behind: %v", entries)
				}
			})
		}
	}
}

func TestWriteSplitRefusesExistingUnlessForced(t *testing.T) {
	b := fxNewBundle(t)
	out := writeSplit(t, b, ".tar", 2000)
	before := partFiles(t, out)
	err := Write(context.Background(), out, fxContents(b), false, WithSplit(2000))
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing parts: %v", err)
	}
	// A whole archive of that name is an existing output too.
	fxCheck(t, os.WriteFile(out, []byte("old"), 0o644))
	// Forced, with larger parts: the parts past the new last one and the old archive go.
	fxCheck(t, Write(context.Background(), out, fxContents(b), true, WithSplit(5000)))
	after := partFiles(t, out)
	if len(after) >= len(before) {
		t.Fatalf("%d parts after, %d before", len(after), len(before))
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the old whole archive is still there")
	}
	v, err := VerifyBundle(context.Background(), out)
	fxCheck(t, err)
	if len(v.Problems) != 0 {
		t.Fatalf("problems: %v", fxProblems(v.Problems))
	}
	// A part alone is an existing output.
	fxCheck(t, os.Remove(out+PartsSuffix))
	if err := Write(context.Background(), out, fxContents(b), false, WithSplit(5000)); err == nil || !strings.Contains(err.Error(), filepath.Base(after[0])) {
		t.Fatalf("an existing part: %v", err)
	}
}

func TestWriteSplitRefusesDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "shop-1.0")
	err := Write(context.Background(), out, fxContents(fxNewBundle(t)), false, WithSplit(1000))
	if err == nil || !strings.Contains(err.Error(), "only an archive") {
		t.Fatalf("split directory: %v", err)
	}
}

func TestFindPartsErrors(t *testing.T) {
	out := writeSplit(t, fxNewBundle(t), ".tar", 4096)
	parts := partFiles(t, out)
	fxCheck(t, os.Remove(out+PartsSuffix))
	_, err := FindParts(parts[0])
	if err == nil || !strings.Contains(err.Error(), "parts list shop-1.0.tar.sha256 is missing") {
		t.Fatalf("a part without its list: %v", err)
	}
	if _, _, err := Verify(context.Background(), parts[0]); err == nil {
		t.Fatal("Verify of a part without its list succeeded")
	}
	bad := filepath.Join(t.TempDir(), "x.tar.sha256")
	fxCheck(t, os.WriteFile(bad, []byte("0123  ../etc/passwd\n"), 0o644))
	if _, err := FindParts(bad); err == nil {
		t.Fatal("a bad parts list was read")
	}
	fxCheck(t, os.WriteFile(bad, []byte(strings.Repeat("a", 64)+"  ../x.tar.001\n"), 0o644))
	if _, err := FindParts(bad); err == nil || !strings.Contains(err.Error(), "not a file name beside the list") {
		t.Fatalf("a part outside the list's directory: %v", err)
	}
	// A plain archive, a directory: not parts.
	for _, p := range []string{writeSplitNone(t), t.TempDir()} {
		if ps, err := FindParts(p); ps != nil || err != nil {
			t.Fatalf("FindParts(%s) = %v, %v", p, ps, err)
		}
	}
}

func writeSplitNone(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "shop-1.0.tar")
	fxCheck(t, Write(context.Background(), out, fxContents(fxNewBundle(t)), false))
	return out
}

// Signing a bundle in parts is refused, with what to do.
func TestSignBundleRefusesParts(t *testing.T) {
	out := writeSplit(t, fxNewBundle(t), ".tar", 4096)
	key := sshtest.NewKey(t, t.TempDir(), "ed25519", "alice", "")
	signer, err := LoadSigningKey(key.Private)
	fxCheck(t, err)
	if _, err := SignBundle(context.Background(), out+".001", signer); err == nil || !strings.Contains(err.Error(), "split in parts") {
		t.Fatalf("SignBundle of parts: %v", err)
	}
}

// readingArchive writes its body out of order, reads it back in order (as an image archive's
// hasher does), and, with rewrite, writes a byte again after it was read.
type readingArchive struct {
	body    []byte
	rewrite bool
}

func (a readingArchive) Path() string { return ImageArchive }
func (a readingArchive) Size() int64  { return int64(len(a.body)) }
func (a readingArchive) WriteAt(ctx context.Context, w ReadWriterAt, base int64) (string, error) {
	half := len(a.body) / 2
	if _, err := w.WriteAt(a.body[half:], base+int64(half)); err != nil {
		return "", err
	}
	if _, err := w.WriteAt(a.body[:half], base); err != nil {
		return "", err
	}
	buf := make([]byte, 777)
	for off := 0; off < len(a.body); off += len(buf) {
		n := min(len(buf), len(a.body)-off)
		if _, err := w.ReadAt(buf[:n], base+int64(off)); err != nil {
			return "", err
		}
		if !bytes.Equal(buf[:n], a.body[off:off+n]) {
			return "", fmt.Errorf("read back at %d: not what was written", off)
		}
	}
	if a.rewrite {
		if _, err := w.WriteAt(a.body[half:half+1], base+int64(half)); err != nil {
			return "", err
		}
	}
	return sum(a.body), nil
}

// The parts' sums are right however the archive is written and read back: hashed on the way
// when read in order, again from disk for a part written behind what was hashed.
func TestWriteSplitSumsFollowReads(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 3000)
	for _, rewrite := range []bool{false, true} {
		dir := t.TempDir()
		out := filepath.Join(dir, "b.tar")
		c := testContents(t, fakeArchive{})
		c.Archives = []ArchiveWriter{readingArchive{body: body, rewrite: rewrite}}
		fxCheck(t, Write(context.Background(), out, c, false, WithSplit(5000)))
		ps, err := FindParts(out)
		fxCheck(t, err)
		if len(ps.Parts) < 9 {
			t.Fatalf("%d parts", len(ps.Parts))
		}
		probs, err := ps.Check(context.Background())
		fxCheck(t, err)
		if len(probs) > 0 {
			t.Fatalf("rewrite=%v: the parts list is wrong: %v", rewrite, fxProblems(probs))
		}
	}
}

// A file the join would take for a part but the list does not name (left from another split to
// the same name) is reported; the bundle is otherwise verified. Files the join does not take
// (the list, other names) are not.
func TestVerifyPartsNamesStray(t *testing.T) {
	b := fxNewBundle(t)
	out := writeSplit(t, b, ".tar", 4096)
	parts := partFiles(t, out)
	stray := fmt.Sprintf("%s.%03d", out, len(parts)+1)
	for _, f := range []string{stray, out + ".notes", out + ".sha256.bak"} {
		fxCheck(t, os.WriteFile(f, []byte("old"), 0o644))
	}
	v, err := VerifyBundle(context.Background(), out+PartsSuffix)
	fxCheck(t, err)
	got := fxProblems(v.Problems)
	if len(got) != 1 || !strings.HasPrefix(got[0], filepath.Base(stray)+": not a part shop-1.0.tar.sha256 lists") || !strings.Contains(got[0], "remove it") {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	if v.Manifest == nil || v.Manifest.Name != "shop" {
		t.Fatalf("the rest of the bundle was not verified: %+v", v.Manifest)
	}
}
