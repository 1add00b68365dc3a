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
//   - config-file volumes are rendered as the platform renders them (see tcRender) with
//     the values the service gets, generated secrets included, and shipped as files.
//
// A service's environment is gathered from four sources. When two give the same variable, the
// first in this order wins and the other is reported in Warnings, never silently dropped:
//
//  1. the component's own service_env_map_list;
//  2. its own service_connect_info_map_list;
//  3. the service_connect_info_map_list of each dependency, in dep_service_map_list order;
//  4. app_config_groups (injection_type env) naming the component's service_key, in order.
//
// (The platform lets component variables override config groups too.)

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// ComposeFile is the name ComposeProject.Write gives the compose file.
const ComposeFile = "docker-compose.yaml"

// DotEnvFile is the name ComposeProject.Write gives the environment file.
const DotEnvFile = ".env"

// tcFilesDir holds the config files of a project, one folder per service.
const tcFilesDir = "files"

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
	names := make([]string, 0, len(c.Files))
	for n := range c.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
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

// ProjectName is the compose project name for t: its group_name reduced to what compose accepts
// (lowercase letters, digits, '_' and '-', starting with a letter or digit).
func ProjectName(t *Template) string {
	if n := tcSanitize(t.GroupName); n != "" {
		return n
	}
	if k := tcSanitize(t.GroupKey); k != "" {
		return "app-" + k[:min(len(k), 8)]
	}
	return "app"
}

