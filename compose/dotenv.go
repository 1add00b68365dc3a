package compose

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
)

// varUse gathers how the bundle uses one variable.
type varUse struct {
	templates []string // strings of the compose file that reference it
	defaults  []string // defaults given by those references (${X:-d}, ${X-d})
	required  bool     // a reference requires it: ${X:?err}, ${X?err}
	presence  bool     // read for its presence: `environment: [X]`, a config's `environment: X`
	envFiles  bool     // an env_file interpolates it
	where     []string // where it is used, for messages: "service web", "secret token"
}

// dotEnv writes the bundle's .env: every variable the rewritten compose file
// and its env_files reference, with the value the project gives it: its env
// files' (or --env-from-shell's) value, never one only the packing
// machine's environment set (see splitEnv).
//
// A variable unset (or set only by the packing machine's environment) is
// written with a value giving the same result wherever it is used (its
// default, else empty), which the target's environment still overrides;
// when no value does (`${X-d}` next to `${X}`, `environment: [X]`, ...) it
// is left unset and commented, since an operator setting it must know it
// changes things.
func (r *rewriter) dotEnv(model map[string]any) ([]byte, error) {
	uses := map[string]*varUse{}
	use := func(name string) *varUse {
		u, ok := uses[name]
		if !ok {
			u = &varUse{}
			uses[name] = u
		}
		return u
	}
	walkStringsAt(model, nil, func(path []string, s string) {
		if !strings.Contains(s, "$") {
			return
		}
		vars := template.ExtractVariables(map[string]any{"": s}, template.DefaultPattern)
		for _, name := range sortedKeys(vars) {
			u := use(name)
			u.templates = append(u.templates, s)
			u.where = append(u.where, place(path))
			if d := vars[name].DefaultValue; d != "" {
				u.defaults = append(u.defaults, d)
			}
			if vars[name].Required {
				u.required = true
			}
		}
	})
	for _, pu := range presenceVars(model) {
		u := use(pu.name)
		u.presence = true
		u.where = append(u.where, pu.where)
	}

	env := r.p.target
	envFiles := r.envFileSets()
	for _, ef := range envFiles {
		if _, err := ef.resolve(func(k string) (string, bool) {
			u := use(k)
			u.envFiles = true
			u.where = append(u.where, "env_file of service "+ef.service)
			if v, ok := env[k]; ok {
				return v, ok
			}
			v, ok := r.p.packOnly[k] // as when packing: shellWarnings checks it
			return v, ok
		}); err != nil {
			return nil, err
		}
	}
	if err := r.shellWarnings(uses, envFiles); err != nil {
		return nil, err
	}

	var b bytes.Buffer
	names := map[string]bool{}
	for name := range uses {
		names[name] = true
	}
	for name := range r.p.composeVars {
		names[name] = true
	}
	for _, name := range sortedKeys(names) {
		if v, ok := r.p.composeVars[name]; ok {
			// read by docker compose itself on the target, as when packing
			fmt.Fprintf(&b, "%s=%s\n", name, dotenvQuote(v))
			continue
		}
		if composeOwn(name) || !dotenvKey.MatchString(name) {
			// other COMPOSE_* are applied by pack (COMPOSE_PROJECT_NAME
			// would override `name:`) or are not the project's; compose sets
			// COMPOSE_PROJECT_NAME, and PWD is the target's
			continue
		}
		if v, ok := env[name]; ok {
			fmt.Fprintf(&b, "%s=%s\n", name, dotenvQuote(v))
			continue
		}
		if v, ok := r.p.includeVars[name]; ok {
			fmt.Fprintf(&b, "%s=%s\n", name, dotenvQuote(v))
			continue
		}
		v, ok, err := r.unsetValue(name, uses[name], envFiles)
		if err != nil {
			return nil, err
		}
		_, fromShell := r.p.packOnly[name]
		switch {
		case fromShell && ok:
			fmt.Fprintf(&b, "# %s: the packing machine's value is not shipped; the target's environment sets it, else this value, which changes nothing\n", name)
			fmt.Fprintf(&b, "%s=%s\n", name, dotenvQuote(v))
		case fromShell:
			fmt.Fprintf(&b, "# %s is not set: the packing machine's value is not shipped; set it here or in the target's environment\n", name)
		case ok:
			fmt.Fprintf(&b, "%s=%s\n", name, dotenvQuote(v))
		case len(uses[name].templates) > 0 || uses[name].presence:
			fmt.Fprintf(&b, "# %s is not set: it was unset when packed, and no value gives the same result\n", name)
		}
		// else only an env_file reads it, falling back on its own values
	}
	return b.Bytes(), nil
}

var dotenvKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-\[\]]*$`)

// unsetValue finds a value for a variable unset when packing that changes
// nothing where it is used: its default, else "".
func (r *rewriter) unsetValue(name string, u *varUse, envFiles []envFileSet) (string, bool, error) {
	if u.presence {
		return "", false, nil
	}
	env := r.p.target
	unset := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	candidates := append([]string{}, u.defaults...)
	candidates = append(candidates, "")
	tried := map[string]bool{}
	for _, c := range candidates {
		if tried[c] || strings.Contains(c, "$") {
			continue
		}
		tried[c] = true
		set := func(k string) (string, bool) {
			if k == name {
				return c, true
			}
			return unset(k)
		}
		same := true
		for _, s := range u.templates {
			a, errA := template.SubstituteWithOptions(s, unset, template.WithoutLogging)
			b, errB := template.SubstituteWithOptions(s, set, template.WithoutLogging)
			if errA != nil || errB != nil || a != b {
				same = false
				break
			}
		}
		if same && u.envFiles {
			for _, ef := range envFiles {
				a, err := ef.resolve(unset)
				if err != nil {
					return "", false, err
				}
				b, err := ef.resolve(set)
				if err != nil {
					return "", false, err
				}
				if !maps.Equal(a, b) {
					same = false
					break
				}
			}
		}
		if same {
			return c, true, nil
		}
	}
	return "", false, nil
}

// envFileSet is the env_files of one service, read in order the way docker
// compose resolves a service's environment.
type envFileSet struct {
	service string
	files   []types.EnvFile
	env     types.MappingWithEquals // the service's own `environment:`
}

func (r *rewriter) envFileSets() []envFileSet {
	var sets []envFileSet
	for _, name := range r.p.typed.ServiceNames() {
		s := r.p.typed.Services[name]
		var files []types.EnvFile
		for _, ef := range s.EnvFiles {
			if _, err := os.Stat(ef.Path); err == nil {
				files = append(files, ef)
			}
		}
		if len(files) == 0 {
			continue
		}
		sets = append(sets, envFileSet{service: name, files: files, env: r.p.base.Services[name].Environment})
	}
	return sets
}

// resolve mirrors types.resolveEnvironment with lookup as the project
// environment.
func (s envFileSet) resolve(lookup func(string) (string, bool)) (map[string]string, error) {
	own := types.MappingWithEquals{}
	for k, v := range s.env {
		own[k] = v
	}
	own = own.Resolve(lookup) // in place: s.env belongs to the loaded project
	vars := own.ToMapping()
	for _, ef := range s.files {
		f, err := os.Open(ef.Path)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.service, err)
		}
		err = dotenv.ParseWithFormat(f, ef.Path, vars, func(k string) (string, bool) {
			if v, ok := lookup(k); ok {
				return v, true
			}
			if v, ok := own[k]; ok && v != nil {
				return *v, true
			}
			return "", false
		}, ef.Format)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.service, err)
		}
	}
	return vars, nil
}

// presenceUse is a variable read for its presence, and where.
type presenceUse struct{ name, where string }

// presenceVars lists the variables read for their presence: `environment:`
// entries without a value (passed through from the environment) and the
// `environment:` source of configs and secrets.
func presenceVars(model map[string]any) []presenceUse {
	var out []presenceUse
	services, _ := model["services"].(map[string]any)
	for _, name := range sortedKeys(services) {
		s, _ := services[name].(map[string]any)
		where := "service " + name
		switch env := s["environment"].(type) {
		case []any:
			for _, e := range env {
				if str, ok := e.(string); ok && !strings.Contains(str, "=") {
					out = append(out, presenceUse{str, where})
				}
			}
		case map[string]any:
			for _, k := range sortedKeys(env) {
				if env[k] == nil {
					out = append(out, presenceUse{k, where})
				}
			}
		}
	}
	for _, key := range []string{"configs", "secrets"} {
		objs, _ := model[key].(map[string]any)
		for _, name := range sortedKeys(objs) {
			obj, _ := objs[name].(map[string]any)
			if e, ok := obj["environment"].(string); ok {
				out = append(out, presenceUse{e, strings.TrimSuffix(key, "s") + " " + name})
			}
		}
	}
	return out
}

// dotenvQuote writes a value so that compose-go's dotenv parser reads it back
// unchanged: plain when made of safe characters, else double-quoted with \,
// ", $ and line breaks escaped ($ would otherwise be interpolated).
func dotenvQuote(v string) string {
	safe := v != ""
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-./:,@+=%^~", c)) {
			safe = false
			break
		}
	}
	if safe || v == "" {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range v {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '$':
			b.WriteString(`\$`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
