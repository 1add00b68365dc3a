package ram

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mholt/archives"
)

// File names inside a package's top-level directory.
const (
	MetadataFile        = "metadata.json"
	ComponentImagesFile = "component-images.tar"
	PluginImagesFile    = "plugin-images.tar"
	OldPluginImagesFile = "plugins-images.tar" // older exports
)

// DefaultMaxSize is ReadOptions.MaxSize when none is given: 20 GiB.
const DefaultMaxSize int64 = 20 << 30

const (
	legacyImageTarSuffix = ".tar"
	maxMetadataSize      = 256 << 20
)

// Package layouts (Package.Layout).
const (
	LayoutCurrent  = "current"    // Rainbond >= 5.3: component-images.tar beside metadata.json
	LayoutLegacy52 = "legacy-5.2" // Rainbond <= 5.2: one <component>/<image>.image.tar each
)

// Flavor is the platform a package is made for. The package format is the same; only the names
// shown to people differ.
type Flavor string

const (
	Rainbond Flavor = "rainbond"
	Kato     Flavor = "kato"
)

// FormatName is the platform's name for the package format: rainbond-app or kato-app.
func (f Flavor) FormatName() string {
	if f == Kato {
		return "kato-app"
	}
	return "rainbond-app"
}

// DisplayName is the platform's name: Rainbond or Kato.
func (f Flavor) DisplayName() string {
	if f == Kato {
		return "Kato"
	}
	return "Rainbond"
}

// TopDir is the package's one top-level directory: <group_name>-<group_version>-ram.
func TopDir(t *Template) string { return t.GroupName + "-" + t.GroupVersion + "-ram" }

// PackageFileName is the file name the platform gives a package: <group_name>-<group_version>-ram.tar.gz.
func PackageFileName(t *Template) string { return TopDir(t) + ".tar.gz" }

// ReadOptions configures ReadPackage.
type ReadOptions struct {
	// WorkDir is where the package is extracted: ReadPackage creates a new directory inside it
	// (Package.Root). Default: the system's temporary directory.
	WorkDir string
	// MaxSize bounds the bytes decompressed from the package (the tar stream of a gzip tar; the
	// entries read from a zip); reading stops once it is passed. 0 or less: DefaultMaxSize.
	MaxSize int64
}

// Package is a RAM package read from disk. Its image archives are extracted under Root; the
// caller removes them with Remove.
type Package struct {
	Template *Template
	// Dir is the name of the package's top-level directory.
	Dir string
	// Root is the directory ReadPackage created inside ReadOptions.WorkDir; every path below
	// is inside it.
	Root string
	// Layout is LayoutCurrent or LayoutLegacy52.
	Layout string
	// ComponentImages is the extracted component-images.tar ("" when the package has none:
	// a legacy package, or a template of Kubernetes resources only). Every apps[].share_image
	// is in it, under its own name or its LegacySaveName.
	ComponentImages string
	// PluginImages is the extracted plugin-images.tar (or plugins-images.tar); "" when the
	// template has no plugins (the importer ignores plugin images then, and so does ReadPackage).
	PluginImages string
	// LegacyImages maps each share_image of a legacy package to the extracted tar holding it,
	// saved under its LegacySaveName (goodrain.me/ns/abc:v1 as abc:v1): retag before use.
	LegacyImages map[string]string
	// LegacyPluginImages maps each plugins[].share_image not in PluginImages to the extracted
	// tar holding it: a Rainbond 5.2 package stores each plugin's image as it stores a
	// component's, in <plugin_name>/<image>.image.tar under its LegacySaveName. nil when every
	// plugin image is in PluginImages, or the template has no plugins.
	LegacyPluginImages map[string]string
	// Warnings are problems the platform importer would have with the package that do not
	// stop airpack from reading it.
	Warnings []string
}

// Remove deletes everything ReadPackage extracted.
func (p *Package) Remove() error {
	if p.Root == "" {
		return nil
	}
	return os.RemoveAll(p.Root)
}

// errTooBig stops a read that passed ReadOptions.MaxSize.
var errTooBig = errors.New("package expands past the size limit")

// abort carries an error of ReadPackage's own through the archive walk, so that it is not
// mistaken for damage to the archive.
type abort struct{ err error }

func (a abort) Error() string { return a.err.Error() }

