package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/airpack/airpack/bundle"
)

// RewriteOptions say how to write the project into a bundle.
type RewriteOptions struct {
	// Name is written as the top-level `name:`, so the containers, networks
	// and volumes of the bundle keep their names across versions.
	Name string
	// Images maps every service to the image reference written as its
	// `image:`.
	Images map[string]string
	// VolumeImages maps the source of every `type: image` volume (as the
	// typed model has it) to the shipped reference written in its place.
	VolumeImages map[string]string
	// Outside are absolute paths outside the project directory (--allow-outside PATH): bind
	// sources, env_files, label_files, configs and secrets at or below one of them are shipped
	// as copies (under files/_outside/) instead of being refused, or, for host paths, kept as
	// the target's.
	Outside []string
	// Exclude, when set, says whether a file or directory found in a shipped directory must not
	// be shipped (airpack's output), and why, for a warning ("": left out silently, as for this
	// pack's own output, which was never the project's).
	Exclude func(abs string) (skip bool, why string)
	// NoTarget says the bundle is converted further (airpack ram), never run on a target host:
	// the warnings about what that host must provide (host paths) or gets (directories compose
	// creates there) are left out; the conversion says what becomes of those paths.
	NoTarget bool
}

// Output is the compose part of a bundle.
type Output struct {
	ComposeYAML []byte     // the bundle's docker-compose.yaml
	DotEnv      []byte     // the bundle's .env
	Files       []FileCopy // files to copy into the bundle, sorted by Dst
	// HostPaths are the target host's paths the compose file mounts, as written.
	HostPaths []string
	// Warnings say where the bundle keeps the project's meaning only in part, or leaves a
	// decision to the target (a host path, an unset variable), one sentence each.
	Warnings []string
}

// FileCopy is one regular file or directory to copy into the bundle.
type FileCopy struct {
	Src  string      // absolute source path
	Dst  string      // slash path relative to the bundle directory, under "files/"
	Mode fs.FileMode // the source's mode
	// Dir is a directory of a shipped tree (kept even when empty, with its mode and owner).
	Dir bool
	// Link, when set, is a symbolic link's relative target (see bundle.Manifest.Links).
	Link string
	// Uid and Gid are the source's numeric owner and group.
	Uid, Gid int
}

// ComposeFileName is the name of the compose file in a bundle.
const ComposeFileName = "docker-compose.yaml"

const (
	filesDir   = "files"
	outsideDir = "_outside"
)

// hostPaths hold host resources, not project data: a bind mount of one of
// them (or of something below it) means "this host's", so it is kept as is
// and never copied, whether or not it exists where the bundle is packed.
var hostPaths = []string{"/dev", "/proc", "/sys", "/run", "/var/run", "/var/lib/docker"}

// Rewrite turns the project into the bundle's compose file, .env and the
// list of files to ship with them.
func (p *Project) Rewrite(opts RewriteOptions) (*Output, error) {
	if opts.Name == "" || loader.NormalizeProjectName(opts.Name) != opts.Name {
		return nil, fmt.Errorf("rewrite compose project: %w", loader.InvalidProjectNameErr(opts.Name))
	}
	r := &rewriter{p: p, opts: opts, dir: p.Dir(), files: map[string]FileCopy{}, shipped: map[string]string{}}
	out, err := r.rewrite()
	if err != nil {
		return nil, fmt.Errorf("rewrite compose project: %w", err)
	}
	return out, nil
}

type rewriter struct {
	p    *Project
	opts RewriteOptions
	dir  string
	// files to copy, by Dst
	files map[string]FileCopy
	// shipped maps an absolute source to its bundle path ("files/...")
	shipped map[string]string
	// warnings for Output.Warnings, in the order found
	warnings []string
	// hostPaths kept as the target's, as written
	hostPaths []string
	// creates are the create_host_path written for each bind mount, by service and index
	creates map[string]map[int]bool
}

