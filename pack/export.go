package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/imageset"
	"github.com/airpack/airpack/ram"
)

// ExportOptions are the inputs of an export to a RAM / KatoApp package.
type ExportOptions struct {
	// Input is a bundle directory (it holds airpack.json), a bundle archive (.tar, .tar.gz,
	// .tar.zst), a Compose project directory or a compose file (.yaml, .yml). Empty: the current
	// directory, or the project Compose.Files name.
	Input string
	// Output is the package file. Default: <group_name>-<group_version>-ram.tar.gz in the
	// current directory.
	Output string
	// Flavor is the platform the package is for (Rainbond or Kato: the same format).
	Flavor ram.Flavor
	// Name is the template's group_name. Default: the group_name the bundle's x-ram carries
	// (a bundle made from a RAM package), else the bundle (or project) name.
	Name string
	// Version is the template's group_version. Default: the bundle's version; required for a
	// Compose project.
	Version string
	// Compose loads the input when it is a Compose project (-f files, profiles, env files).
	Compose compose.LoadOptions
	// How a Compose project is packed first (see Options): image sources, platform, ...
	Sources      []string
	Insecure     []string
	ImageSources []imageset.Source
	Platform     string
	Jobs         int
	// AllowOutside are the paths --allow-outside names (see Options.AllowOutside).
	AllowOutside []string
	Progress     imageset.Progress
	CreatedBy    string
	// Force replaces an existing output.
	Force bool
	// Log receives one line per step; nil discards. Warnings are the ExportResult's, never
	// logged.
	Log func(format string, args ...any)
}

func (o *ExportOptions) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// ExportResult is what an export wrote.
type ExportResult struct {
	Template *ram.Template
	// Warnings say what the compose file expresses that RAM cannot (see ram.FromCompose).
	Warnings []string
	// Output is the package written.
	Output string
}

// The kinds of input ExportRAM takes.
const (
	inputBundleDir = iota
	inputBundleArchive
	inputCompose
)

