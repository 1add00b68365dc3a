package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/mholt/archives"
	"golang.org/x/crypto/ssh"

	"github.com/airpack/airpack/internal/tarlayout"
	"github.com/airpack/airpack/internal/xio"
)

// ReadSums reads the SHA256SUMS and the SHA256SUMS.sig (nil when there is none) of the bundle at
// path, a directory or an archive, and nothing else. An archive is read up to both (a plain .tar
// is skipped through by seeking), to its end when it is not signed.
func ReadSums(ctx context.Context, path string) (sums, sig []byte, err error) {
	ps, err := FindParts(path)
	if err != nil {
		return nil, nil, err
	}
	if ps != nil {
		j, err := ps.open()
		if err != nil {
			return nil, nil, fmt.Errorf("bundle archive %s is split in parts, and part %w", ps.Archive, err)
		}
		defer j.Close()
		sums, sig, err = readArchiveSumsFrom(ctx, path, j)
		if sums == nil && err == nil {
			return nil, nil, fmt.Errorf("%s has no %s: not an airpack bundle, or an incomplete one", path, SumsFile)
		}
		return sums, sig, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open bundle: %w", err)
	}
	if fi.IsDir() {
		if sums, err = readSmallFile(filepath.Join(path, SumsFile)); err != nil {
			return nil, nil, err
		}
		if sig, err = readSmallFile(filepath.Join(path, SigFile)); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	} else {
		sums, sig, err = readArchiveSums(ctx, path)
	}
	if sums == nil && err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s has no %s: not an airpack bundle, or an incomplete one", path, SumsFile)
	}
	return sums, sig, err
}

func readSmallFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readSmall(f, filepath.Base(p))
}

// readSmall reads r whole when it is one of the small files a bundle's checks parse.
func readSmall(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSmallFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxSmallFile {
		return nil, fmt.Errorf("%s is too large (over %d MiB) to be what its name says", name, maxSmallFile>>20)
	}
	return b, nil
}

func readArchiveSums(ctx context.Context, path string) (sums, sig []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open bundle: %w", err)
	}
	defer f.Close()
	return readArchiveSumsFrom(ctx, path, f)
}

func readArchiveSumsFrom(ctx context.Context, path string, f io.ReadSeeker) (sums, sig []byte, err error) {
	dec, err := identifyBundleArchive(ctx, path, f)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = f // a plain tar: tar.Reader seeks past what it skips
	if dec != nil {
		rc, err := dec.OpenReader(f)
		if err != nil {
			return nil, nil, fmt.Errorf("bundle archive %s is truncated or corrupt: %w", path, err)
		}
		defer rc.Close()
		r = rc
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return sums, sig, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("bundle archive %s is truncated or corrupt: %w", path, err)
		}
		name := memberName(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || name != SumsFile && name != SigFile {
			continue
		}
		b, err := readSmall(xio.ContextReader(ctx, tr), name)
		if err != nil {
			return nil, nil, err
		}
		if name == SumsFile {
			sums = b
		} else {
			sig = b
		}
		if sums != nil && sig != nil {
			return sums, sig, nil
		}
	}
}

// memberName is the bundle-relative name of a bundle archive's member, "" for its top directory.
func memberName(raw string) string {
	name := raw
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	_, rest, _ := strings.Cut(strings.TrimSuffix(name, "/"), "/")
	return rest
}

// SignBundle signs the bundle at path, a directory or an archive, in place. It verifies the bundle
// first and refuses one that is not sound (whatever its current signature says), then writes
// SHA256SUMS.sig, replacing any. A directory gets the file under a temporary name renamed into
// place. An archive is copied beside itself, streaming, with every member byte for byte but the
// signature, which comes right after SHA256SUMS, and the copy is renamed over the original. On
// error or cancellation the bundle is left as it was. The Verification is the bundle's before
// signing.
//
// A bundle archive split in parts is refused: sign the archive before splitting it (the
// signature is inside the archive, so its parts need nothing more), or pack it again with
// --sign-key and --split-size.
func SignBundle(ctx context.Context, path string, signer ssh.Signer) (*Verification, error) {
	if ps, err := FindParts(path); err != nil {
		return nil, err
	} else if ps != nil {
		return nil, fmt.Errorf("%s is a bundle archive split in parts: sign the bundle before it is split (pack again with --sign-key and --split-size, or join the parts, sign the archive and split it again)", path)
	}
	v, err := VerifyBundle(ctx, path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, p := range v.Problems {
		if p.File != SigFile { // replaced
			lines = append(lines, path+": "+p.String())
		}
	}
	if len(lines) > 0 {
		return nil, fmt.Errorf("%s\n%s: %d problems: refusing to sign a bundle that is not sound; re-pack it", strings.Join(lines, "\n"), path, len(lines))
	}
	sig, err := Sign(v.sums, signer)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	if fi.IsDir() {
		err = signDir(path, v.sums, sig)
	} else {
		err = signArchive(ctx, path, fi.Mode().Perm(), v.sums, sig)
	}
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", path, err)
	}
	return v, nil
}

