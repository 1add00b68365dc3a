package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/ssh"

	"github.com/airpack/airpack/internal/tarlayout"
)

// File is one file of a bundle, given by content or by a file to copy.
type File struct {
	// Name is the bundle-relative slash path.
	Name string
	Mode fs.FileMode
	Body []byte
	// Src, when set, is the file to copy instead of Body.
	Src string
	// Dir makes the entry a directory (Mode its permissions), so that an empty directory, or one
	// whose mode or owner matters, is kept.
	Dir bool
	// Link, when set, makes the entry a symbolic link to Link (see Manifest.Links).
	Link string
	// Owner, when set, is the numeric owner and group the file keeps: in archives always, in a
	// bundle directory when written as root. Nil is root's.
	Owner *Owner
	// Late, when set, gives the body once every archive is written: for a file that describes
	// an archive known only then (a streamed archive's images). It must return exactly Reserve
	// bytes, the space an archive keeps for it before the archives.
	Late    func() ([]byte, error)
	Reserve int64
}

// lateBody returns f with the body Late gives.
func lateBody(f File) (File, error) {
	b, err := f.Late()
	if err != nil {
		return f, err
	}
	if int64(len(b)) != f.Reserve {
		return f, fmt.Errorf("%s: %d bytes, not the %d reserved for it", f.Name, len(b), f.Reserve)
	}
	f.Body, f.Late = b, nil
	return f, nil
}

// Owner is a numeric user and group.
type Owner struct{ Uid, Gid int }

func (f File) owner() (uid, gid int) {
	if f.Owner == nil {
		return 0, 0
	}
	return f.Owner.Uid, f.Owner.Gid
}

// ArchiveWriter writes an image archive whose size is known before it is written, so it can be
// written straight to its place inside a bundle archive, or, for a streamed archive, only once
// written: such an archive must be the last of a bundle's archives (its end is open).
type ArchiveWriter interface {
	// Path is the archive's bundle-relative path.
	Path() string
	// Size is the archive's size in bytes; -1 for a streamed archive until WriteAt returned.
	Size() int64
	// WriteAt writes the archive at offset base of f and returns the hex sha256 of the bytes it
	// wrote (hashing while writing saves a second pass over a large file). f is also read: a
	// writer may read back what it wrote.
	WriteAt(ctx context.Context, f ReadWriterAt, base int64) (string, error)
}

// ReadWriterAt is a file archives are written into.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// Contents is everything a bundle holds but SHA256SUMS, which Write computes.
type Contents struct {
	// Dir is the bundle's top directory name, <name>-<version>.
	Dir      string
	Files    []File
	Archives []ArchiveWriter
}

// Format is how a bundle is written.
type Format int

const (
	FormatDir Format = iota
	FormatTar
	FormatTarGz
	FormatTarZst
)

// FormatOf picks the format from the output path's extension: .tar, .tar.gz/.tgz, .tar.zst,
// anything else a directory.
func FormatOf(out string) Format {
	switch {
	case strings.HasSuffix(out, ".tar"):
		return FormatTar
	case strings.HasSuffix(out, ".tar.gz"), strings.HasSuffix(out, ".tgz"):
		return FormatTarGz
	case strings.HasSuffix(out, ".tar.zst"):
		return FormatTarZst
	}
	return FormatDir
}

// WriteOption changes how Write writes a bundle.
type WriteOption func(*writeOptions)

type writeOptions struct {
	signer ssh.Signer
	split  int64
}

// WithSigner makes Write sign the bundle: SHA256SUMS.sig (see Sign) follows SHA256SUMS. A nil
// signer writes an unsigned bundle.
func WithSigner(s ssh.Signer) WriteOption {
	return func(o *writeOptions) { o.signer = s }
}

// WithSplit makes Write write an archive in parts of size bytes each (the last one shorter):
// OUT.001, OUT.002, … and the parts list OUT.sha256 (see FindParts), for media smaller than the
// bundle. A directory output is refused. Size 0 writes one file.
func WithSplit(size int64) WriteOption {
	return func(o *writeOptions) { o.split = size }
}

