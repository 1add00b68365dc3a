package ram

// Volumes, both directions: config files <-> bind mounts (configs, secrets), volumes <-> named
// volumes, mnt_relation_list <-> mounts of another service's volume, memoryfs <-> tmpfs.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// namedVolumes names every volume that is not a config file, for its owner and for the
// components that mount it.
func (c *toCompose) namedVolumes() error {
	c.volumes = map[[2]string]string{}
	used := map[string]bool{}
	for i := range c.t.Apps {
		for _, v := range c.t.Apps[i].ServiceVolumeMapList {
			if v.VolumeType == VolumeConfigFile || v.VolumeType == VolumeMemoryFS {
				continue // a file, a tmpfs
			}
			if v.VolumeName == "" {
				return fmt.Errorf("%s: a volume (volume_path %s) has no volume_name", c.label(i), quote(v.VolumePath))
			}
			k := [2]string{itoa(i), v.VolumeName}
			if _, dup := c.volumes[k]; dup {
				return fmt.Errorf("%s: two volumes are named %s", c.label(i), quote(v.VolumeName))
			}
			n := composeName(c.names[i] + "-" + v.VolumeName)
			base := n
			for x := 2; used[n]; x++ {
				n = base + "-" + itoa(x)
			}
			used[n] = true
			c.volumes[k] = n
		}
	}
	return nil
}

// serviceVolumes writes the mounts of component i: its volumes and its tmpfs mounts. Config
// files are rendered with values and shipped; a's config-file volumes get the file_content its
// x-ram copy keeps: "" when the shipped file is the template's content, the template's content
// when rendering changed it. A memoryfs volume is a tmpfs mount (the platform's is an emptyDir
// of the pod: empty at every start, never kept), and so is a mount of another component's,
// which the platform gives no volume (rainbond worker/appm/volume/memoryfs.go
// CreateDependVolume).
func (c *toCompose) serviceVolumes(i int, a *Component, values map[string]string, deps []depEdge) (out, tmpfs []*yaml.Node, err error) {
	addTmpfs := func(tgt string) {
		if strings.Contains(tgt, ":") {
			// The short form reads what follows a ':' as options.
			m := yamlMap()
			yamlSet(m, "type", yamlStr("tmpfs"))
			yamlSet(m, "target", yamlStr(escape(tgt)))
			out = append(out, m)
			return
		}
		tmpfs = append(tmpfs, yamlStr(escape(tgt)))
	}
	targets := map[string]string{}
	target := func(p, what string) (string, error) {
		if !strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("%s: %s: volume path %s is not absolute", c.label(i), what, quote(p))
		}
		clean := path.Clean(p)
		if prev, dup := targets[clean]; dup {
			return "", fmt.Errorf("%s: %s and %s are both mounted at %s", c.label(i), prev, what, clean)
		}
		targets[clean] = what
		return clean, nil
	}
	configFile := func(tgt, content, what string) (*yaml.Node, string, error) {
		rel := strings.TrimPrefix(tgt, "/")
		if rel == "" {
			return nil, "", fmt.Errorf("%s: %s: a config file cannot be mounted at /", c.label(i), what)
		}
		// Rendered as the platform's worker renders it; then 127.0.0.1:PORT naming a dependency's
		// port (the platform's mesh serves each dependency there) points at that dependency, as
		// in the component's own variables.
		rendered := c.ownLoopback(i, deps, what, Substitute(content, values))
		file := path.Join(c.opts.FilesDir, c.names[i], rel)
		c.files[file] = []byte(rendered)
		m := yamlMap()
		yamlSet(m, "type", yamlStr("bind"))
		yamlSet(m, "source", yamlStr(escape("./"+file)))
		yamlSet(m, "target", yamlStr(escape(tgt)))
		yamlSet(m, "read_only", yamlVal(true))
		return m, rendered, nil
	}
	vols := make([]Volume, len(a.ServiceVolumeMapList))
	copy(vols, a.ServiceVolumeMapList)
	for k := range vols {
		v := &vols[k]
		what := "volume " + quote(v.VolumeName)
		tgt, err := target(v.VolumePath, what)
		if err != nil {
			return nil, nil, err
		}
		if v.VolumeType == VolumeConfigFile {
			m, rendered, err := configFile(tgt, v.FileContent, "config file "+quote(v.VolumeName))
			if err != nil {
				return nil, nil, err
			}
			if rendered == v.FileContent {
				v.FileContent = "" // the shipped file is the content
			}
			out = append(out, m)
			continue
		}
		if v.VolumeType == VolumeMemoryFS {
			addTmpfs(tgt)
			continue
		}
		out = append(out, volumeMount(c.volumes[[2]string{itoa(i), v.VolumeName}], tgt))
	}
	a.ServiceVolumeMapList = vols

	for _, r := range a.MntRelationList {
		what := "the mount of " + quote(r.MntName)
		j := c.find(r.ServiceShareUUID)
		if j < 0 {
			return nil, nil, fmt.Errorf("%s: mnt_relation_list: service_share_uuid %s names no component of the template", c.label(i), quote(r.ServiceShareUUID))
		}
		var vol *Volume
		for k := range c.t.Apps[j].ServiceVolumeMapList {
			if v := &c.t.Apps[j].ServiceVolumeMapList[k]; v.VolumeName == r.MntName {
				vol = v
				break
			}
		}
		if vol == nil {
			return nil, nil, fmt.Errorf("%s: mnt_relation_list: %s has no volume named %s", c.label(i), c.label(j), quote(r.MntName))
		}
		what += " of " + c.names[j]
		tgt, err := target(r.MntDir, what)
		if err != nil {
			return nil, nil, err
		}
		if vol.VolumeType == VolumeConfigFile {
			// The platform renders another component's config file with the values of the
			// component mounting it.
			m, _, err := configFile(tgt, vol.FileContent, what)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, m)
			continue
		}
		if vol.VolumeType == VolumeMemoryFS {
			addTmpfs(tgt)
			continue
		}
		out = append(out, volumeMount(c.volumes[[2]string{itoa(j), r.MntName}], tgt))
	}
	return out, tmpfs, nil
}

