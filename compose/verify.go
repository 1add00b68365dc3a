package compose

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
)

// verify loads the rewritten compose file with the generated .env, as
// docker compose will in the bundle directory, and checks it describes the
// project that was packed, but for the intended changes. The bundle
// directory is taken to be the project directory, so that shipped paths
// compare as absolute paths; nothing is read from disk.
func (r *rewriter) verify(composeYAML, dotEnv []byte) error {
	env, err := dotenv.UnmarshalBytesWithLookup(dotEnv, nil)
	if err != nil {
		return fmt.Errorf("check the rewritten project: generated .env: %w", err)
	}
	// With the packing machine's environment set again (the target's
	// environment may set it), the bundle must give the packed project.
	for k, v := range r.p.packOnly {
		env[k] = v
	}
	if pwd, ok := r.p.typed.Environment["PWD"]; ok {
		env["PWD"] = pwd // compose's own, never in .env
	}
	got, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  r.dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(r.dir, ComposeFileName), Content: composeYAML}},
		Environment: env,
	}, func(o *loader.Options) {
		// same name as when packing, so derived names and
		// ${COMPOSE_PROJECT_NAME} compare equal
		o.SetProjectName(r.p.typed.Name, true)
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
		o.Interpolate.Substitute = func(s string, m template.Mapping) (string, error) {
			return template.SubstituteWithOptions(s, m, template.WithoutLogging)
		}
	})
	if err != nil {
		return fmt.Errorf("check the rewritten project: it does not load: %w", err)
	}
	if diff := r.compare(got); diff != "" {
		if r.p.includes {
			return fmt.Errorf("the rewritten compose file does not give the packed project: %s; the bundle has a single .env: "+
				"a variable an included project sets in its own .env or env_file must not be used unset elsewhere", diff)
		}
		return fmt.Errorf("the rewritten compose file does not give the packed project: %s", diff)
	}
	return nil
}

// compare returns the first difference between the rewritten project and
// what it should be, "" if none.
func (r *rewriter) compare(got *types.Project) string {
	base := r.p.base
	for _, name := range sortedKeys(got.Services) {
		if _, ok := base.Services[name]; !ok {
			return fmt.Sprintf("services.%s should not exist", name)
		}
	}
	for _, name := range base.ServiceNames() {
		g, ok := got.Services[name]
		if !ok {
			return fmt.Sprintf("services.%s is missing", name)
		}
		if d := diff("services."+name, r.expectedService(base.Services[name]), g); d != "" {
			return d
		}
	}
	want := r.expectedProject()
	for _, c := range []struct {
		path      string
		want, got any
	}{
		{"networks", want.Networks, got.Networks},
		{"volumes", want.Volumes, got.Volumes},
		{"configs", want.Configs, got.Configs},
		{"secrets", want.Secrets, got.Secrets},
		{"models", want.Models, got.Models},
		{"extensions", want.Extensions, got.Extensions},
	} {
		if d := diff(c.path, c.want, c.got); d != "" {
			return d
		}
	}
	return ""
}

// shippedPath is where a source is found when the bundle is the project
// directory: its copy, or itself when kept (host path, special file).
func (r *rewriter) shippedPath(abs string) string {
	if dst, ok := r.shipped[filepath.Clean(abs)]; ok {
		return filepath.Join(r.dir, filepath.FromSlash(dst))
	}
	return abs
}

func (r *rewriter) expectedService(s types.ServiceConfig) types.ServiceConfig {
	if s.Image != "" || s.Build != nil {
		s.Image = r.opts.Images[s.Name]
	}
	s.Build = nil
	s.Develop = nil
	s.Profiles = nil
	if !keepPullPolicy(s.PullPolicy) {
		s.PullPolicy = ""
	}
	if s.DependsOn != nil {
		deps := types.DependsOnConfig{}
		for k, v := range s.DependsOn {
			if _, ok := r.p.typed.Services[k]; ok {
				deps[k] = v
			}
		}
		s.DependsOn = deps
		if len(deps) == 0 {
			s.DependsOn = nil
		}
	}
	if s.Volumes != nil {
		vols := make([]types.ServiceVolumeConfig, len(s.Volumes))
		for i, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				v.Source = r.shippedPath(v.Source)
				// create_host_path as written (see createHostPath), not compose-go's default
				if create, ok := r.creates[s.Name][i]; ok && (v.Bind != nil || create) {
					b := types.ServiceVolumeBind{}
					if v.Bind != nil {
						b = *v.Bind
					}
					b.CreateHostPath = types.OptOut(create)
					v.Bind = &b
				}
			}
			if ref, ok := r.opts.VolumeImages[v.Source]; ok && v.Type == types.VolumeTypeImage {
				v.Source = ref
			}
			vols[i] = v
		}
		s.Volumes = vols
	}
	if s.EnvFiles != nil {
		var efs []types.EnvFile
		for _, ef := range s.EnvFiles {
			if _, ok := r.shipped[filepath.Clean(ef.Path)]; !ok && !bool(ef.Required) {
				continue // missing, dropped
			}
			ef.Path = r.shippedPath(ef.Path)
			efs = append(efs, ef)
		}
		s.EnvFiles = efs
	}
	if s.LabelFiles != nil {
		lfs := make([]string, len(s.LabelFiles))
		for i, f := range s.LabelFiles {
			lfs[i] = r.shippedPath(f)
		}
		s.LabelFiles = lfs
	}
	return s
}

