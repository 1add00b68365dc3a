package ram

// Environment, both directions: .env variables and the values generated for "**None**", a
// service's variables and their precedence, ${VAR} rendering of config files, and the values a
// compose file hands back to a template.

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

type secretKey struct {
	owner string // "c<index>" for a component, "g<index>" for a config group
	name  string
}

// addEnv adds a .env variable named after base (made a valid, unused name) and returns its name.
func (c *toCompose) addEnv(base, val string) string {
	n := c.newEnvName(base)
	c.envVars[n] = val
	c.envOrder = append(c.envOrder, n)
	return n
}

// newEnvName is the .env variable name addEnv gives base: made valid, and unused (a _2, _3, …
// suffix), so the same template always gives the same names.
func (c *toCompose) newEnvName(base string) string {
	n := envName(base)
	if _, dup := c.envVars[n]; dup {
		b := n
		for k := 2; ; k++ {
			n = b + "_" + itoa(k)
			if _, dup := c.envVars[n]; !dup {
				break
			}
		}
	}
	return n
}

// secret gives the variable k its generated value, once, in a .env variable named after base:
// the value opts.Keep gives that .env name when it gives one .env can carry, else a new one.
func (c *toCompose) secret(k secretKey, base string) error {
	if _, ok := c.secrets[k]; ok {
		return nil // in both the env and the connection info: one value
	}
	n := c.newEnvName(base)
	v, kept := c.opts.Keep[n]
	if kept {
		if _, ok := dotEnvValue(v); !ok {
			c.warnf(".env: the value given to keep for %s cannot be written to .env as it is (empty, or a quote with a backslash or line break): a new one is generated", n)
			kept = false
		}
	}
	if !kept {
		var err error
		if v, err = generateValue(c.opts.Random); err != nil {
			return fmt.Errorf("generate a value for %s: %w", k.name, err)
		}
	}
	c.envVars[n] = v
	c.envOrder = append(c.envOrder, n)
	c.secrets[k] = n
	c.generated = append(c.generated, n)
	if kept {
		c.kept = append(c.kept, n)
	}
	return nil
}

// dotEnvValue is v as a .env line writes it, read back as v by the compose loader (no
// interpolation, no escapes): as is when it has only letters, digits and -_.+/=:@%,~^; else in
// single quotes. False when neither reads back as v: an empty value (kept values only), or one
// with a single quote, a backslash or a line break that needs quoting.
func dotEnvValue(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+/=:@%,~^") == "" {
		return v, true
	}
	if strings.ContainsAny(v, "'\\\n\r") {
		return "", false
	}
	return "'" + v + "'", true
}

// envEntry is one variable of a service.
type envEntry struct {
	name   string
	yaml   string // what the compose file says: a literal (escaped) or ${VAR}
	actual string // the value as the template gives it (generated values included)
	gen    string // the .env variable holding it, when it is a generated value
	from   string // the source, for messages
}

// GroupSecret reports whether v is "**None:<group>**", one value generated per group at install
// and shared by every variable of every component naming the group (console
// market_app/utils.py _resolve_none_value: an exact match, the group everything between
// "**None:" and the final "**", possibly empty), and returns the group.
func GroupSecret(v string) (string, bool) {
	const pre, suf = "**None:", "**"
	if len(v) >= len(pre)+len(suf) && strings.HasPrefix(v, pre) && strings.HasSuffix(v, suf) {
		return v[len(pre) : len(v)-len(suf)], true
	}
	return "", false
}

// placeholder reports whether v is generated at install: RandomValue or a group secret.
func placeholder(v string) bool {
	_, g := GroupSecret(v)
	return g || v == RandomValue
}

// groupSecretKey is the secrets key of a "**None:<group>**" value.
func groupSecretKey(group string) secretKey { return secretKey{owner: "none-group", name: group} }

// rendered is a service's environment and start command as the platform gives them to the
// container (rainbond worker/appm/conversion/version.go createEnv, createArgs): every value,
// then cmd, with its ${...} references substituted (Substitute).
type rendered struct {
	yaml   map[string]string // variable -> what the compose file says
	values map[string]string // variable -> the value the container gets
	cmd    string            // the compose command ("" when none)
}

