package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/compose-spec/compose-go/v2/utils"
	"go.yaml.in/yaml/v4"
)

// LoadOptions mirror docker compose's flags.
type LoadOptions struct {
	// Files are the -f files, merged in order. Empty: docker compose's
	// discovery (compose.yaml, compose.yml, docker-compose.yml,
	// docker-compose.yaml and their .override variant, in WorkDir or the
	// closest parent directory holding one), after COMPOSE_FILE.
	Files []string
	// WorkDir is the project directory (--project-directory). Empty: the
	// directory of the first -f file, else the current directory.
	WorkDir string
	// Profiles are the --profile flags. Empty: COMPOSE_PROFILES.
	Profiles []string
	// EnvFiles are the --env-file flags. Empty: the project's .env, if any.
	EnvFiles []string
	// ProjectName overrides the project name (-p).
	ProjectName string
	// EnvFromShell names variables whose value in the packing machine's
	// environment ships in the bundle's .env (--env-from-shell); the
	// environment's other values never do.
	EnvFromShell []string
	// ConfigFiles, when set, are the compose files in memory, merged in
	// order, in place of Files: nothing is read from disk for them. Each
	// Filename (absolute, or relative to WorkDir) names the file in
	// messages and places it: the project directory defaults to the first
	// one's. Files they include or extend are read from disk.
	ConfigFiles []types.ConfigFile
	// Environment, when not nil, is the packing machine's environment, in
	// place of the process's (os.Environ()): interpolation, the COMPOSE_*
	// variables, EnvFromShell and the warnings about values that do not
	// ship see it and nothing else (no PWD is added). nil: the process's.
	Environment map[string]string
}

// Project is a loaded compose project.
type Project struct {
	// typed is the project as docker compose sees it: interpolated, profiles
	// applied, env_file and label_file resolved.
	typed *types.Project
	// base is typed before env_file/label_file resolution: the rewritten
	// compose file is checked against it, since the files it would read
	// only exist once the bundle is written.
	base *types.Project
	// raw is the merged model (include, extends and all -f files applied,
	// paths made absolute) without interpolation: what gets written back.
	raw map[string]any
	// written is raw with paths as the files write them (not made absolute), to tell a
	// project's relative paths from host paths (see hostpaths.go).
	written map[string]any
	// files are the compose files as given (-f), in order, for what the model loses
	files []types.ConfigFile
	// includeVars are set by included projects' own env files only.
	includeVars map[string]string
	// includes tells whether the project includes other projects.
	includes bool
	// target is typed's environment as the target sees it, packOnly the
	// values of the packing machine's environment not shipped, composeVars
	// the COMPOSE_* variables the bundle's .env keeps (splitEnv).
	target      types.Mapping
	packOnly    map[string]string
	composeVars map[string]string
	// warnings found while loading, for Output.Warnings
	warnings []string
}

// Name returns the project name.
func (p *Project) Name() string { return p.typed.Name }

// Dir returns the absolute project directory.
func (p *Project) Dir() string { return p.typed.WorkingDir }

// Typed returns the interpolated compose-go model, profiles applied.
func (p *Project) Typed() *types.Project { return p.typed }

// ServiceImage is the image one service runs.
type ServiceImage struct {
	Service string
	// Image is the reference to ship: the service's `image:`, else the name
	// docker compose gives the image it builds, "<project>-<service>".
	Image string
	// Build reports whether the service has a `build:` section.
	Build bool
	// Platform is the service's `platform:`, "" if none.
	Platform string
}

// Images returns one entry per active service, sorted by service name.
// Provider services (no image, no build) run no image and are left out.
func (p *Project) Images() []ServiceImage {
	var out []ServiceImage
	for _, name := range p.typed.ServiceNames() {
		s := p.typed.Services[name]
		if s.Image == "" && s.Build == nil {
			continue
		}
		out = append(out, ServiceImage{
			Service:  name,
			Image:    p.defaultImage(s),
			Build:    s.Build != nil,
			Platform: s.Platform,
		})
	}
	return out
}

// defaultImage mirrors docker compose's api.GetImageNameOrDefault, including
// the "_" separator of COMPOSE_COMPATIBILITY.
func (p *Project) defaultImage(s types.ServiceConfig) string {
	if s.Image != "" {
		return s.Image
	}
	sep := "-"
	if utils.StringToBool(p.typed.Environment["COMPOSE_COMPATIBILITY"]) {
		sep = "_"
	}
	return p.typed.Name + sep + s.Name
}

