package bundle

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mholt/archives"
)

// EntryError is one entry of a bundle that Walk refused and did not pass on: a link, a special
// file, or a name that would land outside the bundle. Bundles never hold such entries, and
// `tar xf` would create them on the target, so each is worth reporting; Walk reports them all,
// joined, after it has walked everything else.
type EntryError struct {
	// Name is the entry's bundle-relative path, or its raw name in the archive when it has none.
	Name string
	Msg  string
	// Link is a symbolic link's target: a link airpack.json lists (Manifest.Links) is part of
	// the bundle, whose readers accept it.
	Link string
}

func (e *EntryError) Error() string { return e.Name + ": " + e.Msg }

// Walk calls fn for every regular file of the bundle at path with its bundle-relative slash path
// ("images/images.tar"), a reader of its content, valid only during the call, and its size.
// path is a bundle directory, or a bundle archive (.tar, .tar.gz/.tgz, .tar.zst, recognised by
// content) whose top directory Walk strips. The bundle is read once, front to back, and never
// extracted: bundles are gigabytes. A directory is walked in lexical order, an archive in its
// own order.
//
// If fn returns fs.SkipAll, Walk stops there and returns nil; any other error from fn stops the
// walk and is returned as is. A damaged archive gives an error saying so, also when the damage
// shows while fn reads a file. Links, special files and entries whose names leave the bundle are
// not passed to fn: Walk goes on and returns them at the end as *EntryError values, joined with
// errors.Join. An archive with files at its top level or more than one top directory is not a
// bundle: Walk stops with an error.
//
// A bundle archive split in parts (FindParts: path is its parts list, one of its parts, or its
// name when only the parts exist) is read as the archive the parts make, one after the other;
// Walk does not check the parts' checksums (VerifyBundle does).
func Walk(ctx context.Context, path string, fn func(name string, r io.Reader, size int64) error) error {
	ps, err := FindParts(path)
	if err != nil {
		return err
	}
	if ps != nil {
		j, err := ps.open()
		if err != nil {
			return fmt.Errorf("bundle archive %s is split in parts, and part %w", ps.Archive, err)
		}
		defer j.Close()
		return walkArchiveFrom(ctx, path, j, fn)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open bundle: %w", err)
	}
	if fi.IsDir() {
		return walkDir(ctx, path, fn)
	}
	return walkArchive(ctx, path, fn)
}

func walkDir(ctx context.Context, root string, fn func(string, io.Reader, int64) error) error {
	// filepath.WalkDir does not descend into a root that is a symlink ("current" -> "shop-1.0").
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	var bad []error
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read bundle %s: %w", root, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			bad = append(bad, &EntryError{Name: name, Msg: fmt.Sprintf("is a symbolic link (to %s) that %s does not list: replace it with the file itself", target, ManifestFile), Link: target})
			return nil
		case !t.IsRegular():
			bad = append(bad, &EntryError{Name: name, Msg: "is not a regular file (device, socket or pipe): bundles hold only files, directories and listed links"})
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("read bundle: %w", err)
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("read bundle: %w", err)
		}
		defer f.Close()
		if err := fn(name, xio.ContextReader(ctx, f), info.Size()); err != nil {
			if errors.Is(err, fs.SkipAll) {
				return fs.SkipAll
			}
			return walkAbort{err}
		}
		return nil
	})
	var abort walkAbort
	if errors.As(err, &abort) {
		return abort.err
	}
	if err != nil {
		return err
	}
	return errors.Join(bad...)
}

// walkAbort carries an error that ends a walk through the walk machinery (filepath.WalkDir,
// archives' Extract, which wraps it) so Walk can hand it back unchanged.
type walkAbort struct{ err error }

func (a walkAbort) Error() string { return a.err.Error() }

// tarEndMarker is the size of tar's end-of-archive marker: two zero blocks.
const tarEndMarker = 1024

func walkArchive(ctx context.Context, path string, fn func(string, io.Reader, int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open bundle: %w", err)
	}
	defer f.Close()
	return walkArchiveFrom(ctx, path, f, fn)
}

