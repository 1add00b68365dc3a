package ram

// RAM -> Compose: one service per component, following docs/ram-format.md §6.
//
// What a RAM template leaves to the platform at install time is done here, once, so that the
// resulting project runs with plain `docker compose up`:
//
//   - every "**None**" value is generated (crypto/rand) ONCE per (providing component, variable)
//     and written to .env; the provider and all its dependants reference the same ${VAR}, so a
//     dependant gets the password its provider was started with (Rainbond's own compose export
//     generates one value per use, which breaks every dependency on a generated secret);
//   - a dependency's connection info pointing at 127.0.0.1/localhost (the platform's service mesh
//     listens there) is pointed at the dependency's service name on the compose network;
//   - config-file volumes are rendered as the platform renders them (see Substitute in env.go) with
//     the values the service gets, generated secrets included, and shipped as files.
//
// A service's environment is gathered from four sources. When two give the same variable, the
// first in this order wins and the other is reported in Warnings, never silently dropped:
//
//  1. the component's own service_env_map_list;
//  2. its own service_connect_info_map_list;
//  3. the service_connect_info_map_list of each dependency, in dep_service_map_list order,
//     each followed by the dependency's port variables (<PORT_ALIAS>_HOST, _PORT);
//  4. app_config_groups (injection_type env) naming the component's service_key, in order.
//
// (The platform lets component variables override config groups too.)

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// ComposeFile is the name ComposeProject.Write gives the compose file.
const ComposeFile = "docker-compose.yaml"

// DotEnvFile is the name ComposeProject.Write gives the environment file.
const DotEnvFile = ".env"

// defaultFilesDir holds the config files of a project, one folder per service.
const defaultFilesDir = "files"

// ToComposeOptions configures ToCompose.
type ToComposeOptions struct {
	// ProjectName is the compose project name (top-level name:). Default: ProjectName(t).
	ProjectName string
	// FilesDir is the project folder the config files go in, one folder per service below it.
	// Default "files"; "." puts the service folders at the top of the project (airpack's pack
	// does, since the bundle ships every bind source under its own files/ already).
	FilesDir string
	// Random is the source of generated values. Default: crypto/rand.
	Random io.Reader
	// ImageName is the image a component's service runs: the name its image has in the
	// package's archives. Nil, or "" for a component: its share_image. A caller holding the
	// archives gives the component's image (the name it was shipped as, e.g. redis:7) when
	// they tag the share_image's image with it too (airpack pack --ram does).
	ImageName func(c *Component) string
	// Keep gives generated values to reuse, by .env variable name: a "**None**" or
	// "**None:<group>**" variable whose .env name (<SERVICE>_<VARIABLE>, NONE_GROUP_<GROUP>) is
	// a key gets that value instead of a new one. An upgrade keeps its base's (airpack pack
	// --ram --base), so that a generated password stays the one the kept data was set up with.
	// A name no variable generates is ignored.
	Keep map[string]string
}

// ComposeProject is a compose project made from a template.
type ComposeProject struct {
	// YAML is the compose file (ComposeFile).
	YAML []byte
	// DotEnv is the .env file: the published host ports and the generated values.
	DotEnv []byte
	// Files are the config files, by slash path relative to the project directory.
	Files map[string][]byte
	// Warnings say what the project does not carry over from the template (it stays in the
	// x-ram extension), and which variables lost to another source.
	Warnings []string
	// Generated are the .env variables holding generated values, in .env order; Kept those of
	// them whose value came from ToComposeOptions.Keep.
	Generated, Kept []string
}

// Write writes the project into dir (created if needed): ComposeFile, DotEnvFile (mode 0600:
// it holds the generated secrets) and the config files.
func (c *ComposeProject) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ComposeFile), c.YAML, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, DotEnvFile), c.DotEnv, 0o600); err != nil {
		return err
	}
	return c.WriteFiles(dir)
}

