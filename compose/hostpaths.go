package compose

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/airpack/airpack/bundle"
)

// writtenModel loads the project's files merged like raw, but with paths as written, not made
// absolute: "./data", "/var/lib/app" and "~/data" resolve alike to absolute paths, yet the first
// is the project's and the others the target host's.
func writtenModel(ctx context.Context, details *types.ConfigDetails, name string) (map[string]any, error) {
	written, err := uninterpolatedModel(ctx, details, name, false)
	if err != nil {
		return nil, fmt.Errorf("load with paths as written: %w", err)
	}
	return written, nil
}

// writtenSource returns the source of the i-th of n volumes of a service as its compose file
// writes it, interpolated, and whether it could tell.
func (r *rewriter) writtenSource(service string, i, n int) (string, bool) {
	services, _ := r.p.written["services"].(map[string]any)
	svc, _ := services[service].(map[string]any)
	vols, _ := svc["volumes"].([]any)
	if len(vols) != n {
		return "", false
	}
	switch v := vols[i].(type) {
	case string:
		s, err := r.interpolate(v)
		if err != nil {
			return "", false
		}
		parsed, err := format.ParseVolume(s)
		if err != nil {
			return "", false
		}
		return parsed.Source, true
	case map[string]any:
		s, _ := v["source"].(string)
		if s, err := r.interpolate(s); err == nil {
			return s, true
		}
	}
	return "", false
}

// defaultedSource is a source written as only ${NAME:-default} (or ${NAME-default}) with NAME
// unset when packed: the shipped copy of default is written as ${NAME:-./files/...}, so that the
// operator may still move the data by setting NAME in .env. It returns "" otherwise.
func (r *rewriter) defaultedSource(service string, i, n int, shipped string) string {
	services, _ := r.p.written["services"].(map[string]any)
	svc, _ := services[service].(map[string]any)
	vols, _ := svc["volumes"].([]any)
	if len(vols) != n {
		return ""
	}
	var src string
	switch v := vols[i].(type) {
	case string:
		m := defaultedSpec.FindStringSubmatch(v)
		if m == nil {
			return ""
		}
		src = m[1]
	case map[string]any:
		src, _ = v["source"].(string)
	}
	m := defaultedVar.FindStringSubmatch(src)
	if m == nil || !strings.HasPrefix(shipped, "./"+filesDir+"/") {
		return ""
	}
	if _, set := r.p.target[m[1]]; set {
		return ""
	}
	return "${" + m[1] + m[2] + escape(shipped) + "}"
}