// warnf records a warning for Output.Warnings.
func (r *rewriter) warnf(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

func (r *rewriter) rewrite() (*Output, error) {
	model := cloneValue(r.p.raw).(map[string]any)
	for _, k := range []string{"version", "include", "jobs"} {
		delete(model, k)
	}
	model["name"] = r.opts.Name

	services, _ := model["services"].(map[string]any)
	for name := range services {
		if _, active := r.p.typed.Services[name]; !active {
			delete(services, name)
		}
	}
	for _, name := range sortedKeys(services) {
		svc, ok := services[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("service %s: unexpected %T in the model", name, services[name])
		}
		if err := r.service(name, svc); err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
	}
	if err := r.fileObjects(model, "configs", "config"); err != nil {
		return nil, err
	}
	if err := r.fileObjects(model, "secrets", "secret"); err != nil {
		return nil, err
	}
	if err := r.volumes(model); err != nil {
		return nil, err
	}
	hostPaths := r.hostPathsWarning()

	composeYAML, err := marshalModel(model)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", ComposeFileName, err)
	}
	dotEnv, err := r.dotEnv(model)
	if err != nil {
		return nil, err
	}
	if err := r.verify(composeYAML, dotEnv); err != nil {
		return nil, err
	}

	out := &Output{ComposeYAML: composeYAML, DotEnv: dotEnv, HostPaths: hostPaths, Warnings: append(slices.Clone(r.p.warnings), r.warnings...)}
	for _, dst := range sortedKeys(r.files) {
		out.Files = append(out.Files, r.files[dst])
	}
	return out, nil
}

// service rewrites one active service in place.
func (r *rewriter) service(name string, svc map[string]any) error {
	ts := r.p.typed.Services[name]
	delete(svc, "build")
	delete(svc, "develop")                 // watch rules sync sources into builds: nothing to do offline
	delete(svc, "profiles")                // only active services are shipped, and all of them must start
	if ts.Image != "" || ts.Build != nil { // else a provider service, which runs no image
		img := r.opts.Images[name]
		if img == "" {
			return errors.New("no image given for the service")
		}
		svc["image"] = escape(img)
	}
	if ts.Provider != nil && ts.Image == "" && ts.Build == nil {
		r.warnf("service %s uses the provider %s: docker compose runs its plugin (docker-%s) on the target, which must have it installed; the bundle ships nothing for it",
			name, ts.Provider.Type, ts.Provider.Type)
	}
	if !keepPullPolicy(ts.PullPolicy) {
		// always/build/daily/...: would pull or build on a host that can do neither
		delete(svc, "pull_policy")
	}
	if deps, ok := svc["depends_on"].(map[string]any); ok {
		for dep := range deps {
			if _, active := r.p.typed.Services[dep]; !active {
				delete(deps, dep) // optional dependency on a service left out by profiles
			}
		}
		if len(deps) == 0 {
			delete(svc, "depends_on")
		}
	}
	if err := r.serviceVolumes(svc, ts); err != nil {
		return err
	}
	if err := r.envFiles(svc, ts); err != nil {
		return err
	}
	return r.labelFiles(svc, ts)
}

func keepPullPolicy(p string) bool {
	switch p {
	case "", types.PullPolicyNever, types.PullPolicyMissing, types.PullPolicyIfNotPresent:
		return true
	}
	return false
}