// WriteFiles writes the config files alone into dir (created if needed): what the compose
// file bind-mounts, for a caller that hands the compose file and .env over in memory.
func (c *ComposeProject) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range slices.Sorted(maps.Keys(c.Files)) {
		if !filepath.IsLocal(filepath.FromSlash(n)) {
			return fmt.Errorf("write compose project: file %s is outside the project directory", quote(n))
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, c.Files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ToCompose converts t into a compose project (see the top of tocompose.go for the rules).
func ToCompose(t *Template, opts ToComposeOptions) (*ComposeProject, error) {
	if t == nil {
		return nil, errors.New("convert template to compose: no template")
	}
	if len(t.Apps) == 0 {
		return nil, errors.New("convert template to compose: the template has no components (only Kubernetes resources?): nothing for docker compose to run")
	}
	c := &toCompose{t: t, opts: opts, envVars: map[string]string{}, secrets: map[secretKey]string{}}
	if c.opts.ProjectName == "" {
		c.opts.ProjectName = ProjectName(t)
	}
	if !validProjectName(c.opts.ProjectName) {
		return nil, fmt.Errorf("convert template to compose: project name %s: use lowercase letters, digits, '_' and '-', starting with a letter or digit", quote(c.opts.ProjectName))
	}
	if c.opts.FilesDir == "" {
		c.opts.FilesDir = defaultFilesDir
	}
	if c.opts.Random == nil {
		c.opts.Random = rand.Reader
	}
	out, err := c.convert()
	if err != nil {
		return nil, fmt.Errorf("convert template to compose: %w", err)
	}
	return out, nil
}

type toCompose struct {
	t    *Template
	opts ToComposeOptions

	names    []string          // service name of each component
	envVars  map[string]string // .env: name -> value
	envOrder []string
	secrets  map[secretKey]string // (owner, variable) -> .env variable
	// generated are the .env variables holding generated values, kept those whose value is
	// opts.Keep's.
	generated, kept []string
	volumes         map[[2]string]string // (component index, volume_name) -> named volume
	files           map[string][]byte
	warnings        []string

	// envPrefix is each component's .env variable prefix, netAliases the network alias it
	// gets ("" for none); see serviceNames.
	envPrefix, netAliases []string
}

func (c *toCompose) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// label names component i in messages.
func (c *toCompose) label(i int) string {
	l := "component " + quote(c.names[i]) + " (apps[" + itoa(i) + "]"
	if cname := c.t.Apps[i].ServiceCname; cname != c.names[i] {
		l += ", service_cname " + quote(cname)
	}
	return l + ")"
}

func (c *toCompose) convert() (*ComposeProject, error) {
	t := c.t
	if err := c.checkRunnable(); err != nil {
		return nil, err
	}
	c.serviceNames()
	c.files = map[string][]byte{}

	// .env variables: published ports first, then generated values, all in template order, so
	// the same template always gives the same names.
	ports := make([][]servicePort, len(t.Apps))
	hostPorts := map[string][]string{}
	for i := range t.Apps {
		ps, err := c.ports(i)
		if err != nil {
			return nil, err
		}
		ports[i] = ps
		for _, p := range ps {
			if p.envVar != "" {
				k := strconv.Itoa(p.port) + "/" + p.proto
				hostPorts[k] = append(hostPorts[k], c.names[i])
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(hostPorts)) {
		if s := hostPorts[k]; len(s) > 1 {
			c.warnf("services %s all publish port %s on the host by default: give each its own in .env before `docker compose up`", strings.Join(s, ", "), k)
		}
	}
	for i := range t.Apps {
		a := &t.Apps[i]
		for _, list := range [][]Env{a.ServiceEnvMapList, a.ServiceConnectInfoMapList} {
			for _, e := range list {
				if e.AttrValue == RandomValue && e.AttrName != "" {
					if err := c.secret(secretKey{"c" + itoa(i), e.AttrName}, c.envPrefix[i]+"_"+e.AttrName); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	for i := range t.Apps {
		a := &t.Apps[i]
		for _, list := range [][]Env{a.ServiceEnvMapList, a.ServiceConnectInfoMapList} {
			for _, e := range list {
				if group, ok := GroupSecret(e.AttrValue); ok && e.AttrName != "" {
					if err := c.secret(groupSecretKey(group), "NONE_GROUP_"+group); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	c.configGroupPlaceholders()

	deps, err := c.dependencies()
	if err != nil {
		return nil, err
	}
	if err := c.namedVolumes(); err != nil {
		return nil, err
	}

	services := yamlMap()
	for i := range t.Apps {
		svc, err := c.service(i, ports[i], deps[i])
		if err != nil {
			return nil, err
		}
		yamlSet(services, c.names[i], svc)
	}

	root := yamlMap()
	yamlSet(root, "name", yamlStr(c.opts.ProjectName))
	yamlSet(root, "services", services)
	if len(c.volumes) > 0 {
		vols := yamlMap()
		names := make([]string, 0, len(c.volumes))
		for _, v := range c.volumes {
			names = append(names, v)
		}
		sort.Strings(names)
		for _, v := range names {
			yamlSet(vols, v, yamlMap())
		}
		yamlSet(root, "volumes", vols)
	}
	ext, err := TemplateExtension(t)
	if err != nil {
		return nil, err
	}
	yamlSet(root, ExtensionKey, yamlVal(extensionValue(ext)))
	c.warnUnsupported()

	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	root.HeadComment = fmt.Sprintf("Made by airpack from the RAM application template %s %s.\n"+
		"Published host ports and generated values are in .env; %s is the template itself,\n"+
		"so that converting back to a RAM package loses nothing.", quote(t.GroupName), quote(t.GroupVersion), ExtensionKey)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write %s: %w", ComposeFile, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", ComposeFile, err)
	}

	var env bytes.Buffer
	env.WriteString("# Published host ports (<SERVICE>_PORT_<port>) and the values generated for the\n" +
		"# template's \"**None**\" variables (<SERVICE>_<VARIABLE>), each shared by the component\n" +
		"# that declares it and every component that depends on it, and for its \"**None:<group>**\"\n" +
		"# variables (NONE_GROUP_<GROUP>), one value per group shared by every variable naming it.\n")
	for _, k := range c.envOrder {
		v := c.envVars[k]
		if q, ok := dotEnvValue(v); ok {
			v = q // a kept value may need quotes; ports and new values never do
		}
		fmt.Fprintf(&env, "%s=%s\n", k, v)
	}
	return &ComposeProject{YAML: buf.Bytes(), DotEnv: env.Bytes(), Files: c.files, Warnings: c.warnings, Generated: c.generated, Kept: c.kept}, nil
}

// find is FindComponent as an index, -1 when none.
func (c *toCompose) find(key string) int {
	p := c.t.FindComponent(key)
	for i := range c.t.Apps {
		if p == &c.t.Apps[i] {
			return i
		}
	}
	return -1
}

func (c *toCompose) service(i int, ports []servicePort, deps []depEdge) (*yaml.Node, error) {
	a := c.t.Apps[i] // a copy: its x-ram form may differ (config files)
	svc := yamlMap()
	image := a.ShareImage
	if c.opts.ImageName != nil {
		if n := c.opts.ImageName(&c.t.Apps[i]); n != "" {
			image = n
		}
	}
	yamlSet(svc, "image", yamlStr(escape(image)))
	// The platform substitutes ${...} in the variables, then in cmd and the config files with
	// the substituted variables: so does the project, once, here.
	env := c.environment(i, deps)
	r := renderEnv(env, a.Cmd)
	c.platformOnlyWarnings(i, env, r.values)
	if r.cmd != "" {
		yamlSet(svc, "command", yamlStr(r.cmd))
	}
	if len(env) > 0 {
		m := yamlMap()
		sorted := append([]envEntry(nil), env...)
		sort.Slice(sorted, func(x, y int) bool { return sorted[x].name < sorted[y].name })
		for _, e := range sorted {
			yamlSet(m, e.name, yamlStr(r.yaml[e.name]))
		}
		yamlSet(svc, "environment", m)
	}
	values := r.values

	var published, exposed []*yaml.Node
	for _, p := range ports {
		proto := ""
		if p.proto == "udp" {
			proto = "/udp"
		}
		if p.envVar != "" {
			published = append(published, yamlStr(fmt.Sprintf("${%s:-%d}:%d%s", p.envVar, p.port, p.port, proto)))
		} else {
			exposed = append(exposed, yamlStr(strconv.Itoa(p.port)+proto))
		}
	}
	if len(published) > 0 {
		yamlSet(svc, "ports", yamlSeq(published...))
	}
	if len(exposed) > 0 {
		yamlSet(svc, "expose", yamlSeq(exposed...))
	}

	vols, tmpfs, err := c.serviceVolumes(i, &a, values, deps)
	if err != nil {
		return nil, err
	}
	if len(vols) > 0 {
		yamlSet(svc, "volumes", yamlSeq(vols...))
	}
	if len(tmpfs) > 0 {
		yamlSet(svc, "tmpfs", yamlSeq(tmpfs...))
	}

	var order []*yaml.Node
	for _, d := range deps {
		if d.order {
			order = append(order, yamlStr(c.names[d.index]))
		}
	}
	if len(order) > 0 {
		yamlSet(svc, "depends_on", yamlSeq(order...))
	}

	if alias := c.netAliases[i]; alias != "" {
		yamlSet(svc, "networks", networkAlias(alias))
	}
	if hc := c.healthcheck(i, ports); hc != nil {
		yamlSet(svc, "healthcheck", hc)
		svc.Content[len(svc.Content)-2].HeadComment = "From the readiness probe. A cmd probe runs as the platform runs it: its command split at\n" +
			"spaces, without a shell. A tcp or http probe is checked from inside the container with\n" +
			"its /bin/sh and nc/bash or wget/curl: an image without them is reported unhealthy,\n" +
			"which stops nothing: no depends_on waits for health."
	}
	if deploy := c.deploy(i, len(published) > 0); deploy != nil {
		yamlSet(svc, "deploy", deploy)
	}

	ext, err := ComponentExtension(&a)
	if err != nil {
		return nil, err
	}
	yamlSet(svc, ExtensionKey, yamlVal(extensionValue(ext)))
	return svc, nil
}

// deploy is the service's deploy: the memory and cpu limits the platform would install the
// component with, and its instances (min_node) where compose can run them; nil when none.
func (c *toCompose) deploy(i int, published bool) *yaml.Node {
	mem, cpu, replicas, notes := composeResources(&c.t.Apps[i], published)
	for _, n := range notes {
		c.warnf("%s: %s", c.label(i), n)
	}
	deploy := yamlMap()
	if replicas > 0 {
		yamlSet(deploy, "replicas", yamlVal(replicas))
	}
	limits := yamlMap()
	if cpu > 0 {
		yamlSet(limits, "cpus", yamlStr(cpusText(cpu)))
	}
	if mem > 0 {
		yamlSet(limits, "memory", yamlStr(strconv.Itoa(mem)+"M"))
	}
	if len(limits.Content) > 0 {
		res := yamlMap()
		yamlSet(res, "limits", limits)
		yamlSet(deploy, "resources", res)
	}
	if len(deploy.Content) == 0 {
		return nil
	}
	return deploy
}

// checkRunnable refuses what docker compose cannot run at all: virtual machines.
func (c *toCompose) checkRunnable() error {
	for i := range c.t.Apps {
		if a := &c.t.Apps[i]; a.IsVM() {
			return fmt.Errorf("%s is a virtual machine (%s): docker compose cannot run one", componentLabel(i, a), vmMarker(a))
		}
	}
	return nil
}

// vmMarker says what makes a a VM component.
func vmMarker(a *Component) string {
	switch {
	case a.VM != nil:
		return "it has a vm object"
	case a.ExtendMethod == "vm":
		return `extend_method "vm"`
	}
	return `service_source "vm_run"`
}

// warnUnsupported reports what the template holds that compose does not run.
func (c *toCompose) warnUnsupported() {
	t := c.t
	if len(t.Plugins) > 0 {
		c.warnf("the template's %s not run by docker compose (kept in %s)", nWord(len(t.Plugins), "plugin is", "plugins are"), ExtensionKey)
	}
	if len(t.K8sResources) > 0 {
		c.warnf("the template's %s not created by docker compose (kept in %s)", nWord(len(t.K8sResources), "Kubernetes resource is", "Kubernetes resources are"), ExtensionKey)
	}
	for i := range t.Apps {
		if l := t.Apps[i].Labels; len(l) > 0 {
			c.warnf("%s: labels %s are the platform's node-scheduling labels (the nodes it may run on): docker compose does not apply them (kept in %s)", c.label(i), strings.Join(slices.Sorted(maps.Keys(l)), ", "), ExtensionKey)
		}
		switch t.Apps[i].ExtendMethod {
		case Job, CronJob:
			c.warnf("%s is a %s: docker compose runs it once, at `up`", c.label(i), t.Apps[i].ExtendMethod)
		}
	}
}

// escape protects a literal from compose interpolation.
func escape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// extensionValue prepares an x-ram value for the compose file: compose interpolates x-* fields
// too, so every '$' is escaped; JSON numbers that are whole become integers, so they are written
// as such (a float64 would be written 1e+06, which no int field decodes).
func extensionValue(v any) any {
	switch t := v.(type) {
	case string:
		return escape(t)
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
		return t
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = extensionValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = extensionValue(e)
		}
		return s
	}
	return v
}

// YAML nodes, so the compose file keeps a readable key order and comments.

func yamlMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func yamlSeq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

func yamlSet(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, yamlStr(key), v)
}

// yamlStr is a string node, quoted when YAML would read it as something else.
func yamlStr(s string) *yaml.Node { return yamlVal(s) }

func yamlVal(v any) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		// Only strings, numbers, booleans and JSON-shaped maps and lists are encoded.
		panic(fmt.Sprintf("ram: encode %T as YAML: %v", v, err))
	}
	return &n
}
