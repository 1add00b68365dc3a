// Package pack is the pack pipeline: a Compose project becomes a bundle. It plans everything
// first (project loaded and rewritten, every image resolved) and only then writes, so bad input
// fails in seconds and leaves nothing behind.
package pack

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/imageset"
	"github.com/airpack/airpack/loader"
)

// DefaultPlatform is packed for when neither --platform nor a service's `platform:` says.
const DefaultPlatform = "linux/amd64"

// Options are the inputs of a pack.
type Options struct {
	Compose compose.LoadOptions
	// Name defaults to the project name; Version is required.
	Name    string
	Version string
	Output  string
	// Platform overrides every service's platform.
	Platform string
	// Sources are "auto" (registry, then engine), "registry", "engine" or "oci:DIR", tried in order.
	Sources  []string
	Insecure []string
	// ImageSources, when set, replace Sources: images come from these alone.
	ImageSources []imageset.Source
	Jobs         int
	// AllowOutside are files and directories outside the project (--allow-outside PATH) whose
	// copies are shipped, and host paths shipped as copies instead of kept as the target's.
	AllowOutside []string
	Force        bool
	Progress     imageset.Progress
	// Log receives one line per step; nil discards. Warnings are the Result's, never logged.
	Log func(format string, args ...any)
	// CreatedBy is recorded in airpack.json.
	CreatedBy string
	// Signer, when set, signs the bundle (bundle.WithSigner).
	Signer ssh.Signer
	// SplitSize, when set, writes the archive in parts of this many bytes (bundle.WithSplit).
	SplitSize int64
	// NoTarget says the bundle is only a step (ExportRAM converts it), never run on a target
	// host: the warnings about that host (compose.RewriteOptions.NoTarget) are left out.
	NoTarget bool
	// MaxArchiveSize, when > 0, spreads the images over archives of at most this many bytes
	// each where possible (--max-archive-size; imageArchives).
	MaxArchiveSize int64
	// Base, when set, makes an upgrade bundle of the bundle at this path (a bundle directory, a
	// bundle archive or its airpack.json): the image archive leaves out the layers the base has
	// (bundle.PlanUpgrade), and airpack.json records the base, which load.sh checks (step 4).
	Base string
	// Build runs `docker compose build` for the active services with `build:` once the project
	// is planned, before the images are resolved (--build), so that their images come from the
	// engine as just built. The build reads the same compose files, project directory, name,
	// profiles, env files and environment as Compose; it refuses when the engine or the
	// compose plugin does not answer.
	Build bool
	// BuildOutput receives the build's output (its stdout and stderr); nil: os.Stderr.
	BuildOutput io.Writer
	// RunCommand runs the docker commands of Build; nil: (*exec.Cmd).Run. For tests.
	RunCommand func(*exec.Cmd) error
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Result is what a pack wrote.
type Result struct {
	Manifest *bundle.Manifest
	// Output is where the bundle is: opts.Output, or the default <name>-<version>.tar.
	Output string
	// Warnings say where the bundle keeps the project's meaning only in part, or leaves a
	// decision to the target: the user must read them.
	Warnings []string
	// Upgrade is set for an upgrade bundle (Options.Base): what it carries and reuses.
	Upgrade *bundle.Upgrade
	// FullSize is the size the image archive would have without a base; ArchiveSize is its size.
	FullSize, ArchiveSize int64
}

// Pack builds the bundle described by opts. Without opts.Output it writes
// <name>-<version>.tar in the current directory.
func Pack(ctx context.Context, opts Options) (*Result, error) {
	if opts.Version == "" {
		return nil, fmt.Errorf("--version is required: the bundle is named <name>-<version>")
	}
	if !validName(opts.Version) {
		return nil, fmt.Errorf("version %q: use letters, digits, '.', '_' and '-' only", opts.Version)
	}
	if opts.Output != "" {
		if err := checkSplitOutput(opts.Output, opts.SplitSize, opts.Force); err != nil {
			return nil, err
		}
	}
	if err := checkBuildOptions(&opts); err != nil {
		return nil, err
	}
	proj, err := compose.Load(ctx, opts.Compose)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = proj.Name()
	}
	if !validProjectName(name) {
		return nil, fmt.Errorf("name %q: the bundle name is also the compose project name on the target: use lowercase letters, digits, '_' and '-', starting with a letter or digit (--name)", name)
	}
	if opts.Output == "" {
		opts.Output = name + "-" + opts.Version + ".tar"
		if err := checkSplitOutput(opts.Output, opts.SplitSize, opts.Force); err != nil {
			return nil, err
		}
	}
	opts.logf("loaded project %s from %s", proj.Name(), proj.Dir())
	var base *bundle.Manifest
	var baseJSON []byte
	if opts.Base != "" {
		if base, baseJSON, err = readBase(ctx, opts.Base, name, opts.Version); err != nil {
			return nil, err
		}
	}

	reqs, shipped, volumeImages, platform, err := requests(proj.Images(), proj.ImageVolumes(), opts.Platform)
	if err != nil {
		return nil, err
	}
	if base != nil && !bundle.SamePlatform(base.Platform, platform) {
		return nil, fmt.Errorf("--base %s is for %s, this bundle for %s: an upgrade reuses its base's layers, so both are for one platform: give a base packed for %s, or --platform %s", opts.Base, base.Platform, platform, platform, base.Platform)
	}
	outside, err := OutsidePaths(opts.AllowOutside)
	if err != nil {
		return nil, err
	}
	out, err := proj.Rewrite(compose.RewriteOptions{Name: name, Images: shipped, VolumeImages: volumeImages, Outside: outside, Exclude: excludeOutput(ctx, opts.Output), NoTarget: opts.NoTarget})
	if err != nil {
		return nil, err
	}

	sources, closeSources, err := Sources(opts.Sources, opts.Insecure)
	if err != nil {
		return nil, err
	}
	defer closeSources()
	if opts.ImageSources != nil {
		sources = opts.ImageSources
	}
	if opts.Build {
		if err := newBuildStep(&opts).build(ctx, proj, opts.Compose, platform); err != nil {
			return nil, err
		}
	}
	opts.logf("resolving %d images", len(reqs))
	resolved, err := imageset.Resolve(ctx, reqs, sources, imageset.WithJobs(opts.Jobs))
	if err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp("", "airpack-stage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	// Images of the docker engine are read as the archive is written, unless the archive must be
	// planned from every layer's size first: parts share out images by size.
	stream := opts.MaxArchiveSize == 0
	var images []imageset.Image
	streamed := false // an image is read from the engine as the archive is written
	for _, r := range resolved {
		im := imageset.Image{Ref: r.Shipped, Services: r.Services, MountedBy: r.MountedBy, Pin: r.Pin, Source: r.Source, Platform: r.Platform}
		if stream && r.Streamable() {
			im.Deferred, streamed = r, true
		} else {
			if r.Source == "engine" {
				opts.logf("exporting %s from the docker engine", r.Ref)
			}
			if im.Image, err = r.Image(ctx, staging); err != nil {
				return nil, err
			}
		}
		images = append(images, im)
	}

	var links map[string]string // the symbolic links of shipped directories
	for _, f := range out.Files {
		if f.Link != "" {
			if links == nil {
				links = map[string]string{}
			}
			links[f.Dst] = f.Link
		}
	}
	m := &bundle.Manifest{
		FormatVersion: bundle.FormatVersion,
		Name:          name,
		Version:       opts.Version,
		Platform:      platform,
		ComposeFile:   bundle.ComposeFile,
		CreatedBy:     opts.CreatedBy,
		HostPaths:     out.HostPaths,
		Links:         links,
	}
	// describe gives airpack.json and load.sh for m.
	describe := func() (manifestJSON, script []byte, err error) {
		if manifestJSON, err = m.Marshal(); err != nil {
			return nil, nil, err
		}
		script, err = loader.Script(m, loader.WithComposeFile(out.ComposeYAML))
		return manifestJSON, script, err
	}
	files := []bundle.File{
		{Name: bundle.ComposeFile, Body: out.ComposeYAML},
		{Name: bundle.EnvFile, Body: out.DotEnv, Mode: bundle.EnvFileMode},
	}
	for _, f := range out.Files {
		bf := bundle.File{Name: f.Dst, Src: f.Src, Mode: f.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), Dir: f.Dir, Link: f.Link}
		if f.Uid != 0 || f.Gid != 0 {
			bf.Owner = &bundle.Owner{Uid: f.Uid, Gid: f.Gid}
		}
		files = append(files, bf)
	}
	write := plannedImages
	if streamed {
		write = streamedImages
	}
	iw, err := write(images, m, base, baseJSON, describe, &opts)
	if err != nil {
		return nil, err
	}
	contents := bundle.Contents{Dir: name + "-" + opts.Version, Files: append(files, iw.files...), Archives: iw.archives}
	if err := bundle.Write(ctx, opts.Output, contents, opts.Force, bundle.WithSigner(opts.Signer), bundle.WithSplit(opts.SplitSize)); err != nil {
		return nil, fmt.Errorf("write bundle %s: %w", opts.Output, err)
	}
	upgrade, archiveBytes, fullSize := iw.result()
	warnings := append(platformWarnings(proj.Images(), opts.Platform, platform), out.Warnings...)
	warnings = append(warnings, iw.warnings...)
	return &Result{Manifest: m, Output: opts.Output, Warnings: warnings, Upgrade: upgrade, FullSize: fullSize, ArchiveSize: archiveBytes}, nil
}