// ReadPackage reads a RAM package: a gzip tar (-ram.tar.gz, .ram.tar.gz or any name; recognised
// by content) or a Rainbond 5.2 zip. It decodes and validates metadata.json, extracts the image
// archives into a new directory inside opts.WorkDir, and checks that every component's
// share_image is in them (a plugin's missing image is a warning: a bundle needs none). It refuses entries that would land outside that directory (absolute
// names, "..") and links of any kind. On error nothing extracted is left behind, and the error is
// one line naming the file.
func ReadPackage(ctx context.Context, file string, opts ReadOptions) (pkg *Package, err error) {
	maxSize := opts.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	f, _, kind, err := openPackage(ctx, file, "read")
	if err != nil {
		return nil, err
	}
	defer f.Close()

	workDir := opts.WorkDir
	if workDir == "" {
		workDir = os.TempDir()
	}
	if workDir, err = filepath.Abs(workDir); err != nil {
		return nil, fmt.Errorf("read RAM package %s: %w", file, err)
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, fmt.Errorf("read RAM package %s: %w", file, err)
	}
	root, err := os.MkdirTemp(workDir, "ram-")
	if err != nil {
		return nil, fmt.Errorf("read RAM package %s: %w", file, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(root)
		}
	}()

	x := &extractor{file: file, root: root, max: maxSize, files: map[string]string{}}
	switch kind {
	case "zip":
		err = x.readZip(ctx, f)
	default:
		err = x.readGzipTar(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	return x.finish()
}

// openPackage opens file for verb ("read", "inspect") and tells its kind: "gzip" (a gzip tar)
// or "zip". It returns its size too. An error saying that file is no package archive (a
// directory, another format) wraps ErrNotPackage.
func openPackage(ctx context.Context, file, verb string) (f *os.File, size int64, kind string, err error) {
	f, err = os.Open(file)
	if err != nil {
		return nil, 0, "", fmt.Errorf("%s RAM package: %w", verb, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, "", fmt.Errorf("%s RAM package: %w", verb, err)
	}
	if st.IsDir() {
		return nil, 0, "", notPackage{fmt.Errorf("%s is a directory: want a RAM package file (a gzip tar, .tar.gz, or a zip)", file)}
	}
	if kind, err = identify(ctx, file, f); err != nil {
		return nil, 0, "", notPackage{err}
	}
	return f, st.Size(), kind, nil
}

// identify tells a gzip tar ("gzip") from a zip ("zip") by content.
func identify(ctx context.Context, file string, f *os.File) (string, error) {
	rewind := func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("read RAM package %s: %w", file, err)
		}
		return nil
	}
	// By content only (no file name: archives also matches names, by substring).
	format, _, ierr := archives.Identify(ctx, "", f)
	if err := rewind(); err != nil {
		return "", err
	}
	if ierr == nil {
		switch fm := format.(type) {
		case archives.CompressedArchive:
			_, gz := fm.Compression.(archives.Gz)
			_, tr := fm.Extraction.(archives.Tar)
			if gz && tr {
				return "gzip", nil
			}
		case archives.Zip:
			return "zip", nil
		}
	}
	// Identify tries the compressions first, in no fixed order, and some (brotli) match by
	// trying to decode: check the gzip and zip signatures directly as well.
	if mr, _ := (archives.Zip{}).Match(ctx, "", f); mr.ByStream {
		return "zip", rewind()
	}
	if err := rewind(); err != nil {
		return "", err
	}
	if mr, _ := (archives.Gz{}).Match(ctx, "", f); mr.ByStream {
		if err := rewind(); err != nil {
			return "", err
		}
		// gzip: is there a tar inside?
		zr, err := archives.Gz{}.OpenReader(f)
		if err != nil {
			return "", fmt.Errorf("%s is truncated or corrupt: %v", file, err)
		}
		defer zr.Close()
		head, err := io.ReadAll(io.LimitReader(zr, 512))
		if err != nil {
			return "", fmt.Errorf("%s is truncated or corrupt: %v", file, err)
		}
		// A tar starts with a 512-byte header (all zeros in an empty tar: io.EOF).
		if _, terr := tar.NewReader(bytes.NewReader(head)).Next(); len(head) < 512 || (terr != nil && terr != io.EOF) {
			return "", fmt.Errorf("%s is not a RAM package: want a gzip tar (.tar.gz) or a zip; it is gzip-compressed data with no tar archive inside", file)
		}
		return "gzip", rewind()
	}
	if err := rewind(); err != nil {
		return "", err
	}
	what := "data of an unknown format"
	if _, isTar := format.(archives.Tar); isTar {
		what = "an uncompressed tar (the importer runs tar -xzf on it: compress it with gzip)"
	} else if mr, _ := (archives.Tar{}).Match(ctx, "", f); mr.ByStream {
		what = "an uncompressed tar (the importer runs tar -xzf on it: compress it with gzip)"
	} else if format != nil && ierr == nil {
		what = strings.TrimPrefix(format.Extension(), ".") + " data"
	} else {
		// Identify fails on a compressed stream it cannot look inside: name it by its signature.
		for _, fm := range []archives.Format{archives.Xz{}, archives.Zstd{}, archives.Bz2{}, archives.Lz4{}, archives.SevenZip{}, archives.Rar{}} {
			if err := rewind(); err != nil {
				return "", err
			}
			if mr, _ := fm.Match(ctx, "", f); mr.ByStream {
				what = strings.TrimPrefix(fm.Extension(), ".") + " data"
				break
			}
		}
	}
	if err := rewind(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s is not a RAM package: want a gzip tar (.tar.gz) or a zip, got %s", file, what)
}

// extractor walks a package's entries, refusing unsafe ones and extracting what ReadPackage
// needs: metadata.json (into memory) and the image tars at depth 1 and 2.
type extractor struct {
	file     string
	root     string
	max      int64
	read     int64 // bytes decompressed so far
	top      string
	metadata []byte
	files    map[string]string // path inside top -> extracted file
	order    []string          // keys of files in archive order
	current  string            // the entry being read, for messages
}

func (x *extractor) tooBig() error {
	return fmt.Errorf("%s expands past the --max-size limit of %d bytes", x.file, x.max)
}

func (x *extractor) corrupt(err error) error {
	// The innermost error says what is wrong; archives' wrapping only repeats the entry name.
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	if x.current != "" {
		return fmt.Errorf("%s is truncated or corrupt: %v (reading entry %s)", x.file, err, quote(x.current))
	}
	return fmt.Errorf("%s is truncated or corrupt: %v", x.file, err)
}

// countingReader counts the bytes read through it against the size limit.
type countingReader struct {
	r io.Reader
	x *extractor
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.x.read >= c.x.max {
		// Allow reading one byte past to tell "exactly at the limit" from "past it".
		p = p[:min(len(p), 1)]
	}
	n, err := c.r.Read(p)
	c.x.read += int64(n)
	if c.x.read > c.x.max {
		return n, errTooBig
	}
	return n, err
}

func (x *extractor) readGzipTar(ctx context.Context, f *os.File) error {
	zr, err := archives.Gz{}.OpenReader(f)
	if err != nil {
		return x.corrupt(err)
	}
	defer zr.Close()
	in := &countingReader{r: zr, x: x}
	handle := func(ctx context.Context, fi archives.FileInfo) error {
		h, ok := fi.Header.(*tar.Header)
		if !ok {
			return abort{fmt.Errorf("%s: unexpected entry %s", x.file, fi.NameInArchive)}
		}
		kind := entryFile
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
		case tar.TypeDir:
			kind = entryDir
		case tar.TypeSymlink:
			kind = entrySymlink
		case tar.TypeLink:
			kind = entryHardlink
		default:
			kind = entryOther
		}
		return x.entry(ctx, h.Name, kind, h.Linkname, func() (io.ReadCloser, error) { return fi.Open() })
	}
	err = archives.Tar{}.Extract(ctx, in, handle)
	if err == nil {
		// Read to the end so gzip checks its trailer (CRC and length): a package cut short at
		// an entry boundary is otherwise taken for a whole one.
		_, err = io.Copy(io.Discard, xio.ContextReader(ctx, in))
	}
	return x.walkErr(ctx, err)
}

func (x *extractor) readZip(ctx context.Context, f *os.File) error {
	handle := func(ctx context.Context, fi archives.FileInfo) error {
		kind := entryFile
		switch m := fi.Mode(); {
		case m&fs.ModeSymlink != 0:
			kind = entrySymlink
		case m.IsDir():
			kind = entryDir
		case !m.IsRegular():
			kind = entryOther
		}
		return x.entry(ctx, fi.NameInArchive, kind, fi.LinkTarget, func() (io.ReadCloser, error) {
			rc, err := fi.Open()
			if err != nil {
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{&countingReader{r: rc, x: x}, rc}, nil
		})
	}
	return x.walkErr(ctx, archives.Zip{}.Extract(ctx, f, handle))
}

// walkErr sorts the error of an archive walk into ReadPackage's own, the size limit, a
// cancellation, and damage to the archive.
func (x *extractor) walkErr(ctx context.Context, err error) error {
	var a abort
	switch {
	case err == nil:
		return nil
	case errors.As(err, &a):
		return a.err
	case errors.Is(err, errTooBig):
		return x.tooBig()
	case ctx.Err() != nil:
		return fmt.Errorf("read RAM package %s: %w", x.file, ctx.Err())
	}
	return x.corrupt(err)
}

type entryKind int

const (
	entryFile entryKind = iota
	entryDir
	entrySymlink
	entryHardlink
	entryOther
)

// entry handles one archive entry.
func (x *extractor) entry(ctx context.Context, raw string, kind entryKind, link string, open func() (io.ReadCloser, error)) (err error) {
	x.current = raw
	defer func() {
		if err == nil {
			x.current = ""
		}
	}()
	name := entryName(raw)
	if name == "" {
		return nil
	}
	if !safeName(name) {
		return abort{fmt.Errorf("%s: entry %s has a name that leaves the package directory (absolute, or with \"..\"): refusing the package", x.file, quote(raw))}
	}
	switch kind {
	case entrySymlink:
		return abort{fmt.Errorf("%s: entry %s is a symbolic link (to %s): RAM packages hold no links; refusing the package", x.file, quote(raw), quote(link))}
	case entryHardlink:
		return abort{fmt.Errorf("%s: entry %s is a hard link (to %s): RAM packages hold no links; refusing the package", x.file, quote(raw), quote(link))}
	}
	name = path.Clean(name)
	top, rest, nested := strings.Cut(name, "/")
	switch {
	case !nested && kind != entryDir:
		return abort{fmt.Errorf("%s: metadata.json must be inside one top-level directory (the importer opens <top>/metadata.json); found %s at the top level", x.file, quote(name))}
	case x.top == "":
		x.top = top
	case top != x.top:
		return abort{fmt.Errorf("%s: metadata.json must be inside one top-level directory (the importer opens <top>/metadata.json); found both %s and %s", x.file, quote(x.top+"/"), quote(top+"/"))}
	}
	if !nested || kind != entryFile {
		return nil // directories are made as needed; devices and fifos are never extracted
	}
	depth := strings.Count(rest, "/") + 1
	switch {
	case rest == MetadataFile:
		return x.readMetadata(raw, open)
	case depth <= 2 && strings.HasSuffix(rest, legacyImageTarSuffix):
		return x.extract(ctx, raw, rest, open)
	}
	return nil
}

// entryName is an archive entry's name without leading "./" and a trailing "/"; "" for the
// archive's own top ("." or "./").
func entryName(raw string) string {
	name := raw
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	name = strings.TrimSuffix(name, "/")
	if name == "." {
		return ""
	}
	return name
}

// safeName reports whether an archive entry name stays inside the directory it is extracted
// into: relative, without "..", on any platform's separators.
func safeName(name string) bool {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || strings.ContainsRune(name, 0) {
		return false
	}
	for _, seg := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return false
		}
	}
	return filepath.IsLocal(name)
}