// Write writes the bundle to out, in the format its name asks for. It builds under a temporary
// name beside out and renames it into place only when complete: on error or cancellation
// nothing is left behind. An existing out is refused unless force.
func Write(ctx context.Context, out string, c Contents, force bool, opts ...WriteOption) (err error) {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.split < 0 {
		return fmt.Errorf("split size %d: must be positive", o.split)
	}
	if o.split > 0 && FormatOf(out) == FormatDir {
		return fmt.Errorf("output %s is a directory: only an archive (.tar, .tar.gz, .tar.zst) can be split in parts", out)
	}
	if err := CheckOutput(out, o.split > 0, force); err != nil {
		return err
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return fmt.Errorf("cannot write to %s: %w", parent, err)
	}
	defer func() {
		if rmErr := removeAll(tmp); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	var built string
	switch f := FormatOf(out); f {
	case FormatDir:
		built = filepath.Join(tmp, "bundle")
		if _, err := writeDir(ctx, built, c, o); err != nil {
			return err
		}
	case FormatTar:
		if o.split > 0 {
			parts := filepath.Join(tmp, "parts")
			if err := os.Mkdir(parts, 0o755); err != nil {
				return err
			}
			pf := newPartsFile(parts, o.split)
			err := writeTar(ctx, pf, c, o)
			if err != nil {
				pf.abort()
				return err
			}
			sums, err := pf.finish(ctx)
			if err != nil {
				return err
			}
			return commitParts(parts, tmp, out, sums, force)
		}
		built = filepath.Join(tmp, "bundle.tar")
		if err := writeTarFile(ctx, built, c, o); err != nil {
			return err
		}
	default:
		dir := filepath.Join(tmp, c.Dir)
		if _, err := writeDir(ctx, dir, c, o); err != nil {
			return err
		}
		if o.split > 0 {
			parts := filepath.Join(tmp, "parts")
			if err := os.Mkdir(parts, 0o755); err != nil {
				return err
			}
			pw := newPartsWriter(parts, o.split)
			if err := compressDir(ctx, pw, tmp, c, f); err != nil {
				pw.abort()
				return err
			}
			sums, err := pw.finish()
			if err != nil {
				return err
			}
			return commitParts(parts, tmp, out, sums, force)
		}
		built = filepath.Join(tmp, "bundle.tar.x")
		zf, err := os.OpenFile(built, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		err = compressDir(ctx, zf, tmp, c, f)
		if cerr := zf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return replace(built, out, tmp)
}

// replace moves built to out, moving an existing out aside first so it is only lost once the
// new bundle is in place.
func replace(built, out, tmp string) error {
	if _, err := os.Lstat(out); err == nil {
		if err := os.Rename(out, filepath.Join(tmp, "old")); err != nil {
			return fmt.Errorf("replace %s: %w", out, err)
		}
	}
	if err := os.Rename(built, out); err != nil {
		return fmt.Errorf("move bundle into place at %s: %w", out, err)
	}
	return nil
}

// writeDir writes the bundle as a directory and returns its sums.
func writeDir(ctx context.Context, dir string, c Contents, o writeOptions) (Sums, error) {
	sums := Sums{}
	var dirs, late []File
	for _, f := range c.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if f.Late != nil {
			late = append(late, f)
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if f.Link != "" {
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			if err := os.Symlink(f.Link, dst); err != nil {
				return nil, err
			}
			if uid, gid := f.owner(); (uid != 0 || gid != 0) && os.Geteuid() == 0 {
				if err := os.Lchown(dst, uid, gid); err != nil {
					return nil, err
				}
			}
			continue
		}
		if f.Dir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return nil, err
			}
			dirs = append(dirs, f)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		sum, err := writeFile(dst, f)
		if err != nil {
			return nil, err
		}
		sums[f.Name] = sum
	}
	for _, a := range c.Archives {
		dst := filepath.Join(dir, filepath.FromSlash(a.Path()))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		sum, err := writeArchiveFile(ctx, dst, a)
		if err != nil {
			return nil, err
		}
		sums[a.Path()] = sum
	}
	for _, f := range late {
		f, err := lateBody(f)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if sums[f.Name], err = writeFile(dst, f); err != nil {
			return nil, err
		}
	}
	// Directories last, deepest first: a 0500 directory is only closed once it is complete.
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Name > dirs[j].Name })
	for _, d := range dirs {
		if err := setMeta(filepath.Join(dir, filepath.FromSlash(d.Name)), d); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), sums.Format(), 0o644); err != nil {
		return nil, err
	}
	if o.signer != nil {
		sig, err := Sign(sums.Format(), o.signer)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, SigFile), sig, 0o644); err != nil {
			return nil, err
		}
	}
	return sums, nil
}

