package ram

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"
)

// FromComposeOptions configures FromCompose.
type FromComposeOptions struct {
	// Name is the template's group_name. Empty: the top-level x-ram's group_name, else the
	// project name.
	Name string
	// Version is the template's group_version. Empty: the top-level x-ram's group_version;
	// without one FromCompose fails.
	Version string
	// Dir is the bundle (or project) directory: bind-mount, config and secret sources inside it
	// become config-file volumes holding their content; sources outside it are host paths, which
	// RAM cannot carry. Empty: the project's working directory.
	Dir string
	// Images maps a service to the image it is shipped as, which becomes its share_image (the
	// name the image has in component-images.tar). A service missing here uses its `image:`.
	Images map[string]string
	// Platform is the os/arch[/variant] the images are for; its arch becomes the components'
	// arch (a service's own `platform:` wins). Empty: amd64.
	Platform string
}

// fcMaxConfigFileSize bounds the content of one config-file volume: metadata.json holds it, and
// the platform stores it in its database.
const fcMaxConfigFileSize = 4 << 20

// FromCompose converts a Compose project (typically a bundle's compose file, loaded with its
// .env) into a RAM template; the images are not its concern (see WritePackage).
//
// Each service becomes a component whose ids derive from the group name and the service name
// (StableID): converting the same project twice gives the same template. Mapping
// (docs/ram-format.md §7): the shipped image is share_image and image; ports become
// port_map_list (`ports` entries, published, is_outer_service; `expose` is_inner_service;
// protocol from app_protocol, else udp or tcp); environment becomes service_env_map_list;
// bind-mounted files, file-based configs and secrets inside opts.Dir become config-file volumes
// with their content; named volumes become local volumes, or share-file volumes owned by the
// first service (by name) when several services mount them, the others getting
// mnt_relation_list entries; tmpfs mounts become memoryfs volumes; depends_on becomes
// dep_service_map_list; a CMD or CMD-SHELL healthcheck becomes a readiness probe (scheme cmd);
// command becomes cmd; labels, memory and cpu limits, replicas and platform are carried over.
//
// A project that came from a RAM package carries the template in x-ram extension fields (see
// ExtensionKey). Each component then starts from its x-ram value, and only what the compose
// file says differently is taken from it: the image, environment values, which ports are
// published, config-file contents, volumes, dependencies, memory, cpu, command and labels.
// A variable whose x-ram value is RandomValue stays RandomValue (never the value generated for
// the bundle); variables a dependency's connection info or an app_config_group injected are
// not added to the component's own; a config file the bundle shipped rendered (its variables
// replaced) gets its original template back; values where a dependency's address replaced
// 127.0.0.1 or localhost keep the original.
//
// Everything a service sets that RAM cannot express is reported: the returned warnings say,
// one per service and compose key, what was dropped or approximated, e.g.
// "service web: cap_add: RAM has no Linux capabilities; dropped". Every field of compose-go's
// ServiceConfig is either mapped, meaningless for a RAM component (build, profiles, pull_policy,
// ...), or warned about when set.
func FromCompose(p *types.Project, opts FromComposeOptions) (*Template, []string, error) {
	if p == nil {
		return nil, nil, errors.New("no compose project")
	}
	c := &fcConverter{p: p, opts: opts, warn: newFCWarnings()}
	t, err := c.convert()
	if err != nil {
		return nil, nil, err
	}
	return t, c.warn.list(), nil
}

// CheckPackageName refuses a group name and version WritePackage would refuse, without a
// template: to fail before doing any work. A package whose directory name contains "plugin"
// loses its images in the platform importer.
func CheckPackageName(name, version string) error {
	return checkPackageName(&Template{GroupName: name, GroupVersion: version})
}

// fcIdentity is what other components refer to a component by.
type fcIdentity struct {
	key, id, uuid string
}

type fcConverter struct {
	p    *types.Project
	opts FromComposeOptions
	warn *fcWarnings

	dir      string
	name     string
	version  string
	names    []string              // the services converted, sorted
	ext      map[string]*Component // x-ram components, by service
	ids      map[string]fcIdentity
	owners   map[string]fcOwner // named volume -> the component owning it
	template *Template          // the top-level x-ram, or nil
	// generated maps a value the bundle generated for a RandomValue of the template to the
	// variable it stands for.
	generated map[string]string
}

// fcOwner is the component a named volume belongs to in the template.
type fcOwner struct {
	service string
	name    string // its volume_name
	shared  bool   // mounted by more than one service
	fromExt bool   // the owner's x-ram has the volume
}

func (c *fcConverter) convert() (*Template, error) {
	c.dir = c.opts.Dir
	if c.dir == "" {
		c.dir = c.p.WorkingDir
	}
	if c.dir != "" {
		abs, err := filepath.Abs(c.dir)
		if err != nil {
			return nil, err
		}
		c.dir = abs
	}
	if v, ok := c.p.Extensions[ExtensionKey]; ok {
		t, err := TemplateFromExtension(v)
		if err != nil {
			return nil, fmt.Errorf("project: %w", err)
		}
		c.template = t
	}
	c.name = c.opts.Name
	if c.name == "" && c.template != nil {
		c.name = c.template.GroupName
	}
	if c.name == "" {
		c.name = c.p.Name
	}
	if c.name == "" {
		return nil, errors.New("the template needs a name (group_name): none given and the project has none")
	}
	c.version = c.opts.Version
	if c.version == "" && c.template != nil {
		c.version = c.template.GroupVersion
	}
	if c.version == "" {
		return nil, errors.New("the template needs a version (group_version): none given (--version)")
	}

	c.projectWarnings()
	c.ext = map[string]*Component{}
	c.ids = map[string]fcIdentity{}
	for _, name := range c.p.ServiceNames() {
		s := c.p.Services[name]
		if s.Provider != nil {
			c.warn.add(fcScope(name), "provider", "the service runs no image (provider %s): RAM components run images; dropped", s.Provider.Type)
			continue
		}
		if c.image(name, s) == "" {
			c.warn.add(fcScope(name), "image", "the service has no image: dropped")
			continue
		}
		c.names = append(c.names, name)
		if v, ok := s.Extensions[ExtensionKey]; ok {
			comp, err := ComponentFromExtension(v)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", name, err)
			}
			c.ext[name] = comp
		}
		c.ids[name] = c.identity(name)
	}
	c.generatedValues()
	if len(c.names) == 0 {
		return nil, errors.New("the project has no service running an image: a RAM template needs at least one component")
	}
	if err := c.checkDistinctKeys(); err != nil {
		return nil, err
	}
	c.volumeOwners()

	t := &Template{}
	if c.template != nil {
		t = c.template
	}
	t.GroupName, t.GroupVersion = c.name, c.version
	if t.GroupKey == "" {
		t.GroupKey = StableID(c.name)
	}
	t.Apps = nil
	for _, name := range c.names {
		comp, err := c.service(name, c.p.Services[name])
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		t.Apps = append(t.Apps, *comp)
	}
	c.templateLists(t)
	t.Normalize()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *fcConverter) image(name string, s types.ServiceConfig) string {
	if img := c.opts.Images[name]; img != "" {
		return img
	}
	return s.Image
}