// serviceVolumes points bind mounts at their shipped copies. The typed
// volume decides what a mount is (its source may come from a variable); the
// raw entry is kept where it still describes the same mount, so its other
// ${VAR} references survive.
func (r *rewriter) serviceVolumes(svc map[string]any, ts types.ServiceConfig) error {
	if len(ts.Volumes) == 0 {
		return nil
	}
	rawVols, _ := svc["volumes"].([]any)
	aligned := len(rawVols) == len(ts.Volumes)
	vols := make([]any, len(ts.Volumes))
	for i, tv := range ts.Volumes {
		var rawVol any
		if aligned {
			rawVol = rawVols[i]
		}
		if tv.Type == types.VolumeTypeImage {
			v, err := r.imageVolume(rawVol, tv)
			if err != nil {
				return err
			}
			vols[i] = v
			continue
		}
		if tv.Type != types.VolumeTypeBind {
			if rawVol != nil {
				vols[i] = rawVol
				continue
			}
			m, err := volumeMap(tv)
			if err != nil {
				return err
			}
			vols[i] = m
			continue
		}
		written, known := r.writtenSource(ts.Name, i, len(ts.Volumes))
		src, err := r.bindSource(tv, written, known, r.createHostPath(ts.Name, i, len(ts.Volumes), tv))
		if err != nil {
			return err
		}
		m, ok := rawVol.(map[string]any)
		if !ok || m["type"] != types.VolumeTypeBind || !sameTarget(m["target"], tv.Target) {
			if m, err = volumeMap(tv); err != nil {
				return err
			}
		}
		m["type"] = types.VolumeTypeBind
		m["source"] = escape(src)
		if d := r.defaultedSource(ts.Name, i, len(ts.Volumes), src); d != "" {
			m["source"] = d
		}
		// Explicit whenever there is a bind: (the pinned compose reads one without it as false),
		// absent only where the project had none and compose does not create the source.
		create := r.createHostPath(ts.Name, i, len(ts.Volumes), tv)
		if bind, _ := m["bind"].(map[string]any); bind != nil || create {
			if bind == nil {
				bind = map[string]any{}
			}
			bind["create_host_path"] = create
			m["bind"] = bind
		}
		if r.creates == nil {
			r.creates = map[string]map[int]bool{}
		}
		if r.creates[ts.Name] == nil {
			r.creates[ts.Name] = map[int]bool{}
		}
		r.creates[ts.Name][i] = create
		vols[i] = m
	}
	svc["volumes"] = vols
	return nil
}

func sameTarget(raw any, target string) bool {
	s, ok := raw.(string)
	if !ok {
		return false
	}
	if strings.Contains(s, "$") {
		return true // decided by a variable: the typed volume at this index is this entry
	}
	return path.Clean(s) == target
}

// volumeMap writes a typed volume in long syntax, for entries whose raw form
// could not be matched (a short syntax string made of variables).
func volumeMap(v types.ServiceVolumeConfig) (map[string]any, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return escapeValue(m).(map[string]any), nil
}

func isHostPath(abs string) bool {
	if abs == "/" {
		return true
	}
	for _, h := range hostPaths {
		if abs == h || strings.HasPrefix(abs, h+"/") {
			return true
		}
	}
	return false
}

func (r *rewriter) envFiles(svc map[string]any, ts types.ServiceConfig) error {
	if len(ts.EnvFiles) == 0 {
		return nil
	}
	var list []any
	for _, ef := range ts.EnvFiles {
		if !ef.Required {
			if _, err := os.Stat(ef.Path); errors.Is(err, fs.ErrNotExist) {
				list = append(list, r.missingEnvFile(ts.Name, ef)) // docker compose skips it too
				continue
			}
		}
		dst, err := r.ship(ef.Path, item{kind: "env_file", outside: "env_file"})
		if err != nil {
			return err
		}
		if ef.Required && ef.Format == "" {
			list = append(list, escape(dst))
			continue
		}
		m := map[string]any{"path": escape(dst), "required": bool(ef.Required)}
		if ef.Format != "" {
			m["format"] = escape(ef.Format)
		}
		list = append(list, m)
	}
	if len(list) == 0 {
		delete(svc, "env_file")
	} else {
		svc["env_file"] = list
	}
	return nil
}

func (r *rewriter) labelFiles(svc map[string]any, ts types.ServiceConfig) error {
	if len(ts.LabelFiles) == 0 {
		return nil
	}
	var list []any
	for _, f := range ts.LabelFiles {
		dst, err := r.ship(f, item{kind: "label_file", outside: "label_file"})
		if err != nil {
			return err
		}
		list = append(list, escape(dst))
	}
	svc["label_file"] = list
	return nil
}