func (x *extractor) readMetadata(raw string, open func() (io.ReadCloser, error)) error {
	if x.metadata != nil {
		return abort{fmt.Errorf("%s: entry %s appears more than once", x.file, quote(raw))}
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMetadataSize+1))
	if err != nil {
		return err
	}
	if len(b) > maxMetadataSize {
		return abort{fmt.Errorf("%s: %s is larger than %d MiB: not a plausible template", x.file, raw, maxMetadataSize>>20)}
	}
	x.metadata = b
	return nil
}

func (x *extractor) extract(ctx context.Context, raw, rest string, open func() (io.ReadCloser, error)) error {
	dst := filepath.Join(x.root, x.top, filepath.FromSlash(rest))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return abort{fmt.Errorf("%s: extract %s: %w", x.file, raw, err)}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return abort{fmt.Errorf("%s: entry %s appears more than once", x.file, quote(raw))}
	}
	if err != nil {
		return abort{fmt.Errorf("%s: extract %s: %w", x.file, raw, err)}
	}
	x.files[rest] = dst
	x.order = append(x.order, rest)
	rc, err := open()
	if err != nil {
		out.Close()
		return err
	}
	defer rc.Close()
	_, cerr := io.Copy(out, xio.ContextReader(ctx, &errTagger{r: rc}))
	if err := out.Close(); err != nil && cerr == nil {
		cerr = err
	}
	var rerr readErr
	switch {
	case cerr == nil:
		return nil
	case errors.As(cerr, &rerr):
		return rerr.err // reading the archive failed: damage, the size limit, or cancellation
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return abort{fmt.Errorf("%s: extract %s: %w", x.file, raw, cerr)}
}

