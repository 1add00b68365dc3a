package ram

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/airpack/airpack/internal/xio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// modTime is the modification time of every entry WritePackage writes: fixed, so that the same
// template and images give the same package.
var modTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// WriteOptions configures WritePackage.
type WriteOptions struct {
	// PluginImages writes plugin-images.tar, a docker-save archive holding every
	// plugins[].share_image. Required when the template has plugins, unused otherwise.
	PluginImages func(w io.Writer) error
	// Flavor is the platform the package is for; it only changes names in messages.
	// Default: Rainbond.
	Flavor Flavor
	// TempDir holds the image archives while the package is assembled (a tar entry's size is
	// written before its content, so each archive is written to disk first). Default: the
	// directory of the output file.
	TempDir string
	// CompressionLevel is the gzip level; 0 means gzip.DefaultCompression.
	CompressionLevel int
}

// WritePackage writes t and its images as a RAM package at out: a gzip tar holding one
// directory, TopDir(t), with metadata.json (compact, registry credentials blanked),
// component-images.tar (what componentImages writes: a docker-save archive, e.g. go-containerregistry's
// tarball.MultiRefWrite, holding every apps[].share_image under that name) and, when the
// template has plugins, plugin-images.tar. Use PackageFileName(t) as out's base name to name it
// the way the platform does.
//
// Before writing anything it validates the template and refuses a package name the importer
// would mishandle (see below), and share_images it would (ImportProblems): one it cannot
// re-tag, or two different ones its re-tag makes one name. The image archives are staged in opts.TempDir (never held in
// memory), then checked: each share_image must be in the archive's manifest.json (or OCI
// index.json), read back from what the callback actually wrote. The package is written under a
// temporary name beside out and renamed when complete: on error, out is not created or touched.
//
// A package whose directory name or file name (out's base name: the name it is uploaded
// under) contains "plugin" while the template has no plugins is refused: the importer skips
// every image tar whose path contains "plugin" in that case.
func WritePackage(ctx context.Context, out string, t *Template, componentImages func(w io.Writer) error, opts WriteOptions) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("write RAM package %s: %w", out, err)
		}
	}()
	if t == nil {
		return fmt.Errorf("no template")
	}
	if componentImages == nil && len(t.Apps) > 0 {
		return fmt.Errorf("no component images: the template has %s", nWord(len(t.Apps), "component", "components"))
	}
	// A deep, normalized copy, validated exactly as ReadPackage will validate it.
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	tc, err := DecodeMetadata(b)
	if err != nil {
		return err
	}
	if err := checkPackageName(tc); err != nil {
		return err
	}
	// airpack never writes a package the importer would mishandle: a share_image it cannot
	// re-tag, or two that the re-tag makes one (docs/ram-format.md §8.1).
	if problems := ImportProblems(tc); len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	if err := checkTemplate(tc, nil); err != nil {
		return err
	}
	if len(tc.Plugins) == 0 {
		if err := pluginFileName(out, PackageFileName(tc)); err != nil {
			return err
		}
	}
	if len(tc.Plugins) > 0 && opts.PluginImages == nil {
		return fmt.Errorf("the template has %s but no plugin images were given", nWord(len(tc.Plugins), "plugin", "plugins"))
	}
	for i := range tc.Apps {
		tc.Apps[i].ServiceImage = ServiceImage{}
	}
	for i := range tc.Plugins {
		tc.Plugins[i].PluginImage = ServiceImage{}
	}
	var meta bytes.Buffer
	enc := json.NewEncoder(&meta)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tc); err != nil {
		return err
	}
	metadata := bytes.TrimSuffix(meta.Bytes(), []byte("\n"))

	dir := filepath.Dir(out)
	tmpDir := opts.TempDir
	if tmpDir == "" {
		tmpDir = dir
	}

	type staged struct {
		name string
		file string
	}
	var entries []staged
	defer func() {
		for _, e := range entries {
			os.Remove(e.file)
		}
	}()
	stage := func(entry string, write func(io.Writer) error, refs []string, owners []string) error {
		f, err := os.CreateTemp(tmpDir, ".airpack-ram-*-"+entry)
		if err != nil {
			return err
		}
		entries = append(entries, staged{entry, f.Name()})
		bw := bufio.NewWriterSize(ctxWriter{ctx, f}, 1<<20)
		werr := write(bw)
		if werr == nil {
			werr = bw.Flush()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("write %s: %w", entry, werr)
		}
		names, err := readImageNames(f.Name())
		if err != nil {
			return fmt.Errorf("the %s written: %v", entry, err)
		}
		for i, ref := range refs {
			if !names.has(ref) {
				return fmt.Errorf("the %s written does not hold the share_image of %s, %s (it holds %s): the importer finds each image by its share_image", entry, owners[i], ref, names)
			}
		}
		return nil
	}
	if len(tc.Apps) > 0 {
		refs, owners := make([]string, len(tc.Apps)), make([]string, len(tc.Apps))
		for i := range tc.Apps {
			refs[i], owners[i] = tc.Apps[i].ShareImage, componentLabel(i, &tc.Apps[i])
		}
		if err := stage(ComponentImagesFile, componentImages, refs, owners); err != nil {
			return err
		}
	}
	if len(tc.Plugins) > 0 {
		refs, owners := make([]string, len(tc.Plugins)), make([]string, len(tc.Plugins))
		for i := range tc.Plugins {
			refs[i], owners[i] = tc.Plugins[i].ShareImage, "plugins["+itoa(i)+"]"
		}
		if err := stage(PluginImagesFile, opts.PluginImages, refs, owners); err != nil {
			return err
		}
	}

	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	level := opts.CompressionLevel
	if level == 0 {
		level = gzip.DefaultCompression
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, level)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	top := TopDir(tc)
	if err := tw.WriteHeader(header(top+"/", tar.TypeDir, 0)); err != nil {
		return err
	}
	if err := tw.WriteHeader(header(top+"/"+MetadataFile, tar.TypeReg, int64(len(metadata)))); err != nil {
		return err
	}
	if _, err := tw.Write(metadata); err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyEntry(ctx, tw, top+"/"+e.name, e.file); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// checkPackageName refuses group names and versions that cannot name the package's directory,