func (c *fcConverter) identity(name string) fcIdentity {
	if e := c.ext[name]; e != nil && e.ServiceKey != "" {
		id := fcIdentity{key: e.ServiceKey, id: e.ServiceID, uuid: e.ServiceShareUUID}
		if id.id == "" {
			id.id = id.key
		}
		if id.uuid == "" {
			id.uuid = ShareUUID(id.key, id.id)
		}
		return id
	}
	key := StableID(c.name, name)
	return fcIdentity{key: key, id: key, uuid: ShareUUID(key, key)}
}

// checkDistinctKeys refuses two services carrying the same component (a service copied in the
// compose file with its x-ram): the template would have two components with one service_key.
func (c *fcConverter) checkDistinctKeys() error {
	seen := map[string]string{}
	for _, name := range c.names {
		k := c.ids[name].key
		if other, dup := seen[k]; dup {
			return fmt.Errorf("services %s and %s carry the same component (%s service_key %s): give one of them its own x-ram or remove its x-ram", other, name, ExtensionKey, k)
		}
		seen[k] = name
	}
	return nil
}

// --- the project as a whole

func (c *fcConverter) projectWarnings() {
	var nets []string
	for _, n := range fcSortedKeys(c.p.Networks) {
		cfg := c.p.Networks[n]
		if n == "default" {
			cfg.Name = ""
			if reflect.ValueOf(cfg).IsZero() {
				continue
			}
		}
		nets = append(nets, n)
	}
	if len(nets) > 0 {
		c.warn.add("", "networks", "%s: RAM has no networks (components reach each other by name); dropped", strings.Join(nets, ", "))
	}
	var vols []string
	for _, n := range fcSortedKeys(c.p.Volumes) {
		v := c.p.Volumes[n]
		var what []string
		if v.Name != "" && v.Name != c.p.Name+"_"+n && v.Name != n {
			what = append(what, "name "+v.Name)
		}
		if v.Driver != "" && v.Driver != "local" || len(v.DriverOpts) > 0 {
			what = append(what, "driver")
		}
		if v.External {
			what = append(what, "external")
		}
		if len(v.Labels) > 0 {
			what = append(what, "labels")
		}
		if len(what) > 0 {
			vols = append(vols, n+" ("+strings.Join(what, ", ")+")")
		}
	}
	if len(vols) > 0 {
		c.warn.add("", "volumes", "%s: the platform creates RAM volumes itself, empty; dropped", strings.Join(vols, ", "))
	}
	if len(c.p.Models) > 0 {
		c.warn.add("", "models", "%s: RAM has no AI models; dropped", strings.Join(fcSortedKeys(c.p.Models), ", "))
	}
	if len(c.p.Jobs) > 0 {
		c.warn.add("", "jobs", "%s: not converted; dropped", strings.Join(fcSortedKeys(c.p.Jobs), ", "))
	}
	for _, k := range fcSortedKeys(c.p.Extensions) {
		if k != ExtensionKey {
			c.warn.add("", k, "extension field: RAM has no place for it; dropped")
		}
	}
}