func volumeMount(name, target string) *yaml.Node {
	m := yamlMap()
	yamlSet(m, "type", yamlStr("volume"))
	yamlSet(m, "source", yamlStr(name))
	yamlSet(m, "target", yamlStr(escape(target)))
	return m
}

// maxConfigFileSize bounds the content of one config-file volume: the platform mounts each
// config file from a ConfigMap of its own, whose data Kubernetes limits to 1 MiB
// (docs/ram-format.md §8.5).
const maxConfigFileSize = 1 << 20

// volumeOwner is the component a named volume belongs to in the template.
type volumeOwner struct {
	service string
	name    string // its volume_name
	shared  bool   // mounted by more than one service
	fromExt bool   // the owner's x-ram has the volume
}

// volumeOwners decides which component each named volume belongs to: the service whose x-ram
// already has it (a volume of that path), else the first service mounting it.
func (c *fromCompose) volumeOwners() {
	type mount struct{ service, target string }
	users := map[string][]mount{}
	for _, name := range c.names {
		for _, v := range c.p.Services[name].Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				users[v.Source] = append(users[v.Source], mount{name, v.Target})
			}
		}
	}
	c.owners = map[string]volumeOwner{}
	for vol, ms := range users {
		services := map[string]bool{}
		for _, m := range ms {
			services[m.service] = true
		}
		o := volumeOwner{service: ms[0].service, name: volumeName(vol), shared: len(services) > 1}
		for _, m := range ms {
			if e := c.ext[m.service]; e != nil {
				if i := slices.IndexFunc(e.ServiceVolumeMapList, func(v Volume) bool {
					return v.VolumePath == m.target && v.VolumeType != VolumeConfigFile
				}); i >= 0 {
					o.service, o.name, o.fromExt = m.service, e.ServiceVolumeMapList[i].VolumeName, true
					break
				}
			}
		}
		c.owners[vol] = o
	}
}

