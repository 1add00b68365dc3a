package ram

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

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
	// Images maps a service to the image it is shipped as (the name the bundle's image archive
	// tags it with), which becomes its component's image; its share_image, the name
	// component-images.tar must also tag it with (ShareImageTags), is made unique after the
	// importer's re-tag (ShareImageName). A service missing here uses its `image:`.
	Images map[string]string
	// Platform is the os/arch[/variant] the images are for; its arch becomes the components'
	// arch (a service's own `platform:` wins). Empty: amd64.
	Platform string
}

// FromCompose converts a Compose project (typically a bundle's compose file, loaded with its
// .env) into a RAM template; the images are not its concern (see WritePackage).
//
// Each service becomes a component whose ids derive from the group name and the service name
// (StableID): converting the same project twice gives the same template. Mapping
// (docs/ram-format.md §7): the shipped image is image, share_image a name of the component's
// own that the platform importer's re-tag leaves unique (ShareImageName, §8.1); ports become
// port_map_list (`ports` entries published, is_outer_service and is_inner_service; `expose`
// is_inner_service; protocol from app_protocol, else udp or tcp); environment becomes
// service_env_map_list;
// bind-mounted files, file-based configs and secrets inside opts.Dir become config-file volumes
// with their content (one larger than a ConfigMap holds, also once the platform substitutes its
// variables, is refused); named volumes become local volumes, or share-file volumes when
// several services mount them (owned by the first service by name, the others getting
// mnt_relation_list entries) or the service has replicas; tmpfs mounts become memoryfs
// volumes; depends_on becomes dep_service_map_list; a CMD or CMD-SHELL healthcheck becomes a
// readiness probe (cmd, as the platform execs it; http or tcp only when it cannot be,
// docs/ram-format.md §8.3); command becomes cmd; memory and cpu limits, replicas (an explicit 0
// included) and platform are carried over. Compose labels are container labels, not the
// template's node-scheduling labels: they are dropped with a warning.
//
// A project that came from a RAM package carries the template in x-ram extension fields (see
// ExtensionKey). Each component then starts from its x-ram value, and only what the compose
// file says differently is taken from it: the image, environment values, which ports are
// published, config-file contents, volumes, dependencies, memory, cpu, replicas, command and
// the readiness probe (when the healthcheck is not the one ToCompose wrote for the template's;
// the template's labels stay).
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
	c := &fromCompose{p: p, opts: opts, warn: newKeyedWarnings()}
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

// componentID is what other components refer to a component by.
type componentID struct {
	key, id, uuid string
}

type fromCompose struct {
	p    *types.Project
	opts FromComposeOptions
	warn *keyedWarnings

	dir      string
	name     string
	version  string
	names    []string              // the services converted, sorted
	ext      map[string]*Component // x-ram components, by service
	ids      map[string]componentID
	owners   map[string]volumeOwner // named volume -> the component owning it
	template *Template              // the top-level x-ram, or nil
	// generated maps a value the bundle generated for a RandomValue of the template to the
	// variable it stands for.
	generated map[string]generatedValue
	// keepShare are the services whose x-ram component ships its image unchanged: their
	// share_image is kept when the importer's re-tag leaves it unique.
	keepShare map[string]bool
}