// volumeOwners decides which component each named volume belongs to: the service whose x-ram
// already has it (a volume of that path), else the first service mounting it.
func (c *fcConverter) volumeOwners() {
	type mount struct{ service, target string }
	users := map[string][]mount{}
	for _, name := range c.names {
		for _, v := range c.p.Services[name].Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				users[v.Source] = append(users[v.Source], mount{name, v.Target})
			}
		}
	}
	c.owners = map[string]fcOwner{}
	for vol, ms := range users {
		services := map[string]bool{}
		for _, m := range ms {
			services[m.service] = true
		}
		o := fcOwner{service: ms[0].service, name: fcVolumeName(vol), shared: len(services) > 1}
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

// templateLists keeps the template-level lists that name components consistent with the
// components converted, and takes changed app_config_group values from the compose file.
func (c *fcConverter) templateLists(t *Template) {
	keys := map[string]string{} // service_key -> service
	for _, name := range c.names {
		keys[c.ids[name].key] = name
	}
	for gi := range t.AppConfigGroups {
		g := &t.AppConfigGroups[gi]
		var kept []string
		for _, k := range g.ComponentKeys {
			if _, ok := keys[k]; ok {
				kept = append(kept, k)
			}
		}
		g.ComponentKeys = kept
		for _, item := range fcSortedKeys(g.ConfigItems) {
			orig := g.ConfigItems[item]
			if orig == RandomValue {
				continue
			}
			// A new value only when every component of the group says the same new value.
			var got *string
			same := len(kept) > 0
			for _, k := range kept {
				v := c.p.Services[keys[k]].Environment[item]
				if v == nil || (got != nil && *got != *v) {
					same = false
					break
				}
				got = v
			}
			if same && *got != orig && !c.renderedSame(orig, *got) {
				g.ConfigItems[item] = *got
			}
		}
	}
	var routes []IngressHTTPRoute
	var dropped []string
	for _, r := range t.IngressHTTPRoutes {
		if _, ok := keys[r.ComponentKey]; ok || r.ComponentKey == "" {
			routes = append(routes, r)
		} else {
			dropped = append(dropped, r.ComponentKey)
		}
	}
	t.IngressHTTPRoutes = routes
	var streams []IngressStreamRoute
	for _, r := range t.IngressStreamRoutes {
		if _, ok := keys[r.ComponentKey]; ok || r.ComponentKey == "" {
			streams = append(streams, r)
		} else {
			dropped = append(dropped, r.ComponentKey)
		}
	}
	t.IngressStreamRoutes = streams
	if len(dropped) > 0 {
		c.warn.add("", ExtensionKey, "gateway routes to components the compose file no longer has (service_key %s); dropped", strings.Join(dropped, ", "))
	}
	if len(t.Plugins) > 0 {
		var names []string
		for _, pl := range t.Plugins {
			names = append(names, pl.PluginName)
		}
		c.warn.add("", ExtensionKey, "plugins %s: the bundle holds no plugin images; dropped", strings.Join(names, ", "))
		t.Plugins = nil
		for i := range t.Apps {
			t.Apps[i].PluginConfigs = nil
		}
	}
}

// --- one service

func (c *fcConverter) service(name string, s types.ServiceConfig) (*Component, error) {
	scope := fcScope(name)
	fresh, err := c.fresh(name, s)
	if err != nil {
		return nil, err
	}
	c.unmapped(scope, s)
	e := c.ext[name]
	if e == nil {
		fresh.ServiceEnvMapList = c.noGenerated(scope, fresh.ServiceEnvMapList)
		return fresh, nil
	}
	return c.merge(name, s, *e, fresh), nil
}

// fresh converts a service from its compose definition alone.
func (c *fcConverter) fresh(name string, s types.ServiceConfig) (*Component, error) {
	scope := fcScope(name)
	id := c.ids[name]
	img := c.image(name, s)
	comp := &Component{
		ServiceCname:     name,
		ServiceKey:       id.key,
		ServiceID:        id.id,
		ServiceShareUUID: id.uuid,
		ServiceAlias:     "gr" + id.id[max(0, len(id.id)-6):],
		K8sComponentName: fcK8sName(name),
		ShareImage:       img,
		Image:            img,
		ShareType:        "image",
		ServiceSource:    "docker_image",
		ServiceType:      "application",
		Category:         "app_publish",
		Version:          fcImageTag(img),
		DeployVersion:    c.version,
		Arch:             c.arch(s),
		ExtendMethod:     StatelessMultiple,
		ExtendMethodMap:  DefaultExtendMethodMap(),
	}
	c.resources(scope, s, comp)
	comp.PortMapList = c.ports(scope, name, s)
	comp.ServiceEnvMapList = c.env(scope, s)
	if err := c.volumes(scope, name, s, comp); err != nil {
		return nil, err
	}
	comp.DepServiceMapList = c.deps(scope, s)
	e := c.ext[name]
	// A component from a RAM package keeps its probes, and its cmd when compose runs the same:
	// nothing to say about how they map.
	if e == nil || len(e.Probes) == 0 {
		if pr := c.probe(scope, s, comp.PortMapList); pr != nil {
			comp.Probes = []Probe{*pr}
		}
	}
	if e != nil && fcSameCommand(e.Cmd, s.Command) {
		comp.Cmd = e.Cmd
	} else {
		comp.Cmd = c.command(scope, s)
	}
	c.restart(scope, s)
	if len(s.Labels) > 0 {
		comp.Labels = maps.Clone(map[string]string(s.Labels))
	}

	// A component with a volume of its own (RWO) keeps one instance; volumes shared with other
	// components (share-file, RWX) do not stop it from scaling.
	stateful := slices.ContainsFunc(comp.ServiceVolumeMapList, func(v Volume) bool { return v.VolumeType == VolumeLocal })
	replicas := comp.ExtendMethodMap.MinNode
	switch {
	case comp.ExtendMethod == DaemonSet || comp.ExtendMethod == Job:
	case stateful && replicas > 1:
		comp.ExtendMethod = StateMultiple
	case stateful:
		comp.ExtendMethod = StateSingleton
		comp.ExtendMethodMap.MaxNode = 1
	}
	comp.ExtendMethodMap.InitMemory = comp.Memory
	return comp, nil
}

func (c *fcConverter) arch(s types.ServiceConfig) string {
	for _, p := range []string{s.Platform, c.opts.Platform} {
		if parts := strings.Split(p, "/"); len(parts) >= 2 && parts[1] != "" {
			return parts[1]
		}
	}
	return DefaultArch
}

// resources maps memory and cpu limits, replicas and the deploy mode.
func (c *fcConverter) resources(scope string, s types.ServiceConfig, comp *Component) {
	mem, cpus := int64(s.MemLimit), float64(s.CPUS)
	replicas := 0
	if s.Scale != nil {
		replicas = *s.Scale
	}
	if d := s.Deploy; d != nil {
		var dropped []string
		switch d.Mode {
		case "", "replicated":
		case "global":
			comp.ExtendMethod = DaemonSet
		case "replicated-job":
			comp.ExtendMethod = Job
		default:
			dropped = append(dropped, "mode "+d.Mode)
		}
		if d.Replicas != nil {
			replicas = *d.Replicas
		}
		if l := d.Resources.Limits; l != nil {
			if l.MemoryBytes > 0 {
				mem = int64(l.MemoryBytes)
			}
			if l.NanoCPUs > 0 {
				cpus = float64(l.NanoCPUs)
			}
			if l.Pids != 0 {
				dropped = append(dropped, "resources.limits.pids")
			}
			if len(l.Devices) > 0 || len(l.GenericResources) > 0 {
				dropped = append(dropped, "resources.limits.devices")
			}
		}
		if r := d.Resources.Reservations; r != nil && !reflect.ValueOf(*r).IsZero() {
			dropped = append(dropped, "resources.reservations")
		}
		for _, f := range []struct {
			key string
			set bool
		}{
			{"labels", len(d.Labels) > 0},
			{"update_config", d.UpdateConfig != nil},
			{"rollback_config", d.RollbackConfig != nil},
			{"restart_policy", d.RestartPolicy != nil},
			{"placement", !reflect.ValueOf(d.Placement).IsZero()},
			{"endpoint_mode", d.EndpointMode != ""},
		} {
			if f.set {
				dropped = append(dropped, f.key)
			}
		}
		if len(dropped) > 0 {
			c.warn.add(scope, "deploy", "%s: RAM has no equivalent; dropped", strings.Join(dropped, ", "))
		}
	}
	if mem > 0 {
		comp.Memory = int(math.Ceil(float64(mem) / (1 << 20)))
	}
	if cpus > 0 {
		comp.CPU = int(math.Round(cpus * 1000))
	}
	if replicas > 0 {
		comp.ExtendMethodMap.MinNode = replicas
	}
}

func (c *fcConverter) ports(scope, name string, s types.ServiceConfig) []Port {
	var out []Port
	index := map[int]int{}
	var notes []string
	add := func(port int, proto string, published bool, portName string) {
		if i, ok := index[port]; ok {
			p := &out[i]
			if p.Protocol != proto {
				notes = append(notes, fmt.Sprintf("port %d is listed as %s and %s: RAM has one protocol per port (%s)", port, p.Protocol, proto, p.Protocol))
			}
			if published && !p.IsOuterService {
				p.IsOuterService, p.IsInnerService = true, false
			}
			return
		}
		index[port] = len(out)
		out = append(out, Port{
			ContainerPort:  port,
			Protocol:       proto,
			PortAlias:      fcPortAlias(name, port),
			IsOuterService: published,
			IsInnerService: !published,
			Name:           portName,
			K8sServiceName: fcK8sName(name) + "-" + strconv.Itoa(port),
		})
	}
	for _, pc := range s.Ports {
		port := int(pc.Target)
		if port == 0 {
			continue
		}
		switch {
		case strings.Contains(pc.Published, "-"):
			notes = append(notes, fmt.Sprintf("port %d is published on the host port range %s: RAM publishes the container port", port, pc.Published))
		case pc.Published != "" && pc.Published != strconv.Itoa(port):
			notes = append(notes, fmt.Sprintf("port %d is published on host port %s: RAM publishes the container port, %d", port, pc.Published, port))
		}
		if pc.HostIP != "" {
			notes = append(notes, fmt.Sprintf("port %d is published on host address %s only: RAM publishes on every address", port, pc.HostIP))
		}
		// A ports entry publishes, on the host port it names or on one the engine picks.
		add(port, fcPortProtocol(pc.Protocol, pc.AppProtocol), true, pc.Name)
	}
	if len(notes) > 0 {
		c.warn.add(scope, "ports", "%s", strings.Join(notes, "; "))
	}
	var bad []string
	for _, e := range s.Expose {
		ports, proto, ok := fcParseExpose(e)
		if !ok {
			bad = append(bad, e)
			continue
		}
		for _, port := range ports {
			add(port, fcPortProtocol(proto, ""), false, "")
		}
	}
	if len(bad) > 0 {
		c.warn.add(scope, "expose", "%s: not a port or a short port range; dropped", strings.Join(bad, ", "))
	}
	return out
}

// fcPortProtocol is a port's RAM protocol: the compose app_protocol (http, grpc, ...) when set,
// else udp or tcp. compose cannot say more; a template from a RAM package keeps its own.
func fcPortProtocol(proto, app string) string {
	if app != "" {
		return strings.ToLower(app)
	}
	if strings.EqualFold(proto, "udp") {
		return "udp"
	}
	return "tcp"
}

// fcParseExpose reads an `expose` entry: "80", "80/udp", "8000-8002".
func fcParseExpose(e string) ([]int, string, bool) {
	spec, proto, _ := strings.Cut(e, "/")
	lo, hi, isRange := strings.Cut(spec, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a <= 0 || a > 65535 {
		return nil, "", false
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil || b < a || b > 65535 || b-a >= 100 {
			return nil, "", false
		}
	}
	var ports []int
	for p := a; p <= b; p++ {
		ports = append(ports, p)
	}
	return ports, proto, true
}

func (c *fcConverter) env(scope string, s types.ServiceConfig) []Env {
	var out []Env
	var unset []string
	for _, k := range fcSortedKeys(s.Environment) {
		v := s.Environment[k]
		if v == nil {
			unset = append(unset, k)
			continue
		}
		out = append(out, Env{AttrName: k, AttrValue: *v, IsChange: true})
	}
	if len(unset) > 0 {
		c.warn.add(scope, "environment", "%s: no value (taken from the shell running compose); dropped", strings.Join(unset, ", "))
	}
	return out
}

// volumes maps volumes, tmpfs, configs and secrets.
func (c *fcConverter) volumes(scope, name string, s types.ServiceConfig, comp *Component) error {
	names := map[string]bool{}
	unique := func(n string) string {
		if n == "" {
			n = "volume"
		}
		u := n
		for i := 2; names[u]; i++ {
			u = n + "-" + strconv.Itoa(i)
		}
		names[u] = true
		return u
	}
	// Volume names of the template first, so that generated ones never take them.
	if e := c.ext[name]; e != nil {
		for _, v := range e.ServiceVolumeMapList {
			names[v.VolumeName] = true
		}
	}
	for vol, o := range c.owners {
		if o.service == name && o.fromExt {
			names[c.owners[vol].name] = true
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
				VolumeName: unique(fcVolumeName(path.Base(v.Target))), VolumePath: v.Target,
				VolumeType: VolumeConfigFile, FileContent: body, Mode: mode,
			})
		case types.VolumeTypeVolume:
			if v.Source == "" {
				notes = append(notes, fmt.Sprintf("anonymous volume at %s: RAM volumes are named (the data stays in the container); dropped", v.Target))
				continue
			}
			if seenNamed[v.Source] {
				notes = append(notes, fmt.Sprintf("volume %s is mounted twice (again at %s): RAM mounts a volume once per component; dropped", v.Source, v.Target))
				continue
			}
			seenNamed[v.Source] = true
			var opts []string
			if v.ReadOnly {
				opts = append(opts, "read-only")
			}
			if v.Volume != nil && v.Volume.Subpath != "" {
				opts = append(opts, "subpath "+v.Volume.Subpath)
			}
			if v.Volume != nil && v.Volume.NoCopy {
				opts = append(opts, "nocopy")
			}
			if len(opts) > 0 {
				notes = append(notes, fmt.Sprintf("volume %s at %s: %s: RAM mounts the whole volume read-write; dropped", v.Source, v.Target, strings.Join(opts, ", ")))
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
				c.owners[v.Source] = fcOwner{service: o.service, name: vol.VolumeName, shared: o.shared}
			}
			if o.shared {
				vol.VolumeType, vol.AccessMode = VolumeShareFile, "RWX"
			}
			comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, vol)
		case types.VolumeTypeTmpfs:
			if v.Tmpfs != nil && (v.Tmpfs.Size != 0 || v.Tmpfs.Mode != 0) {
				notes = append(notes, fmt.Sprintf("tmpfs at %s: size and mode: RAM memory volumes take neither; dropped", v.Target))
			}
			paths[v.Target] = true
			comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, Volume{
				VolumeName: unique(fcVolumeName(path.Base(v.Target))), VolumePath: v.Target, VolumeType: VolumeMemoryFS,
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
			tmpfsNotes = append(tmpfsNotes, fmt.Sprintf("options %s of %s: RAM memory volumes take none; dropped", opts, target))
		}
		if paths[target] {
			continue
		}
		paths[target] = true
		comp.ServiceVolumeMapList = append(comp.ServiceVolumeMapList, Volume{
			VolumeName: unique(fcVolumeName(path.Base(target))), VolumePath: target, VolumeType: VolumeMemoryFS,
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
				notes = append(notes, fmt.Sprintf("%s: uid and gid: RAM config files have none; dropped", r.source))
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
				VolumeName: unique(fcVolumeName(r.source)), VolumePath: target,
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
func (c *fcConverter) readSource(src string) (string, *int, string) {
	if !filepath.IsAbs(src) && c.p.WorkingDir != "" {
		src = filepath.Join(c.p.WorkingDir, src)
	}
	if c.dir == "" || !fcInside(c.dir, src) {
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
	case fi.Size() > fcMaxConfigFileSize:
		return "", nil, fmt.Sprintf("%d bytes, more than a RAM config file should hold (%d MiB)", fi.Size(), fcMaxConfigFileSize>>20)
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

func (c *fcConverter) show(p string) string {
	if c.dir != "" {
		if rel, err := filepath.Rel(c.dir, p); err == nil && filepath.IsLocal(rel) {
			return "./" + filepath.ToSlash(rel)
		}
	}
	return p
}

func fcInside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

func (c *fcConverter) deps(scope string, s types.ServiceConfig) []Dependency {
	var out []Dependency
	var conds []string
	for _, d := range fcSortedKeys(s.DependsOn) {
		id, ok := c.ids[d]
		if !ok {
			continue // a service left out (provider, no image, or an inactive profile)
		}
		out = append(out, Dependency{DepServiceKey: id.uuid})
		if cond := s.DependsOn[d].Condition; cond != "" && cond != types.ServiceConditionStarted {
			conds = append(conds, d+" ("+cond+")")
		}
	}
	if len(conds) > 0 {
		c.warn.add(scope, "depends_on", "%s: RAM starts dependencies first but waits for no condition; condition dropped", strings.Join(conds, ", "))
	}
	var aliases []string
	for _, l := range s.Links {
		if svc, alias, ok := strings.Cut(l, ":"); ok && alias != svc {
			aliases = append(aliases, alias+" for "+svc)
		}
	}
	if len(aliases) > 0 {
		c.warn.add(scope, "links", "aliases %s: RAM reaches a component by its own name only; dropped (the dependency is kept)", strings.Join(aliases, ", "))
	}
	return out
}

// probe maps a healthcheck to a readiness probe: RAM runs a command probe the way a healthcheck
// runs its test. A healthcheck that inherits the image's test cannot be mapped.
func (c *fcConverter) probe(scope string, s types.ServiceConfig, ports []Port) *Probe {
	h := s.HealthCheck
	if h == nil || h.Disable {
		return nil
	}
	var cmd string
	var notes []string
	switch {
	case len(h.Test) == 0:
		c.warn.add(scope, "healthcheck", "no test: it runs the image's own HEALTHCHECK, which RAM cannot read; dropped")
		return nil
	case h.Test[0] == "NONE":
		return nil
	case h.Test[0] == "CMD" && len(h.Test) > 1:
		cmd = strings.Join(h.Test[1:], " ")
		if fcLostQuoting(h.Test[1:]) {
			notes = append(notes, "test arguments with spaces or quotes are joined with spaces: their quoting is lost")
		}
	case h.Test[0] == "CMD-SHELL" && len(h.Test) == 2:
		cmd = h.Test[1]
	default:
		c.warn.add(scope, "healthcheck", "test %q: not a CMD or CMD-SHELL test; dropped", []string(h.Test))
		return nil
	}
	if h.StartInterval != nil {
		notes = append(notes, "start_interval: RAM probes have none; dropped")
	}
	if len(notes) > 0 {
		c.warn.add(scope, "healthcheck", "%s", strings.Join(notes, "; "))
	}
	p := &Probe{
		Mode:               "readiness",
		Scheme:             "cmd",
		Cmd:                cmd,
		IsUsed:             true,
		PeriodSecond:       fcSeconds(h.Interval, 30),
		TimeoutSecond:      fcSeconds(h.Timeout, 30),
		InitialDelaySecond: fcSeconds(h.StartPeriod, 0),
		FailureThreshold:   3,
		SuccessThreshold:   1,
	}
	if h.Retries != nil {
		p.FailureThreshold = int(*h.Retries)
	}
	if len(ports) > 0 {
		p.Port = ports[0].ContainerPort
	}
	return p
}

func fcSeconds(d *types.Duration, def int) int {
	if d == nil {
		return def
	}
	return int(math.Ceil(time.Duration(*d).Seconds()))
}

// command maps `command` to cmd. The platform splits cmd at spaces, so arguments holding spaces
// or quotes do not survive.
func (c *fcConverter) command(scope string, s types.ServiceConfig) string {
	if len(s.Command) == 0 {
		return ""
	}
	if fcLostQuoting(s.Command) {
		c.warn.add(scope, "command", "arguments with spaces or quotes are joined with spaces (RAM's cmd is one string the platform splits at spaces): their quoting is lost")
	}
	return strings.Join(s.Command, " ")
}

func fcLostQuoting(args []string) bool {
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"") {
			return true
		}
	}
	return false
}

func (c *fcConverter) restart(scope string, s types.ServiceConfig) {
	switch r := s.Restart; {
	case r == "", r == types.RestartPolicyAlways, r == types.RestartPolicyUnlessStopped:
	default:
		c.warn.add(scope, "restart", "policy %q: RAM always restarts a component that stops; dropped", r)
	}
}

// --- merging with a component's x-ram

// merge starts from the component's x-ram value e and takes from fresh (the same service
// converted from its compose definition) what the compose file says differently.
func (c *fcConverter) merge(name string, s types.ServiceConfig, e Component, fresh *Component) *Component {
	id := c.ids[name]
	e.ServiceKey, e.ServiceID, e.ServiceShareUUID = id.key, id.id, id.uuid

	if e.ShareImage != fresh.ShareImage {
		e.ShareImage, e.Image, e.Version = fresh.ShareImage, fresh.ShareImage, fresh.Version
		e.DeployVersion = c.version
	}
	if fresh.Memory > 0 && fresh.Memory != e.Memory {
		if e.ExtendMethodMap.InitMemory == e.Memory {
			e.ExtendMethodMap.InitMemory = fresh.Memory
		}
		e.Memory = fresh.Memory
	}
	if fresh.CPU > 0 {
		e.CPU = fresh.CPU
	}
	if n := fcReplicas(s); n > 0 {
		e.ExtendMethodMap.MinNode = n
	}
	if !fcSameCommand(e.Cmd, s.Command) {
		e.Cmd = fresh.Cmd
	}
	if len(fresh.Labels) > 0 {
		e.Labels = fresh.Labels
	}
	if len(e.Probes) == 0 {
		e.Probes = fresh.Probes
	}
	e.DepServiceMapList = c.mergeDeps(name, e.DepServiceMapList, fresh.DepServiceMapList)
	e.ServiceEnvMapList, e.ServiceConnectInfoMapList = c.mergeEnv(s, e)
	e.PortMapList = fcMergePorts(e.PortMapList, fresh.PortMapList)
	e.ServiceVolumeMapList, e.MntRelationList = c.mergeVolumes(s, e, fresh)
	return &e
}

func fcReplicas(s types.ServiceConfig) int {
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		return *s.Deploy.Replicas
	}
	if s.Scale != nil {
		return *s.Scale
	}
	return 0
}

// fcSameCommand reports whether the compose command is cmd: ToCompose writes cmd as a string,
// which compose splits like a shell.
func fcSameCommand(cmd string, args types.ShellCommand) bool {
	if strings.Join(args, " ") == cmd {
		return true
	}
	var parsed types.ShellCommand
	if err := parsed.DecodeMapstructure(cmd); err == nil && slices.Equal(parsed, args) {
		return true
	}
	return slices.Equal(strings.Fields(cmd), []string(args))
}

// mergeEnv updates the component's own variables and connection info with the compose values
// and adds the compose variables that are the component's own: not injected by a dependency's
// connection info or an app_config_group. A variable removed from the compose file is removed.
func (c *fcConverter) mergeEnv(s types.ServiceConfig, e Component) ([]Env, []Env) {
	env := s.Environment
	known := map[string]bool{}
	update := func(list []Env) []Env {
		var out []Env
		for _, v := range list {
			known[v.AttrName] = true
			got, ok := env[v.AttrName]
			if !ok || got == nil {
				continue
			}
			if v.AttrValue != RandomValue && !c.renderedSame(v.AttrValue, *got) {
				v.AttrValue = *got
			}
			out = append(out, v)
		}
		return out
	}
	own, conn := update(e.ServiceEnvMapList), update(e.ServiceConnectInfoMapList)
	for _, k := range c.injected(e) {
		known[k] = true
	}
	var added []Env
	for _, k := range fcSortedKeys(env) {
		if v := env[k]; !known[k] && v != nil {
			added = append(added, Env{AttrName: k, AttrValue: *v, IsChange: true})
		}
	}
	return append(own, c.noGenerated(fcScope(s.Name), added)...), conn
}

// injected lists the variables the platform gives component e without e declaring them: its
// dependencies' connection info and the app_config_groups naming it.
func (c *fcConverter) injected(e Component) []string {
	var out []string
	for _, d := range e.DepServiceMapList {
		for _, n := range c.names {
			if id := c.ids[n]; id.uuid == d.DepServiceKey || id.key == d.DepServiceKey {
				if dep := c.ext[n]; dep != nil {
					for _, v := range dep.ServiceConnectInfoMapList {
						out = append(out, v.AttrName)
					}
				}
			}
		}
	}
	if c.template != nil {
		for _, g := range c.template.AppConfigGroups {
			if slices.Contains(g.ComponentKeys, e.ServiceKey) {
				out = append(out, fcSortedKeys(g.ConfigItems)...)
			}
		}
	}
	return out
}

// renderedSame reports whether got is orig as ToCompose writes it into a service: the same, or
// with the loopback host (127.0.0.1, localhost) replaced by a service name, the dependency's
// address on the compose network.
func (c *fcConverter) renderedSame(orig, got string) bool {
	if orig == got {
		return true
	}
	if !strings.Contains(orig, "127.0.0.1") && !strings.Contains(orig, "localhost") {
		return false
	}
	for _, n := range c.names {
		if tcReplaceLoopback(orig, n) == got {
			return true
		}
	}
	return false
}

// generatedValues finds the values the bundle generated for the template's RandomValue
// variables: the compose values of the variables that are RandomValue in an x-ram.
func (c *fcConverter) generatedValues() {
	c.generated = map[string]string{}
	note := func(v *string, what string) {
		if v != nil && *v != "" && *v != RandomValue {
			c.generated[*v] = what
		}
	}
	for _, name := range c.names {
		e := c.ext[name]
		if e == nil {
			continue
		}
		env := c.p.Services[name].Environment
		for _, list := range [][]Env{e.ServiceEnvMapList, e.ServiceConnectInfoMapList} {
			for _, v := range list {
				if v.AttrValue == RandomValue {
					note(env[v.AttrName], v.AttrName+" of "+name)
				}
			}
		}
	}
	if c.template == nil {
		return
	}
	for _, g := range c.template.AppConfigGroups {
		for _, k := range fcSortedKeys(g.ConfigItems) {
			if g.ConfigItems[k] != RandomValue {
				continue
			}
			for _, name := range c.names {
				if e := c.ext[name]; e != nil && slices.Contains(g.ComponentKeys, e.ServiceKey) {
					note(c.p.Services[name].Environment[k], k+" of config group "+g.Name)
				}
			}
		}
	}
}

// noGenerated writes variables holding a value the bundle generated for a RandomValue as
// RandomValue: the template never carries the bundle's secrets. The platform generates a new
// value, which the variable's provider does not share: a warning says so.
func (c *fcConverter) noGenerated(scope string, list []Env) []Env {
	var which []string
	for i := range list {
		if what, ok := c.generated[list[i].AttrValue]; ok {
			list[i].AttrValue = RandomValue
			which = append(which, list[i].AttrName+" (the value generated for "+what+")")
		}
	}
	if len(which) > 0 {
		c.warn.add(scope, "environment", "%s: written as %s, never the bundle's secret; the platform generates a value of its own, not shared with the variable it was generated for: make the service depend on its provider", strings.Join(which, ", "), RandomValue)
	}
	return list
}

// fcMergePorts keeps the template's ports, published or not as the compose file says, and adds
// the compose file's new ones. A port the compose file no longer names is kept unpublished:
// compose need not list inner ports.
func fcMergePorts(ext, fresh []Port) []Port {
	byPort := map[int]Port{}
	for _, p := range fresh {
		byPort[p.ContainerPort] = p
	}
	var out []Port
	seen := map[int]bool{}
	for _, p := range ext {
		seen[p.ContainerPort] = true
		f, ok := byPort[p.ContainerPort]
		p.IsOuterService = ok && f.IsOuterService
		out = append(out, p)
	}
	for _, p := range fresh {
		if !seen[p.ContainerPort] {
			out = append(out, p)
		}
	}
	return out
}

// mergeVolumes matches the template's volumes and mounts of other components' volumes with the
// compose mounts by path: matched ones are kept (type, capacity, access mode, the owner they
// name), config files with the content the bundle ships (see fcConfigContent); unmatched ones
// were removed; new compose mounts are added.
func (c *fcConverter) mergeVolumes(s types.ServiceConfig, e Component, fresh *Component) ([]Volume, []MountRelation) {
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
			v.FileContent = fcConfigContent(v.FileContent, f.FileContent, s.Environment)
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

// fcConfigContent is a config file's file_content. The x-ram original is empty when the bundle's
// file is the content; otherwise the bundle ships it rendered (ToCompose replaced its ${...}
// references with the service's values), and the original comes back unless the file was
// edited: it renders to the shipped file with the service's environment, or differs from it
// only where references stand (the values changed in .env since).
func fcConfigContent(orig, shipped string, env types.MappingWithEquals) string {
	if orig == "" || orig == shipped {
		return shipped
	}
	values := map[string]string{}
	for k, v := range env {
		if v != nil {
			values[k] = *v
		}
	}
	if tcRender(orig, values) == shipped || fcRendersTo(orig, shipped) {
		return orig
	}
	return shipped
}

// fcRendersTo reports whether shipped is orig with each ${...} reference replaced by some text.
// It is the classic wildcard match: the first and last literal parts anchored, the others found
// in order, leftmost.
func fcRendersTo(orig, shipped string) bool {
	lits := tcVarRef.Split(orig, -1)
	if len(lits) == 1 {
		return orig == shipped
	}
	first, last := lits[0], lits[len(lits)-1]
	if len(first)+len(last) > len(shipped) || !strings.HasPrefix(shipped, first) || !strings.HasSuffix(shipped, last) {
		return false
	}
	rest := shipped[len(first) : len(shipped)-len(last)]
	for _, l := range lits[1 : len(lits)-1] {
		i := strings.Index(rest, l)
		if i < 0 {
			return false
		}
		rest = rest[i+len(l):]
	}
	return true
}

// mergeDeps keeps the template's entries (as they spell the dependency) of the dependencies the
// compose file still has, and adds its new ones. A template dependency the compose file does
// not have is kept when ToCompose had to leave it out of depends_on: when the dependency
// already depends on the service, directly or not (compose refuses cycles).
func (c *fcConverter) mergeDeps(name string, ext, fresh []Dependency) []Dependency {
	serviceOf := map[string]string{} // service_share_uuid and service_key -> service
	for _, n := range c.names {
		id := c.ids[n]
		serviceOf[id.uuid], serviceOf[id.key] = n, n
	}
	want := map[string]bool{}
	for _, d := range fresh {
		want[serviceOf[d.DepServiceKey]] = true
	}
	var out []Dependency
	done := map[string]bool{}
	for _, d := range ext {
		dep, ok := serviceOf[d.DepServiceKey]
		if !ok || done[dep] || !want[dep] && !c.reaches(dep, name) {
			continue
		}
		done[dep] = true
		out = append(out, d)
	}
	for _, d := range fresh {
		if dep := serviceOf[d.DepServiceKey]; !done[dep] {
			done[dep] = true
			out = append(out, d)
		}
	}
	return out
}

// reaches reports whether service from depends on service to through compose's depends_on.
func (c *fcConverter) reaches(from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		for d := range c.p.Services[n].DependsOn {
			stack = append(stack, d)
		}
	}
	return false
}

// --- what RAM cannot express

// Every YAML key of compose-go's ServiceConfig is in exactly one of these: mapped by the
// converter (which warns about the parts it cannot map), meaningless for a RAM component, or
// dropped with a warning. A key in none of them (a field newer than this table) is dropped with
// a generic warning; a test keeps the table complete.
var (
	fcMappedKeys = []string{
		"name", "image", "command", "environment", "env_file", "labels", "label_file", "ports",
		"expose", "volumes", "tmpfs", "configs", "secrets", "depends_on", "links", "healthcheck",
		"deploy", "scale", "mem_limit", "cpus", "platform", "restart", "networks", "provider",
	}
	// fcIgnoredKeys have no meaning for a component installed from a RAM package.
	fcIgnoredKeys = map[string]string{
		"build":              "the image is shipped built",
		"dockerfile":         "the image is shipped built",
		"profiles":           "applied when the project was loaded",
		"extends":            "applied when the project was loaded",
		"develop":            "development-time file watching",
		"pull_policy":        "the image comes from the package",
		"pull_refresh_after": "the image comes from the package",
		"attach":             "docker compose's log output only",
	}
	fcDroppedKeys = map[string]string{
		"annotations":         "RAM has no container annotations",
		"blkio_config":        "RAM has no block I/O limits",
		"cap_add":             "RAM has no Linux capabilities",
		"cap_drop":            "RAM has no Linux capabilities",
		"cgroup":              "RAM has no cgroup namespace setting",
		"cgroup_parent":       "RAM has no cgroup parent",
		"container_name":      "the platform names containers itself",
		"cpu_count":           "RAM limits cpu in millicores only (cpus)",
		"cpu_percent":         "RAM limits cpu in millicores only (cpus)",
		"cpu_period":          "RAM limits cpu in millicores only (cpus)",
		"cpu_quota":           "RAM limits cpu in millicores only (cpus)",
		"cpu_rt_period":       "RAM has no realtime scheduling",
		"cpu_rt_runtime":      "RAM has no realtime scheduling",
		"cpu_shares":          "RAM limits cpu in millicores only (cpus)",
		"cpuset":              "RAM has no cpu pinning",
		"credential_spec":     "RAM has no Windows credential specs",
		"device_cgroup_rules": "RAM has no device access",
		"devices":             "RAM has no device access",
		"dns":                 "components use the platform's DNS",
		"dns_opt":             "components use the platform's DNS",
		"dns_search":          "components use the platform's DNS",
		"domainname":          "the platform sets the host name",
		"entrypoint":          "RAM runs the image's entrypoint (cmd sets its arguments)",
		"external_links":      "RAM reaches only components of the application",
		"extra_hosts":         "RAM has no /etc/hosts entries",
		"gpus":                "RAM has no GPU requests",
		"group_add":           "RAM runs the image's user and groups",
		"hostname":            "the platform sets the host name",
		"init":                "RAM has no init process setting",
		"ipc":                 "RAM has no shared namespaces",
		"isolation":           "RAM has no isolation setting",
		"log_driver":          "the platform collects logs itself",
		"log_opt":             "the platform collects logs itself",
		"logging":             "the platform collects logs itself",
		"mac_address":         "RAM has no network settings",
		"mem_reservation":     "RAM has a memory limit only",
		"mem_swappiness":      "RAM has a memory limit only",
		"memswap_limit":       "RAM has a memory limit only",
		"models":              "RAM has no AI models",
		"net":                 "RAM has no network modes",
		"network_mode":        "RAM has no network modes: each component has its own network",
		"oom_kill_disable":    "RAM has no OOM settings",
		"oom_score_adj":       "RAM has no OOM settings",
		"pid":                 "RAM has no shared namespaces",
		"pids_limit":          "RAM has no process limit",
		"post_start":          "RAM has no lifecycle hooks",
		"pre_start":           "RAM has no lifecycle hooks",
		"pre_stop":            "RAM has no lifecycle hooks",
		"privileged":          "RAM runs no privileged containers",
		"read_only":           "RAM has no read-only root file system",
		"runtime":             "RAM has no runtime setting",
		"security_opt":        "RAM has no security options",
		"shm_size":            "RAM has no /dev/shm size",
		"stdin_open":          "RAM components have no terminal",
		"stop_grace_period":   "RAM has no stop settings",
		"stop_signal":         "RAM has no stop settings",
		"storage_opt":         "RAM has no storage options",
		"sysctls":             "RAM has no sysctls",
		"tty":                 "RAM components have no terminal",
		"ulimits":             "RAM has no ulimits",
		"umask":               "RAM has no umask setting",
		"use_api_socket":      "RAM gives components no Docker API",
		"user":                "RAM runs the image's user",
		"userns_mode":         "RAM has no user namespaces",
		"uts":                 "RAM has no shared namespaces",
		"volume_driver":       "the platform chooses volume drivers itself",
		"volumes_from":        "RAM shares volumes by name (mnt_relation_list), not by container",
		"working_dir":         "RAM runs in the image's working directory",
	}
)

// unmapped warns about every set field of s that RAM cannot express, beyond those the
// converter maps.
func (c *fcConverter) unmapped(scope string, s types.ServiceConfig) {
	for _, key := range fcSetKeys(s) {
		if slices.Contains(fcMappedKeys, key) {
			continue
		}
		if _, ok := fcIgnoredKeys[key]; ok {
			continue
		}
		why, ok := fcDroppedKeys[key]
		if !ok {
			why = "RAM has no equivalent"
		}
		c.warn.add(scope, key, "%s; dropped", why)
	}
	var nets []string
	for _, n := range fcSortedKeys(s.Networks) {
		if n != "default" || s.Networks[n] != nil && !reflect.ValueOf(*s.Networks[n]).IsZero() {
			nets = append(nets, n)
		}
	}
	if len(nets) > 0 {
		c.warn.add(scope, "networks", "%s: RAM has no networks (components reach each other by name); dropped", strings.Join(nets, ", "))
	}
	for _, k := range fcSortedKeys(s.Extensions) {
		if k != ExtensionKey {
			c.warn.add(scope, k, "extension field: RAM has no place for it; dropped")
		}
	}
}

// fcSetKeys lists the YAML keys of the fields set in s (inline structs flattened; extensions and
// fields without a YAML key left out).
func fcSetKeys(s types.ServiceConfig) []string {
	var keys []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			key, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct && key == "" {
				walk(v.Field(i))
				continue
			}
			if !f.IsExported() || key == "" || key == "-" || strings.HasPrefix(key, "#") {
				continue
			}
			if fcIsSet(v.Field(i)) {
				keys = append(keys, key)
			}
		}
	}
	walk(reflect.ValueOf(s))
	return keys
}

func fcIsSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map, reflect.Slice:
		return v.Len() > 0
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil()
	}
	return !v.IsZero()
}