// volumes maps volumes, tmpfs, configs and secrets.
func (c *fromCompose) volumes(scope, name string, s types.ServiceConfig, comp *Component) error {
	// Volume names are unique in a component, valid (volumeName) and within their column: a
	// config file's is shorter than a volume's.
	names := newNameSet(nil)
	unique := func(n string) string { return names.take(volumeName(n), maxVolumeName, "-") }
	uniqueFile := func(n string) string { return names.take(volumeName(n), maxConfigName, "-") }
	// Volume names of the template first, so that generated ones never take them.
	if e := c.ext[name]; e != nil {
		for _, v := range e.ServiceVolumeMapList {
			names.reserve(v.VolumeName)
		}
	}
	for vol, o := range c.owners {
		if o.service == name && o.fromExt {
			names.reserve(c.owners[vol].name)
		}
	}
	paths := map[string]bool{}
	var notes []string
	seenNamed := map[string]bool{}
	for _, v := range s.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			body, mode, problem := c.readSource(v.Source)
			if problem != "" {
				notes = append(notes, fmt.Sprintf("bind mount %s at %s: %s; dropped", c.show(v.Source), v.Target, problem))
				continue
			}
			paths[v.Target] = true
			comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, Volume{
				VolumeName: uniqueFile(path.Base(v.Target)), VolumePath: v.Target,
				VolumeType: VolumeConfigFile, FileContent: body, Mode: mode,
			})
		case types.VolumeTypeVolume:
			if v.Source == "" {
				notes = append(notes, fmt.Sprintf("anonymous volume at %s: RAM volumes are named (the data stays in the container); dropped", v.Target))
				continue
			}
			if seenNamed[v.Source] {
				notes = append(notes, fmt.Sprintf("volume %s is mounted twice: RAM mounts a volume once per component; the mount at %s dropped", v.Source, v.Target))
				continue
			}
			seenNamed[v.Source] = true
			// RAM mounts whole volumes, read-write: the options go, the mount stays.
			var opts []string
			mounted := "the volume mounted read-write"
			if v.ReadOnly {
				opts = append(opts, "read-only")
			}
			if v.Volume != nil && v.Volume.Subpath != "" {
				opts = append(opts, "subpath "+v.Volume.Subpath)
				mounted = "the whole volume mounted read-write"
			}
			if v.Volume != nil && v.Volume.NoCopy {
				opts = append(opts, "nocopy")
			}
			if len(opts) > 0 {
				notes = append(notes, fmt.Sprintf("volume %s at %s: %s dropped, %s", v.Source, v.Target, strings.Join(opts, ", "), mounted))
			}
			paths[v.Target] = true
			o := c.owners[v.Source]
			if o.service != name {
				comp.MntRelationList = append(comp.MntRelationList, MountRelation{
					ServiceShareUUID: c.ids[o.service].uuid, MntName: o.name, MntDir: v.Target,
				})
				continue
			}
			vol := Volume{VolumeName: o.name, VolumePath: v.Target, VolumeType: VolumeLocal, AccessMode: "RWO"}
			if !o.fromExt {
				vol.VolumeName = unique(o.name)
				c.owners[v.Source] = volumeOwner{service: o.service, name: vol.VolumeName, shared: o.shared}
			}
			if o.shared {
				vol.VolumeType, vol.AccessMode = VolumeShareFile, "RWX"
			}
			comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, vol)
		case types.VolumeTypeTmpfs:
			if v.Tmpfs != nil && (v.Tmpfs.Size != 0 || v.Tmpfs.Mode != 0) {
				notes = append(notes, fmt.Sprintf("tmpfs at %s: size and mode dropped, the tmpfs kept (RAM memory volumes take neither)", v.Target))
			}
			paths[v.Target] = true
			comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, Volume{
				VolumeName: unique(path.Base(v.Target)), VolumePath: v.Target, VolumeType: VolumeMemoryFS,
			})
		default:
			notes = append(notes, fmt.Sprintf("%s mount at %s: RAM has no such volume; dropped", v.Type, v.Target))
		}
	}
	if len(notes) > 0 {
		c.warn.add(scope, "volumes", "%s", strings.Join(notes, "; "))
	}

	var tmpfsNotes []string
	for _, t := range s.Tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		if opts != "" {
			tmpfsNotes = append(tmpfsNotes, fmt.Sprintf("%s: options %s dropped, the tmpfs kept (RAM memory volumes take none)", target, opts))
		}
		if paths[target] {
			continue
		}
		paths[target] = true
		comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, Volume{
			VolumeName: unique(path.Base(target)), VolumePath: target, VolumeType: VolumeMemoryFS,
		})
	}
	if len(tmpfsNotes) > 0 {
		c.warn.add(scope, "tmpfs", "%s", strings.Join(tmpfsNotes, "; "))
	}

	type fileRef struct {
		source, target string
		uid, gid       string
		mode           *types.FileMode
	}
	files := func(key string, refs []fileRef, lookup func(string) (file, content string, external, ok bool), defaultDir string) {
		var notes []string
		for _, r := range refs {
			target := r.target
			switch {
			case target == "":
				target = path.Join(defaultDir, r.source)
			case !path.IsAbs(target):
				target = path.Join(defaultDir, target)
			}
			file, content, external, ok := lookup(r.source)
			var body string
			var mode *int
			switch {
			case !ok:
				notes = append(notes, fmt.Sprintf("%s is not defined in the project; dropped", r.source))
				continue
			case external:
				notes = append(notes, fmt.Sprintf("%s is external (kept by the engine, not in the project): RAM has no such store; dropped", r.source))
				continue
			case file != "":
				var problem string
				if body, mode, problem = c.readSource(file); problem != "" {
					notes = append(notes, fmt.Sprintf("%s (%s): %s; dropped", r.source, c.show(file), problem))
					continue
				}
			case content != "":
				body = content
			default:
				notes = append(notes, fmt.Sprintf("%s is not a file (its content comes from the environment of the engine): RAM config files hold text; dropped", r.source))
				continue
			}
			if r.uid != "" || r.gid != "" {
				notes = append(notes, fmt.Sprintf("%s: uid and gid dropped, the file kept (RAM config files have none)", r.source))
			}
			if r.mode != nil {
				m := int(*r.mode)
				mode = &m
			}
			if paths[target] {
				notes = append(notes, fmt.Sprintf("%s at %s: another mount has that path; dropped", r.source, target))
				continue
			}
			paths[target] = true
			comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, Volume{
				VolumeName: uniqueFile(r.source), VolumePath: target,
				VolumeType: VolumeConfigFile, FileContent: body, Mode: mode,
			})
		}
		if len(notes) > 0 {
			c.warn.add(scope, key, "%s", strings.Join(notes, "; "))
		}
	}
	var configs, secrets []fileRef
	for _, r := range s.Configs {
		configs = append(configs, fileRef{r.Source, r.Target, r.UID, r.GID, r.Mode})
	}
	for _, r := range s.Secrets {
		secrets = append(secrets, fileRef{r.Source, r.Target, r.UID, r.GID, r.Mode})
	}
	files("configs", configs, func(n string) (string, string, bool, bool) {
		cfg, ok := c.p.Configs[n]
		return cfg.File, cfg.Content, bool(cfg.External), ok
	}, "/")
	files("secrets", secrets, func(n string) (string, string, bool, bool) {
		sec, ok := c.p.Secrets[n]
		return sec.File, sec.Content, bool(sec.External), ok
	}, "/run/secrets")
	return nil
}