// errTagger marks errors from reading the archive, to tell them from errors writing the disk.
type errTagger struct{ r io.Reader }

type readErr struct{ err error }

func (e readErr) Error() string { return e.err.Error() }
func (e readErr) Unwrap() error { return e.err }

func (t *errTagger) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		err = readErr{err}
	}
	return n, err
}

// finish checks the extracted package and describes it.
func (x *extractor) finish() (*Package, error) {
	if x.top == "" {
		return nil, fmt.Errorf("%s is an empty archive: not a RAM package", x.file)
	}
	if x.metadata == nil {
		return nil, fmt.Errorf("%s: no metadata.json in %s (the importer opens <top>/metadata.json): not a RAM package", x.file, quote(x.top+"/"))
	}
	t, err := DecodeMetadata(x.metadata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", x.file, err)
	}
	p := &Package{Template: t, Dir: x.top, Root: x.root, Layout: LayoutCurrent}
	for _, problem := range ImportProblems(t) {
		p.Warnings = append(p.Warnings, x.file+": "+problem)
	}

	// Plugin images: the importer skips every tar whose path holds "plugin" when the template
	// has no plugins; so does airpack for the plugin archives, which it never needs.
	for _, n := range []string{PluginImagesFile, OldPluginImagesFile} {
		if file, ok := x.files[n]; ok {
			if len(t.Plugins) == 0 {
				os.Remove(file)
				delete(x.files, n)
			} else if p.PluginImages == "" {
				p.PluginImages = file
			}
		}
	}

	// The tars a directory down: a Rainbond 5.2 package's, one per component and per plugin.
	var legacy []string
	for _, rest := range x.order {
		if strings.Contains(rest, "/") {
			legacy = append(legacy, rest)
		}
	}
	held := map[string]*imageNames{}
	namesOf := func(rest string) (*imageNames, error) {
		if n, ok := held[rest]; ok {
			return n, nil
		}
		n, err := readImageNames(x.files[rest])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", x.file, rest, err)
		}
		held[rest] = n
		return n, nil
	}
	// findLegacy is the tar of legacy holding ref under its name or its 5.2 short name, else
	// the one named as 5.2 named it (a tar saved without a tag), skipping those in skip.
	findLegacy := func(ref string, skip map[string]bool) (string, error) {
		for _, rest := range legacy {
			n, err := namesOf(rest)
			if err != nil {
				return "", err
			}
			if n.has(ref) || n.has(LegacySaveName(ref)) {
				return rest, nil
			}
		}
		for _, rest := range legacy {
			if !skip[rest] && path.Base(rest) == legacyFileName(ref) {
				return rest, nil
			}
		}
		return "", nil
	}

	// Plugins: compose does not run them (ToCompose warns), but a package missing their images
	// fails on the platform: a warning. plugin-images.tar holds them (5.3 and later), else 5.2's
	// <plugin_name>/<image>.image.tar; the importer loads both.
	pluginTars := map[string]bool{}
	if len(t.Plugins) > 0 {
		var inArchive *imageNames
		if p.PluginImages != "" {
			if inArchive, err = readImageNames(p.PluginImages); err != nil {
				return nil, fmt.Errorf("%s: %s: %v", x.file, filepath.Base(p.PluginImages), err)
			}
		}
		for i := range t.Plugins {
			pl := &t.Plugins[i]
			ref := pl.ShareImage
			if inArchive != nil && (inArchive.has(ref) || inArchive.has(LegacySaveName(ref))) {
				continue
			}
			found, err := findLegacy(ref, nil)
			if err != nil {
				return nil, err
			}
			if found != "" {
				if p.LegacyPluginImages == nil {
					p.LegacyPluginImages = map[string]string{}
				}
				p.LegacyPluginImages[ref] = x.files[found]
				pluginTars[found] = true
				continue
			}
			// A bundle ships no plugin images: a missing one is the importer's problem, not
			// airpack's (InspectPackage lists it as one).
			const why = "the platform importer needs it; a bundle ships no plugin images"
			label := fmt.Sprintf("plugins[%d] (plugin_name %s)", i, quote(pl.PluginName))
			switch {
			case inArchive != nil:
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s: share_image %s is not in %s, which holds %s: %s", x.file, label, ref, filepath.Base(p.PluginImages), inArchive, why))
				continue
			case len(legacy) > 0:
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s: share_image %s is in none of the package's image tars (a Rainbond 5.2 package holds it as %s, in <plugin_name>/%s): %s", x.file, label, ref, LegacySaveName(ref), legacyFileName(ref), why))
				continue
			}
			needs := "their images"
			if len(t.Plugins) == 1 {
				needs = "its image"
			}
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: the template has %s but the package has no %s (nor, as Rainbond 5.2 stored them, <plugin_name>/<image>.image.tar): the platform importer needs %s; a bundle ships no plugin images", x.file, nWord(len(t.Plugins), "plugin", "plugins"), PluginImagesFile, needs))
			break
		}
	}

	if file, ok := x.files[ComponentImagesFile]; ok {
		p.ComponentImages = file
		names, err := readImageNames(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", x.file, ComponentImagesFile, err)
		}
		for i := range t.Apps {
			c := &t.Apps[i]
			if !names.has(c.ShareImage) && !names.has(LegacySaveName(c.ShareImage)) {
				return nil, fmt.Errorf("%s: %s: share_image %s is not in %s, which holds %s", x.file, componentLabel(i, c), c.ShareImage, ComponentImagesFile, names)
			}
		}
		p.Warnings = append(p.Warnings, pluginPathProblems(t, x.file, x.top, nil)...)
		return p, nil
	}

	// Legacy 5.2: one tar per component, a directory down.
	if len(t.Apps) == 0 {
		p.Warnings = append(p.Warnings, pluginPathProblems(t, x.file, x.top, nil)...)
		return p, nil
	}
	if len(legacy) == 0 {
		return nil, fmt.Errorf("%s: no %s in %s: the package holds no images for its %d components", x.file, ComponentImagesFile, quote(x.top+"/"), len(t.Apps))
	}
	p.Layout = LayoutLegacy52
	p.LegacyImages = map[string]string{}
	var used []string
	for i := range t.Apps {
		c := &t.Apps[i]
		found, err := findLegacy(c.ShareImage, pluginTars)
		if err != nil {
			return nil, err
		}
		if found == "" {
			return nil, fmt.Errorf("%s: %s: share_image %s is in none of the package's image tars (a Rainbond 5.2 package holds it as %s, in <component>/%s)", x.file, componentLabel(i, c), c.ShareImage, LegacySaveName(c.ShareImage), legacyFileName(c.ShareImage))
		}
		p.LegacyImages[c.ShareImage] = x.files[found]
		used = append(used, found)
	}
	p.Warnings = append(p.Warnings, pluginPathProblems(t, x.file, x.top, used)...)
	return p, nil
}