// shareImages gives each component (apps[i] is service c.names[i]) its share_image: the name
// of its image in component-images.tar, which the importer re-tags (ImportedName) and pushes,
// and which must stay unique after that. A component from x-ram whose image is unchanged keeps
// its template's share_image when it is still unique after the re-tag and names no other image
// of the bundle; every other one gets ShareImageName (docs/ram-format.md §8.1), with a warning
// when a template's share_image is replaced. Its image stays the name the image is shipped as.
func (c *fromCompose) shareImages(apps []Component) {
	used := map[string]string{} // imported name -> the normalized share_image it comes from
	claim := func(ref string) bool {
		n, err := defaultImportedName(ref)
		if err != nil {
			return false
		}
		if u, ok := used[n]; ok && u != normRef(ref) {
			return false
		}
		used[n] = normRef(ref)
		return true
	}
	// shippedBy says whether another service ships an image under ref.
	shippedBy := func(name, ref string) bool {
		for _, other := range c.names {
			if other != name && normRef(c.image(other, c.p.Services[other])) == normRef(ref) {
				return true
			}
		}
		return false
	}
	var todo []int
	replaced := map[int]string{}
	for i, name := range c.names {
		a := &apps[i]
		if c.keepShare[name] {
			shipped := c.image(name, c.p.Services[name])
			if (normRef(shipped) == normRef(a.ShareImage) || !shippedBy(name, a.ShareImage)) && claim(a.ShareImage) {
				continue
			}
			replaced[i] = a.ShareImage
		}
		todo = append(todo, i)
	}
	for _, i := range todo {
		a := &apps[i]
		ref := ShareImageName(c.name, c.version, a.ServiceID)
		if !claim(ref) {
			// Two components with one service_id: the service_key tells them apart.
			ref = ShareImageName(c.name, c.version, StableID(c.name, a.ServiceKey))
			claim(ref)
		}
		a.ShareImage = ref
		if old, ok := replaced[i]; ok {
			why := "two components' images would become one name"
			if _, err := defaultImportedName(old); err != nil {
				why = err.Error()
			} else if shippedBy(c.names[i], old) {
				why = "another service ships a different image under that name"
			}
			c.warn.add(serviceScope(c.names[i]), "image", "the template's share_image %s would not survive the platform importer's re-tag (%s); share_image is now %s", old, why, ref)
		}
	}
}

