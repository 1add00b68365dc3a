package pack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/crypto/ssh"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/imageset"
	"github.com/airpack/airpack/ram"
)

// RAMOptions are the inputs of a pack from a RAM / KatoApp package.
type RAMOptions struct {
	// Package is the RAM package file: <group_name>-<group_version>-ram.tar.gz (Rainbond >= 5.3,
	// Kato) or a Rainbond 5.2 .zip.
	Package string
	// Name defaults to the template's group_name made a compose project name; Version to its
	// group_version.
	Name    string
	Version string
	Output  string
	// Platform defaults to linux/<arch> of the components (they must agree).
	Platform string
	// MaxSize bounds the bytes the package expands to (ram.ReadOptions.MaxSize).
	MaxSize int64
	// MaxArchiveSize is Options.MaxArchiveSize (--max-archive-size).
	MaxArchiveSize int64
	// WorkDir is where the package's images are extracted while packing (removed at the end).
	// Default: the system's temporary directory.
	WorkDir  string
	Jobs     int
	Force    bool
	Progress imageset.Progress
	// Log receives one line per step; nil discards. Warnings are the Result's, never logged.
	Log       func(format string, args ...any)
	CreatedBy string
	// Signer, when set, signs the bundle (bundle.WithSigner).
	Signer ssh.Signer
	// Base, when set, makes an upgrade bundle of the bundle at this path (Options.Base): the
	// platform's "upgrade of an application template in an offline environment".
	Base string
	// SplitSize, when set, writes the archive in parts (Options.SplitSize).
	SplitSize int64
}

func (o *RAMOptions) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// PackRAM turns a RAM package into a bundle: the template becomes a compose project
// (ram.ToCompose), whose images come from the package's own image archives, never a registry.
// The Result's Warnings are the package reader's (ram.Package.Warnings), the conversion's
// (ram.ComposeProject.Warnings) and the pack's, in that order; opts.Log gets steps only.
// Everything it extracts or writes on the way lives in one temporary directory, removed when it
// returns; the bundle itself is written atomically by Pack.
func PackRAM(ctx context.Context, opts RAMOptions) (*Result, error) {
	if opts.Package == "" {
		return nil, errors.New("no RAM package given")
	}
	if opts.Output != "" {
		if err := checkSplitOutput(opts.Output, opts.SplitSize, opts.Force); err != nil {
			return nil, err
		}
	}
	if opts.Version != "" && !validName(opts.Version) {
		return nil, fmt.Errorf("version %q: use letters, digits, '.', '_' and '-' only", opts.Version)
	}
	if opts.Name != "" && !validProjectName(opts.Name) {
		return nil, fmt.Errorf("name %q: the bundle name is also the compose project name on the target: use lowercase letters, digits, '_' and '-', starting with a letter or digit (--name)", opts.Name)
	}
	if opts.WorkDir != "" {
		if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
			return nil, err
		}
	}
	work, err := os.MkdirTemp(opts.WorkDir, "airpack-ram-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	opts.logf("reading RAM package %s", opts.Package)
	pkg, err := ram.ReadPackage(ctx, opts.Package, ram.ReadOptions{WorkDir: work, MaxSize: opts.MaxSize})
	if err != nil {
		return nil, err
	}
	defer pkg.Remove()
	// The package's warnings, then the conversion's, then the pack's: all in the Result.
	warnings := slices.Clone(pkg.Warnings)
	t := pkg.Template

	name := opts.Name
	if name == "" {
		name = ram.ProjectName(t)
	}
	version := opts.Version
	if version == "" {
		version = t.GroupVersion
		if !validName(version) {
			return nil, fmt.Errorf("the template's group_version %q cannot name the bundle (letters, digits, '.', '_' and '-' only): pass --version", version)
		}
	}
	platform := opts.Platform
	if platform == "" {
		if platform, err = templatePlatform(t); err != nil {
			return nil, err
		}
	}
	opts.logf("template %s %s (%s layout): %d components", t.GroupName, t.GroupVersion, pkg.Layout, len(t.Apps))

	imageName, err := shippedImageNames(pkg)
	if err != nil {
		return nil, err
	}
	// An upgrade keeps the values its base generated for the template's "**None**" variables:
	// the kept data (a database's password) was set up with them.
	var base *bundle.BaseFiles
	var keep map[string]string
	if opts.Base != "" {
		if base, err = readBaseFiles(ctx, opts.Base, name, version); err != nil {
			return nil, err
		}
		if base.Env != nil {
			keep, err = dotenv.UnmarshalBytesWithLookup(base.Env, func(string) (string, bool) { return "", false })
			if err != nil {
				return nil, fmt.Errorf("--base %s: its %s: %w", opts.Base, bundle.EnvFile, err)
			}
		}
	}
	proj, err := ram.ToCompose(t, ram.ToComposeOptions{ProjectName: name, FilesDir: ".", ImageName: imageName, Keep: keep})
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, proj.Warnings...)
	if base != nil {
		warnings = append(warnings, keptValues(opts, base, proj)...)
	}
	// The compose file and its .env go to the loader in memory; only the config files, which the
	// bundle ships, are written.
	dir := filepath.Join(work, "project")
	if err := proj.WriteFiles(dir); err != nil {
		return nil, fmt.Errorf("write the compose project: %w", err)
	}
	load, err := ramLoadOptions(proj, dir, name)
	if err != nil {
		return nil, err
	}
	source, err := packageSource(pkg, imageName)
	if err != nil {
		return nil, err
	}
	res, err := Pack(ctx, Options{
		Compose:      load,
		Name:         name,
		Version:      version,
		Output:       opts.Output,
		Platform:     platform,
		ImageSources: []imageset.Source{source},
		Jobs:         opts.Jobs,
		Force:        opts.Force,
		Progress:     opts.Progress,
		Log:          opts.Log,
		CreatedBy:    opts.CreatedBy,
		Signer:       opts.Signer,

		MaxArchiveSize: opts.MaxArchiveSize,
		Base:           opts.Base,
		SplitSize:      opts.SplitSize,
	})
	if err != nil {
		return nil, err
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, nil
}

