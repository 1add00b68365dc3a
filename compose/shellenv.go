package compose

import (
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/compose-spec/compose-go/v2/utils"
)

// The packing machine's environment does not ship. docker compose merges
// the shell's variables with the project's .env (or --env-file files), the
// shell winning; the bundle's .env must hold only what the project itself
// says. A variable set only by the shell means "the target's environment"
// there, and one the shell set to another value than the env files keeps
// the files' value, unless --env-from-shell names it.

// envSplit is the project environment sorted by where its values come from.
type envSplit struct {
	// target is the project environment docker compose sees on the target
	// with an empty environment: the packing environment without the
	// shell's variables, but for those named by --env-from-shell and
	// compose's own; the env files are read again without the shell (their
	// ${VAR} references resolve as on the target).
	target types.Mapping
	// packOnly holds every variable whose value at pack time is not
	// shipped, with that value.
	packOnly map[string]string
	// composeVars are the COMPOSE_* variables the bundle's .env keeps.
	composeVars map[string]string
	warnings    []string
}

// appliedCompose are the COMPOSE_* variables pack applies to the bundle
// itself (one compose file, its name:, only active services, without
// profiles), which would be wrong in its .env.
var appliedCompose = map[string]bool{"COMPOSE_FILE": true, "COMPOSE_PATH_SEPARATOR": true, "COMPOSE_PROFILES": true,
	"COMPOSE_PROJECT_NAME": true, "COMPOSE_ENV_FILES": true, "COMPOSE_DISABLE_ENV_FILE": true}

// composeMeaning are the COMPOSE_* variables docker compose reads from the
// project environment that change what runs, with what they change.
var composeMeaning = map[string]string{
	"COMPOSE_COMPATIBILITY":  "container names use '_' instead of '-'",
	"COMPOSE_IGNORE_ORPHANS": "docker compose up ignores the project's containers that no service declares",
}

// splitEnv sorts env by where its values come from: shell is the packing
// machine's environment (LoadOptions.Environment, else the process's).
func splitEnv(env types.Mapping, envFiles, fromShell []string, shell map[string]string) (*envSplit, error) {
	kept := map[string]string{}
	for _, name := range fromShell {
		v, ok := shell[name]
		if !ok {
			return nil, fmt.Errorf("--env-from-shell %s: %s is not set in this environment", name, name)
		}
		kept[name] = v
	}
	files, err := dotenv.GetEnvFromFile(kept, envFiles)
	if err != nil {
		return nil, err
	}
	sp := &envSplit{target: env.Clone(), packOnly: map[string]string{}, composeVars: map[string]string{}}
	for _, k := range sortedKeys(env) {
		v := env[k]
		if strings.HasPrefix(k, "COMPOSE_") {
			sp.composeVar(k, v, files, shell, kept)
			continue
		}
		if composeOwn(k) {
			continue
		}
		if _, ok := kept[k]; ok {
			continue
		}
		if fv, ok := files[k]; ok {
			if fv != v {
				sp.target[k] = fv
				sp.packOnly[k] = v
			}
			continue
		}
		if _, ok := shell[k]; ok {
			delete(sp.target, k)
			sp.packOnly[k] = v
		}
	}
	return sp, nil
}

// composeVar decides whether the bundle's .env keeps a COMPOSE_* variable:
// it does when the project's env files (or --env-from-shell) set it and
// pack has not applied it to the bundle already.
func (sp *envSplit) composeVar(k, v string, files, shell, kept map[string]string) {
	if appliedCompose[k] {
		return
	}
	if kv, ok := kept[k]; ok {
		sp.composeVars[k] = kv
		return
	}
	fv, inFile := files[k]
	if inFile {
		sp.composeVars[k] = fv
	}
	sv, inShell := shell[k]
	switch {
	case !inShell || inFile && sv == fv:
	case inFile:
		sp.warnings = append(sp.warnings, fmt.Sprintf("%s: the packing machine's environment sets it to another value than the project's env file, "+
			"whose value the bundle's .env keeps; pass --env-from-shell %s to ship the environment's", k, k))
	case composeMeaning[k] != "" && utils.StringToBool(sv):
		sp.warnings = append(sp.warnings, fmt.Sprintf("%s is set only in the packing machine's environment, which is not shipped: on the target "+
			"docker compose runs without it unless its environment sets it (%s); pass --env-from-shell %s to ship it in .env", k, composeMeaning[k], k))
	}
}

