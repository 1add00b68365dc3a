package bundle

import (
	"bytes"
	"context"
	"path"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeWorkDir is where the compose model believes the bundle is. Nothing is read from it:
// the compose file and .env come from the bundle stream, and paths are checked against the
// bundle's file list.
const composeWorkDir = "/bundle"

// checkCompose loads the bundle's compose file as `docker compose` would on the target (with
// the bundle's .env, every profile) and checks it against the bundle.
func (v *verifier) checkCompose(ctx context.Context, m *Manifest) {
	cf := v.composeFile()
	if !LocalPath(cf) {
		v.problem(ManifestFile, "compose file %s is outside the bundle", cf)
		return
	}
	content, ok := v.small[cf]
	if !ok {
		if f, present := v.files[cf]; present && f.size > maxSmallFile {
			v.problem(cf, "too large (over %d MiB) to be a compose file", maxSmallFile>>20)
		} else if present {
			// Read before airpack.json said it was the compose file, and not at the top.
			v.problem(cf, "not checked: the compose file belongs at the top of the bundle")
		} else {
			v.problem(cf, "missing: the target has no compose file to run")
		}
		return
	}
	env := map[string]string{}
	if raw, ok := v.small[EnvFile]; ok {
		// No lookup: on the target, .env's own references resolve against the shell, which
		// Verify cannot know.
		parsed, err := dotenv.ParseWithLookup(bytes.NewReader(raw), func(string) (string, bool) { return "", false })
		if err != nil {
			v.problem(EnvFile, "does not parse: %v", err)
		} else {
			env = parsed
		}
	}

	look := &envLookup{env: env, unset: map[string]bool{}}
	projectName := loader.NormalizeProjectName(m.Name)
	if projectName == "" {
		projectName = "airpack"
	}
	project, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  path.Join(composeWorkDir, path.Dir(cf)),
		ConfigFiles: []types.ConfigFile{{Filename: path.Join(composeWorkDir, cf), Content: content}},
		Environment: env,
	},
		loader.WithProfiles([]string{"*"}),
		func(o *loader.Options) {
			o.SetProjectName(projectName, false) // the file's own name: wins, as in compose
			// Paths stay as written, so they are judged as written, relative to the bundle.
			o.ResolvePaths = false
			// These would read files from disk: env_file and label_file contents, included and
			// extended files. A bundle's compose file is self-contained; its files are checked
			// below by path.
			o.SkipResolveEnvironment = true
			o.SkipResolveLabels = true
			o.SkipInclude = true
			o.Interpolate.LookupValue = look.lookup
			o.Interpolate.Substitute = look.substitute
		})
	if err != nil {
		// Say the file's name in the bundle, not where the model believed it was.
		v.problem(cf, "does not load: %s", strings.ReplaceAll(err.Error(), composeWorkDir+"/", ""))
		return
	}
	for _, name := range sortedKeys(look.unset) {
		v.problem(cf, "variable %s is not set in %s: it would be blank on the target", name, EnvFile)
	}

	shipped := map[string]bool{}
	for _, im := range m.Images {
		shipped[normalRef(im.Ref)] = true
	}
	services := sortedKeys(project.Services)
	if m.Platform != "" {
		platforms := map[string]string{}
		for _, name := range services {
			platforms[name] = project.Services[name].Platform
		}
		if err := CheckPlatforms(m.Platform, platforms); err != nil {
			v.problem(cf, "%v", err)
		}
	}
	for _, name := range services {
		s := project.Services[name]
		svc := "service " + name + ": "
		if s.Build != nil {
			v.problem(cf, "%shas build: the target cannot build images; it must name a shipped image", svc)
		}
		switch {
		case s.Image == "" && s.Provider != nil:
			// a provider service runs the provider's plugin on the target, no image
		case s.Image == "":
			v.problem(cf, "%shas no image", svc)
		case !shipped[normalRef(s.Image)]:
			v.problem(cf, "%simage %s is not in the bundle (%s)", svc, s.Image, ManifestFile)
		}
		for _, vol := range s.Volumes {
			if vol.Type == types.VolumeTypeBind {
				// one compose creates (create_host_path) need not be shipped
				v.checkHostPath(svc+"bind mount source", vol.Source, vol.Bind == nil || !bool(vol.Bind.CreateHostPath) || v.listed(vol.Source))
			}
			if vol.Type == types.VolumeTypeImage && !shipped[normalRef(vol.Source)] {
				v.problem(cf, "%svolume image %s is not in the bundle (%s)", svc, vol.Source, ManifestFile)
			}
		}
		for _, ef := range s.EnvFiles {
			v.checkHostPath(svc+"env_file", ef.Path, bool(ef.Required))
		}
		for _, lf := range s.LabelFiles {
			v.checkHostPath(svc+"label_file", lf, true)
		}
	}
	for _, name := range sortedKeys(project.Configs) {
		c := project.Configs[name]
		if !bool(c.External) {
			v.checkHostPath("config "+name+": file", c.File, true)
		}
	}
	for _, name := range sortedKeys(project.Secrets) {
		s := project.Secrets[name]
		if !bool(s.External) {
			v.checkHostPath("secret "+name+": file", s.File, true)
		}
	}

	for _, im := range m.Images {
		for _, s := range im.Services {
			if _, ok := project.Services[s]; !ok {
				v.problem(ManifestFile, "image %s: service %s uses it, but %s has no service %s", im.Ref, s, cf, s)
			}
		}
		for _, s := range im.MountedBy {
			if _, ok := project.Services[s]; !ok {
				v.problem(ManifestFile, "image %s: service %s mounts it, but %s has no service %s", im.Ref, s, cf, s)
			}
		}
	}
}

// listed reports whether SHA256SUMS lists the bundle path src (relative to the compose file)
// or a file below it: a bind source compose would create is then missing, not to be created.
func (v *verifier) listed(src string) bool {
	sums, err := ParseSums(v.small[SumsFile])
	if err != nil {
		return false
	}
	p := path.Join(path.Dir(v.composeFile()), src)
	for f := range sums {
		if f == p || strings.HasPrefix(f, p+"/") {
			return true
		}
	}
	return false
}

// normalRef is ref as docker resolves it ("nginx" → "docker.io/library/nginx:latest"), so that a
// compose file and airpack.json may spell an image differently.
func normalRef(ref string) string {
	full, _, err := containerdName(ref)
	if err != nil {
		return ref
	}
	return full
}

// envLookup is the compose file's view of the bundle's .env, noting the variables it uses
// without a value or a default: on the target they would silently be blank.
type envLookup struct {
	env   map[string]string
	unset map[string]bool
	last  string // the last variable looked up in vain
}

func (l *envLookup) lookup(name string) (string, bool) {
	val, ok := l.env[name]
	if !ok {
		l.last = name
	}
	return val, ok
}

func (l *envLookup) substitute(s string, _ template.Mapping) (string, error) {
	return template.SubstituteWithOptions(s, l.lookup, template.WithoutLogging, template.WithReplacementFunction(l.replace))
}

// replace is compose's own replacement; a substitution it could not apply (no value, no
// default) ends with a lookup in vain, whose name is recorded.
func (l *envLookup) replace(sub string, mapping template.Mapping, cfg *template.Config) (string, error) {
	l.last = ""
	val, applied, err := template.DefaultReplacementAppliedFunc(sub, mapping, cfg)
	if err == nil && !applied && l.last != "" {
		l.unset[l.last] = true
	}
	return val, err
}