// renderEnv substitutes the references in the variables of env (with the template's values, as
// the platform does, one pass), then in cmd (with the substituted values). Generated values
// stay compose references to .env, so that the variables sharing them keep sharing them.
func renderEnv(env []envEntry, cmd string) rendered {
	raw, marked := map[string]string{}, map[string]string{}
	refs := map[string]string{} // marker -> ${VAR}
	for k, e := range env {
		raw[e.name] = e.actual
		marked[e.name] = e.actual
		if e.gen != "" {
			m := "\x00" + itoa(k) + "\x00" // never in a reference, never matched by one
			marked[e.name], refs[m] = m, "${"+e.gen+"}"
		}
	}
	toYAML := func(s string) string {
		s = escape(s)
		for m, r := range refs {
			s = strings.ReplaceAll(s, m, r)
		}
		return s
	}
	r := rendered{yaml: map[string]string{}, values: map[string]string{}}
	finalMarked := map[string]string{}
	for _, e := range env {
		if e.gen != "" {
			r.yaml[e.name], r.values[e.name], finalMarked[e.name] = e.yaml, e.actual, marked[e.name]
			continue
		}
		r.values[e.name] = Substitute(e.actual, raw)
		finalMarked[e.name] = Substitute(e.actual, marked)
		r.yaml[e.name] = toYAML(finalMarked[e.name])
	}
	if strings.TrimSpace(cmd) != "" {
		r.cmd = toYAML(Substitute(cmd, finalMarked))
	}
	return r
}

// configGroupPlaceholders warns about each config-group item whose value is "**None**" or
// "**None:<group>**": the console generates values in a component's variables and connection
// info only and installs these as text (facts §7), and so does compose.
func (c *toCompose) configGroupPlaceholders() {
	for _, g := range c.t.AppConfigGroups {
		for _, k := range slices.Sorted(maps.Keys(g.ConfigItems)) {
			if v := g.ConfigItems[k]; placeholder(v) {
				c.warnf("config group %s: %s is %s, which the console installs as that text in a config group (it generates values in a component's variables and connection info only): compose gets the same text; give the item a value, or move the variable to the connection info of the component providing it", quote(g.Name), k, quote(v))
			}
		}
	}
}