// or that would make the importer drop its images.
func checkPackageName(t *Template) error {
	for _, f := range []struct{ key, value string }{{"group_name", t.GroupName}, {"group_version", t.GroupVersion}} {
		switch {
		case f.value == "":
			return fmt.Errorf("the template's %s is empty: it names the package, %s", f.key, "<group_name>-<group_version>-ram.tar.gz")
		case strings.ContainsAny(f.value, "/\\\x00"):
			return fmt.Errorf("the template's %s %s cannot be part of the package's directory name: it contains a path separator", f.key, quote(f.value))
		}
	}
	if err := checkGroupLimits(t.GroupName, t.GroupVersion); err != nil {
		return err
	}
	if len(t.Plugins) > 0 {
		return nil
	}
	const why = `the platform importer skips every image tar whose path contains "plugin" when the template has no plugins, so all images would be lost`
	if strings.Contains(t.GroupName, "plugin") {
		return fmt.Errorf("package name %s contains \"plugin\": %s; rename the app (--name)", quote(t.GroupName), why)
	}
	if strings.Contains(TopDir(t), "plugin") {
		return fmt.Errorf("package version %s contains \"plugin\": %s; change the version (--version)", quote(t.GroupVersion), why)
	}
	return nil
}

// CheckPackageFileName refuses a package file name containing "plugin" (lower case), to be
// called for a template without plugins. The platform importer extracts an uploaded package
// into <static dir>/import/<event id>/<uploaded file name>-cache/ and, when the template has no
// plugins, skips every tar whose path there contains "plugin" (case-sensitive): every image
// would be lost and the import fail. Only the base name of file counts: the directories it is
// in are not uploaded.
func CheckPackageFileName(file string) error {
	if err := pluginFileName(file, "<group_name>-<group_version>-ram.tar.gz"); err != nil {
		return fmt.Errorf("output %s: %w", file, err)
	}
	return nil
}

// pluginFileName is CheckPackageFileName's error without the file's path; def is the default
// name to suggest.
func pluginFileName(file, def string) error {
	base := filepath.Base(file)
	if !strings.Contains(base, "plugin") {
		return nil
	}
	return fmt.Errorf("the file name %s contains \"plugin\": the platform importer unpacks an upload into <file name>-cache/ and, for a template without plugins, skips every image tar whose path contains \"plugin\", so all images would be lost; choose another -o name (the default is %s)", quote(base), def)
}

func header(name string, typ byte, size int64) *tar.Header {
	h := &tar.Header{Name: name, Typeflag: typ, Size: size, Mode: 0o644, ModTime: modTime, Uname: "root", Gname: "root"}
	if typ == tar.TypeDir {
		h.Mode = 0o755
	}
	return h
}

func copyEntry(ctx context.Context, tw *tar.Writer, name, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(header(name, tar.TypeReg, st.Size())); err != nil {
		return err
	}
	if _, err := io.Copy(tw, xio.ContextReader(ctx, f)); err != nil {
		return err
	}
	return nil
}

// ctxWriter stops a callback's writes when the context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