// readSource reads a file inside the bundle directory for a config-file volume: its content and
// mode, or why it cannot be one.
func (c *fromCompose) readSource(src string) (string, *int, string) {
	if !filepath.IsAbs(src) && c.p.WorkingDir != "" {
		src = filepath.Join(c.p.WorkingDir, src)
	}
	if c.dir == "" || !inside(c.dir, src) {
		return "", nil, "a path on the host, outside the bundle: RAM carries only files inside it"
	}
	fi, err := os.Stat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, "it does not exist"
	case err != nil:
		return "", nil, err.Error()
	case fi.IsDir():
		return "", nil, "a directory: RAM config files are single files"
	case !fi.Mode().IsRegular():
		return "", nil, "not a regular file"
	case fi.Size() > maxConfigFileSize:
		return "", nil, fmt.Sprintf("%d bytes, more than the %d MiB a Kubernetes ConfigMap holds (the platform could not deploy it)", fi.Size(), maxConfigFileSize>>20)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", nil, err.Error()
	}
	if !utf8.Valid(b) {
		return "", nil, "binary content: RAM config files hold text"
	}
	mode := int(fi.Mode().Perm())
	return string(b), &mode, ""
}

func (c *fromCompose) show(p string) string {
	if c.dir != "" {
		if rel, err := filepath.Rel(c.dir, p); err == nil && filepath.IsLocal(rel) {
			return "./" + filepath.ToSlash(rel)
		}
	}
	return p
}