// ToCompose converts t into a compose project (see the top of this file for the rules).
func ToCompose(t *Template, opts ToComposeOptions) (*ComposeProject, error) {
	if t == nil {
		return nil, errors.New("convert template to compose: no template")
	}
	if len(t.Apps) == 0 {
		return nil, errors.New("convert template to compose: the template has no components (only Kubernetes resources?): nothing for docker compose to run")
	}
	c := &tcConverter{t: t, opts: opts, envVars: map[string]string{}, secrets: map[tcSecretKey]string{}}
	if c.opts.ProjectName == "" {
		c.opts.ProjectName = ProjectName(t)
	}
	if !tcValidProjectName(c.opts.ProjectName) {
		return nil, fmt.Errorf("convert template to compose: project name %s: use lowercase letters, digits, '_' and '-', starting with a letter or digit", quote(c.opts.ProjectName))
	}
	if c.opts.FilesDir == "" {
		c.opts.FilesDir = tcFilesDir
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

type tcSecretKey struct {
	owner string // "c<index>" for a component, "g<index>" for a config group
	name  string
}

type tcConverter struct {
	t    *Template
	opts ToComposeOptions

	names    []string          // service name of each component
	envVars  map[string]string // .env: name -> value
	envOrder []string
	secrets  map[tcSecretKey]string // (owner, variable) -> .env variable
	volumes  map[[2]string]string   // (component index, volume_name) -> named volume
	files    map[string][]byte
	warnings []string
}

func (c *tcConverter) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// label names component i in messages.
func (c *tcConverter) label(i int) string {
	l := "component " + quote(c.names[i]) + " (apps[" + itoa(i) + "]"
	if cname := c.t.Apps[i].ServiceCname; cname != c.names[i] {
		l += ", service_cname " + quote(cname)
	}
	return l + ")"
}

func (c *tcConverter) convert() (*ComposeProject, error) {
	t := c.t
	c.serviceNames()
	c.files = map[string][]byte{}

	// .env variables: published ports first, then generated values, all in template order, so
	// the same template always gives the same names.
	ports := make([][]tcPort, len(t.Apps))
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
	for _, k := range tcSortedKeys(hostPorts) {
		if s := hostPorts[k]; len(s) > 1 {
			c.warnf("services %s all publish port %s on the host by default: give each its own in .env before `docker compose up`", strings.Join(s, ", "), k)
		}
	}
	for i := range t.Apps {
		a := &t.Apps[i]
		for _, list := range [][]Env{a.ServiceEnvMapList, a.ServiceConnectInfoMapList} {
			for _, e := range list {
				if e.AttrValue == RandomValue && e.AttrName != "" {
					if err := c.secret(tcSecretKey{"c" + itoa(i), e.AttrName}, c.names[i]+"_"+e.AttrName); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	for gi, g := range t.AppConfigGroups {
		for _, k := range tcSortedKeys(g.ConfigItems) {
			if g.ConfigItems[k] == RandomValue {
				if err := c.secret(tcSecretKey{"g" + itoa(gi), k}, g.Name+"_"+k); err != nil {
					return nil, err
				}
			}
		}
	}

	deps, err := c.dependencies()
	if err != nil {
		return nil, err
	}
	if err := c.namedVolumes(); err != nil {
		return nil, err
	}

	services := tcMap()
	for i := range t.Apps {
		svc, err := c.service(i, ports[i], deps[i])
		if err != nil {
			return nil, err
		}
		tcSet(services, c.names[i], svc)
	}

	root := tcMap()
	tcSet(root, "name", tcStr(c.opts.ProjectName))
	tcSet(root, "services", services)
	if len(c.volumes) > 0 {
		vols := tcMap()
		names := make([]string, 0, len(c.volumes))
		for _, v := range c.volumes {
			names = append(names, v)
		}
		sort.Strings(names)
		for _, v := range names {
			tcSet(vols, v, tcMap())
		}
		tcSet(root, "volumes", vols)
	}
	ext, err := TemplateExtension(t)
	if err != nil {
		return nil, err
	}
	tcSet(root, ExtensionKey, tcVal(tcExtensionValue(ext)))
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
		"# that declares it and every component that depends on it.\n")
	for _, k := range c.envOrder {
		fmt.Fprintf(&env, "%s=%s\n", k, c.envVars[k])
	}
	return &ComposeProject{YAML: buf.Bytes(), DotEnv: env.Bytes(), Files: c.files, Warnings: c.warnings}, nil
}

// serviceNames gives each component a unique compose service name.
func (c *tcConverter) serviceNames() {
	used := map[string]bool{}
	c.names = make([]string, len(c.t.Apps))
	for i := range c.t.Apps {
		a := &c.t.Apps[i]
		n := tcSanitize(a.ServiceCname)
		for _, alt := range []string{a.K8sComponentName, a.ServiceAlias} {
			if n == "" {
				n = tcSanitize(alt)
			}
		}
		if n == "" {
			n = "component-" + itoa(i+1)
		}
		base := n
		for k := 2; used[n]; k++ {
			n = base + "-" + itoa(k)
		}
		used[n] = true
		c.names[i] = n
	}
}

// addEnv adds a .env variable named after base (made a valid, unused name) and returns its name.
func (c *tcConverter) addEnv(base, val string) string {
	n := tcEnvName(base)
	if _, dup := c.envVars[n]; dup {
		b := n
		for k := 2; ; k++ {
			n = b + "_" + itoa(k)
			if _, dup := c.envVars[n]; !dup {
				break
			}
		}
	}
	c.envVars[n] = val
	c.envOrder = append(c.envOrder, n)
	return n
}

func (c *tcConverter) secret(k tcSecretKey, base string) error {
	if _, ok := c.secrets[k]; ok {
		return nil // in both the env and the connection info: one value
	}
	v, err := tcRandomValue(c.opts.Random)
	if err != nil {
		return fmt.Errorf("generate a value for %s: %w", k.name, err)
	}
	c.secrets[k] = c.addEnv(base, v)
	return nil
}

type tcPort struct {
	port   int
	proto  string // tcp or udp
	envVar string // the .env variable of the host port; "" when not published
}

func (c *tcConverter) ports(i int) ([]tcPort, error) {
	var out []tcPort
	seen := map[string]int{}
	for _, p := range c.t.Apps[i].PortMapList {
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			return nil, fmt.Errorf("%s: container_port %d is not a port number", c.label(i), p.ContainerPort)
		}
		proto := "tcp"
		if strings.EqualFold(p.Protocol, "udp") {
			proto = "udp"
		}
		k := strconv.Itoa(p.ContainerPort) + "/" + proto
		if j, dup := seen[k]; dup {
			if p.IsOuterService && out[j].envVar == "" {
				out[j].envVar = c.addEnv(c.names[i]+"_PORT_"+tcPortSuffix(p.ContainerPort, proto), strconv.Itoa(p.ContainerPort))
			}
			continue
		}
		ps := tcPort{port: p.ContainerPort, proto: proto}
		if p.IsOuterService {
			ps.envVar = c.addEnv(c.names[i]+"_PORT_"+tcPortSuffix(p.ContainerPort, proto), strconv.Itoa(p.ContainerPort))
		}
		seen[k] = len(out)
		out = append(out, ps)
	}
	return out, nil
}

func tcPortSuffix(port int, proto string) string {
	if proto == "udp" {
		return strconv.Itoa(port) + "_UDP"
	}
	return strconv.Itoa(port)
}

// dependencies resolves each component's dep_service_map_list to component indexes (in order,
// without repeats), and says which of them depends_on can carry: an edge that would close a
// cycle (which docker compose refuses) is left out of depends_on, with a warning, but its
// connection info still flows.
func (c *tcConverter) dependencies() ([][]tcDep, error) {
	t := c.t
	out := make([][]tcDep, len(t.Apps))
	for i := range t.Apps {
		seen := map[int]bool{}
		for _, d := range t.Apps[i].DepServiceMapList {
			j := c.find(d.DepServiceKey)
			if j < 0 {
				return nil, fmt.Errorf("%s: dep_service_key %s names no component of the template (want a service_share_uuid or service_key)", c.label(i), quote(d.DepServiceKey))
			}
			if j == i {
				c.warnf("%s depends on itself: ignored", c.label(i))
				continue
			}
			if seen[j] {
				continue
			}
			seen[j] = true
			out[i] = append(out[i], tcDep{index: j})
		}
	}
	// Keep an edge i -> j only if j cannot already reach i through kept edges.
	reaches := func(from, to int) bool {
		stack, visited := []int{from}, map[int]bool{}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == to {
				return true
			}
			if visited[n] {
				continue
			}
			visited[n] = true
			for _, d := range out[n] {
				if d.order {
					stack = append(stack, d.index)
				}
			}
		}
		return false
	}
	for i := range out {
		for k := range out[i] {
			d := &out[i][k]
			if reaches(d.index, i) {
				c.warnf("%s and %s depend on each other: depends_on %s is left out (compose refuses cycles); the variables still flow", c.label(i), c.label(d.index), c.names[d.index])
				continue
			}
			d.order = true
		}
	}
	return out, nil
}

type tcDep struct {
	index int
	order bool // written to depends_on
}

// find is FindComponent as an index, -1 when none.
func (c *tcConverter) find(key string) int {
	p := c.t.FindComponent(key)
	for i := range c.t.Apps {
		if p == &c.t.Apps[i] {
			return i
		}
	}
	return -1
}

// namedVolumes names every volume that is not a config file, for its owner and for the
// components that mount it.
func (c *tcConverter) namedVolumes() error {
	c.volumes = map[[2]string]string{}
	used := map[string]bool{}
	for i := range c.t.Apps {
		for _, v := range c.t.Apps[i].ServiceVolumeMapList {
			if v.VolumeType == VolumeConfigFile {
				continue
			}
			if v.VolumeName == "" {
				return fmt.Errorf("%s: a volume (volume_path %s) has no volume_name", c.label(i), quote(v.VolumePath))
			}
			k := [2]string{itoa(i), v.VolumeName}
			if _, dup := c.volumes[k]; dup {
				return fmt.Errorf("%s: two volumes are named %s", c.label(i), quote(v.VolumeName))
			}
			n := tcSanitize(c.names[i] + "-" + v.VolumeName)
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

// tcEnvEntry is one variable of a service.
type tcEnvEntry struct {
	name   string
	yaml   string // what the compose file says: a literal (escaped) or ${VAR}
	actual string // the value the container gets (for rendering config files)
	from   string // the source, for messages
}

// environment gathers the variables of component i (see the top of the file for the order).
func (c *tcConverter) environment(i int, deps []tcDep) []tcEnvEntry {
	a := &c.t.Apps[i]
	var out []tcEnvEntry
	byName := map[string]int{}
	add := func(e Env, owner tcSecretKey, rewriteHost string, from string) {
		if e.AttrName == "" {
			return
		}
		ent := tcEnvEntry{name: e.AttrName, from: from}
		if e.AttrValue == RandomValue {
			owner.name = e.AttrName
			v := c.secrets[owner]
			ent.yaml, ent.actual = "${"+v+"}", c.envVars[v]
		} else {
			val := e.AttrValue
			if rewriteHost != "" {
				val = tcReplaceLoopback(val, rewriteHost)
			}
			ent.yaml, ent.actual = tcEscape(val), val
		}
		if j, dup := byName[ent.name]; dup {
			if out[j].yaml != ent.yaml {
				c.warnf("%s: %s from %s is ignored: %s sets it (precedence: own environment, own connection info, dependencies' connection info, config groups)", c.label(i), ent.name, from, out[j].from)
			}
			return
		}
		byName[ent.name] = len(out)
		out = append(out, ent)
	}
	own := tcSecretKey{owner: "c" + itoa(i)}
	for _, e := range a.ServiceEnvMapList {
		add(e, own, "", "its environment")
	}
	for _, e := range a.ServiceConnectInfoMapList {
		add(e, own, "", "its connection info")
	}
	for _, d := range deps {
		for _, e := range c.t.Apps[d.index].ServiceConnectInfoMapList {
			add(e, tcSecretKey{owner: "c" + itoa(d.index)}, c.names[d.index], "the connection info of "+c.names[d.index])
		}
	}
	for gi, g := range c.t.AppConfigGroups {
		if !tcContains(g.ComponentKeys, a.ServiceKey) || a.ServiceKey == "" {
			continue
		}
		if g.InjectionType != "" && g.InjectionType != "env" {
			c.warnf("%s: config group %s is injected as %s, which compose cannot do: left out", c.label(i), quote(g.Name), quote(g.InjectionType))
			continue
		}
		for _, k := range tcSortedKeys(g.ConfigItems) {
			add(Env{AttrName: k, AttrValue: g.ConfigItems[k]}, tcSecretKey{owner: "g" + itoa(gi)}, "", "config group "+quote(g.Name))
		}
	}
	return out
}

func (c *tcConverter) service(i int, ports []tcPort, deps []tcDep) (*yaml.Node, error) {
	a := c.t.Apps[i] // a copy: its x-ram form may differ (config files)
	svc := tcMap()
	tcSet(svc, "image", tcStr(tcEscape(a.ShareImage)))
	if strings.TrimSpace(a.Cmd) != "" {
		tcSet(svc, "command", tcStr(tcEscape(a.Cmd)))
	}

	env := c.environment(i, deps)
	if len(env) > 0 {
		m := tcMap()
		sorted := append([]tcEnvEntry(nil), env...)
		sort.Slice(sorted, func(x, y int) bool { return sorted[x].name < sorted[y].name })
		for _, e := range sorted {
			tcSet(m, e.name, tcStr(e.yaml))
		}
		tcSet(svc, "environment", m)
	}
	values := map[string]string{}
	for _, e := range env {
		values[e.name] = e.actual
	}

	var published, exposed []*yaml.Node
	for _, p := range ports {
		proto := ""
		if p.proto == "udp" {
			proto = "/udp"
		}
		if p.envVar != "" {
			published = append(published, tcStr(fmt.Sprintf("${%s:-%d}:%d%s", p.envVar, p.port, p.port, proto)))
		} else {
			exposed = append(exposed, tcStr(strconv.Itoa(p.port)+proto))
		}
	}
	if len(published) > 0 {
		tcSet(svc, "ports", tcSeq(published...))
	}
	if len(exposed) > 0 {
		tcSet(svc, "expose", tcSeq(exposed...))
	}

	vols, err := c.serviceVolumes(i, &a, values)
	if err != nil {
		return nil, err
	}
	if len(vols) > 0 {
		tcSet(svc, "volumes", tcSeq(vols...))
	}

	var order []*yaml.Node
	for _, d := range deps {
		if d.order {
			order = append(order, tcStr(c.names[d.index]))
		}
	}
	if len(order) > 0 {
		tcSet(svc, "depends_on", tcSeq(order...))
	}

	if hc := c.healthcheck(i, ports); hc != nil {
		tcSet(svc, "healthcheck", hc)
		svc.Content[len(svc.Content)-2].HeadComment = "From the readiness probe. CMD-SHELL runs the check with the image's /bin/sh: an image\n" +
			"without a shell (or without nc/bash, wget/curl) is reported unhealthy, which stops\n" +
			"nothing: no depends_on waits for health."
	}
	if a.Memory > 0 {
		limits := tcMap()
		tcSet(limits, "memory", tcStr(strconv.Itoa(a.Memory)+"M"))
		res := tcMap()
		tcSet(res, "limits", limits)
		deploy := tcMap()
		tcSet(deploy, "resources", res)
		tcSet(svc, "deploy", deploy)
	}

	ext, err := ComponentExtension(&a)
	if err != nil {
		return nil, err
	}
	tcSet(svc, ExtensionKey, tcVal(tcExtensionValue(ext)))
	return svc, nil
}

// serviceVolumes writes the mounts of component i. Config files are rendered with values and
// shipped; a's config-file volumes get the file_content its x-ram copy keeps: "" when the shipped
// file is the template's content, the template's content when rendering changed it.
func (c *tcConverter) serviceVolumes(i int, a *Component, values map[string]string) ([]*yaml.Node, error) {
	var out []*yaml.Node
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
		rendered := tcRender(content, values)
		file := path.Join(c.opts.FilesDir, c.names[i], rel)
		c.files[file] = []byte(rendered)
		m := tcMap()
		tcSet(m, "type", tcStr("bind"))
		tcSet(m, "source", tcStr(tcEscape("./"+file)))
		tcSet(m, "target", tcStr(tcEscape(tgt)))
		tcSet(m, "read_only", tcVal(true))
		return m, rendered, nil
	}
	vols := make([]Volume, len(a.ServiceVolumeMapList))
	copy(vols, a.ServiceVolumeMapList)
	for k := range vols {
		v := &vols[k]
		what := "volume " + quote(v.VolumeName)
		tgt, err := target(v.VolumePath, what)
		if err != nil {
			return nil, err
		}
		if v.VolumeType == VolumeConfigFile {
			m, rendered, err := configFile(tgt, v.FileContent, "config file "+quote(v.VolumeName))
			if err != nil {
				return nil, err
			}
			if rendered == v.FileContent {
				v.FileContent = "" // the shipped file is the content
			}
			out = append(out, m)
			continue
		}
		out = append(out, tcVolumeMount(c.volumes[[2]string{itoa(i), v.VolumeName}], tgt))
	}
	a.ServiceVolumeMapList = vols

	for _, r := range a.MntRelationList {
		what := "the mount of " + quote(r.MntName)
		j := c.find(r.ServiceShareUUID)
		if j < 0 {
			return nil, fmt.Errorf("%s: mnt_relation_list: service_share_uuid %s names no component of the template", c.label(i), quote(r.ServiceShareUUID))
		}
		var vol *Volume
		for k := range c.t.Apps[j].ServiceVolumeMapList {
			if v := &c.t.Apps[j].ServiceVolumeMapList[k]; v.VolumeName == r.MntName {
				vol = v
				break
			}
		}
		if vol == nil {
			return nil, fmt.Errorf("%s: mnt_relation_list: %s has no volume named %s", c.label(i), c.label(j), quote(r.MntName))
		}
		what += " of " + c.names[j]
		tgt, err := target(r.MntDir, what)
		if err != nil {
			return nil, err
		}
		if vol.VolumeType == VolumeConfigFile {
			// The platform renders another component's config file with the values of the
			// component mounting it.
			m, _, err := configFile(tgt, vol.FileContent, what)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
			continue
		}
		out = append(out, tcVolumeMount(c.volumes[[2]string{itoa(j), r.MntName}], tgt))
	}
	return out, nil
}

func tcVolumeMount(name, target string) *yaml.Node {
	m := tcMap()
	tcSet(m, "type", tcStr("volume"))
	tcSet(m, "source", tcStr(name))
	tcSet(m, "target", tcStr(tcEscape(target)))
	return m
}

// healthcheck is the readiness probe as a compose healthcheck, nil when there is none.
func (c *tcConverter) healthcheck(i int, ports []tcPort) *yaml.Node {
	var p *Probe
	for k := range c.t.Apps[i].Probes {
		if pr := &c.t.Apps[i].Probes[k]; pr.IsUsed && (pr.Mode == "readiness" || pr.Mode == "") {
			p = pr
			break
		}
	}
	if p == nil {
		return nil
	}
	port := p.Port
	if port == 0 && len(ports) > 0 {
		port = ports[0].port
	}
	var test string
	switch strings.ToLower(p.Scheme) {
	case "tcp":
		if port == 0 {
			c.warnf("%s: the tcp readiness probe names no port: no healthcheck", c.label(i))
			return nil
		}
		test = fmt.Sprintf("nc -z 127.0.0.1 %d || bash -c ': >/dev/tcp/127.0.0.1/%d'", port, port)
	case "http", "https":
		if port == 0 {
			c.warnf("%s: the http readiness probe names no port: no healthcheck", c.label(i))
			return nil
		}
		pth := p.Path
		if !strings.HasPrefix(pth, "/") {
			pth = "/" + pth
		}
		url := tcShellQuote(fmt.Sprintf("http://127.0.0.1:%d%s", port, pth))
		test = fmt.Sprintf("wget -q -O /dev/null %s || curl -fsS -o /dev/null %s", url, url)
	case "cmd":
		if strings.TrimSpace(p.Cmd) == "" {
			c.warnf("%s: the cmd readiness probe has no command: no healthcheck", c.label(i))
			return nil
		}
		test = p.Cmd
	default:
		c.warnf("%s: readiness probe scheme %s is not supported: no healthcheck", c.label(i), quote(p.Scheme))
		return nil
	}
	hc := tcMap()
	tcSet(hc, "test", tcSeq(tcStr("CMD-SHELL"), tcStr(tcEscape(test))))
	for _, d := range []struct {
		key string
		sec int
	}{{"interval", p.PeriodSecond}, {"timeout", p.TimeoutSecond}, {"start_period", p.InitialDelaySecond}} {
		if d.sec > 0 {
			tcSet(hc, d.key, tcStr(strconv.Itoa(d.sec)+"s"))
		}
	}
	if p.FailureThreshold > 0 {
		tcSet(hc, "retries", tcVal(p.FailureThreshold))
	}
	return hc
}

// warnUnsupported reports what the template holds that compose does not run.
func (c *tcConverter) warnUnsupported() {
	t := c.t
	if len(t.Plugins) > 0 {
		c.warnf("the template's %d plugins are not run by docker compose (kept in %s)", len(t.Plugins), ExtensionKey)
	}
	if len(t.K8sResources) > 0 {
		c.warnf("the template's %d Kubernetes resources are not created by docker compose (kept in %s)", len(t.K8sResources), ExtensionKey)
	}
	for i := range t.Apps {
		switch t.Apps[i].ExtendMethod {
		case Job, CronJob:
			c.warnf("%s is a %s: docker compose runs it once, at `up`", c.label(i), t.Apps[i].ExtendMethod)
		}
	}
}

// tcRender renders ${VAR} references in a config file the way the platform does when it
// makes the file's ConfigMap (rainbond util.ParseVariable): each "${...}" (shortest match, on one
// line) names a variable, optionally with a default after a colon — the text up to the next
// colon, so ${X:-d} defaults to "-d"; a known variable is replaced by its value, an unknown one
// by its default, or left as it is when it has none. Each distinct reference is replaced
// everywhere it occurs, one after another in order of first appearance.
func tcRender(content string, values map[string]string) string {
	for _, ref := range tcVarRef.FindAllString(content, -1) {
		key, def := tcVarKey(ref)
		if v, ok := values[key]; ok {
			content = strings.ReplaceAll(content, ref, v)
		} else if def != "" {
			content = strings.ReplaceAll(content, ref, def)
		}
	}
	return content
}

var tcVarRef = regexp.MustCompile(`(?U)\$\{.*\}`)

func tcVarKey(ref string) (key, def string) {
	if len(ref) < 4 {
		return "", ""
	}
	k := ref[strings.IndexByte(ref, '{')+1 : strings.IndexByte(ref, '}')]
	if parts := strings.Split(k, ":"); len(parts) > 1 {
		return parts[0], parts[1]
	}
	return k, ""
}

// tcReplaceLoopback replaces the loopback host names 127.0.0.1 and localhost in s by host where
// they stand as a whole host name: alone, or inside a URL or host:port.
func tcReplaceLoopback(s, host string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := ""
		for _, lo := range []string{"127.0.0.1", "localhost"} {
			if strings.HasPrefix(s[i:], lo) && (i == 0 || !tcHostChar(s[i-1])) && (i+len(lo) == len(s) || !tcHostChar(s[i+len(lo)])) {
				matched = lo
				break
			}
		}
		if matched != "" {
			b.WriteString(host)
			i += len(matched)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func tcHostChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

// tcRandomValue is 24 random letters and digits (about 143 bits): safe in URLs, shells and
// config files alike.
func tcRandomValue(r io.Reader) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const n = 24
	out := make([]byte, 0, n)
	buf := make([]byte, 32)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 248 = 4*62: reject the rest so every character is equally likely.
			if b < 248 && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// tcSanitize reduces s to a compose name: lowercase [a-z0-9_-], Latin letters with diacritics
// transliterated, anything else a '-', runs of '-' collapsed, starting and ending with a letter
// or digit. "" when nothing is left (a name in Chinese, say).
func tcSanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-':
			b.WriteRune(r)
		case r < 0x80:
			b.WriteByte('-')
		default:
			if t, ok := tcTranslit[r]; ok {
				b.WriteString(t)
			} else {
				b.WriteByte('-')
			}
		}
	}
	n := b.String()
	for strings.Contains(n, "--") {
		n = strings.ReplaceAll(n, "--", "-")
	}
	return strings.Trim(n, "-_")
}

// tcTranslit spells common lowercase Latin letters with diacritics in ASCII.
var tcTranslit = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'þ': "th", 'ð': "d", 'đ': "d", 'ł': "l", 'ı': "i"}
	for base, letters := range map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ď", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥħ",
		"i": "ìíîïĩīĭįǐ", "j": "ĵ", "k": "ķ", "l": "ĺļľŀ", "n": "ñńņňŉ", "o": "òóôõöōŏőǒ",
		"r": "ŕŗř", "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûüũūŭůűųǔǖǘǚǜ", "w": "ŵ", "y": "ýÿŷ", "z": "źżž",
	} {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// tcEnvName makes s a .env variable name: uppercase letters, digits and single '_' (anything else
// becomes one), not starting with a digit.
func tcEnvName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
	}
	n := strings.TrimSuffix(b.String(), "_")
	if n == "" {
		n = "VAR"
	}
	if n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	return n
}

// tcValidProjectName is compose's rule for project names.
func tcValidProjectName(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '_' || r == '-')) {
			return false
		}
	}
	return s != ""
}

// tcEscape protects a literal from compose interpolation.
func tcEscape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// tcShellQuote quotes s for sh.
func tcShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// tcExtensionValue prepares an x-ram value for the compose file: compose interpolates x-* fields
// too, so every '$' is escaped; JSON numbers that are whole become integers, so they are written
// as such (a float64 would be written 1e+06, which no int field decodes).
func tcExtensionValue(v any) any {
	switch t := v.(type) {
	case string:
		return tcEscape(t)
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
		return t
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = tcExtensionValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = tcExtensionValue(e)
		}
		return s
	}
	return v
}

func tcContains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func tcSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// YAML nodes, so the compose file keeps a readable key order and comments.

func tcMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func tcSeq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

func tcSet(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, tcStr(key), v)
}

// tcStr is a string node, quoted when YAML would read it as something else.
func tcStr(s string) *yaml.Node { return tcVal(s) }

func tcVal(v any) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		// Only strings, numbers, booleans and JSON-shaped maps and lists are encoded.
		panic(fmt.Sprintf("ram: encode %T as YAML: %v", v, err))
	}
	return &n
}