// fileObjects ships the files of top-level configs or secrets used by the
// active services and drops the unused ones.
func (r *rewriter) fileObjects(model map[string]any, key, what string) error {
	objs, ok := model[key].(map[string]any)
	if !ok {
		return nil
	}
	used := map[string]bool{}
	var typed map[string]types.FileObjectConfig
	for _, s := range r.p.typed.Services {
		if key == "configs" {
			for _, c := range s.Configs {
				used[c.Source] = true
			}
		} else {
			for _, c := range s.Secrets {
				used[c.Source] = true
			}
		}
	}
	if key == "configs" {
		typed = map[string]types.FileObjectConfig{}
		for n, c := range r.p.typed.Configs {
			typed[n] = types.FileObjectConfig(c)
		}
	} else {
		typed = map[string]types.FileObjectConfig{}
		for n, c := range r.p.typed.Secrets {
			typed[n] = types.FileObjectConfig(c)
		}
	}
	for _, name := range sortedKeys(objs) {
		if !used[name] {
			delete(objs, name)
			continue
		}
		t := typed[name]
		if t.File == "" || bool(t.External) {
			continue
		}
		obj, ok := objs[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s %s: unexpected %T in the model", what, name, objs[name])
		}
		dst, err := r.ship(t.File, item{kind: "file", outside: "file", dir: true})
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, name, err)
		}
		obj["file"] = escape(dst)
	}
	if len(objs) == 0 {
		delete(model, key)
	}
	return nil
}

// volumes ships the directories of local volumes that bind a host path
// (driver local, o: bind, device: path), which compose resolves like bind
// mounts.
func (r *rewriter) volumes(model map[string]any) error {
	vols, ok := model["volumes"].(map[string]any)
	if !ok {
		return nil
	}
	for _, name := range sortedKeys(vols) {
		tv, ok := r.p.typed.Volumes[name]
		if !ok || tv.Driver != "local" || tv.DriverOpts["o"] != "bind" || tv.DriverOpts["device"] == "" {
			continue
		}
		dev := tv.DriverOpts["device"]
		if !filepath.IsAbs(dev) {
			continue
		}
		obj, _ := vols[name].(map[string]any)
		do, _ := obj["driver_opts"].(map[string]any)
		if do == nil {
			continue
		}
		if !r.inside(dev) && !r.allowed(dev) {
			// the target host's directory, as for bind mounts
			if raw, ok := do["device"].(string); ok {
				r.hostPaths = append(r.hostPaths, strings.ReplaceAll(raw, "$$", "$"))
			} else {
				r.hostPaths = append(r.hostPaths, dev)
			}
			continue
		}
		dst, err := r.ship(dev, item{kind: "device", outside: "device", dir: true})
		if err != nil {
			return fmt.Errorf("volume %s: %w", name, err)
		}
		do["device"] = escape(dst)
	}
	return nil
}

// item describes what is being shipped, for messages and checks.
type item struct {
	kind    string // in "<kind> ./x (/abs/x) does not exist"
	outside string // in "<outside> /abs/x is outside the project directory"
	special bool   // a special file (socket, device) is kept pointing at the host
	dir     bool   // a directory is shipped whole
}