// environment gathers the variables of component i (see the top of tocompose.go for the order).
func (c *toCompose) environment(i int, deps []depEdge) []envEntry {
	a := &c.t.Apps[i]
	var out []envEntry
	byName := map[string]int{}
	// groupLiteral: the console resolves "**None**" and "**None:<group>**" in the component
	// lists only (configGroupPlaceholders warns).
	// ownLoopback: the component's own variables, where 127.0.0.1:PORT is a dependency.
	groupLiteral, ownLoopback := false, false
	// siblings: the values the component itself sets, for pairing DB_HOST with DB_PORT.
	siblings := map[string]string{}
	for _, list := range [][]Env{a.ServiceConnectInfoMapList, a.ServiceEnvMapList} {
		for _, e := range list {
			siblings[e.AttrName] = e.AttrValue
		}
	}
	add := func(e Env, owner secretKey, rewriteHost string, from string) {
		if e.AttrName == "" {
			return
		}
		ent := envEntry{name: e.AttrName, from: from}
		if group, ok := GroupSecret(e.AttrValue); ok && !groupLiteral {
			v := c.secrets[groupSecretKey(group)]
			ent.yaml, ent.actual, ent.gen = "${"+v+"}", c.envVars[v], v
		} else if e.AttrValue == RandomValue && !groupLiteral {
			owner.name = e.AttrName
			v := c.secrets[owner]
			ent.yaml, ent.actual, ent.gen = "${"+v+"}", c.envVars[v], v
		} else {
			val := e.AttrValue
			if rewriteHost != "" {
				val = replaceLoopback(val, rewriteHost)
			} else if ownLoopback && bareLoopback(val) {
				val = c.bareLoopback(i, deps, e.AttrName, val, siblings)
			} else if ownLoopback {
				val = c.ownLoopback(i, deps, e.AttrName, val)
			}
			ent.yaml, ent.actual = escape(val), val
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
	own := secretKey{owner: "c" + itoa(i)}
	ownLoopback = true
	for _, e := range a.ServiceEnvMapList {
		add(e, own, "", "its environment")
	}
	ownLoopback = false
	for _, e := range a.ServiceConnectInfoMapList {
		add(e, own, "", "its connection info")
	}
	for _, d := range deps {
		for _, e := range c.t.Apps[d.index].ServiceConnectInfoMapList {
			add(e, secretKey{owner: "c" + itoa(d.index)}, c.names[d.index], "the connection info of "+c.names[d.index])
		}
		// The port variables the console writes for each port (facts §3a ensure_port_envs),
		// _HOST the dependency's address: its service name here. A variable the template sets
		// itself wins, silently, as on the platform. A port without port_alias is named after
		// the service_alias the console makes at install: no template can name it.
		for _, p := range c.t.Apps[d.index].PortMapList {
			if p.PortAlias == "" {
				continue
			}
			pre := strings.ToUpper(p.PortAlias)
			for _, v := range []Env{{AttrName: pre + "_HOST", AttrValue: c.names[d.index]}, {AttrName: pre + "_PORT", AttrValue: itoa(p.ContainerPort)}} {
				if _, set := byName[v.AttrName]; !set {
					add(v, secretKey{}, "", "the port variables of "+c.names[d.index])
				}
			}
		}
	}
	groupLiteral = true
	for gi, g := range c.t.AppConfigGroups {
		if !slices.Contains(g.ComponentKeys, a.ServiceKey) || a.ServiceKey == "" {
			continue
		}
		if g.InjectionType != "" && g.InjectionType != "env" {
			c.warnf("%s: config group %s is injected as %s, which compose cannot do: left out", c.label(i), quote(g.Name), quote(g.InjectionType))
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(g.ConfigItems)) {
			add(Env{AttrName: k, AttrValue: g.ConfigItems[k]}, secretKey{owner: "g" + itoa(gi)}, "", "config group "+quote(g.Name))
		}
	}
	return out
}

// platformOnlyWarnings warns about each ${...} in a value, the command or a config file of
// component i that names a variable the platform defines in its container and compose does not
// (the worker's own, its own port variables, ...; containerVariables): compose leaves it, or
// gives its default, where the platform gives the variable's value. values are the service's
// variables as rendered.
func (c *toCompose) platformOnlyWarnings(i int, env []envEntry, values map[string]string) {
	a := &c.t.Apps[i]
	defined := containerVariables(c.t, i)
	check := func(where, text string) {
		seen := map[string]bool{}
		for _, ref := range varRef.FindAllString(text, -1) {
			key, def := varKey(ref)
			if _, platform := defined[key]; !platform || seen[ref] {
				continue
			}
			if _, here := values[key]; here {
				continue
			}
			seen[ref] = true
			what := "is left as is"
			if def != "" {
				what = fmt.Sprintf("becomes %q", def)
			}
			c.warnf("%s: %s%s %s: the platform defines %s, compose does not", c.label(i), where, ref, what, key)
		}
	}
	for _, e := range env {
		if e.gen == "" {
			check(e.name+": ", e.actual)
		}
	}
	check("command: ", a.Cmd)
	for _, v := range a.ServiceVolumeMapList {
		if v.VolumeType == VolumeConfigFile {
			check("config file "+v.VolumePath+": ", v.FileContent)
		}
	}
	for _, r := range a.MntRelationList {
		if j := c.find(r.ServiceShareUUID); j >= 0 {
			for _, v := range c.t.Apps[j].ServiceVolumeMapList {
				if v.VolumeName == r.MntName && v.VolumeType == VolumeConfigFile {
					check("config file "+r.MntDir+": ", v.FileContent)
				}
			}
		}
	}
}

// Substitute replaces ${NAME} and ${NAME:default} references in s exactly as the platform does
// (goodrain/rainbond util/comman.go ParseVariable): in env values, the start command (cmd) and
// config-file contents, never in probes. Each "${...}" on one line (the shortest match: the
// first "}" closes it) is a reference; its key is the text between the first "{" and that "}",
// split at ":" into the name and a default, the default being only the text up to the next
// colon (so ${X:-d} defaults to "-d" and ${URL:http://h:80} to "http"). A defined name is
// replaced by its value (even an empty one), an undefined one by its non-empty default, else
// the reference is left as it is. The references are found once, then each is replaced
// everywhere in turn, in order of appearance: values are not expanded again, unless a later
// reference of the original text happens to stand in one. There is no escape: $${A} and \${A}
// are replaced too. Names are exact (case and spaces count).
func Substitute(s string, vars map[string]string) string {
	for _, ref := range varRef.FindAllString(s, -1) {
		if v, ok := refValue(ref, vars); ok {
			s = strings.ReplaceAll(s, ref, v)
		}
	}
	return s
}

// refValue is what the platform replaces the reference ref by, false when it leaves it.
func refValue(ref string, vars map[string]string) (string, bool) {
	key, def := varKey(ref)
	if v, ok := vars[key]; ok {
		return v, true
	}
	return def, def != ""
}

var varRef = regexp.MustCompile(`(?U)\$\{.*\}`)

func varKey(ref string) (key, def string) {
	if len(ref) < 4 {
		return "", ""
	}
	k := ref[strings.IndexByte(ref, '{')+1 : strings.IndexByte(ref, '}')]
	if parts := strings.Split(k, ":"); len(parts) > 1 {
		return parts[0], parts[1]
	}
	return k, ""
}

// substitution is one reference the platform replaces.
type substitution struct {
	ref, name, value string
	defined          bool   // replaced by the variable's value, not by its default
	colon            bool   // the ${NAME:default} form (a colon in the reference)
	rest             string // after the first colon: a shell's ${NAME:-d} has "-d"
}

// rule is the form of the platform's substitution the reference has, for messages.
func (s substitution) rule() string {
	if s.colon {
		return "${NAME:default}"
	}
	return "${NAME}"
}

// shellForm is ${NAME-d} for a shell's ${NAME:-d} whose d has no colon: the platform leaves it
// (its name, up to a colon, is "NAME-d", which nothing defines) and a shell gives it the same
// value as ${NAME:-d} unless NAME is set but empty. "" when there is none.
func (s substitution) shellForm() string {
	if d, ok := strings.CutPrefix(s.rest, "-"); ok && !strings.Contains(d, ":") {
		return "${" + s.name + "-" + d + "}"
	}
	return ""
}

// substitutions lists the distinct references in s the platform replaces, given the names it
// defines (values unknown: defined[name] == "" is fine).
func substitutions(s string, defined map[string]string) []substitution {
	var out []substitution
	seen := map[string]bool{}
	for _, ref := range varRef.FindAllString(s, -1) {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		key, def := varKey(ref)
		_, rest, colon := strings.Cut(ref[strings.IndexByte(ref, '{')+1:len(ref)-1], ":")
		sub := substitution{ref: ref, name: key, colon: colon, rest: rest}
		if v, ok := defined[key]; ok {
			sub.value, sub.defined = v, true
		} else if def != "" {
			sub.value = def
		} else {
			continue
		}
		out = append(out, sub)
	}
	return out
}

// replaceLoopback replaces the loopback host names 127.0.0.1 and localhost in s by host where
// they stand as a whole host name: alone, or inside a URL or host:port.
func replaceLoopback(s, host string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := ""
		for _, lo := range []string{"127.0.0.1", "localhost"} {
			if strings.HasPrefix(s[i:], lo) && (i == 0 || !hostChar(s[i-1])) && (i+len(lo) == len(s) || !hostChar(s[i+len(lo)])) {
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

// ownLoopback points 127.0.0.1:PORT and localhost:PORT in the value of the component's own
// variable name at the dependency listening on PORT. On the platform, in service-mesh mode, a
// component reaches each dependency at 127.0.0.1 on the dependency's port; in compose,
// 127.0.0.1 is the container itself. A port no dependency has is the component's own (left,
// silently, when it is one of its ports; else with a warning), and a port several
// dependencies have, or a dependency and the component itself, is left with a warning.
func (c *toCompose) ownLoopback(i int, deps []depEdge, name, val string) string {
	if !strings.Contains(val, "127.0.0.1:") && !strings.Contains(val, "localhost:") {
		return val
	}
	owners := map[int][]string{}
	for _, d := range deps {
		for _, p := range c.t.Apps[d.index].PortMapList {
			if n := c.names[d.index]; !slices.Contains(owners[p.ContainerPort], n) {
				owners[p.ContainerPort] = append(owners[p.ContainerPort], n)
			}
		}
	}
	own := map[int]bool{}
	for _, p := range c.t.Apps[i].PortMapList {
		own[p.ContainerPort] = true
	}
	var b strings.Builder
	for k := 0; k < len(val); {
		host := ""
		for _, lo := range []string{"127.0.0.1:", "localhost:"} {
			if strings.HasPrefix(val[k:], lo) && (k == 0 || !hostChar(val[k-1])) {
				host = lo
			}
		}
		end := k + len(host)
		for end < len(val) && val[end] >= '0' && val[end] <= '9' {
			end++
		}
		if host == "" || end == k+len(host) {
			b.WriteByte(val[k])
			k++
			continue
		}
		port, _ := strconv.Atoi(val[k+len(host) : end])
		addr := val[k:end]
		switch o := owners[port]; {
		case len(o) == 1 && !own[port]:
			b.WriteString(o[0] + ":" + val[k+len(host):end])
			k = end
			continue
		case len(o) > 0:
			who := strings.Join(o, ", ")
			if own[port] {
				who += " and the component itself"
			}
			c.warnf("%s: %s: %s could be %s (the platform's mesh serves each dependency on 127.0.0.1 at its port): left as is, which in compose is the container itself", c.label(i), name, addr, who)
		case !own[port]:
			c.warnf("%s: %s: %s is no port of its dependencies nor its own: left as is, which in compose is the container itself", c.label(i), name, addr)
		}
		b.WriteString(addr)
		k = end
	}
	return b.String()
}

// loopbackNamed reports whether shipped is rendered with some of its 127.0.0.1:PORT and
// localhost:PORT written NAME:PORT, NAME one of names: how ToCompose points a config file at the
// dependency the platform's mesh serves on that port (ownLoopback).
func loopbackNamed(rendered, shipped string, names []string) bool {
	i, j := 0, 0
	for i < len(rendered) && j < len(shipped) {
		named := false
		for _, lo := range []string{"127.0.0.1:", "localhost:"} {
			if !strings.HasPrefix(rendered[i:], lo) || i > 0 && hostChar(rendered[i-1]) {
				continue
			}
			for _, n := range names {
				if strings.HasPrefix(shipped[j:], n+":") {
					i, j, named = i+len(lo), j+len(n)+1, true
					break
				}
			}
			break
		}
		if named {
			continue
		}
		if rendered[i] != shipped[j] {
			return false
		}
		i, j = i+1, j+1
	}
	return i == len(rendered) && j == len(shipped)
}

// bareLoopback reports whether v is exactly a loopback host name, with no port.
func bareLoopback(v string) bool { return v == "127.0.0.1" || v == "localhost" }

// hostSuffixes end the names of variables holding a host, whose port may be a sibling
// variable ending in _PORT instead (DB_HOST, DB_PORT).
var hostSuffixes = []string{"_HOST", "_HOSTNAME", "_ADDR", "_ADDRESS", "_SERVER"}

// bareLoopback points the component's own variable name, whose value is exactly 127.0.0.1 or
// localhost, at the dependency it means: its only dependency (unless the name says it is an
// address the component listens on or binds to), or the one dependency its name (<PORT_ALIAS>_HOST)
// or a sibling <PREFIX>_PORT holding a dependency's port pairs it with. The template's author
// meant the platform's service-mesh mode, where 127.0.0.1 reaches each dependency; in compose,
// and on the platform in the native mode current consoles install every app in, it is the
// container itself. A component with dependencies whose value names none of them gets a warning.
func (c *toCompose) bareLoopback(i int, deps []depEdge, name, val string, siblings map[string]string) string {
	if len(deps) == 0 {
		return val
	}
	ownPorts := map[int]bool{}
	for _, p := range c.t.Apps[i].PortMapList {
		ownPorts[p.ContainerPort] = true
	}
	listen := strings.Contains(name, "LISTEN") || strings.Contains(name, "BIND")
	var cands []int
	addCand := func(d int) {
		if !slices.Contains(cands, d) {
			cands = append(cands, d)
		}
	}
	if len(deps) == 1 && !listen {
		addCand(deps[0].index)
	}
	prefix := ""
	for _, suf := range hostSuffixes {
		if p, ok := strings.CutSuffix(name, suf); ok && p != "" {
			prefix = p
			break
		}
	}
	port, err := strconv.Atoi(siblings[prefix+"_PORT"])
	for _, d := range deps {
		for _, p := range c.t.Apps[d.index].PortMapList {
			if p.PortAlias != "" && name == strings.ToUpper(p.PortAlias)+"_HOST" {
				addCand(d.index)
			}
			if prefix != "" && err == nil && p.ContainerPort == port && !ownPorts[port] {
				addCand(d.index)
			}
		}
	}
	if len(cands) == 1 {
		return c.names[cands[0]]
	}
	var names []string
	for _, d := range deps {
		if n := c.names[d.index]; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	c.warnf("%s: %s=%s is the container itself under compose, and on the platform too unless the app is switched to service-mesh mode (consoles install apps in native mode): left as is; if it means a dependency, set it to the service name of the dependency it means (%s)", c.label(i), name, val, strings.Join(names, ", "))
	return val
}

func hostChar(c byte) bool {
	return asciiAlnum(rune(c)) || c == '.' || c == '-' || c == '_'
}

// generateValue is 24 random letters and digits (about 143 bits): safe in URLs, shells and
// config files alike.
func generateValue(r io.Reader) (string, error) {
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

func (c *fromCompose) env(scope string, s types.ServiceConfig) []Env {
	var out []Env
	var unset []string
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
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

// mergeEnv updates the component's own variables and connection info with the compose values
// and adds the compose variables that are the component's own: not injected by a dependency's
// connection info or an app_config_group. A variable removed from the compose file is removed.
func (c *fromCompose) mergeEnv(s types.ServiceConfig, e Component) ([]Env, []Env) {
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
			if !placeholder(v.AttrValue) && !c.renderedSame(v.AttrValue, *got, env) {
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
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if v := env[k]; !known[k] && v != nil {
			added = append(added, Env{AttrName: k, AttrValue: *v, IsChange: true})
		}
	}
	added, moved := c.noGenerated(s.Name, added)
	return append(own, added...), append(conn, moved...)
}

// injected lists the variables the platform gives component e without e declaring them: its
// dependencies' connection info and port variables (<PORT_ALIAS>_HOST, _PORT) and the
// app_config_groups naming it.
func (c *fromCompose) injected(e Component) []string {
	var out []string
	for _, d := range e.DepServiceMapList {
		for _, n := range c.names {
			if id := c.ids[n]; id.uuid == d.DepServiceKey || id.key == d.DepServiceKey {
				if dep := c.ext[n]; dep != nil {
					for _, v := range dep.ServiceConnectInfoMapList {
						out = append(out, v.AttrName)
					}
					for _, p := range dep.PortMapList {
						if p.PortAlias != "" {
							out = append(out, strings.ToUpper(p.PortAlias)+"_HOST", strings.ToUpper(p.PortAlias)+"_PORT")
						}
					}
				}
			}
		}
	}
	if c.template != nil {
		for _, g := range c.template.AppConfigGroups {
			if slices.Contains(g.ComponentKeys, e.ServiceKey) {
				out = append(out, slices.Sorted(maps.Keys(g.ConfigItems))...)
			}
		}
	}
	return out
}

// renderedSame reports whether got is orig as ToCompose writes it into a service: the same, or
// with the loopback host (127.0.0.1, localhost) replaced by a service name, the dependency's
// address on the compose network, and either way with its ${...} references substituted from
// the service's environment env, as the platform would.
func (c *fromCompose) renderedSame(orig, got string, env types.MappingWithEquals) bool {
	if orig == got {
		return true
	}
	values := envValues(env)
	cands := []string{orig}
	if strings.Contains(orig, "127.0.0.1") || strings.Contains(orig, "localhost") {
		for _, n := range c.names {
			cands = append(cands, replaceLoopback(orig, n))
		}
	}
	for _, x := range cands {
		if x == got || strings.Contains(x, "${") && (Substitute(x, values) == got || rendersTo(x, got)) {
			return true
		}
	}
	return false
}

func envValues(env types.MappingWithEquals) map[string]string {
	values := map[string]string{}
	for k, v := range env {
		if v != nil {
			values[k] = *v
		}
	}
	return values
}

// generatedValues finds the values the bundle generated for the template's RandomValue
// variables: the compose values of the variables that are RandomValue in an x-ram.
func (c *fromCompose) generatedValues() {
	c.generated = map[string]generatedValue{}
	note := func(v *string, what string, ph string) {
		if v != nil && *v != "" && !placeholder(*v) {
			if _, group := GroupSecret(ph); group || c.generated[*v].what == "" {
				c.generated[*v] = generatedValue{what: what, placeholder: ph}
			}
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
					note(env[v.AttrName], v.AttrName+" of "+name, RandomValue)
				} else if group, ok := GroupSecret(v.AttrValue); ok {
					note(env[v.AttrName], "the group "+quote(group), v.AttrValue)
				}
			}
		}
	}
}

// generatedValue is what a value the bundle generated stands for.
type generatedValue struct {
	what        string // for messages
	placeholder string // RandomValue or "**None:<group>**"
}

// noGenerated writes the variables of service name holding a value the bundle generated as
// the placeholder it was generated for: the template never carries the bundle's secrets. A
// group's value ("**None:<group>**") is shared again on the platform; a RandomValue is not
// (the platform generates a value of its own): a warning says so. Consoles before 2026-06
// install a RandomValue literally when it stands in service_env_map_list and generate it only
// in service_connect_info_map_list (facts §7): such a variable is moved to the connection info,
// which the component gets too, when no other component depends on it (so none gets it
// more); moved lists those.
func (c *fromCompose) noGenerated(name string, list []Env) (kept, moved []Env) {
	var which []string
	dependants := c.hasDependants(name)
	for i := range list {
		g, ok := c.generated[list[i].AttrValue]
		if !ok {
			kept = append(kept, list[i])
			continue
		}
		list[i].AttrValue = g.placeholder
		if g.placeholder != RandomValue {
			kept = append(kept, list[i])
			continue
		}
		which = append(which, list[i].AttrName+" (the value generated for "+g.what+")")
		if dependants {
			kept = append(kept, list[i])
		} else {
			moved = append(moved, list[i])
		}
	}
	if len(which) > 0 {
		c.warn.add(serviceScope(name), "environment", "%s: written as %s, never the bundle's secret; the platform generates a value of its own, not shared with the variable it was generated for: make the service depend on its provider", strings.Join(which, ", "), RandomValue)
	}
	return kept, moved
}

// hasDependants reports whether another service depends on service name (compose depends_on,
// or its x-ram's dep_service_map_list).
func (c *fromCompose) hasDependants(name string) bool {
	id := c.ids[name]
	for _, n := range c.names {
		if n == name {
			continue
		}
		if _, ok := c.p.Services[n].DependsOn[name]; ok {
			return true
		}
		if e := c.ext[n]; e != nil {
			for _, d := range e.DepServiceMapList {
				if d.DepServiceKey == id.uuid || d.DepServiceKey == id.key {
					return true
				}
			}
		}
	}
	return false
}

// rendersTo reports whether shipped is orig with each ${...} reference replaced by some text.
// It is the classic wildcard match: the first and last literal parts anchored, the others found
// in order, leftmost.
func rendersTo(orig, shipped string) bool {
	lits := varRef.Split(orig, -1)
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

// workerVariables are the variables the platform's worker gives every container (rainbond
// worker/appm/conversion/version.go createEnv and convertRulesToEnvs; some only with
// dependencies, ports or gateway rules, and DOMAIN_<port>, DOMAIN_PROTOCOL_<port> too). Those
// marked after are appended after the component's own variables (version.go l.690-717), so
// they replace a variable of the component with the same name (the last of a name wins, in
// the container and in substitution); of MEMORY_SIZE and CUSTOM_MEMORY_SIZE only one is set
// (memorySizeVariable). The component's own replace the others.
var workerVariables = []workerVariable{
	{"LOGGER_DRIVER_NAME", false}, {"_DEPEND_SERVICE", false}, {"_DEPEND_SERVICE_COUNT", false},
	{"_STARTUP_SEQUENCE_DEPENDENCIES", false}, {"_REVERSE_DEPEND_SERVICE", false},
	{"_PORT", false}, {"_PROTOCOL", false}, {"_MONITOR_PORT", false}, {"DOMAIN", false},
	{"DOMAIN_PROTOCOL", false},
	{"_NAMESPACE", true}, {"_TENANT_ID", true}, {"_SERVICE_ID", true}, {"MEMORY_SIZE", true},
	{"CUSTOM_MEMORY_SIZE", true}, {"_SERVICE_NAME", true}, {"_SERVICE_ALIAS", true},
	{"_SERVICE_POD_NUM", true}, {"_HOST_IP", true}, {"_POD_IP", true}, {"_POD_NAME", true},
}

// workerReplaces reports whether the worker sets name after the component's own variables
// (for MEMORY_SIZE and CUSTOM_MEMORY_SIZE: with some memory).
func workerReplaces(name string) bool {
	return slices.Contains(workerVariables, workerVariable{name, true})
}

// workerSettings are the extension settings the worker reads (rainbond worker/appm/conversion
// version.go, plugin.go: as.ExtensionSet[...]): createEnv copies every variable of the
// container named ES_<KEY> (its own, its dependencies' connection info, its config groups)
// into the settings as <key> in lower case (version.go l.740-745), whatever it means to the
// app. Keys no code reads (ES_JAVA_OPTS: java_opts) change nothing.
var workerSettings = map[string]string{
	"hostnetwork":              `runs it on the node's network (whatever the value, "false" too)`,
	"hostname":                 "sets its pod's host name",
	"selectnode":               "pins it to the node of that name",
	"selecthost":               "schedules it only on the node with that host name",
	"shcedulername":            "sets its Kubernetes scheduler", // sic
	"cpulimit":                 "sets its CPU limit in millicores, in place of its cpu",
	"cpurequest":               "sets its CPU request in millicores",
	"pod_ip":                   "asks Calico for that pod IP (with one instance)",
	"disable_sidecar_check":    "turns off the check of its mesh sidecar",
	"sidecar_check_port":       "sets the port of its mesh sidecar check",
	"tcpudp_mesh_cpu":          "sets the CPU of its mesh sidecar",
	"tcpudp_mesh_memory":       "sets the memory of its mesh sidecar",
	"boot_seq_dep_service_ids": "sets the components it waits for at start",
	"vm_boot_mode":             "sets a virtual machine's boot mode",
	"vm_os_name":               "sets a virtual machine's operating system",
}

// workerVariableWarnings warns about each variable of a component that the platform's worker
// replaces (workerVariables set after the component's own) or reads as one of the component's
// settings (ES_<KEY>, workerSettings). What a component's x-ram already held is the
// template's own and not reported.
func (c *fromCompose) workerVariableWarnings(t *Template) {
	const replaced = "the platform's worker sets it after the component's variables, replacing this value"
	for i := range t.Apps {
		a := &t.Apps[i]
		name := c.names[i]
		orig := map[string]string{}
		if e := c.ext[name]; e != nil {
			for _, list := range [][]Env{e.ServiceEnvMapList, e.ServiceConnectInfoMapList} {
				for _, v := range list {
					orig[v.AttrName] = v.AttrValue
				}
			}
		}
		for _, list := range [][]Env{a.ServiceEnvMapList, a.ServiceConnectInfoMapList} {
			for _, v := range list {
				if o, ok := orig[v.AttrName]; ok && o == v.AttrValue {
					continue
				}
				var msg string
				switch n := v.AttrName; {
				case n == "MEMORY_SIZE":
					msg = replaced + `, with the memory's size name ("medium" for 512 MB) whenever the memory is 128, 256, 512, 1024, … or 65536 MB`
				case n == "CUSTOM_MEMORY_SIZE":
					msg = replaced + ", with the memory in MB whenever the memory is any other"
				case workerReplaces(n):
					msg = replaced
				case strings.HasPrefix(n, "ES_") && workerSettings[strings.ToLower(n[3:])] != "":
					msg = "the platform's worker reads every variable starting with ES_ as a setting of the component: this one " + workerSettings[strings.ToLower(n[3:])]
				default:
					continue
				}
				c.warn.add(serviceScope(name), "environment", "%s: %s; rename it", v.AttrName, msg)
			}
		}
	}
}

type workerVariable struct {
	name  string
	after bool // set after the component's own variables
}

// containerVariables are the names the platform defines in component i's container: its own
// variables and connection info, the connection info and port variables of its dependencies
// and its own port variables (<PORT_ALIAS>_HOST, _PORT), the config groups naming it and the
// platform's own (platformVariables).
func containerVariables(t *Template, i int) map[string]string {
	a := &t.Apps[i]
	names := map[string]string{}
	ports := func(c *Component) {
		for _, p := range c.PortMapList {
			if p.PortAlias != "" {
				names[strings.ToUpper(p.PortAlias)+"_HOST"] = ""
				names[strings.ToUpper(p.PortAlias)+"_PORT"] = ""
			}
			names["DOMAIN_"+itoa(p.ContainerPort)] = ""
			names["DOMAIN_PROTOCOL_"+itoa(p.ContainerPort)] = ""
		}
	}
	for _, w := range workerVariables {
		names[w.name] = ""
	}
	for _, g := range t.AppConfigGroups {
		if slices.Contains(g.ComponentKeys, a.ServiceKey) {
			for k, v := range g.ConfigItems {
				names[k] = v
			}
		}
	}
	for _, d := range a.DepServiceMapList {
		if dep := t.FindComponent(d.DepServiceKey); dep != nil && dep != a {
			for _, e := range dep.ServiceConnectInfoMapList {
				names[e.AttrName] = e.AttrValue
			}
			ports(dep)
		}
	}
	ports(a)
	for _, list := range [][]Env{a.ServiceConnectInfoMapList, a.ServiceEnvMapList} {
		for _, e := range list {
			names[e.AttrName] = e.AttrValue
		}
	}
	return names
}

// substitutionWarnings warns about each ${...} in a variable, cmd or config file of the
// template that the platform replaces (Substitute): a name it defines in the container, or a
// non-empty default (a shell's ${VAR:-x} too, whose default is "-x"). The platform has no
// escape, so a "$" the compose file escaped as "$$" is replaced as well. What a component's
// x-ram already held is the template's own and not reported.
func (c *fromCompose) substitutionWarnings(t *Template) {
	for i := range t.Apps {
		a := &t.Apps[i]
		name := c.names[i]
		scope := serviceScope(name)
		e := c.ext[name]
		if e == nil {
			e = &Component{}
		}
		defined := containerVariables(t, i)
		// own: the service's own variables, which its container has under compose and, with
		// the same value, on the platform (unless the worker replaces it, or substitutes in it).
		own := map[string]bool{}
		for _, list := range [][]Env{a.ServiceEnvMapList, a.ServiceConnectInfoMapList} {
			for _, v := range list {
				own[v.AttrName] = !workerReplaces(v.AttrName) && Substitute(v.AttrValue, defined) == v.AttrValue
			}
		}
		// report warns about each reference; in a file or value, with the fix for a shell's
		// ${NAME:-d}. A file's reference to one of the service's own variables is what a
		// shell, or any reader expanding it at run time, gets from the container's environment
		// there: nothing to report, unless it is empty and the reference has a default.
		report := func(key, prefix, text string, file, fix bool) {
			for _, sub := range substitutions(text, defined) {
				if file && sub.defined && own[sub.name] && (sub.value != "" || !sub.colon) {
					continue
				}
				what, hint := fmt.Sprintf("becomes %q", sub.value), ""
				if sub.defined {
					what = "becomes the value of " + sub.name
				}
				switch sf := sub.shellForm(); {
				case !fix || !strings.HasPrefix(sub.rest, "-"):
				case sub.defined && sf != "":
					hint = ": write " + sf + " to leave it to the shell"
				case sub.defined:
				case sf != "":
					hint = ": define " + sub.name + " in the service's environment, or write " + sf
				default:
					hint = ": define " + sub.name + " in the service's environment"
				}
				c.warn.add(scope, key, "%s%s %s on the platform (it substitutes %s with no escape)%s", prefix, sub.ref, what, sub.rule(), hint)
			}
		}
		orig := map[string]string{}
		for _, list := range [][]Env{e.ServiceEnvMapList, e.ServiceConnectInfoMapList} {
			for _, v := range list {
				orig[v.AttrName] = v.AttrValue
			}
		}
		for _, list := range [][]Env{a.ServiceEnvMapList, a.ServiceConnectInfoMapList} {
			for _, v := range list {
				if o, ok := orig[v.AttrName]; !ok || o != v.AttrValue {
					report("environment", v.AttrName+": ", v.AttrValue, false, true)
				}
			}
		}
		if a.Cmd != e.Cmd {
			report("command", "", a.Cmd, false, false)
		}
		origFiles := map[string]string{}
		for _, v := range e.ServiceVolumeMapList {
			origFiles[v.VolumePath] = v.FileContent
		}
		for _, v := range a.ServiceVolumeMapList {
			if o, ok := origFiles[v.VolumePath]; v.VolumeType == VolumeConfigFile && (!ok || o != v.FileContent) {
				report("config file "+v.VolumePath, "", v.FileContent, true, true)
			}
		}
	}
}