var (
	defaultedVar  = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)[^${}]*\}$`)
	defaultedSpec = regexp.MustCompile(`^(\$\{[A-Za-z_][A-Za-z0-9_]*:?-[^${}]*\}):`)
)

// interpolate substitutes s as the target sees it: the project's env files, never a value only
// the packing machine's environment sets (that stays the target's to give).
func (r *rewriter) interpolate(s string) (string, error) {
	return template.Substitute(s, func(k string) (string, bool) {
		v, ok := r.p.target[k]
		return v, ok
	})
}

// bindSource returns the compose path of a bind mount source in the bundle and whether compose
// must create it on the target. written is the source as the compose file writes it, when known.
func (r *rewriter) bindSource(tv types.ServiceVolumeConfig, written string, known, create bool) (string, error) {
	abs := tv.Source
	if !known {
		written = ""
	}
	// The source as the target's environment makes it, not the packing machine's (the typed
	// model's): ${DATA:-./data} with DATA set only in this shell is ./data.
	switch {
	case written == "" || strings.HasPrefix(written, "~"):
	case filepath.IsAbs(written):
		abs = written
	default:
		abs = filepath.Join(r.dir, written)
	}
	if p := bundle.BindSourceProblem(written); known && p != "" {
		if written != "" {
			return "", fmt.Errorf("bind mount source %s %s", written, p)
		}
		return "", fmt.Errorf("bind mount source %s", p)
	}
	if abs == "" {
		return "", fmt.Errorf("bind mount source %s", bundle.BindSourceProblem(""))
	}
	abs = filepath.Clean(abs)
	inside := r.inside(abs)
	if !inside && (bundle.IsHostPath(written) || written == "" && isHostPath(abs)) && !r.allowed(abs) {
		// The target host's path: kept as written, so the target resolves it (~ included).
		keep := written
		if keep == "" {
			keep = abs
		}
		r.hostPaths = append(r.hostPaths, keep)
		return keep, nil
	}
	if inside {
		info, err := os.Lstat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			// Compose creates it on the target, as it would have here.
			dst := path.Join(filesDir, filepath.ToSlash(r.rel(abs)))
			if err := bundle.CheckFileName(dst); err != nil {
				return "", fmt.Errorf("bind mount source %s: %w", r.display(abs), err)
			}
			if !r.opts.NoTarget {
				r.warnf("bind mount source %s does not exist: the bundle ships none, and docker compose creates ./%s on the target as an empty directory owned by root", r.display(abs), dst)
			}
			r.shipped[abs] = dst
			return "./" + dst, nil
		case errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("bind mount source %s (%s) does not exist; create it, or use the short syntax (or bind: create_host_path: true) to have compose create it on the target", r.display(abs), abs)
		case err == nil && info.Mode()&fs.ModeSymlink == 0 && !info.Mode().IsRegular() && !info.IsDir():
			return "", fmt.Errorf("bind mount source %s is a %s: a bundle holds only files and directories; mount the target's by its absolute path", r.display(abs), fileKind(info.Mode()))
		}
	}
	return r.ship(abs, item{kind: "bind mount source", outside: "volume source", special: !inside, dir: true})
}

// createHostPath is the i-th of n volumes' create_host_path as the pinned docker compose reads
// what the project writes: true for the short syntax (which the model holds as create_host_path:
// true), else bind.create_host_path, false when absent (newer compose-go defaults that to true:
// the bundle says which).
func (r *rewriter) createHostPath(service string, i, n int, tv types.ServiceVolumeConfig) bool {
	if create, found := r.fileCreateHostPath(service, tv.Target); found {
		return create
	}
	services, _ := r.p.written["services"].(map[string]any)
	svc, _ := services[service].(map[string]any)
	vols, _ := svc["volumes"].([]any)
	if len(vols) == n {
		switch v := vols[i].(type) {
		case string:
			return true
		case map[string]any:
			if v["type"] != types.VolumeTypeBind {
				return true // the short syntax, its source a variable: read as a volume until interpolated
			}
			bind, _ := v["bind"].(map[string]any)
			switch c := bind["create_host_path"].(type) {
			case nil:
				return false
			case bool:
				return c
			}
		}
	}
	return tv.Bind != nil && bool(tv.Bind.CreateHostPath)
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// fileCreateHostPath finds the bind mount of service at target in the compose files as written
// (the last file that has it wins, as when merging), and its create_host_path as the pinned
// compose reads it: the model fills in compose-go's default, true, where a bind: leaves it out.
func (r *rewriter) fileCreateHostPath(service, target string) (create, found bool) {
	for _, f := range r.p.files {
		content := f.Content
		if content == nil {
			b, err := os.ReadFile(f.Filename)
			if err != nil {
				continue
			}
			content = b
		}
		var doc struct {
			Services map[string]struct {
				Volumes []any `yaml:"volumes"`
			} `yaml:"services"`
		}
		if yaml.Unmarshal(content, &doc) != nil {
			continue
		}
		for _, v := range doc.Services[service].Volumes {
			if spec, ok := v.(string); ok {
				// The short syntax in a later file replaces an earlier entry at its target, and
				// means create_host_path: true, which the merged model says.
				if m := defaultedSpec.FindStringSubmatch(spec); m != nil {
					spec = "src" + spec[len(m[1]):]
				}
				if p, err := format.ParseVolume(spec); err == nil && path.Clean(p.Target) == target {
					found = false
				}
				continue
			}
			m, ok := v.(map[string]any)
			if !ok || m["type"] != types.VolumeTypeBind {
				continue
			}
			if t, _ := m["target"].(string); path.Clean(t) != target {
				continue
			}
			bind, _ := m["bind"].(map[string]any)
			c, isBool := bind["create_host_path"].(bool)
			if bind != nil && !isBool && bind["create_host_path"] != nil {
				continue // a variable: the model knows
			}
			create, found = c, true
		}
	}
	return create, found
}

// allowed reports whether abs was named by --allow-outside (at or below one of its paths).
func (r *rewriter) allowed(abs string) bool {
	for _, o := range r.opts.Outside {
		if o == abs || o == "/" || strings.HasPrefix(abs, strings.TrimSuffix(o, "/")+"/") {
			return true
		}
	}
	return false
}

// hostPathsWarning gives the one warning naming every host path kept as the target's, and
// returns them.
func (r *rewriter) hostPathsWarning() []string {
	if len(r.hostPaths) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var list []string
	for _, p := range r.hostPaths {
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	if !r.opts.NoTarget {
		r.warnf("host paths kept as the target's, not shipped: %s; the target host must provide them (airpack inspect lists them); to ship a copy of one instead, pass --allow-outside PATH",
			strings.Join(list, ", "))
	}
	return list
}