// Load loads a compose project the way `docker compose` does with the same
// flags, and keeps its non-interpolated model for Rewrite.
func Load(ctx context.Context, opts LoadOptions) (*Project, error) {
	var p *Project
	logged, err := captureLogWarnings(func() (err error) {
		p, err = load(ctx, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load compose project: %w", err)
	}
	for i, w := range logged {
		logged[i] = relPaths(w, p.Dir())
	}
	p.warnings = append(logged, p.warnings...)
	return p, nil
}

func load(ctx context.Context, opts LoadOptions) (*Project, error) {
	for _, f := range opts.Files {
		if f == "-" {
			return nil, errors.New("reading the compose file from stdin is not supported: pass a file")
		}
	}
	mem, err := memoryFiles(opts)
	if err != nil {
		return nil, err
	}
	po, err := projectOptions(opts, mem)
	if err != nil {
		return nil, err
	}
	wd, err := po.GetWorkingDir()
	if err != nil {
		return nil, err
	}
	if len(po.ConfigPaths) == 0 {
		return nil, fmt.Errorf("no compose file found in %s or its parent directories (looked for %s); pass one with -f",
			wd, strings.Join(cli.DefaultFileNames, ", "))
	}
	for _, f := range po.ConfigPaths {
		if strings.Contains(f, "://") {
			return nil, fmt.Errorf("%s: remote compose files are not supported", f)
		}
	}
	tidy := func(err error) error { return tidyError(err, wd) }
	if err := checkSyntax(po.ConfigPaths, wd, mem); err != nil {
		return nil, err
	}
	if err := checkRemoteIncludes(po.ConfigPaths, wd, po.Environment, mem); err != nil {
		return nil, err
	}

	var base *types.Project
	if mem.content != nil {
		base, err = loadMemory(ctx, po, opts, wd, mem)
	} else {
		base, err = po.LoadProject(ctx)
	}
	if err != nil {
		return nil, tidy(err)
	}
	if err := checkEnvFiles(base); err != nil {
		return nil, err
	}
	typed, err := base.WithServicesEnvironmentResolved(false)
	if err != nil {
		return nil, tidy(err)
	}
	typed, err = typed.WithServicesLabelsResolved(false)
	if err != nil {
		return nil, tidy(err)
	}
	if err := checkSupported(typed); err != nil {
		return nil, err
	}
	if err := checkServices(typed); err != nil {
		return nil, err
	}

	// The same files, merged the same way, without interpolation. Nothing
	// from the environment may leak in: an empty environment keeps
	// `environment: [VAR]` entries as they are written.
	details, err := configDetails(ctx, po, wd, mem)
	if err != nil {
		return nil, tidy(err)
	}
	raw, err := uninterpolatedModel(ctx, details, base.Name, true)
	if err != nil {
		return nil, tidy(fmt.Errorf("load without interpolation, to keep ${VAR} references "+
			"(a variable in an include or extends path is not supported): %w", err))
	}
	if details.WorkingDir != typed.WorkingDir {
		return nil, fmt.Errorf("project directory %s differs from %s", details.WorkingDir, typed.WorkingDir)
	}
	written, err := writtenModel(ctx, details, base.Name)
	if err != nil {
		return nil, tidy(err)
	}
	shell := opts.Environment
	if shell == nil {
		shell = utils.GetAsEqualsMap(os.Environ())
	}
	sp, err := splitEnv(typed.Environment, po.EnvFiles, opts.EnvFromShell, shell)
	if err != nil {
		return nil, tidy(err)
	}
	incVars, includes := includeVars(po.ConfigPaths, typed.WorkingDir, sp.target, mem)
	return &Project{typed: typed, base: base, raw: raw, written: written, files: details.ConfigFiles, includeVars: incVars, includes: includes,
		target: sp.target, packOnly: sp.packOnly, composeVars: sp.composeVars, warnings: sp.warnings}, nil
}

// uninterpolatedModel merges the project's files (include, extends, every -f) as compose-go
// does, without interpolation, normalization or validation, in an empty environment, with paths
// made absolute or as written.
func uninterpolatedModel(ctx context.Context, details *types.ConfigDetails, name string, absPaths bool) (map[string]any, error) {
	return loader.LoadModelWithContext(ctx, types.ConfigDetails{
		WorkingDir:  details.WorkingDir,
		ConfigFiles: details.ConfigFiles,
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SkipInterpolation = true
		o.SkipNormalization = true
		o.SkipValidation = true
		o.SkipConsistencyCheck = true
		o.ResolvePaths = absPaths
		o.SetProjectName(name, true)
	})
}

// projectOptions builds compose-go's options in the order docker compose's
// ProjectOptions.toProjectOptions does, so .env, COMPOSE_FILE,
// COMPOSE_PROFILES and COMPOSE_PROJECT_NAME are honoured the same way.
//
// With LoadOptions.Environment, that environment replaces the process's,
// and with LoadOptions.ConfigFiles their names replace Files (mem holds
// their content by absolute name).
func projectOptions(opts LoadOptions, mem memFiles) (*cli.ProjectOptions, error) {
	fns := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(opts.WorkDir)}
	envFiles := cli.WithEnvFiles(opts.EnvFiles...)
	if opts.Environment != nil {
		fns = append(fns, func(o *cli.ProjectOptions) error {
			for k, v := range opts.Environment {
				o.Environment[k] = v
			}
			return nil
		})
		envFiles = withEnvFilesIn(opts.Environment, opts.EnvFiles)
	} else {
		fns = append(fns, cli.WithOsEnv)
		if _, ok := os.LookupEnv("PWD"); !ok {
			if pwd, err := os.Getwd(); err == nil {
				fns = append(fns, cli.WithEnv([]string{"PWD=" + pwd}))
			}
		}
	}
	fns = append(fns,
		envFiles,
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		// the project directory may only be known now: load its .env
		envFiles,
		cli.WithDotEnv,
		cli.WithDefaultProfiles(opts.Profiles...),
		cli.WithName(opts.ProjectName),
		cli.WithoutEnvironmentResolution,
		cli.WithoutLabelsResolution,
	)
	files := opts.Files
	if mem.content != nil {
		files = mem.names
	}
	return cli.NewProjectOptions(files, fns...)
}

// withEnvFilesIn is cli.WithEnvFiles reading COMPOSE_DISABLE_ENV_FILE in
// env rather than in the process's environment.
func withEnvFilesIn(env map[string]string, files []string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(files) > 0 {
			o.EnvFiles = files
			return nil
		}
		if v, ok := env[consts.ComposeDisableDefaultEnvFile]; ok {
			disable, err := strconv.ParseBool(v)
			if err != nil {
				return err
			}
			if disable {
				return nil
			}
		}
		wd, err := o.GetWorkingDir()
		if err != nil {
			return err
		}
		f := filepath.Join(wd, ".env")
		s, err := os.Stat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case !s.IsDir():
			o.EnvFiles = []string{f}
		}
		return nil
	}
}