// readBase reads the base of an upgrade bundle name version (--base path) and refuses one that
// is not an earlier version of the same application.
func readBase(ctx context.Context, path, name, version string) (*bundle.Manifest, []byte, error) {
	b, err := readBaseFiles(ctx, path, name, version)
	if err != nil {
		return nil, nil, err
	}
	return b.Manifest, b.ManifestJSON, nil
}

// readBaseFiles is readBase with the base's .env (bundle.ReadBaseFiles).
func readBaseFiles(ctx context.Context, path, name, version string) (*bundle.BaseFiles, error) {
	b, err := bundle.ReadBaseFiles(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--base %s: %w", path, err)
	}
	base := b.Manifest
	if base.Name != name {
		return nil, fmt.Errorf("--base %s is a bundle of %s %s, not of %s: an upgrade runs in place, under the same compose project name: give a base of %s, or pack with --name %s", path, base.Name, base.Version, name, name, base.Name)
	}
	if base.Version == version {
		return nil, fmt.Errorf("--base %s is %s %s itself: an upgrade has another --version than its base", path, base.Name, base.Version)
	}
	return b, nil
}

type archiveWriter struct {
	*imageset.Archive
	opts []imageset.Option
}

func (a archiveWriter) WriteAt(ctx context.Context, w bundle.ReadWriterAt, base int64) (string, error) {
	return a.Archive.WriteAt(ctx, w, base, a.opts...)
}