func (r *rewriter) expectedProject() *types.Project {
	base := r.p.base
	want := &types.Project{Networks: base.Networks, Models: base.Models, Extensions: base.Extensions}
	usedConfigs, usedSecrets := map[string]bool{}, map[string]bool{}
	for _, s := range base.Services {
		for _, c := range s.Configs {
			usedConfigs[c.Source] = true
		}
		for _, c := range s.Secrets {
			usedSecrets[c.Source] = true
		}
	}
	for name, c := range base.Configs {
		if !usedConfigs[name] {
			continue
		}
		if c.File != "" {
			c.File = r.shippedPath(c.File)
		}
		if want.Configs == nil {
			want.Configs = types.Configs{}
		}
		want.Configs[name] = c
	}
	for name, c := range base.Secrets {
		if !usedSecrets[name] {
			continue
		}
		if c.File != "" {
			c.File = r.shippedPath(c.File)
		}
		if want.Secrets == nil {
			want.Secrets = types.Secrets{}
		}
		want.Secrets[name] = c
	}
	if base.Volumes != nil {
		want.Volumes = types.Volumes{}
		for name, v := range base.Volumes {
			if dev, ok := v.DriverOpts["device"]; ok && v.Driver == "local" && v.DriverOpts["o"] == "bind" && filepath.IsAbs(dev) {
				opts := types.Options{}
				for k, o := range v.DriverOpts {
					opts[k] = o
				}
				opts["device"] = r.shippedPath(dev)
				v.DriverOpts = opts
			}
			want.Volumes[name] = v
		}
	}
	return want
}

// diff returns the path and values of the first difference between want and
// got, "" if they are equal.
func diff(path string, want, got any) string {
	return diffValue(path, reflect.ValueOf(want), reflect.ValueOf(got))
}

func diffValue(path string, w, g reflect.Value) string {
	if !w.IsValid() || !g.IsValid() {
		if w.IsValid() == g.IsValid() {
			return ""
		}
		if w.IsValid() && w.IsZero() || g.IsValid() && g.IsZero() {
			return ""
		}
		return fmt.Sprintf("%s is %s, expected %s", path, show(g), show(w))
	}
	if w.Type() != g.Type() {
		return fmt.Sprintf("%s is a %s, expected a %s", path, g.Type(), w.Type())
	}
	switch w.Kind() {
	case reflect.Pointer, reflect.Interface:
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				return fmt.Sprintf("%s is %s, expected %s", path, show(g), show(w))
			}
			return ""
		}
		return diffValue(path, w.Elem(), g.Elem())
	case reflect.Struct:
		t := w.Type()
		for i := 0; i < t.NumField(); i++ {
			name := t.Field(i).Name
			if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" && !strings.HasPrefix(tag, "#") {
				name = tag
			}
			p := path + "." + name
			if t.Field(i).Anonymous {
				p = path
			}
			if d := diffValue(p, w.Field(i), g.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if w.Len() == 0 && g.Len() == 0 {
			return ""
		}
		keys := map[string]reflect.Value{}
		for _, k := range w.MapKeys() {
			keys[fmt.Sprint(k)] = k
		}
		for _, k := range g.MapKeys() {
			keys[fmt.Sprint(k)] = k
		}
		for _, ks := range sortedKeys(keys) {
			k := keys[ks]
			if d := diffValue(path+"."+ks, w.MapIndex(k), g.MapIndex(k)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if w.Len() != g.Len() {
			return fmt.Sprintf("%s has %d entries, expected %d", path, g.Len(), w.Len())
		}
		for i := 0; i < w.Len(); i++ {
			if d := diffValue(path+"["+strconv.Itoa(i)+"]", w.Index(i), g.Index(i)); d != "" {
				return d
			}
		}
		return ""
	}
	if w.Equal(g) {
		return ""
	}
	return fmt.Sprintf("%s is %s, expected %s", path, show(g), show(w))
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "unset"
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "unset"
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.String {
		return strconv.Quote(v.String())
	}
	if v.CanInterface() {
		return fmt.Sprint(v.Interface())
	}
	return v.String()
}