// memFiles are the compose files LoadOptions.ConfigFiles gives in memory,
// by absolute name; nil when the compose files are read from disk.
type memFiles struct {
	names   []string
	content map[string][]byte
}

func memoryFiles(opts LoadOptions) (memFiles, error) {
	if len(opts.ConfigFiles) == 0 {
		return memFiles{}, nil
	}
	if len(opts.Files) > 0 {
		return memFiles{}, errors.New("compose files given both by name and in memory")
	}
	m := memFiles{content: map[string][]byte{}}
	for _, f := range opts.ConfigFiles {
		if f.Filename == "" {
			return memFiles{}, errors.New("a compose file given in memory has no name")
		}
		name := f.Filename
		if !filepath.IsAbs(name) && opts.WorkDir != "" {
			name = filepath.Join(opts.WorkDir, name)
		}
		abs, err := filepath.Abs(name)
		if err != nil {
			return memFiles{}, err
		}
		m.names = append(m.names, abs)
		m.content[abs] = f.Content
	}
	return m, nil
}

// read reads a compose file: from memory when it is given there, else from disk.
func (m memFiles) read(name string) ([]byte, error) {
	if b, ok := m.content[name]; ok {
		return b, nil
	}
	return os.ReadFile(name)
}

// configDetails are the compose files with their content, as po reads
// them from disk or as they are given in memory.
func configDetails(ctx context.Context, po *cli.ProjectOptions, wd string, mem memFiles) (*types.ConfigDetails, error) {
	if mem.content == nil {
		return po.ReadConfigFiles(ctx, wd, po)
	}
	d := &types.ConfigDetails{WorkingDir: wd, Environment: po.Environment}
	for _, n := range mem.names {
		d.ConfigFiles = append(d.ConfigFiles, types.ConfigFile{Filename: n, Content: mem.content[n]})
	}
	return d, nil
}