// walkArchiveFrom is walkArchive reading the archive from f.
func walkArchiveFrom(ctx context.Context, path string, f io.ReadSeeker, fn func(string, io.Reader, int64) error) error {
	corrupt := func(err error) error {
		return fmt.Errorf("bundle archive %s is truncated or corrupt: %w", path, err)
	}

	dec, err := identifyBundleArchive(ctx, path, f)
	if err != nil {
		return err
	}
	var in io.Reader = f
	if dec != nil {
		rc, err := dec.OpenReader(f)
		if err != nil {
			return corrupt(err)
		}
		defer rc.Close()
		in = rc
	}
	// The tracker sits between decompression and tar so that it sees the end-of-archive
	// marker: archive/tar takes a tar cut at an entry boundary for a complete one.
	st := &tarStream{r: in}

	var (
		top     string
		bad     []error
		stopped bool
	)
	handle := func(ctx context.Context, fi archives.FileInfo) error {
		hdr, ok := fi.Header.(*tar.Header)
		if !ok {
			return walkAbort{fmt.Errorf("bundle archive %s: unexpected entry %s", path, fi.NameInArchive)}
		}
		raw := hdr.Name
		name := strings.TrimPrefix(raw, "./")
		for strings.HasPrefix(name, "./") {
			name = strings.TrimPrefix(name, "./")
		}
		name = strings.TrimSuffix(name, "/")
		if name == "" || name == "." {
			return nil // the archive's "./" entry
		}
		if !LocalPath(name) {
			bad = append(bad, &EntryError{Name: raw, Msg: "has a name that leaves the bundle (absolute or with ..): refusing it; `tar xf` could write outside the bundle directory"})
			return nil
		}
		dir, rest, nested := strings.Cut(name, "/")
		switch {
		case !nested && hdr.Typeflag != tar.TypeDir:
			return walkAbort{fmt.Errorf("bundle archive %s has a file, %s, at its top level: a bundle archive holds one directory, <name>-<version>/, and everything inside it", path, raw)}
		case top == "":
			top = dir
		case dir != top:
			return walkAbort{fmt.Errorf("bundle archive %s has more than one top-level directory (%s/ and %s/): a bundle archive holds exactly one, <name>-<version>/", path, top, dir)}
		}
		if !nested {
			return nil
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			return nil
		case tar.TypeReg:
		case tar.TypeSymlink:
			bad = append(bad, &EntryError{Name: rest, Msg: fmt.Sprintf("is a symbolic link (to %s) that %s does not list", hdr.Linkname, ManifestFile), Link: hdr.Linkname})
			return nil
		case tar.TypeLink:
			bad = append(bad, &EntryError{Name: rest, Msg: fmt.Sprintf("is a hard link (to %s): bundles hold no links", hdr.Linkname)})
			return nil
		default:
			bad = append(bad, &EntryError{Name: rest, Msg: fmt.Sprintf("is not a regular file (tar type %q): bundles hold only files, directories and listed links", hdr.Typeflag)})
			return nil
		}
		file, err := fi.Open()
		if err != nil {
			return walkAbort{corrupt(err)}
		}
		defer file.Close()
		er := &errReader{r: file}
		err = fn(rest, xio.ContextReader(ctx, er), hdr.Size)
		if er.err != nil {
			// Whatever fn made of it, a failed read of the archive is damage to the archive.
			return walkAbort{corrupt(er.err)}
		}
		if errors.Is(err, fs.SkipAll) {
			stopped = true
			return fs.SkipAll
		}
		if err != nil {
			return walkAbort{err}
		}
		return nil
	}

	err = archives.Tar{}.Extract(ctx, st, handle)
	var abort walkAbort
	switch {
	case errors.As(err, &abort):
		return abort.err
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return corrupt(err)
	case stopped:
		return nil
	}
	if st.zeros < tarEndMarker {
		return corrupt(errors.New("it ends without tar's end-of-archive marker"))
	}
	// Read to the end so the decompressor checks its trailer (gzip's CRC, zstd's checksum).
	if _, err := io.Copy(io.Discard, xio.ContextReader(ctx, st)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return corrupt(err)
	}
	if top == "" {
		return fmt.Errorf("bundle archive %s is empty", path)
	}
	return errors.Join(bad...)
}

// identifyBundleArchive recognises a bundle archive by content and returns the decompressor to
// read it through, nil for a plain tar.
func identifyBundleArchive(ctx context.Context, path string, f io.ReadSeeker) (archives.Decompressor, error) {
	// By content only (no file name): archives also matches by name, and by a substring of it.
	format, _, err := archives.Identify(ctx, "", f)
	if _, serr := f.Seek(0, io.SeekStart); serr != nil {
		return nil, fmt.Errorf("read bundle archive %s: %w", path, serr)
	}
	if err != nil {
		format = nil // checked below as a tar
	}
	switch fm := format.(type) {
	case archives.Tar:
		return nil, nil
	case archives.CompressedArchive:
		if _, ok := fm.Extraction.(archives.Tar); ok {
			switch c := fm.Compression.(type) {
			case archives.Gz, archives.Zstd:
				return c, nil
			}
		}
	case archives.Gz, archives.Zstd:
		// Compressed, but no tar header could be read inside.
		return nil, fmt.Errorf("bundle archive %s is truncated or corrupt: no tar archive inside its %s compression", path, fm.Extension())
	}
	// archives tries compressions before tar, and a few of them (zlib, brotli) match on as little
	// as two bytes, which a tar's first file name can happen to be (then looking for an archive
	// inside fails): check for a tar directly.
	mr, err := archives.Tar{}.Match(ctx, "", f)
	if _, serr := f.Seek(0, io.SeekStart); serr != nil {
		return nil, fmt.Errorf("read bundle archive %s: %w", path, serr)
	}
	if err == nil && mr.ByStream {
		return nil, nil
	}
	what := "an unknown format"
	if format != nil {
		what = strings.TrimPrefix(format.Extension(), ".") + " data"
	}
	return nil, fmt.Errorf("%s is neither a bundle directory nor a bundle archive (.tar, .tar.gz, .tar.zst): it holds %s", path, what)
}

// tarStream counts the zero bytes at the end of what has been read so far, so that once tar has
// stopped the walk can tell whether it saw the end-of-archive marker.
type tarStream struct {
	r     io.Reader
	zeros int64
}

func (s *tarStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	// Scan back from the end: only the trailing run of zeros matters.
	i := n - 1
	for i >= 0 && p[i] == 0 {
		i--
	}
	if i < 0 {
		s.zeros += int64(n)
	} else {
		s.zeros = int64(n - 1 - i)
	}
	return n, err
}

// errReader remembers the first read error other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
