package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// includeVars returns the variables that included projects take from their
// own .env or env_file and the project's environment does not set, with
// their values (the first include setting one wins). docker compose
// interpolates an included file with the project environment completed by
// the include's env files; the bundle has a single .env, so these values go
// there. It follows compose-go's ApplyInclude; Rewrite's final check catches
// a value that cannot be shared (set differently by two includes, or used
// unset by the project itself).
//
// It also reports whether the project includes others at all.
func includeVars(files []string, dir string, env types.Mapping, mem memFiles) (map[string]string, bool) {
	vars := map[string]string{}
	seen := map[string]bool{}
	walkIncludes(files, dir, env, env, vars, seen, mem)
	return vars, len(seen) > len(files)
}

func walkIncludes(files []string, dir string, env, projectEnv types.Mapping, vars map[string]string, seen map[string]bool, mem memFiles) {
	for _, f := range files {
		if seen[f] {
			continue
		}
		seen[f] = true
		for _, inc := range includesOf(f, env, mem) {
			if len(inc.Path) == 0 {
				continue
			}
			paths := make([]string, len(inc.Path))
			for i, p := range inc.Path {
				paths[i] = absIn(dir, p)
			}
			projectDir := inc.ProjectDirectory
			if projectDir == "" {
				projectDir = filepath.Dir(paths[0])
			} else {
				projectDir = absIn(dir, projectDir)
			}
			var envFiles []string
			if len(inc.EnvFile) == 0 {
				f := filepath.Join(projectDir, ".env")
				if s, err := os.Stat(f); err == nil && !s.IsDir() {
					envFiles = []string{f}
				}
			}
			for _, f := range inc.EnvFile {
				if f != "/dev/null" {
					envFiles = append(envFiles, absIn(dir, f))
				}
			}
			fromFiles, err := dotenv.GetEnvFromFile(env, envFiles)
			if err != nil {
				continue // the typed load went through: nothing to learn here
			}
			incEnv := env.Clone().Merge(fromFiles)
			for _, k := range sortedKeys(incEnv) {
				if _, set := projectEnv[k]; set {
					continue
				}
				if _, seen := vars[k]; !seen {
					vars[k] = incEnv[k]
				}
			}
			walkIncludes(paths, projectDir, incEnv, projectEnv, vars, seen, mem)
		}
	}
}

// includesOf reads the `include:` section of a compose file, interpolated
// with env as the loader does before applying it.
func includesOf(file string, env types.Mapping, mem memFiles) []types.IncludeConfig {
	b, err := mem.read(file)
	if err != nil {
		return nil
	}
	var out []types.IncludeConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) || err != nil {
			return out
		}
		list, ok := doc["include"].([]any)
		if !ok {
			continue
		}
		for i, e := range list {
			if s, ok := e.(string); ok {
				list[i] = map[string]any{"path": s}
			}
		}
		interpolated := interpolateStrings(list, func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		})
		var incs []types.IncludeConfig
		if err := loader.Transform(interpolated, &incs); err == nil {
			out = append(out, incs...)
		}
	}
}

func interpolateStrings(v any, lookup template.Mapping) any {
	switch t := v.(type) {
	case string:
		if s, err := template.SubstituteWithOptions(t, lookup, template.WithoutLogging); err == nil {
			return s
		}
		return t
	case map[string]any:
		for k, e := range t {
			t[k] = interpolateStrings(e, lookup)
		}
	case []any:
		for i, e := range t {
			t[i] = interpolateStrings(e, lookup)
		}
	}
	return v
}

func absIn(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// scpLike is a git remote written user@host:path.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:`)

func isRemote(p string) bool { return strings.Contains(p, "://") || scpLike.MatchString(p) }

// checkRemoteIncludes refuses an `include:` of a remote project (oci://, a
// git repository), which docker compose would fetch when loading: the
// bundle must be packed from local files, as for remote -f files.
func checkRemoteIncludes(files []string, dir string, env types.Mapping, mem memFiles) error {
	return walkRemoteIncludes(files, dir, dir, env, map[string]bool{}, mem)
}

func walkRemoteIncludes(files []string, dir, top string, env types.Mapping, seen map[string]bool, mem memFiles) error {
	for _, f := range files {
		if seen[f] {
			continue
		}
		seen[f] = true
		for _, inc := range includesOf(f, env, mem) {
			for _, p := range inc.Path {
				if isRemote(p) {
					return fmt.Errorf("%s: include %s: remote includes are not supported; copy the included project next to this one and include its compose file by path",
						relPaths(f, top), p)
				}
			}
			if len(inc.Path) == 0 {
				continue
			}
			paths := make([]string, len(inc.Path))
			for i, p := range inc.Path {
				paths[i] = absIn(dir, p)
			}
			projectDir := filepath.Dir(paths[0])
			if inc.ProjectDirectory != "" {
				projectDir = absIn(dir, inc.ProjectDirectory)
			}
			if err := walkRemoteIncludes(paths, projectDir, top, env, seen, mem); err != nil {
				return err
			}
		}
	}
	return nil
}