// pluginPathProblems is what the importer's "plugin" rule does to a package of t, uploaded as
// file, with its top directory top and the component image tars tars (paths inside top). The
// importer unpacks an upload into <static dir>/import/<event id>/<file name>-cache/ and, when
// the template has no plugins, skips every tar whose path there contains "plugin" (lower case:
// the match is case-sensitive); the package's images are then missing and the import fails.
func pluginPathProblems(t *Template, file, top string, tars []string) []string {
	if len(t.Plugins) > 0 {
		return nil
	}
	var out []string
	if base := filepath.Base(file); strings.Contains(base, "plugin") {
		out = append(out, fmt.Sprintf("the file name %s contains \"plugin\" and the template has no plugins: uploaded under that name, the platform importer would skip every image tar in it; rename the file before uploading", quote(base)))
	}
	if strings.Contains(top, "plugin") {
		out = append(out, fmt.Sprintf("the package's directory %s contains \"plugin\" and the template has no plugins: the platform importer would skip every image tar in it", quote(top)))
		return out
	}
	seen := map[string]bool{}
	for _, rest := range tars {
		if strings.Contains(rest, "plugin") && !seen[rest] {
			seen[rest] = true
			if d := path.Dir(rest); strings.Contains(d, "plugin") {
				rest = d + "/" // a 5.2 component's directory
			}
			out = append(out, fmt.Sprintf("%s contains \"plugin\" and the template has no plugins: the platform importer would skip the image tar in it", quote(top+"/"+rest)))
		}
	}
	return out
}