// errSumsChanged is SHA256SUMS found other than it was verified and signed.
var errSumsChanged = fmt.Errorf("%s changed while the bundle was being signed: sign it again", SumsFile)

func signDir(dir string, sums, sig []byte) error {
	tmp, err := os.CreateTemp(dir, "."+SigFile+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	if _, err := tmp.Write(sig); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if cur, err := os.ReadFile(filepath.Join(dir, SumsFile)); err != nil || !bytes.Equal(cur, sums) {
		return errSumsChanged
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, SigFile))
}

func signArchive(ctx context.Context, path string, mode fs.FileMode, sums, sig []byte) (err error) {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	dec, err := identifyBundleArchive(ctx, path, in)
	if err != nil {
		return err
	}
	var r io.Reader = in
	if dec != nil {
		rc, err := dec.OpenReader(in)
		if err != nil {
			return fmt.Errorf("bundle archive %s is truncated or corrupt: %w", path, err)
		}
		defer rc.Close()
		r = rc
	}
	out, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	var w io.Writer = out
	var zw io.WriteCloser
	switch dec.(type) {
	case archives.Gz:
		zw, err = gzip.NewWriterLevel(out, gzip.DefaultCompression)
	case archives.Zstd:
		zw, err = zstd.NewWriter(out)
	}
	if err != nil {
		return err
	}
	if zw != nil {
		w = zw
	}
	if err := insertSig(xio.ContextReader(ctx, r), w, sums, sig); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if err := out.Chmod(mode); err != nil {
		return err
	}
	// On disk before it replaces the original.
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), path)
}

// insertSig copies the bundle tar stream r to w, every byte as it is, but for the signature: a
// SHA256SUMS.sig member is left out, and one holding sig is written right after SHA256SUMS,
// which must hold sums.
func insertSig(r io.Reader, w io.Writer, sums, sig []byte) error {
	t := &tee{r: r}
	tr := tar.NewReader(t)
	corrupt := func(err error) error { return fmt.Errorf("the archive is truncated or corrupt: %w", err) }
	var (
		pad      int64 // the previous member's padding, read by tr.Next
		keep     = true
		sigEntry []byte // to write next, after SHA256SUMS's padding
		inserted bool
		buf      = make([]byte, 256<<10)
	)
	for {
		hdr, err := tr.Next()
		if err != nil && err != io.EOF {
			return corrupt(err)
		}
		// What Next read: the previous member's padding, then this member's header blocks.
		read := t.take()
		if int64(len(read)) < pad {
			return corrupt(io.ErrUnexpectedEOF)
		}
		if keep {
			if _, err := w.Write(read[:pad]); err != nil {
				return err
			}
		}
		read = read[pad:]
		if sigEntry != nil {
			if _, err := w.Write(sigEntry); err != nil {
				return err
			}
			sigEntry, inserted = nil, true
		}
		if err == io.EOF {
			if len(read) < 2*512 {
				return corrupt(errors.New("it ends without tar's end-of-archive marker"))
			}
			if !inserted {
				return fmt.Errorf("no %s in the archive", SumsFile)
			}
			// The end-of-archive marker and whatever follows it.
			if _, err := w.Write(read); err != nil {
				return err
			}
			_, err := io.CopyBuffer(w, r, buf)
			return err
		}
		name := memberName(hdr.Name)
		keep = name != SigFile
		if keep {
			if _, err := w.Write(read); err != nil {
				return err
			}
		}
		// The body goes straight through the tee.
		var got bytes.Buffer
		t.sink = io.Discard
		if keep {
			t.sink = w
		}
		var dst io.Writer = struct{ io.Writer }{io.Discard}
		if name == SumsFile {
			dst = &got
		}
		_, err = io.CopyBuffer(dst, tr, buf)
		t.sink = nil
		if t.err != nil {
			return t.err
		}
		if err != nil {
			return corrupt(err)
		}
		pad = (512 - hdr.Size%512) % 512
		if name == SumsFile {
			if !bytes.Equal(got.Bytes(), sums) {
				return errSumsChanged
			}
			if sigEntry, err = tarlayout.Member(tarlayout.Entry{Name: strings.TrimSuffix(hdr.Name, SumsFile) + SigFile, Mode: 0o644, Size: int64(len(sig)), Body: sig}); err != nil {
				return err
			}
		}
	}
}

// tee passes on what is read through it: to sink when set, else into a buffer that take empties.
type tee struct {
	r    io.Reader
	sink io.Writer
	buf  bytes.Buffer
	err  error // a write to sink that failed
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if t.sink == nil {
		t.buf.Write(p[:n])
	} else if _, werr := t.sink.Write(p[:n]); werr != nil {
		t.err = werr
		return n, werr
	}
	return n, err
}

func (t *tee) take() []byte {
	b := bytes.Clone(t.buf.Bytes())
	t.buf.Reset()
	return b
}