func (c *fromCompose) convert() (*Template, error) {
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
	c.ids = map[string]componentID{}
	for _, name := range c.p.ServiceNames() {
		s := c.p.Services[name]
		if s.Provider != nil {
			c.warn.add(serviceScope(name), "provider", "the service runs no image (provider %s): RAM components run images; dropped", s.Provider.Type)
			continue
		}
		if c.image(name, s) == "" {
			c.warn.add(serviceScope(name), "image", "the service has no image: dropped")
			continue
		}
		c.names = append(c.names, name)
		if v, ok := s.Extensions[ExtensionKey]; ok {
			comp, err := ComponentFromExtension(v)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", name, err)
			}
			if comp.IsVM() {
				return nil, fmt.Errorf("service %s: %s: the component is a virtual machine (%s), which a bundle cannot carry: remove its %s", name, ExtensionKey, vmMarker(comp), ExtensionKey)
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
	c.keepShare = map[string]bool{}
	for _, name := range c.names {
		comp, err := c.service(name, c.p.Services[name])
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		t.Apps = append(t.Apps, *comp)
	}
	for i := range t.Apps {
		if err := c.checkRenderedSizes(c.names[i], &t.Apps[i]); err != nil {
			return nil, err
		}
	}
	c.shareImages(t.Apps)
	c.platformNames(t)
	c.templateLists(t)
	c.substitutionWarnings(t)
	c.workerVariableWarnings(t)
	t.Normalize()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := c.platformRules(t); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *fromCompose) image(name string, s types.ServiceConfig) string {
	if img := c.opts.Images[name]; img != "" {
		return img
	}
	return s.Image
}

func (c *fromCompose) identity(name string) componentID {
	if e := c.ext[name]; e != nil && e.ServiceKey != "" {
		id := componentID{key: e.ServiceKey, id: e.ServiceID, uuid: e.ServiceShareUUID}
		if id.id == "" {
			id.id = id.key
		}
		if id.uuid == "" {
			id.uuid = ShareUUID(id.key, id.id)
		}
		return id
	}
	key := StableID(c.name, name)
	return componentID{key: key, id: key, uuid: ShareUUID(key, key)}
}

// checkDistinctKeys refuses two services carrying the same component (a service copied in the
// compose file with its x-ram): the template would have two components with one service_key.
func (c *fromCompose) checkDistinctKeys() error {
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

// templateLists keeps the template-level lists that name components consistent with the
// components converted, and takes changed app_config_group values from the compose file.
func (c *fromCompose) templateLists(t *Template) {
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
		for _, item := range slices.Sorted(maps.Keys(g.ConfigItems)) {
			orig := g.ConfigItems[item]
			if placeholder(orig) {
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
			if same && *got != orig && !c.renderedSame(orig, *got, c.p.Services[keys[kept[0]]].Environment) {
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

func (c *fromCompose) service(name string, s types.ServiceConfig) (*Component, error) {
	scope := serviceScope(name)
	fresh, err := c.fresh(name, s)
	if err != nil {
		return nil, err
	}
	c.unmapped(scope, s)
	e := c.ext[name]
	if e == nil {
		var moved []Env
		fresh.ServiceEnvMapList, moved = c.noGenerated(name, fresh.ServiceEnvMapList)
		fresh.ServiceConnectInfoMapList = append(fresh.ServiceConnectInfoMapList, moved...)
		return fresh, nil
	}
	return c.merge(name, s, *e, fresh), nil
}

// fresh converts a service from its compose definition alone.
func (c *fromCompose) fresh(name string, s types.ServiceConfig) (*Component, error) {
	scope := serviceScope(name)
	id := c.ids[name]
	img := c.image(name, s)
	comp := &Component{
		ServiceCname:     name,
		ServiceKey:       id.key,
		ServiceID:        id.id,
		ServiceShareUUID: id.uuid,
		ServiceAlias:     "gr" + id.id[max(0, len(id.id)-6):],
		ShareImage:       img,
		Image:            img,
		ShareType:        "image",
		ServiceSource:    "docker_image",
		ServiceType:      "application",
		Category:         "app_publish",
		Version:          imageTag(img),
		DeployVersion:    c.version,
		Arch:             c.arch(s),
		ExtendMethod:     StatelessMultiple,
		ExtendMethodMap:  DefaultExtendMethodMap(),
	}
	c.resources(scope, s, comp)
	comp.PortMapList = c.ports(scope, name, s)
	comp.ServiceEnvMapList = c.env(scope, s)
	if err := c.checkFileSizes(s); err != nil {
		return nil, err
	}
	if err := c.volumes(scope, name, s, comp); err != nil {
		return nil, err
	}
	comp.DepServiceMapList = c.deps(scope, s)
	e := c.ext[name]
	// A component from a RAM package keeps its probes when the healthcheck is the one ToCompose
	// wrote for them, and its cmd when compose runs the same: nothing to say about how they map.
	sameTest := false
	if e != nil {
		_, sameTest = sameHealthcheck(e, s.HealthCheck)
	}
	if sameTest {
		comp.Probes = e.Probes // merge takes the timings
	} else if pr := c.probe(scope, s, comp.PortMapList); pr != nil {
		comp.Probes = []Probe{*pr}
	}
	if e != nil && sameCommand(e.Cmd, s.Command, s.Environment) {
		comp.Cmd = e.Cmd
	} else {
		comp.Cmd = c.command(scope, s)
	}
	c.restart(scope, s)
	if len(s.Labels) > 0 {
		// The template's labels are node-scheduling labels: a name matching a node label of the
		// cluster would constrain where the component runs (docs/ram-format.md §8.5).
		c.warn.add(scope, "labels", "%s: compose labels are container labels, and the template's labels are the platform's node-scheduling labels (a name matching a node label would restrict the nodes the component runs on); dropped", strings.Join(slices.Sorted(maps.Keys(s.Labels)), ", "))
	}

	// Compose's replicas all mount the service's one named volume. On the platform a local
	// volume is one per instance (a StatefulSet's volumeClaimTemplates), while a share-file
	// volume of a stateless component is one claim every instance mounts (worker
	// appm/volume/share-file.go): with replicas, the service's volumes are share-file (RWX).
	replicas := comp.ExtendMethodMap.MinNode.Int()
	if replicas > 1 && comp.ExtendMethod == StatelessMultiple {
		for k := range comp.ServiceVolumeMapList {
			if v := &comp.ServiceVolumeMapList[k]; v.VolumeType == VolumeLocal {
				v.VolumeType, v.AccessMode = VolumeShareFile, "RWX"
			}
		}
	}
	// A component with a volume of its own (RWO) keeps one instance; share-file volumes (RWX) do
	// not stop it from scaling.
	stateful := slices.ContainsFunc(comp.ServiceVolumeMapList, func(v Volume) bool { return v.VolumeType == VolumeLocal })
	switch {
	case comp.ExtendMethod == DaemonSet || comp.ExtendMethod == Job:
	case stateful && replicas > 1:
		comp.ExtendMethod = StateMultiple
	case stateful:
		comp.ExtendMethod = StateSingleton
		comp.ExtendMethodMap.MaxNode = Some(1)
	}
	return comp, nil
}

// perInstanceVolumes warns when the compose file gives a component of the template replicas
// while the template keeps it stateful with volumes of its own: the platform then gives each
// instance its own volume, where compose's replicas share one.
func (c *fromCompose) perInstanceVolumes(name string, before int, e *Component) {
	n := e.PlatformReplicas()
	if n <= 1 || n == before || !strings.HasPrefix(e.ExtendMethod, "state_") {
		return
	}
	var vols []string
	for _, v := range e.ServiceVolumeMapList {
		if v.VolumeType != VolumeConfigFile && v.VolumeType != VolumeShareFile && v.VolumeType != VolumeMemoryFS {
			vols = append(vols, v.VolumeName)
		}
	}
	if len(vols) > 0 {
		c.warn.add(serviceScope(name), "volumes", "%s: with %d replicas each platform instance gets a volume of its own (the template's component is %s, a StatefulSet), while compose's replicas share one; keep one replica, or in x-ram make the component stateless_multiple and the volumes share-file (one claim all instances mount)", strings.Join(vols, ", "), n, e.ExtendMethod)
	}
}

func (c *fromCompose) arch(s types.ServiceConfig) string {
	for _, p := range []string{s.Platform, c.opts.Platform} {
		if parts := strings.Split(p, "/"); len(parts) >= 2 && parts[1] != "" {
			return parts[1]
		}
	}
	return DefaultArch
}

// resources maps memory and cpu limits, replicas and the deploy mode.
func (c *fromCompose) resources(scope string, s types.ServiceConfig, comp *Component) {
	mem, cpus := int64(s.MemLimit), float64(s.CPUS)
	replicas, replicasSet := replicaCount(s)
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
	// Every key explicit (docs/ram-format.md §8.5): init_memory = memory, which the platform
	// installs; 0 where compose sets no limit (no limit on current consoles).
	m, cpu := composeMemory(mem), composeCPU(cpus)
	comp.Memory, comp.CPU = Some(m), Some(cpu)
	comp.ExtendMethodMap.InitMemory = Some(m)
	// An explicit 0 stays 0: the platform then starts no instance, as compose starts no
	// container (the importer and the console keep a min_node of 0, docs/ram-format.md §8.5).
	if replicasSet {
		comp.ExtendMethodMap.MinNode = Some(max(replicas, 0))
		if comp.ExtendMethodMap.MaxNode.Int() < replicas {
			comp.ExtendMethodMap.MaxNode = Some(replicas)
		}
	}
}

// composeMemory is a memory limit in bytes as MB, rounded up.
func composeMemory(bytes int64) int {
	if bytes <= 0 {
		return 0
	}
	return int(math.Ceil(float64(bytes) / (1 << 20)))
}

// composeCPU is a cpu limit in cpus as millicores.
func composeCPU(cpus float64) int {
	if cpus <= 0 {
		return 0
	}
	return int(math.Round(cpus * 1000))
}

// mergeResources takes memory, cpu and replicas from the compose file when they differ from
// what ToCompose wrote for e (composeResources): a template read and written back keeps its
// keys exactly, absent ones absent, legacy container_cpu included.
func mergeResources(s types.ServiceConfig, e *Component, fresh *Component, published bool) {
	wroteMem, wroteCPU, wroteReplicas, _ := composeResources(e, published)
	m := &e.ExtendMethodMap
	if mem := fresh.Memory.Int(); mem != wroteMem {
		e.Memory, m.InitMemory = Some(mem), Some(mem)
	}
	if cpu := fresh.CPU.Int(); cpu != wroteCPU {
		e.CPU = Some(cpu)
		if len(m.ContainerCPU) > 0 {
			// The console reads container_cpu before cpu.
			m.ContainerCPU = RawJSON(strconv.Itoa(cpu))
		}
	}
	// wroteReplicas 0: ToCompose wrote none. An explicit replicas: 0 is a change, to 0.
	if n, set := replicaCount(s); set != (wroteReplicas > 0) || set && n != wroteReplicas {
		if !set {
			n = 1 // no replicas in the compose file: one instance
		}
		n = max(n, 0)
		if n != e.PlatformReplicas() {
			m.MinNode = Some(n)
			if m.MaxNode.Int() < n {
				m.MaxNode = Some(n)
			}
		}
	}
}

// command maps `command` to cmd. The platform splits cmd at spaces, so arguments holding spaces
// or quotes do not survive.
func (c *fromCompose) command(scope string, s types.ServiceConfig) string {
	if len(s.Command) == 0 {
		return ""
	}
	if lostQuoting(s.Command) {
		c.warn.add(scope, "command", "arguments with spaces or quotes are joined with spaces (RAM's cmd is one string the platform splits at spaces): their quoting is lost")
	}
	return strings.Join(s.Command, " ")
}

func lostQuoting(args []string) bool {
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"") {
			return true
		}
	}
	return false
}

func (c *fromCompose) restart(scope string, s types.ServiceConfig) {
	switch r := s.Restart; {
	case r == "", r == types.RestartPolicyAlways, r == types.RestartPolicyUnlessStopped:
	default:
		c.warn.add(scope, "restart", "policy %q: RAM always restarts a component that stops; dropped", r)
	}
}

// merge starts from the component's x-ram value e and takes from fresh (the same service
// converted from its compose definition) what the compose file says differently.
func (c *fromCompose) merge(name string, s types.ServiceConfig, e Component, fresh *Component) *Component {
	id := c.ids[name]
	e.ServiceKey, e.ServiceID, e.ServiceShareUUID = id.key, id.id, id.uuid

	// The image is unchanged when the bundle ships the template's: under its image name, or
	// under its share_image (a package whose archive held no other name for it). The
	// share_image is then kept if it survives the importer's re-tag (shareImages).
	if shipped := fresh.Image; normRef(shipped) == normRef(e.Image) || normRef(shipped) == normRef(e.ShareImage) {
		c.keepShare[name] = true
	} else {
		e.Image, e.Version = shipped, fresh.Version
		e.DeployVersion = c.version
	}
	before := e.PlatformReplicas()
	mergeResources(s, &e, fresh, slices.ContainsFunc(e.PortMapList, func(p Port) bool { return p.IsOuterService }))
	if !sameCommand(e.Cmd, s.Command, s.Environment) {
		e.Cmd = fresh.Cmd
	}
	e.Probes = c.mergeProbes(name, s, e, fresh.Probes)
	e.DepServiceMapList = c.mergeDeps(name, e.DepServiceMapList, fresh.DepServiceMapList)
	e.ServiceEnvMapList, e.ServiceConnectInfoMapList = c.mergeEnv(s, e)
	e.PortMapList = mergePorts(e.PortMapList, fresh.PortMapList)
	e.ServiceVolumeMapList, e.MntRelationList = c.mergeVolumes(s, e, fresh)
	c.perInstanceVolumes(name, before, &e)
	return &e
}

// mergeProbes is the template's probes when the compose healthcheck is the one ToCompose wrote
// for its readiness probe (sameHealthcheck), with the compose file's timings when only they
// changed; otherwise the compose file's readiness probe (none when the healthcheck was removed,
// disabled or cannot be converted) with the template's other probes (liveness, ...), and a
// warning when a readiness probe of the template goes.
func (c *fromCompose) mergeProbes(name string, s types.ServiceConfig, e Component, fresh []Probe) []Probe {
	switch same, sameTest := sameHealthcheck(&e, s.HealthCheck); {
	case same:
		return e.Probes
	case sameTest:
		out := slices.Clone(e.Probes)
		r := readinessProbe(out)
		probeTimes(s.HealthCheck, r)
		if s.HealthCheck.StartInterval != nil {
			c.warn.add(serviceScope(name), "healthcheck", "start_interval: RAM probes have none; dropped")
		}
		return out
	}
	var kept, gone []Probe
	for _, p := range e.Probes {
		if p.Mode == "readiness" {
			gone = append(gone, p)
		} else {
			kept = append(kept, p)
		}
	}
	if len(gone) > 0 {
		var old []string
		for _, p := range gone {
			t := probeText(p)
			if !p.IsUsed {
				t += ", not in use"
			}
			old = append(old, t)
		}
		was := strings.Join(old, " and ")
		var msg string
		switch h := s.HealthCheck; {
		case len(fresh) > 0:
			msg = fmt.Sprintf("differs from the template's readiness probe (%s): the readiness probe is now the healthcheck's (%s)", was, probeText(fresh[0]))
		case h == nil:
			msg = fmt.Sprintf("none in the compose file: the template's readiness probe (%s) is removed", was)
		case h.Disable || len(h.Test) > 0 && h.Test[0] == "NONE":
			msg = fmt.Sprintf("disabled in the compose file: the template's readiness probe (%s) is removed", was)
		default:
			msg = fmt.Sprintf("differs from the template's readiness probe (%s) and cannot be converted: the readiness probe is removed", was)
		}
		if len(kept) > 0 {
			msg += "; the template's other probes are kept"
		}
		c.warn.add(serviceScope(name), "healthcheck", "%s", msg)
	}
	return append(kept, fresh...)
}

// replicaCount is deploy.replicas, else scale; set false when the compose file has neither
// (compose runs one container), to tell it from an explicit 0 (compose runs none).
func replicaCount(s types.ServiceConfig) (n int, set bool) {
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		return *s.Deploy.Replicas, true
	}
	if s.Scale != nil {
		return *s.Scale, true
	}
	return 0, false
}

// sameCommand reports whether the compose command is cmd: ToCompose writes cmd as a string,
// with its ${...} references substituted from env, which compose splits like a shell.
func sameCommand(cmd string, args types.ShellCommand, env types.MappingWithEquals) bool {
	return sameArgs(cmd, args) || strings.Contains(cmd, "${") && sameArgs(Substitute(cmd, envValues(env)), args)
}

func sameArgs(cmd string, args types.ShellCommand) bool {
	if strings.Join(args, " ") == cmd {
		return true
	}
	var parsed types.ShellCommand
	if err := parsed.DecodeMapstructure(cmd); err == nil && slices.Equal(parsed, args) {
		return true
	}
	return slices.Equal(strings.Fields(cmd), []string(args))
}

// imageTag is the tag of an image reference ("latest" when it has none; the digest's first
// characters for a digest reference).
func imageTag(ref string) string {
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

// largeFile says why a config file of n bytes is refused: the platform mounts each config file
// from a ConfigMap of its own, which holds at most maxConfigFileSize bytes, and the component
// cannot run as packed without it (docs/ram-format.md §8.5).
func largeFile(n int64) string {
	return fmt.Sprintf("more than the %d MiB (%d bytes) a Kubernetes ConfigMap holds: the platform mounts each config file from one and could not deploy the component, which needs the file; ship the file in the image or in a volume instead", maxConfigFileSize>>20, maxConfigFileSize)
}

// checkFileSizes refuses a file inside the bundle that a bind mount, config or secret of the
// service mounts and that is larger than a ConfigMap holds (largeFile), before anything reads
// it.
func (c *fromCompose) checkFileSizes(s types.ServiceConfig) error {
	size := func(src string) int64 {
		if !filepath.IsAbs(src) && c.p.WorkingDir != "" {
			src = filepath.Join(c.p.WorkingDir, src)
		}
		if c.dir == "" || !inside(c.dir, src) {
			return 0
		}
		if fi, err := os.Stat(src); err == nil && fi.Mode().IsRegular() && fi.Size() > maxConfigFileSize {
			return fi.Size()
		}
		return 0
	}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind {
			if n := size(v.Source); n > 0 {
				return fmt.Errorf("volumes: bind mount %s at %s: %d bytes, %s", c.show(v.Source), v.Target, n, largeFile(n))
			}
		}
	}
	for _, r := range s.Configs {
		if cfg, ok := c.p.Configs[r.Source]; ok && cfg.File != "" && !bool(cfg.External) {
			if n := size(cfg.File); n > 0 {
				return fmt.Errorf("configs: %s (%s): %d bytes, %s", r.Source, c.show(cfg.File), n, largeFile(n))
			}
		}
	}
	for _, r := range s.Secrets {
		if sec, ok := c.p.Secrets[r.Source]; ok && sec.File != "" && !bool(sec.External) {
			if n := size(sec.File); n > 0 {
				return fmt.Errorf("secrets: %s (%s): %d bytes, %s", r.Source, c.show(sec.File), n, largeFile(n))
			}
		}
	}
	return nil
}

// checkRenderedSizes refuses a config file whose content, rendered as the platform renders it
// with the service's variables, is larger than a ConfigMap holds (largeFile).
func (c *fromCompose) checkRenderedSizes(name string, comp *Component) error {
	values := map[string]string{}
	for k, v := range c.p.Services[name].Environment {
		if v != nil {
			values[k] = *v
		}
	}
	for _, v := range comp.ServiceVolumeMapList {
		if v.VolumeType != VolumeConfigFile {
			continue
		}
		if n := len(Substitute(v.FileContent, values)); n > maxConfigFileSize {
			return fmt.Errorf("%s: volumes: config file %s: %d bytes once the platform replaces its ${...} references with the service's variables (%d as written), %s, or make the values it includes shorter", serviceScope(name), v.VolumePath, n, len(v.FileContent), largeFile(int64(n)))
		}
	}
	return nil
}