func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

// mergeVolumes matches the template's volumes and mounts of other components' volumes with the
// compose mounts by path: matched ones are kept (type, capacity, access mode, the owner they
// name), config files with the content the bundle ships (see configContent); unmatched ones
// were removed; new compose mounts are added.
func (c *fromCompose) mergeVolumes(s types.ServiceConfig, e Component, fresh *Component) ([]Volume, []MountRelation) {
	mounted := map[string]bool{}
	freshVol := map[string]Volume{}
	for _, v := range fresh.ServiceVolumeMapList {
		freshVol[v.VolumePath] = v
		mounted[v.VolumePath] = true
	}
	for _, r := range fresh.MntRelationList {
		mounted[r.MntDir] = true
	}
	used := map[string]bool{}
	var rels []MountRelation
	for _, r := range e.MntRelationList {
		// ToCompose ships another component's config file as a file of this service, and mounts
		// another component's volume by the owner's name: either way, something at the path.
		if mounted[r.MntDir] && !used[r.MntDir] {
			used[r.MntDir] = true
			rels = append(rels, r)
		}
	}
	var vols []Volume
	for _, v := range e.ServiceVolumeMapList {
		f, ok := freshVol[v.VolumePath]
		if !ok || used[v.VolumePath] {
			continue
		}
		used[v.VolumePath] = true
		switch {
		case v.VolumeType == VolumeConfigFile && f.VolumeType == VolumeConfigFile:
			v.FileContent = configContent(v.FileContent, f.FileContent, s.Environment, c.names)
		case (v.VolumeType == VolumeConfigFile) != (f.VolumeType == VolumeConfigFile):
			v = f // a file became a volume or the other way round
		}
		vols = append(vols, v)
	}
	for _, v := range fresh.ServiceVolumeMapList {
		if !used[v.VolumePath] {
			used[v.VolumePath] = true
			vols = append(vols, v)
		}
	}
	for _, r := range fresh.MntRelationList {
		if !used[r.MntDir] {
			used[r.MntDir] = true
			rels = append(rels, r)
		}
	}
	return vols, rels
}

// configContent is a config file's file_content. The x-ram original is empty when the bundle's
// file is the content; otherwise the bundle ships it rendered (ToCompose replaced its ${...}
// references with the service's values), and the original comes back unless the file was
// edited: it renders to the shipped file with the service's environment, or differs from it
// only where references stand (the values changed in .env since).
func configContent(orig, shipped string, env types.MappingWithEquals, names []string) string {
	if orig == "" || orig == shipped {
		return shipped
	}
	values := map[string]string{}
	for k, v := range env {
		if v != nil {
			values[k] = *v
		}
	}
	if r := Substitute(orig, values); r == shipped || rendersTo(orig, shipped) || loopbackNamed(r, shipped, names) {
		return orig
	}
	return shipped
}