// keptValues says, for pack --ram --base, which generated values the upgrade kept from its
// base's .env (logged) and which are new (logged; a warning when the base was given as its
// airpack.json alone, whose bundle's values are unknown, so that every one differs).
func keptValues(opts RAMOptions, base *bundle.BaseFiles, proj *ram.ComposeProject) []string {
	if len(proj.Generated) == 0 {
		return nil
	}
	if base.Bare {
		return []string{fmt.Sprintf("--base %s is an %s alone, without the base bundle's %s: the values generated for the template's \"**None**\" variables (%s) are new, not the base's, so a password the kept data was set up with changes; pass the base bundle, not its %s, to keep them", opts.Base, bundle.ManifestFile, bundle.EnvFile, strings.Join(proj.Generated, ", "), bundle.ManifestFile)}
	}
	if len(proj.Kept) > 0 {
		opts.logf("kept the generated values of %s %s's %s: %s", base.Manifest.Name, base.Manifest.Version, bundle.EnvFile, strings.Join(proj.Kept, ", "))
	}
	var fresh []string
	for _, n := range proj.Generated {
		if !slices.Contains(proj.Kept, n) {
			fresh = append(fresh, n)
		}
	}
	if len(fresh) > 0 {
		opts.logf("generated new values for %s: not in %s %s's %s", strings.Join(fresh, ", "), base.Manifest.Name, base.Manifest.Version, bundle.EnvFile)
	}
	return nil
}

// templatePlatform is linux/<arch> of every component (arch defaults to amd64).
func templatePlatform(t *ram.Template) (string, error) {
	byArch := map[string][]string{}
	for i := range t.Apps {
		a := t.Apps[i].Arch
		if a == "" {
			a = ram.DefaultArch
		}
		byArch[a] = append(byArch[a], t.Apps[i].ServiceCname)
	}
	if len(byArch) == 1 {
		for a := range byArch {
			return "linux/" + a, nil
		}
	}
	var parts []string
	for a, names := range byArch {
		parts = append(parts, a+": "+strings.Join(names, ", "))
	}
	sort.Strings(parts)
	return "", fmt.Errorf("the template's components are for different architectures (%s): a bundle holds one platform; pass --platform", strings.Join(parts, "; "))
}