// loadMemory is po.LoadProject for compose files given in memory: the same
// loader options (profiles, no env_file or label_file resolution), and the
// project name as withNamePrecedenceLoad gives it.
func loadMemory(ctx context.Context, po *cli.ProjectOptions, opts LoadOptions, wd string, mem memFiles) (*types.Project, error) {
	details, err := configDetails(ctx, po, wd, mem)
	if err != nil {
		return nil, err
	}
	profiles := opts.Profiles
	if len(profiles) == 0 {
		for _, p := range strings.Split(po.Environment[consts.ComposeProfiles], ",") {
			profiles = append(profiles, strings.TrimSpace(p))
		}
	}
	named := false
	for _, f := range details.ConfigFiles {
		var doc struct {
			Name string `yaml:"name"`
		}
		if err := yaml.Unmarshal(f.Content, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Filename, err)
		}
		named = named || doc.Name != ""
	}
	p, err := loader.LoadWithContext(ctx, *details, loader.WithProfiles(profiles), func(o *loader.Options) {
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
		switch {
		case po.Name != "":
			o.SetProjectName(po.Name, true)
		case po.Environment[consts.ComposeProjectName] != "":
			o.SetProjectName(po.Environment[consts.ComposeProjectName], true)
		case !named:
			o.SetProjectName(loader.NormalizeProjectName(filepath.Base(wd)), false)
		}
		if o.ResolvePaths {
			o.ConvertWindowsPaths = utils.StringToBool(po.Environment["COMPOSE_CONVERT_WINDOWS_PATHS"])
		}
	})
	if err != nil {
		return nil, err
	}
	p.ComposeFiles = append(p.ComposeFiles, mem.names...)
	return p, nil
}

// checkSyntax reads the compose files first: compose-go reports some YAML
// errors without naming the file.
func checkSyntax(files []string, dir string, mem memFiles) error {
	for _, f := range files {
		show := relPaths(f, dir)
		b, err := mem.read(f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("compose file %s does not exist", show)
			}
			return fmt.Errorf("compose file %s: %w", show, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", show, err)
			}
		}
	}
	return nil
}

// checkEnvFiles reports a missing env_file or label_file the way Rewrite
// reports other missing sources, before compose-go fails reading it.
func checkEnvFiles(p *types.Project) error {
	show := func(abs string) string {
		if rel, err := filepath.Rel(p.WorkingDir, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return fmt.Sprintf("./%s (%s)", filepath.ToSlash(rel), abs)
		}
		return abs
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		for _, ef := range s.EnvFiles {
			if _, err := os.Stat(ef.Path); errors.Is(err, fs.ErrNotExist) && bool(ef.Required) {
				return fmt.Errorf("service %s: env_file %s does not exist", name, show(ef.Path))
			}
		}
		for _, lf := range s.LabelFiles {
			if _, err := os.Stat(lf); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("service %s: label_file %s does not exist", name, show(lf))
			}
		}
	}
	return nil
}

// checkSupported refuses what the rewrite cannot carry into a bundle yet.
func checkSupported(p *types.Project) error {
	if len(p.Jobs) > 0 {
		names := make([]string, 0, len(p.Jobs))
		for n := range p.Jobs {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("jobs are not supported yet (%s)", strings.Join(names, ", "))
	}
	for _, name := range p.ServiceNames() {
		if len(p.Services[name].PreStart) > 0 {
			return fmt.Errorf("service %s: pre_start hooks are not supported yet", name)
		}
	}
	return nil
}

// tidyError makes compose-go's error one line and names files relative to
// the project directory.
func tidyError(err error, dir string) error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "failed to parse ", "")
	// jsonschema's words for an attribute the compose schema does not have
	msg = strings.ReplaceAll(msg, " false schema", ": unknown attribute")
	msg = relPaths(msg, dir)
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return &loadError{msg: strings.Join(lines, "; "), err: err}
}

// relPaths rewrites absolute paths under dir in msg as relative ones.
func relPaths(msg, dir string) string {
	if dir == "" || dir == string(filepath.Separator) {
		return msg
	}
	prefix := dir + string(filepath.Separator)
	var b strings.Builder
	for {
		i := strings.Index(msg, prefix)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		// only at the start of a path, not inside a longer one
		if i > 0 && !strings.ContainsRune(" \t\n:\"'(", rune(msg[i-1])) {
			b.WriteString(msg[:i+len(prefix)])
			msg = msg[i+len(prefix):]
			continue
		}
		b.WriteString(msg[:i])
		msg = msg[i+len(prefix):]
	}
}

type loadError struct {
	msg string
	err error
}

func (e *loadError) Error() string { return e.msg }
func (e *loadError) Unwrap() error { return e.err }