// ExportRAM writes a RAM package (ram.WritePackage) from a bundle, or from a Compose project,
// which it packs into a temporary bundle first (Pack). A bundle is verified first (bundle.Verify)
// and refused with its problems when it is not sound; a bundle archive is not extracted but for
// its small files, its image archive streamed straight into the package. The compose file is
// loaded with the bundle's .env alone, as on the target (the shell running airpack changes
// nothing), and converted by ram.FromCompose with each service's image as shipped: the
// bundle's image archive, a docker-save archive tagging each image so, becomes
// component-images.tar, streamed through imageset.Retag to tag each image with its
// components' share_images too (ram.ShareImageTags), names the importer's re-tag leaves
// unique.
//
// Temporary files live in one directory beside the output, removed when ExportRAM returns; the
// package is written under a temporary name and renamed when complete: on error nothing is left
// behind. An existing output is refused unless opts.Force.
func ExportRAM(ctx context.Context, opts ExportOptions) (*ExportResult, error) {
	switch opts.Flavor {
	case "":
		opts.Flavor = ram.Rainbond
	case ram.Rainbond, ram.Kato:
	default:
		return nil, fmt.Errorf("flavor %q: want rainbond or kato", opts.Flavor)
	}
	if opts.Version != "" && !validName(opts.Version) {
		return nil, fmt.Errorf("version %q: use letters, digits, '.', '_' and '-' only", opts.Version)
	}
	if opts.Name != "" && strings.ContainsAny(opts.Name, "/\\\x00") {
		return nil, fmt.Errorf("name %q: it names the package's directory: no path separators", opts.Name)
	}
	if opts.Output != "" {
		if err := CheckPackageSuffix(opts.Output); err != nil {
			return nil, err
		}
		// The template written never has plugins (ram.FromCompose drops them).
		if err := ram.CheckPackageFileName(opts.Output); err != nil {
			return nil, err
		}
		if err := checkOutput(opts.Output, opts.Force); err != nil {
			return nil, err
		}
	}
	kind, input, err := exportInput(opts)
	if err != nil {
		return nil, err
	}
	if kind != inputCompose {
		if set := composeOnly(opts); len(set) > 0 {
			return nil, fmt.Errorf("%s is a bundle: %s apply only to a Compose project, which is packed first", input, strings.Join(set, ", "))
		}
		if err := checkBundleNames(ctx, input, opts); err != nil {
			return nil, err
		}
		// Before the bundle is verified: its airpack.json alone tells (verifyBundle says what
		// is wrong with one that does not read).
		if m, err := bundle.ReadManifest(ctx, input); err == nil {
			if err := refuseUpgrade(input, m); err != nil {
				return nil, err
			}
		}
	}
	if kind == inputCompose && opts.Version == "" {
		return nil, errors.New("--version is required to export a Compose project: the package is named <name>-<version>-ram.tar.gz")
	}
	if opts.Name != "" && opts.Version != "" {
		if err := ram.CheckPackageName(opts.Name, opts.Version); err != nil {
			return nil, err
		}
	}

	outDir := "."
	if opts.Output != "" {
		outDir = filepath.Dir(opts.Output)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	// Beside the output: the bundle a Compose project is packed into is as large as the package.
	work, err := os.MkdirTemp(outDir, tmpExport)
	if err != nil {
		return nil, fmt.Errorf("cannot write to %s: %w", outDir, err)
	}
	defer os.RemoveAll(work)

	var (
		dir    string // the bundle directory holding the compose file and its files
		m      *bundle.Manifest
		images func(io.Writer) error
		// packWarnings are the pack's, when the input is a Compose project
		packWarnings []string
	)
	switch kind {
	case inputCompose:
		copts := opts.Compose
		if len(copts.Files) == 0 && copts.WorkDir == "" {
			if st, err := os.Stat(input); err == nil && !st.IsDir() {
				copts.Files = []string{input}
			} else {
				copts.WorkDir = input
			}
		}
		if opts.Name == "" {
			// The name is known once the project is loaded: refuse a bad one before pulling images.
			proj, err := compose.Load(ctx, copts)
			if err != nil {
				return nil, err
			}
			if err := ram.CheckPackageName(proj.Name(), opts.Version); err != nil {
				return nil, err
			}
		}
		dir = filepath.Join(work, "bundle")
		opts.logf("packing the Compose project into a temporary bundle")
		res, err := Pack(ctx, Options{
			Compose: copts, Name: opts.Name, Version: opts.Version, Output: dir,
			Platform: opts.Platform, Sources: opts.Sources, Insecure: opts.Insecure,
			ImageSources: opts.ImageSources, Jobs: opts.Jobs, AllowOutside: opts.AllowOutside,
			Progress: opts.Progress, Log: opts.Log, CreatedBy: opts.CreatedBy,
			// The package has no target host: ram.FromCompose warns about host paths itself.
			NoTarget: true,
		})
		if err != nil {
			return nil, err
		}
		m = res.Manifest
		packWarnings = res.Warnings
	case inputBundleDir, inputBundleArchive:
		opts.logf("verifying bundle %s", input)
		if m, err = verifyBundle(ctx, input); err != nil {
			return nil, err
		}
		dir = input
		if kind == inputBundleArchive {
			dir = filepath.Join(work, "bundle")
			if err := extractSmallFiles(ctx, input, dir, m); err != nil {
				return nil, err
			}
		}
	}
	if err := refuseUpgrade(input, m); err != nil {
		return nil, err
	}
	if len(m.Archives) != 1 {
		// The importer docker-loads every tar of the package on its own, in an order of its
		// choosing, and a later part lacks the layers an earlier one stores: one archive only.
		return nil, fmt.Errorf("the bundle has %d image archives (packed with --max-archive-size): a RAM package needs all images in one archive; pack the bundle again without --max-archive-size", len(m.Archives))
	}
	archive := m.Archives[0].Path
	if !bundle.LocalPath(archive) {
		return nil, fmt.Errorf("%s: image archive %s is outside the bundle", bundle.ManifestFile, archive)
	}
	if kind == inputBundleArchive {
		images = archiveEntryWriter(ctx, input, archive)
	} else {
		images = fileWriter(filepath.Join(dir, filepath.FromSlash(archive)))
	}

	project, err := loadBundleProject(ctx, dir, m)
	if err != nil {
		return nil, err
	}
	shipped := map[string]string{}
	for _, im := range m.Images {
		for _, s := range im.Services {
			shipped[s] = im.Ref
		}
	}
	version := opts.Version
	if version == "" {
		version = m.Version
	}
	t, warnings, err := ram.FromCompose(project, ram.FromComposeOptions{
		Name: opts.Name, Version: version, Dir: dir, Images: shipped, Platform: m.Platform,
	})
	if err != nil {
		return nil, fmt.Errorf("convert %s to a RAM template: %w", m.ComposeFile, err)
	}
	out := opts.Output
	if out == "" {
		out = ram.PackageFileName(t)
		if err := checkOutput(out, opts.Force); err != nil {
			return nil, err
		}
	}
	// component-images.tar is the bundle's archive with each image also tagged with its
	// components' share_images (the names the importer looks for), the shipped names kept.
	held := map[string]bool{}
	for _, im := range m.Images {
		held[normRef(im.Ref)] = true
	}
	tags, err := ram.ShareImageTags(t, func(ref string) bool { return held[normRef(ref)] })
	if err != nil {
		return nil, fmt.Errorf("the bundle's images: %w", err)
	}
	images = retagged(images, tags)
	opts.logf("writing %s package %s (%d components)", opts.Flavor.FormatName(), out, len(t.Apps))
	if err := ram.WritePackage(ctx, out, t, images, ram.WriteOptions{Flavor: opts.Flavor, TempDir: work}); err != nil {
		return nil, err
	}
	return &ExportResult{Template: t, Warnings: append(packWarnings, warnings...), Output: out}, nil
}

// CheckPackageSuffix refuses a package file name not ending in .tar.gz or .tgz: the package is
// a gzip-compressed tar (the console's importer runs tar -xzf on it, whatever its name), and a
// reader of shop.tar expects a plain tar, as airpack pack -o shop.tar writes.
func CheckPackageSuffix(file string) error {
	if strings.HasSuffix(file, ".tar.gz") || strings.HasSuffix(file, ".tgz") {
		return nil
	}
	return fmt.Errorf("output %s: the package is a gzip-compressed tar: name it .tar.gz or .tgz (the default is <group_name>-<group_version>-ram.tar.gz)", file)
}

// refuseUpgrade refuses an upgrade bundle (pack --base): its image archive lacks the layers its
// base holds, and the platform's importer docker-loads a package's images on their own.
func refuseUpgrade(input string, m *bundle.Manifest) error {
	if m.Base == nil {
		return nil
	}
	return fmt.Errorf("%s is an upgrade of %s %s and lacks its layers: a RAM package holds every image; export the full bundle (pack without --base)", input, m.Base.Name, m.Base.Version)
}

// checkBundleNames refuses, before the bundle is verified and converted, the --name and
// --version a package of it could not have, as a Compose project's are refused before it is
// packed: the bundle's airpack.json (read alone, cheaply) gives the version not set. The
// default output, <name>-<version>-ram.tar.gz, is checked too. What the bundle alone decides
// (its x-ram group_name) is checked once converted.
func checkBundleNames(ctx context.Context, input string, opts ExportOptions) error {
	if opts.Name == "" && opts.Version == "" {
		return nil
	}
	name, version := opts.Name, opts.Version
	if version == "" {
		m, err := bundle.ReadManifest(ctx, input)
		if err != nil {
			return nil // verifyBundle says what is wrong
		}
		version = m.Version
	}
	if name == "" {
		// Any name that passes: the version is what is checked.
		name = "app"
	}
	if err := ram.CheckPackageName(name, version); err != nil {
		return err
	}
	if opts.Output == "" && opts.Name != "" {
		return checkOutput(ram.PackageFileName(&ram.Template{GroupName: name, GroupVersion: version}), opts.Force)
	}
	return nil
}

// exportInput tells what the input is.
func exportInput(opts ExportOptions) (int, string, error) {
	in := opts.Input
	if in == "" {
		if len(opts.Compose.Files) > 0 || opts.Compose.WorkDir != "" {
			return inputCompose, opts.Compose.WorkDir, nil
		}
		in = "."
	}
	st, err := os.Stat(in)
	if err != nil {
		if ps, perr := bundle.FindParts(in); perr == nil && ps != nil {
			return inputBundleArchive, in, nil // only the parts of the archive exist
		}
		return 0, "", fmt.Errorf("input %s: %w", in, errors.Unwrap(err))
	}
	switch {
	case st.IsDir():
		if _, err := os.Stat(filepath.Join(in, bundle.ManifestFile)); err == nil {
			return inputBundleDir, in, nil
		}
		return inputCompose, in, nil
	case strings.HasSuffix(in, ".yaml"), strings.HasSuffix(in, ".yml"):
		return inputCompose, in, nil
	}
	return inputBundleArchive, in, nil
}

// composeOnly names the options set that only a Compose project input uses.
func composeOnly(o ExportOptions) []string {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"compose files", len(o.Compose.Files) > 0},
		{"a project directory", o.Compose.WorkDir != ""},
		{"profiles", len(o.Compose.Profiles) > 0},
		{"env files", len(o.Compose.EnvFiles) > 0},
		{"shell variables to ship", len(o.Compose.EnvFromShell) > 0},
		{"image sources", len(o.Sources) > 0 || len(o.ImageSources) > 0},
		{"insecure registries", len(o.Insecure) > 0},
		{"a platform", o.Platform != ""},
		{"allow-outside", len(o.AllowOutside) > 0},
	} {
		if f.set {
			set = append(set, f.name)
		}
	}
	return set
}