// ramLoadOptions hands the converted project to the compose loader in memory: its compose file
// as the only compose file (named as in dir, which holds the config files), and its generated
// .env as the whole environment, every value of which ships (EnvFromShell). The packing
// machine's environment plays no part: a variable it sets cannot change the bundle, whose .env
// holds the values the config files were rendered with.
func ramLoadOptions(proj *ram.ComposeProject, dir, name string) (compose.LoadOptions, error) {
	env, err := dotenv.UnmarshalBytesWithLookup(proj.DotEnv, func(string) (string, bool) { return "", false })
	if err != nil {
		return compose.LoadOptions{}, fmt.Errorf("the generated .env: %w", err)
	}
	ship := make([]string, 0, len(env))
	for k := range env {
		ship = append(ship, k)
	}
	sort.Strings(ship)
	return compose.LoadOptions{
		ConfigFiles:  []types.ConfigFile{{Filename: filepath.Join(dir, ram.ComposeFile), Content: proj.YAML}},
		WorkDir:      dir,
		ProjectName:  name,
		Environment:  env,
		EnvFromShell: ship,
	}, nil
}

// shippedImageNames gives each component of a package the image name its compose service
// runs: its image (the name it was shipped as, e.g. redis:7) when component-images.tar tags
// the share_image's image with that name too, as the packages airpack writes do; else "", its
// share_image. The archive tags one image with a name, so a name several components give is
// used only by those whose share_image is that image.
func shippedImageNames(pkg *ram.Package) (func(*ram.Component) string, error) {
	// By what decides the answer, not by address: ToCompose may be handed a copy.
	key := func(c *ram.Component) [3]string { return [3]string{c.ServiceKey, c.ShareImage, c.Image} }
	names := map[[3]string]string{}
	if pkg.Layout != ram.LayoutCurrent || pkg.ComponentImages == "" {
		return func(*ram.Component) string { return "" }, nil
	}
	apps := pkg.Template.Apps
	for i := range apps {
		c := &apps[i]
		if c.Image == "" || normRef(c.Image) == normRef(c.ShareImage) {
			continue
		}
		same, err := imageset.ArchiveSameImage(pkg.ComponentImages, c.Image, c.ShareImage)
		if err != nil {
			return nil, err
		}
		if same {
			names[key(c)] = c.Image
		}
	}
	return func(c *ram.Component) string { return names[key(c)] }, nil
}

// packageSource is an image source over the package's image archives, holding every
// share_image under its own name, and every image a compose service names instead
// (shippedImageNames) under that name. The archive may tag an image with its share_image or
// with the short name Rainbond 5.2 saved it under; the name the archive really uses is looked
// up.
func packageSource(pkg *ram.Package, imageName func(*ram.Component) string) (*imageset.Tarfile, error) {
	tags := map[string]map[string]bool{} // archive -> normalised tags
	tagsOf := func(path string) (map[string]bool, error) {
		if m, ok := tags[path]; ok {
			return m, nil
		}
		list, err := imageset.ArchiveTags(path)
		if err != nil {
			return nil, err
		}
		m := map[string]bool{}
		for _, tg := range list {
			m[normRef(tg)] = true
		}
		tags[path] = m
		return m, nil
	}
	refs := map[string]imageset.TarImage{}
	for i := range pkg.Template.Apps {
		ref := pkg.Template.Apps[i].ShareImage
		path := pkg.ComponentImages
		if pkg.Layout == ram.LayoutLegacy52 {
			path = pkg.LegacyImages[ref]
		}
		if path == "" {
			return nil, fmt.Errorf("component %s: the package holds no image archive for %s", pkg.Template.Apps[i].ServiceCname, ref)
		}
		have, err := tagsOf(path)
		if err != nil {
			return nil, err
		}
		tag := ref
		if !have[normRef(ref)] {
			tag = ram.LegacySaveName(ref)
		}
		refs[ref] = imageset.TarImage{Path: path, Tag: tag}
		if img := imageName(&pkg.Template.Apps[i]); img != "" {
			refs[img] = imageset.TarImage{Path: path, Tag: img}
		}
	}
	return imageset.NewTarfile(refs), nil
}

func normRef(s string) string {
	r, err := name.ParseReference(s, name.WeakValidation)
	if err != nil {
		return s
	}
	return r.Name()
}

// ParseSize parses a byte count: a number (decimals allowed) with an optional unit, any case:
// B, K/KB (1000), KiB (1024), M/MB, MiB, G/GB, GiB, T/TB, TiB; no unit means bytes. It must come
// to at least one byte.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.TrimSpace(in[i:])
	bad := func() (int64, error) {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit, e.g. 512MiB, 20GiB, 1.5GB", s)
	}
	if num == "" {
		return bad()
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return bad()
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return bad()
	}
	v := f * float64(mult)
	if v < 1 || v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: must be between 1 byte and 8 EiB", s)
	}
	return int64(v), nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "tib": 1 << 40,
}