// composeOwn tells the variables docker compose sets or reads itself: they
// configure compose, they are no value of the packing machine's to ship.
func composeOwn(name string) bool {
	return strings.HasPrefix(name, "COMPOSE_") || name == "PWD"
}

// shellWarnings checks and explains the variables of the bundle whose value
// came from the packing machine's environment.
func (r *rewriter) shellWarnings(uses map[string]*varUse, envFiles []envFileSet) error {
	for _, name := range sortedKeys(uses) {
		if _, ok := r.p.packOnly[name]; !ok {
			continue
		}
		u := uses[name]
		if len(u.templates) == 0 && !u.presence && !u.envFiles {
			continue
		}
		where := strings.Join(u.places(), ", ")
		_, inFiles := r.p.target[name]
		if _, ok := r.p.includeVars[name]; ok {
			inFiles = true // an included project's .env or env_file
		}
		if inFiles {
			r.warnf("%s (%s): the packing machine's environment sets it to another value than the project's env file, "+
				"whose value the bundle's .env keeps; pass --env-from-shell %s to ship the environment's", name, where, name)
			continue
		}
		if u.required || u.envFiles && r.requiredByEnvFile(name, envFiles) {
			return fmt.Errorf("%s is required by %s (${%s:?...}) and set only in the packing machine's environment, which is not shipped, "+
				"so docker compose would refuse to run the bundle: give it a value in the project's .env or an --env-file, "+
				"or pass --env-from-shell %s to ship this value", name, where, name, name)
		}
		r.warnf("%s (%s) is set only in the packing machine's environment, which is not shipped: the bundle leaves it to the target's "+
			"environment (see .env); pass --env-from-shell %s to ship this value", name, where, name)
	}
	return nil
}

// requiredByEnvFile tells whether an env_file requires the variable
// (${X:?err}): it cannot be read without it.
func (r *rewriter) requiredByEnvFile(name string, envFiles []envFileSet) bool {
	target := func(k string) (string, bool) { v, ok := r.p.target[k]; return v, ok }
	packed := func(k string) (string, bool) {
		if k == name {
			return r.p.packOnly[k], true
		}
		return target(k)
	}
	for _, ef := range envFiles {
		if _, err := ef.resolve(target); err != nil {
			if _, err := ef.resolve(packed); err == nil {
				return true
			}
		}
	}
	return false
}

// places lists where a variable is used, for messages.
func (u *varUse) places() []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range u.where {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
}

// place names the part of the model a string belongs to: "service web",
// "secret token", "volume data", ...
func place(path []string) string {
	if len(path) == 0 {
		return "the compose file"
	}
	kinds := map[string]string{"services": "service", "configs": "config", "secrets": "secret", "volumes": "volume",
		"networks": "network", "models": "model"}
	if k, ok := kinds[path[0]]; ok && len(path) > 1 {
		return k + " " + path[1]
	}
	return path[0]
}

// walkStringsAt calls fn on every string value of the model with the keys
// leading to it, in a fixed order.
func walkStringsAt(v any, path []string, fn func(path []string, s string)) {
	switch t := v.(type) {
	case string:
		fn(path, t)
	case map[string]any:
		for _, k := range sortedKeys(t) {
			walkStringsAt(t[k], append(path[:len(path):len(path)], k), fn)
		}
	case []any:
		for _, e := range t {
			walkStringsAt(e, path, fn)
		}
	}
}