// verifyBundle is bundle.Verify, refusing a bundle with problems.
func verifyBundle(ctx context.Context, path string) (*bundle.Manifest, error) {
	m, problems, err := bundle.Verify(ctx, path)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = path + ": " + p.String()
		}
		return nil, fmt.Errorf("%s\n%s: %d problems: the bundle is not sound; export a sound one (airpack verify %s)", strings.Join(lines, "\n"), path, len(problems), path)
	}
	return m, nil
}

// extractSmallFiles writes every file of the bundle archive but its image archives into dir:
// what the compose file and the conversion read. Walk passes only regular files, with
// bundle-relative names; each is checked again before it is written.
func extractSmallFiles(ctx context.Context, archive, dir string, m *bundle.Manifest) error {
	skip := map[string]bool{}
	for _, a := range m.Archives {
		skip[a.Path] = true
	}
	err := bundle.Walk(ctx, archive, func(name string, r io.Reader, size int64) error {
		if skip[name] {
			return nil
		}
		rel := filepath.FromSlash(name)
		if !bundle.LocalPath(name) || !filepath.IsLocal(rel) {
			return fmt.Errorf("bundle archive %s: entry %s leaves the bundle", archive, name)
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return fmt.Errorf("extract %s: %w", name, err)
		}
		return f.Close()
	})
	// The links airpack.json lists (verified already) are the bundle's: made as they are.
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var rest []error
		for _, e := range j.Unwrap() {
			var ee *bundle.EntryError
			if errors.As(e, &ee) && ee.Link != "" && m.Links[ee.Name] == ee.Link && bundle.LinkProblem(ee.Name, ee.Link) == "" {
				dst := filepath.Join(dir, filepath.FromSlash(ee.Name))
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					return err
				}
				if err := os.Symlink(ee.Link, dst); err != nil {
					return fmt.Errorf("extract %s: %w", ee.Name, err)
				}
				continue
			}
			rest = append(rest, e)
		}
		err = errors.Join(rest...)
	}
	if err != nil {
		return fmt.Errorf("read bundle archive %s: %w", archive, err)
	}
	return nil
}

