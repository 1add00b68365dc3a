package ram

// Environment, both directions: .env variables and the values generated for "**None**", a
// service's variables and their precedence, ${VAR} rendering of config files, and the values a
// compose file hands back to a template.

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

type secretKey struct {
	owner string // "c<index>" for a component, "g<index>" for a config group
	name  string
}

// addEnv adds a .env variable named after base (made a valid, unused name) and returns its name.
func (c *toCompose) addEnv(base, val string) string {
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
	c.envVars[n] = val
	c.envOrder = append(c.envOrder, n)
	return n
}

func (c *toCompose) secret(k secretKey, base string) error {
	if _, ok := c.secrets[k]; ok {
		return nil // in both the env and the connection info: one value
	}
	v, err := generateValue(c.opts.Random)
	if err != nil {
		return fmt.Errorf("generate a value for %s: %w", k.name, err)
	}
	c.secrets[k] = c.addEnv(base, v)
	return nil
}

// envEntry is one variable of a service.
type envEntry struct {
	name   string
	yaml   string // what the compose file says: a literal (escaped) or ${VAR}
	actual string // the value the container gets (for rendering config files)
	from   string // the source, for messages
}

// environment gathers the variables of component i (see the top of tocompose.go for the order).
func (c *toCompose) environment(i int, deps []depEdge) []envEntry {
	a := &c.t.Apps[i]
	var out []envEntry
	byName := map[string]int{}
	add := func(e Env, owner secretKey, rewriteHost string, from string) {
		if e.AttrName == "" {
			return
		}
		ent := envEntry{name: e.AttrName, from: from}
		if e.AttrValue == RandomValue {
			owner.name = e.AttrName
			v := c.secrets[owner]
			ent.yaml, ent.actual = "${"+v+"}", c.envVars[v]
		} else {
			val := e.AttrValue
			if rewriteHost != "" {
				val = replaceLoopback(val, rewriteHost)
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
	for _, e := range a.ServiceEnvMapList {
		add(e, own, "", "its environment")
	}
	for _, e := range a.ServiceConnectInfoMapList {
		add(e, own, "", "its connection info")
	}
	for _, d := range deps {
		for _, e := range c.t.Apps[d.index].ServiceConnectInfoMapList {
			add(e, secretKey{owner: "c" + itoa(d.index)}, c.names[d.index], "the connection info of "+c.names[d.index])
		}
	}
	for gi, g := range c.t.AppConfigGroups {
		if !slices.Contains(g.ComponentKeys, a.ServiceKey) || a.ServiceKey == "" {
			continue
		}
		if g.InjectionType != "" && g.InjectionType != "env" {
			c.warnf("%s: config group %s is injected as %s, which compose cannot do: left out", c.label(i), quote(g.Name), quote(g.InjectionType))
			continue
		}
		for _, k := range sortedKeys(g.ConfigItems) {
			add(Env{AttrName: k, AttrValue: g.ConfigItems[k]}, secretKey{owner: "g" + itoa(gi)}, "", "config group "+quote(g.Name))
		}
	}
	return out
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

// render is Substitute: config files are rendered as the platform renders them.
func render(content string, values map[string]string) string { return Substitute(content, values) }

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
	defined          bool // replaced by the variable's value, not by its default
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
		if v, ok := defined[key]; ok {
			out = append(out, substitution{ref: ref, name: key, value: v, defined: true})
		} else if def != "" {
			out = append(out, substitution{ref: ref, name: key, value: def})
		}
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
	for _, k := range sortedKeys(s.Environment) {
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
	for _, k := range sortedKeys(env) {
		if v := env[k]; !known[k] && v != nil {
			added = append(added, Env{AttrName: k, AttrValue: *v, IsChange: true})
		}
	}
	return append(own, c.noGenerated(serviceScope(s.Name), added)...), conn
}

// injected lists the variables the platform gives component e without e declaring them: its
// dependencies' connection info and the app_config_groups naming it.
func (c *fromCompose) injected(e Component) []string {
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
				out = append(out, sortedKeys(g.ConfigItems)...)
			}
		}
	}
	return out
}

// renderedSame reports whether got is orig as ToCompose writes it into a service: the same, or
// with the loopback host (127.0.0.1, localhost) replaced by a service name, the dependency's
// address on the compose network.
func (c *fromCompose) renderedSame(orig, got string) bool {
	if orig == got {
		return true
	}
	if !strings.Contains(orig, "127.0.0.1") && !strings.Contains(orig, "localhost") {
		return false
	}
	for _, n := range c.names {
		if replaceLoopback(orig, n) == got {
			return true
		}
	}
	return false
}

// generatedValues finds the values the bundle generated for the template's RandomValue
// variables: the compose values of the variables that are RandomValue in an x-ram.
func (c *fromCompose) generatedValues() {
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
		for _, k := range sortedKeys(g.ConfigItems) {
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
func (c *fromCompose) noGenerated(scope string, list []Env) []Env {
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