// requests groups the images of the services and of their `type: image` volumes by the
// reference they are shipped under (one spelling for "nginx", "nginx:latest" and
// "docker.io/library/nginx:latest"), all for the bundle's one platform. It returns the images to
// resolve, the reference each service's image is shipped under, the shipped reference of each
// image volume's source, and the bundle's platform.
func requests(services []compose.ServiceImage, volumes []compose.VolumeImage, override string) ([]imageset.Request, map[string]string, map[string]string, string, error) {
	if override != "" {
		if _, err := imageset.ParsePlatform(override); err != nil {
			return nil, nil, nil, "", fmt.Errorf("--platform: %w", err)
		}
	}
	platforms := map[string]string{}
	for _, s := range services {
		platforms[s.Service] = s.Platform
	}
	bundlePlatform, err := bundle.Platform(override, platforms, DefaultPlatform)
	if err != nil {
		return nil, nil, nil, "", err
	}
	plat, err := imageset.ParsePlatform(bundlePlatform)
	if err != nil {
		return nil, nil, nil, "", err
	}
	byShipped := map[string]*imageset.Request{}
	add := func(service, image string, volume, build bool) (string, error) {
		r, err := imageset.ParseRef(image)
		if err != nil {
			return "", err
		}
		shipped := r.Shipped()
		req, ok := byShipped[shipped]
		if !ok {
			req = &imageset.Request{Ref: r.Familiar(), Platform: plat}
			byShipped[shipped] = req
		} else if r.Pinned() {
			have, _ := imageset.ParseRef(req.Ref)
			switch {
			case !have.Pinned():
				req.Ref = r.Familiar() // the pinned image is one the tag may name: ship it
			case have.Pin != r.Pin:
				users := append(slices.Clone(req.Services), req.MountedBy...)
				return "", fmt.Errorf("image %s is pinned to %s here and to %s by service %s: a bundle ships one image per tag", shipped, r.Pin, have.Pin, strings.Join(slices.Compact(slices.Sorted(slices.Values(users))), ", "))
			}
		}
		list := &req.Services
		if volume {
			list = &req.MountedBy
		}
		if !slices.Contains(*list, service) {
			*list = append(*list, service)
		}
		req.Build = req.Build || build
		return shipped, nil
	}
	shipped := map[string]string{}
	for _, s := range services {
		ref, err := add(s.Service, s.Image, false, s.Build)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("service %s: %w", s.Service, err)
		}
		shipped[s.Service] = ref
	}
	volumeImages := map[string]string{}
	for _, v := range volumes {
		ref, err := add(v.Service, v.Image, true, false)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("service %s: volume image: %w", v.Service, err)
		}
		volumeImages[v.Image] = ref
	}
	var reqs []imageset.Request
	for _, k := range slices.Sorted(maps.Keys(byShipped)) {
		reqs = append(reqs, *byShipped[k])
	}
	return reqs, shipped, volumeImages, bundlePlatform, nil
}