// retagged is write with its image archive streamed through imageset.Retag, which adds tags.
func retagged(write func(io.Writer) error, tags map[string][]string) func(io.Writer) error {
	if len(tags) == 0 {
		return write
	}
	return func(w io.Writer) error {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := write(pw)
			pw.CloseWithError(err)
			done <- err
		}()
		err := imageset.Retag(w, pr, tags)
		if err == nil {
			// The tar's end is read; what the archive may hold after it is not needed.
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(errors.New("image archive not read to its end"))
		if werr := <-done; err == nil && werr != nil {
			err = werr
		}
		return err
	}
}

// archiveEntryWriter copies the entry name of a bundle archive to w.
func archiveEntryWriter(ctx context.Context, archive, name string) func(io.Writer) error {
	return func(w io.Writer) error {
		found := false
		err := bundle.Walk(ctx, archive, func(n string, r io.Reader, _ int64) error {
			if n != name {
				return nil
			}
			found = true
			if _, err := io.Copy(w, r); err != nil {
				return err
			}
			return fs.SkipAll
		})
		if err == nil && !found {
			err = fmt.Errorf("bundle archive %s has no %s", archive, name)
		}
		return err
	}
}

func fileWriter(path string) func(io.Writer) error {
	return func(w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
}

// loadBundleProject loads the bundle's compose file as `docker compose` does on the target, in
// the bundle directory, but with the bundle's .env as the only environment: the values the
// bundle holds, whatever the shell running airpack sets.
func loadBundleProject(ctx context.Context, dir string, m *bundle.Manifest) (*types.Project, error) {
	cf := m.ComposeFile
	if cf == "" {
		cf = bundle.ComposeFile
	}
	if !bundle.LocalPath(cf) {
		return nil, fmt.Errorf("%s: compose file %s is outside the bundle", bundle.ManifestFile, cf)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(abs, filepath.FromSlash(cf))
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the bundle's compose file: %w", err)
	}
	env := map[string]string{}
	if raw, err := os.ReadFile(filepath.Join(abs, bundle.EnvFile)); err == nil {
		if env, err = dotenv.ParseWithLookup(bytes.NewReader(raw), func(string) (string, bool) { return "", false }); err != nil {
			return nil, fmt.Errorf("the bundle's %s: %w", bundle.EnvFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	name := loader.NormalizeProjectName(m.Name)
	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  filepath.Dir(file),
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: content}},
		Environment: env,
	}, loader.WithProfiles([]string{"*"}), func(o *loader.Options) {
		o.SetProjectName(name, false) // the file's own name: wins, as in compose
		o.ResolvePaths = true
	})
	if err == nil {
		p, err = p.WithServicesEnvironmentResolved(false)
	}
	if err == nil {
		p, err = p.WithServicesLabelsResolved(false)
	}
	if err != nil {
		return nil, fmt.Errorf("load the bundle's compose file %s: %w", cf, err)
	}
	return p, nil
}