func fileMode(f File) fs.FileMode {
	if f.Mode == 0 {
		return 0o644
	}
	return f.Mode & modeBits
}

func writeFile(dst string, f File) (string, error) {
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode(f))
	if err != nil {
		return "", err
	}
	defer w.Close()
	sum, err := copyBody(w, f)
	if err != nil {
		return "", err
	}
	// The umask may have narrowed the mode; load.sh must stay executable.
	if err := w.Chmod(fileMode(f)); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return sum, setMeta(dst, f)
}

// removeAll is os.RemoveAll after giving the owner write and search permission on every
// directory below dir: a shipped directory keeps its mode (0500 too), which would otherwise keep
// a writer that is not root from deleting its staging copy.
func removeAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if info, err := d.Info(); err == nil && info.Mode().Perm()&0o700 != 0o700 {
				os.Chmod(p, info.Mode().Perm()|0o700)
			}
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// setMeta gives a written file or directory its mode and, when airpack runs as root (only root
// can give files away), its owner.
func setMeta(p string, f File) error {
	mode := fileMode(f)
	if f.Dir {
		mode = dirMode(f)
	}
	if uid, gid := f.owner(); (uid != 0 || gid != 0) && os.Geteuid() == 0 {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(p, mode)
}

// modeBits are the mode bits a bundle keeps: permissions, setuid, setgid, sticky.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// tarMode is m as a tar header's (Unix) mode.
func tarMode(m fs.FileMode) int64 {
	n := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return n
}

func dirMode(f File) fs.FileMode {
	if f.Mode == 0 {
		return 0o755
	}
	return f.Mode & modeBits
}

// copyBody writes f's content to w and returns its sha256.
func copyBody(w io.Writer, f File) (string, error) {
	h := sha256.New()
	mw := io.MultiWriter(w, h)
	if f.Src == "" {
		if _, err := mw.Write(f.Body); err != nil {
			return "", err
		}
	} else {
		r, err := os.Open(f.Src)
		if err != nil {
			return "", fmt.Errorf("copy %s into the bundle: %w", f.Src, err)
		}
		defer r.Close()
		if _, err := io.Copy(mw, r); err != nil {
			return "", fmt.Errorf("copy %s into the bundle: %w", f.Src, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeArchiveFile(ctx context.Context, dst string, a ArchiveWriter) (string, error) {
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	streamed := a.Size() < 0
	if !streamed {
		if err := f.Truncate(a.Size()); err != nil {
			return "", err
		}
	}
	sum, err := a.WriteAt(ctx, f, 0)
	if err != nil {
		return "", err
	}
	if streamed {
		// A streamed archive may have written past its end (a blob it then left out or found it had).
		if err := f.Truncate(a.Size()); err != nil {
			return "", err
		}
	}
	return sum, f.Close()
}

// entry is one member of a bundle archive, in archive order.
type entry struct {
	name    string // bundle-relative; "" is the top directory
	dir     bool
	file    *File
	archive ArchiveWriter
	size    int64
	mode    fs.FileMode
	owner   *Owner
	link    string
}

// archiveEntries lists a bundle's members in the order bundle archives use: the top directory,
// the small files sorted by path (each after its directory), the image archives, SHA256SUMS.
// Small files come first so a reader looking for airpack.json stops early.
func archiveEntries(c Contents, sizeOf func(File) (int64, error)) ([]entry, error) {
	entries := []entry{{name: "", dir: true}}
	seen := map[string]bool{"": true}
	addDirs := func(p string) {
		var parents []string
		for d := path.Dir(p); d != "." && !seen[d]; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			seen[parents[i]] = true
			entries = append(entries, entry{name: parents[i], dir: true})
		}
	}
	files := append([]File(nil), c.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for i := range files {
		f := &files[i]
		if !LocalPath(f.Name) {
			return nil, fmt.Errorf("bundle file %q leaves the bundle", f.Name)
		}
		addDirs(f.Name)
		if f.Dir {
			if seen[f.Name] {
				return nil, fmt.Errorf("bundle directory %s comes after its files", f.Name)
			}
			seen[f.Name] = true
			entries = append(entries, entry{name: f.Name, dir: true, mode: dirMode(*f), owner: f.Owner})
			continue
		}
		if f.Link != "" {
			entries = append(entries, entry{name: f.Name, link: f.Link, mode: 0o777, owner: f.Owner})
			continue
		}
		n := f.Reserve
		if f.Late == nil {
			var err error
			if n, err = sizeOf(*f); err != nil {
				return nil, err
			}
		}
		entries = append(entries, entry{name: f.Name, file: f, size: n, mode: fileMode(*f), owner: f.Owner})
	}
	for i, a := range c.Archives {
		if a.Size() < 0 && i != len(c.Archives)-1 {
			return nil, fmt.Errorf("image archive %s is streamed: it must be the bundle's last", a.Path())
		}
		addDirs(a.Path())
		entries = append(entries, entry{name: a.Path(), archive: a, size: a.Size(), mode: 0o644})
	}
	return entries, nil
}

// writeTarFile writes the bundle straight into one uncompressed tar: every size is known up
// front, so image blobs land at their final offsets with no staging copy. The signature, whose
// size is not, is added after SHA256SUMS at the end.
func writeTarFile(ctx context.Context, dst string, c Contents, o writeOptions) error {
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeTar(ctx, f, c, o); err != nil {
		return err
	}
	return f.Close()
}

// tarOutput is what an uncompressed bundle archive is written into: a file, or its parts.
type tarOutput interface {
	ReadWriterAt
	Truncate(size int64) error
}

// writeTar writes the bundle archive into f (see writeTarFile).
func writeTar(ctx context.Context, f tarOutput, c Contents, o writeOptions) error {
	entries, err := archiveEntries(c, func(f File) (int64, error) {
		if f.Src == "" {
			return int64(len(f.Body)), nil
		}
		st, err := os.Stat(f.Src)
		if err != nil {
			return 0, fmt.Errorf("copy %s into the bundle: %w", f.Src, err)
		}
		return st.Size(), nil
	})
	if err != nil {
		return err
	}
	// SHA256SUMS (and the signature) end the archive, once every body is written: after a
	// streamed archive, whose size is known only then (Layout.Finish).
	var plan []tarlayout.Entry
	for _, e := range entries {
		te := tarlayout.Entry{Name: path.Join(c.Dir, e.name) + dirSlash(e.dir), Dir: e.dir, Size: e.size, Mode: tarMode(e.mode), Link: e.link}
		if e.owner != nil {
			te.Uid, te.Gid = e.owner.Uid, e.owner.Gid
		}
		te.Streamed = e.archive != nil && e.size < 0
		plan = append(plan, te)
	}
	l, err := tarlayout.Plan(plan)
	if err != nil {
		return err
	}
	if err := f.Truncate(l.Size()); err != nil {
		return err
	}
	if err := l.WriteFrame(f, 0); err != nil {
		return err
	}
	sums := Sums{}
	for i, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case e.link != "", e.file != nil && e.file.Late != nil:
		case e.file != nil:
			sum, err := writeBody(f, l, i, *e.file)
			if err != nil {
				return err
			}
			sums[e.name] = sum
		case e.archive != nil:
			sum, err := e.archive.WriteAt(ctx, f, l.DataOffset(i))
			if err != nil {
				return err
			}
			sums[e.name] = sum
		}
	}
	for i, e := range entries {
		if e.file == nil || e.file.Late == nil {
			continue
		}
		lf, err := lateBody(*e.file)
		if err != nil {
			return err
		}
		if sums[e.name], err = writeBody(f, l, i, lf); err != nil {
			return err
		}
	}
	body := sums.Format()
	var sig []byte
	if o.signer != nil {
		if sig, err = Sign(body, o.signer); err != nil {
			return err
		}
	}
	trailer := []tarlayout.Entry{{Name: path.Join(c.Dir, SumsFile), Mode: 0o644, Size: int64(len(body)), Body: body}}
	if sig != nil {
		trailer = append(trailer, tarlayout.Entry{Name: path.Join(c.Dir, SigFile), Mode: 0o644, Size: int64(len(sig)), Body: sig})
	}
	var streamedSize int64
	if last := entries[len(entries)-1]; last.archive != nil && last.size < 0 {
		streamedSize = last.archive.Size()
	}
	total, err := l.Finish(f, 0, streamedSize, trailer...)
	if err != nil {
		return err
	}
	// A streamed archive may have written past its end (a blob it then left out or found it had).
	return f.Truncate(total)
}

// writeBody writes file entry i's body at its place in the planned archive and returns its
// sha256.
func writeBody(f ReadWriterAt, l *tarlayout.Layout, i int, file File) (string, error) {
	bw := l.Body(f, 0, i)
	sum, err := copyBody(bw, file)
	if err != nil {
		return "", err
	}
	if err := bw.Close(); err != nil {
		return "", fmt.Errorf("%s changed while being packed: %w", file.Src, err)
	}
	return sum, nil
}

func dirSlash(dir bool) string {
	if dir {
		return "/"
	}
	return ""
}

// compressDir streams the bundle directory root/top as a compressed tar into out, members in
// archive order with fixed headers, so the same bundle gives the same bytes.
func compressDir(ctx context.Context, out io.Writer, root string, in Contents, format Format) error {
	top := in.Dir
	dir := filepath.Join(root, top)
	var c Contents
	// Owners and directories as given: the directory on disk has them only when written as root.
	given := map[string]File{}
	for _, f := range in.Files {
		given[f.Name] = f
		if f.Dir {
			c.Files = append(c.Files, f)
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || filepath.ToSlash(rel) == SumsFile || filepath.ToSlash(rel) == SigFile {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			c.Files = append(c.Files, File{Name: filepath.ToSlash(rel), Link: target, Owner: given[filepath.ToSlash(rel)].Owner})
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode() & modeBits
		if g, ok := given[filepath.ToSlash(rel)]; ok && g.Mode != 0 {
			mode = fileMode(g) // as given: the disk may lack setuid/setgid bits chmod refused
		}
		c.Files = append(c.Files, File{Name: filepath.ToSlash(rel), Src: p, Mode: mode, Owner: given[filepath.ToSlash(rel)].Owner})
		return nil
	})
	if err != nil {
		return err
	}
	// archiveEntries sorts the files: the signature comes right after SHA256SUMS.
	c.Files = append(c.Files, File{Name: SumsFile, Src: filepath.Join(dir, SumsFile), Mode: 0o644})
	if _, err := os.Stat(filepath.Join(dir, SigFile)); err == nil {
		c.Files = append(c.Files, File{Name: SigFile, Src: filepath.Join(dir, SigFile), Mode: 0o644})
	}
	entries, err := archiveEntries(c, func(f File) (int64, error) {
		st, err := os.Stat(f.Src)
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	})
	if err != nil {
		return err
	}

	var zw io.WriteCloser
	if format == FormatTarZst {
		zw, err = zstd.NewWriter(out)
	} else {
		zw, err = gzip.NewWriterLevel(out, gzip.DefaultCompression)
	}
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := &tar.Header{Name: path.Join(top, e.name) + dirSlash(e.dir), ModTime: tarlayout.ModTime, Uname: "root", Gname: "root", Mode: tarMode(e.mode), Size: e.size, Typeflag: tar.TypeReg}
		if e.owner != nil {
			h.Uid, h.Gid = e.owner.Uid, e.owner.Gid
			if h.Uid != 0 {
				h.Uname = ""
			}
			if h.Gid != 0 {
				h.Gname = ""
			}
		}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
			if e.mode == 0 {
				h.Mode = 0o755
			}
		}
		if e.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !e.dir && e.link == "" {
			if err := copyFileTo(tw, e.file.Src); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func copyFileTo(w io.Writer, src string) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}