// --- helpers

// fcWarnings collects one warning per scope (project, or "service NAME") and compose key.
type fcWarnings struct {
	by map[string]map[string][]string
}

func newFCWarnings() *fcWarnings { return &fcWarnings{by: map[string]map[string][]string{}} }

func fcScope(name string) string { return "service " + name }

func (w *fcWarnings) add(scope, key, format string, args ...any) {
	if w.by[scope] == nil {
		w.by[scope] = map[string][]string{}
	}
	w.by[scope][key] = append(w.by[scope][key], fmt.Sprintf(format, args...))
}

// list gives the warnings in a fixed order: the project's first, then by service and key.
func (w *fcWarnings) list() []string {
	var out []string
	for _, scope := range fcSortedKeys(w.by) {
		for _, key := range fcSortedKeys(w.by[scope]) {
			line := key + ": " + strings.Join(w.by[scope][key], "; ")
			if scope != "" {
				line = scope + ": " + line
			}
			out = append(out, line)
		}
	}
	return out
}

func fcSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fcPortAlias is <SERVICE>_<PORT>, upper case, the form the platform derives connection variable
// names from (<ALIAS>_HOST, <ALIAS>_PORT).
func fcPortAlias(service string, port int) string {
	return fcEnvName(service) + "_" + strconv.Itoa(port)
}

func fcEnvName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// fcK8sName is a DNS-1123 label made of s.
func fcK8sName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	if n == "" {
		n = "component"
	}
	return n
}

// fcVolumeName is a volume_name made of s: letters, digits, '-' and '_'.
func fcVolumeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// fcImageTag is the tag of an image reference ("latest" when it has none; the digest's first
// characters for a digest reference).
func fcImageTag(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		d := ref[i+1:]
		if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) >= 12 {
			return hex[:12]
		}
		return d
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[i+1:]
	}
	return "latest"
}