// ship registers abs (a file or a directory) for copying and returns its
// compose path in the bundle ("./files/...").
func (r *rewriter) ship(abs string, it item) (string, error) {
	abs = filepath.Clean(abs)
	inside := r.inside(abs)
	info, err := os.Stat(abs)
	if err != nil {
		if !inside && !r.allowed(abs) {
			return "", r.outsideError(abs, it)
		}
		if errors.Is(err, fs.ErrNotExist) {
			if d := r.display(abs); d != abs {
				return "", fmt.Errorf("%s %s (%s) does not exist", it.kind, d, abs)
			}
			return "", fmt.Errorf("%s %s does not exist", it.kind, abs)
		}
		return "", fmt.Errorf("%s %s: %w", it.kind, r.display(abs), err)
	}
	mode := info.Mode()
	if !mode.IsRegular() && !mode.IsDir() {
		if it.special {
			// the target host's own socket or device
			if inside {
				return "./" + filepath.ToSlash(r.rel(abs)), nil
			}
			return abs, nil
		}
		return "", fmt.Errorf("%s %s is not a regular file", it.kind, r.display(abs))
	}
	if !inside && !r.allowed(abs) {
		return "", r.outsideError(abs, it)
	}
	if inside {
		if err := r.linkedOutside(abs, it); err != nil {
			return "", err
		}
	}
	if mode.IsDir() && !it.dir {
		return "", fmt.Errorf("%s %s is a directory", it.kind, r.display(abs))
	}
	dst, ok := r.shipped[abs]
	if !ok {
		if inside {
			dst = path.Join(filesDir, filepath.ToSlash(r.rel(abs)))
		} else {
			dst = path.Join(filesDir, outsideDir, filepath.ToSlash(strings.TrimPrefix(abs, string(filepath.Separator))))
		}
		if mode.IsDir() {
			root, rerr := filepath.EvalSymlinks(abs)
			if rerr != nil {
				return "", rerr
			}
			err = r.addTree(abs, dst, tree{kind: it.kind, top: abs, root: root, dst: dst, seen: map[string]bool{}})
		} else {
			err = r.addFile(abs, dst, info)
		}
		if err != nil {
			return "", err
		}
		if !inside {
			r.warnf("%s %s is outside the project: shipped as a copy (--allow-outside), as ./%s", it.kind, abs, dst)
		}
		r.shipped[abs] = dst
	}
	return "./" + dst, nil
}

// linkedOutside refuses a source inside the project that is, or lies under, a symbolic link
// to a place outside it: shipping it would ship this machine's files. Named with
// --allow-outside, the copy is shipped, and a warning says so.
func (r *rewriter) linkedOutside(abs string, it item) error {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil || real == abs {
		return nil // not a link (or unreadable: the copy says why)
	}
	root, err := filepath.EvalSymlinks(r.dir)
	if err != nil {
		root = r.dir
	}
	if within(root, real) {
		return nil
	}
	if !r.allowed(real) {
		return fmt.Errorf("%s %s is a symbolic link to %s, outside the project: the bundle would ship this machine's %s; replace the link with the file, or pass --allow-outside %s to ship a copy",
			it.kind, r.display(abs), real, real, real)
	}
	r.warnf("%s %s is a symbolic link to %s, outside the project: shipped as a copy of this machine's %s (--allow-outside)", it.kind, r.display(abs), real, real)
	return nil
}

func (r *rewriter) outsideError(abs string, it item) error {
	return fmt.Errorf("%s %s is outside the project directory %s; move it into the project or pass --allow-outside %s to ship a copy",
		it.outside, abs, r.dir, abs)
}

func (r *rewriter) addFile(src, dst string, info fs.FileInfo) error {
	if err := bundle.CheckFileName(dst); err != nil {
		return fmt.Errorf("%s: %w", r.display(src), err)
	}
	if prev, ok := r.files[dst]; ok && prev.Src != src {
		return fmt.Errorf("%s and %s would both be shipped as %s", prev.Src, src, dst)
	}
	uid, gid := owner(info)
	r.files[dst] = FileCopy{Src: src, Dst: dst, Mode: info.Mode(), Dir: info.IsDir(), Uid: uid, Gid: gid}
	return nil
}

func (r *rewriter) inside(abs string) bool {
	rel, err := filepath.Rel(r.dir, abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func (r *rewriter) rel(abs string) string {
	rel, err := filepath.Rel(r.dir, abs)
	if err != nil {
		return abs
	}
	return rel
}

// display names a path the way a user wrote it: relative to the project
// directory when inside it.
func (r *rewriter) display(abs string) string {
	if !r.inside(abs) {
		return abs
	}
	if rel := r.rel(abs); rel != "." {
		return "./" + filepath.ToSlash(rel)
	}
	return "."
}

// escape protects a literal value from interpolation in the written file.
func escape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func escapeValue(v any) any {
	switch t := v.(type) {
	case string:
		return escape(t)
	case map[string]any:
		for k, e := range t {
			t[k] = escapeValue(e)
		}
	case []any:
		for i, e := range t {
			t[i] = escapeValue(e)
		}
	}
	return v
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = cloneValue(e)
		}
		return s
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