// Sources builds the image sources named by specs ("auto" when empty).
func Sources(specs, insecure []string) ([]imageset.Source, func(), error) {
	if len(specs) == 0 {
		specs = []string{"auto"}
	}
	var engine *imageset.Engine
	getEngine := func() *imageset.Engine {
		if engine == nil {
			engine = imageset.NewEngine()
		}
		return engine
	}
	var out []imageset.Source
	for _, s := range specs {
		switch {
		case s == "auto":
			out = append(out, imageset.NewRegistry(nil, insecure...), getEngine())
		case s == "registry":
			out = append(out, imageset.NewRegistry(nil, insecure...))
		case s == "engine":
			out = append(out, getEngine())
		case strings.HasPrefix(s, "oci:"):
			dir := strings.TrimPrefix(s, "oci:")
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return nil, nil, fmt.Errorf("--source %s: %s is not a directory holding an OCI image layout", s, dir)
			}
			out = append(out, imageset.NewLayout(dir))
		default:
			return nil, nil, fmt.Errorf("--source %q: want auto, registry, engine or oci:DIR", s)
		}
	}
	return out, func() {
		if engine != nil {
			engine.Close()
		}
	}, nil
}

func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// checkOutput refuses an existing output before any work is done.
func checkOutput(out string, force bool) error {
	if _, err := os.Lstat(out); err == nil && !force {
		return fmt.Errorf("output %s already exists: remove it or pass --force to replace it", out)
	}
	return nil
}

// checkSplitOutput is checkOutput for an output that may be split in parts: the parts and
// their list are refused too, and a directory cannot be split.
func checkSplitOutput(out string, split int64, force bool) error {
	if split <= 0 {
		return checkOutput(out, force)
	}
	if bundle.FormatOf(out) == bundle.FormatDir {
		return fmt.Errorf("--split-size applies to an archive output (.tar, .tar.gz, .tar.zst), not the bundle directory %s", out)
	}
	return bundle.CheckOutput(out, true, force)
}

// validProjectName is compose's rule for project names.
func validProjectName(s string) bool {
	for i, r := range s {
		lower := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !lower && (i == 0 || r != '_' && r != '-') {
			return false
		}
	}
	return s != ""
}
