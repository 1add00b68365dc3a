package ram

// Names, both directions: compose project, service and volume names, .env variable names,
// Kubernetes names and port aliases. One set of rules for both converters, and the platform's
// rules for them (docs/ram-format.md §8.2): what is valid, and how a name is made valid, short
// enough (limits.go) and unique after it was made so.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

// ProjectName is the compose project name for t: its group_name reduced to what compose accepts
// (lowercase letters, digits, '_' and '-', starting with a letter or digit).
func ProjectName(t *Template) string {
	if n := composeName(t.GroupName); n != "" {
		return n
	}
	if k := composeName(t.GroupKey); k != "" {
		return "app-" + k[:min(len(k), 8)]
	}
	return "app"
}

// serviceNames gives each component a unique compose service name (from service_cname, see
// composeName), a unique prefix for its .env variables, and the network alias the platform
// reaches it by: its first port's k8s_service_name, when that differs from the service name,
// so that a value naming it (DB_HOST=<k8s_service_name>, a config file) resolves under compose
// as it does on the platform. Two components whose names are one after the reduction (cache_b
// and cache-b for .env; "cache b" and cache-b for the service) get a suffix, with a warning.
func (c *toCompose) serviceNames() {
	services := newNameSet(nil)
	prefixes := newNameSet(nil)
	c.names = make([]string, len(c.t.Apps))
	c.envPrefix = make([]string, len(c.t.Apps))
	c.netAliases = make([]string, len(c.t.Apps))
	for i := range c.t.Apps {
		a := &c.t.Apps[i]
		n := composeName(a.ServiceCname)
		for _, alt := range []string{a.K8sComponentName, a.ServiceAlias} {
			if n == "" {
				n = composeName(alt)
			}
		}
		if n == "" {
			n = "component-" + itoa(i+1)
		}
		c.names[i] = services.take(n, 0, "-")
		if c.names[i] != n {
			c.warnf("%s: the service name %s is another component's: this one is %s", c.label(i), quote(n), quote(c.names[i]))
		}
		p := envName(c.names[i])
		c.envPrefix[i] = prefixes.take(p, 0, "_")
		if c.envPrefix[i] != p {
			c.warnf("%s: its .env variables would be named like another service's (%s_…): they are named %s_…", c.label(i), p, c.envPrefix[i])
		}
	}
	taken := map[string]string{} // name -> what takes it
	for i, n := range c.names {
		taken[n] = "the service name of " + c.label(i)
	}
	for i := range c.t.Apps {
		ports := c.t.Apps[i].PortMapList
		if len(ports) == 0 {
			continue
		}
		k := ports[0].K8sServiceName
		if k == "" || k == c.names[i] || !validServiceName(k) {
			continue
		}
		if what, dup := taken[k]; dup {
			c.warnf("%s: its k8s_service_name %s is also %s: not added as a network alias", c.label(i), quote(k), what)
			continue
		}
		taken[k] = "the k8s_service_name of " + c.label(i)
		c.netAliases[i] = k
	}
}

// networkAlias is a service's `networks: {default: {aliases: [alias]}}`.
func networkAlias(alias string) *yaml.Node {
	def := yamlMap()
	yamlSet(def, "aliases", yamlSeq(yamlStr(alias)))
	nets := yamlMap()
	yamlSet(nets, "default", def)
	return nets
}

func portSuffix(port int, proto string) string {
	if proto == "udp" {
		return strconv.Itoa(port) + "_UDP"
	}
	return strconv.Itoa(port)
}

// composeName reduces s to a compose name: lowercase [a-z0-9_-], Latin letters with diacritics
// transliterated, anything else a '-', runs of '-' collapsed, starting and ending with a letter
// or digit. "" when nothing is left (a name in Chinese, say).
func composeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-':
			b.WriteRune(r)
		case r < 0x80:
			b.WriteByte('-')
		default:
			if t, ok := translit[r]; ok {
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

// translit spells common lowercase Latin letters with diacritics in ASCII.
var translit = func() map[rune]string {
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

// envName makes s a .env variable name: uppercase letters, digits and single '_' (anything else
// becomes one), not starting with a digit.
func envName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if asciiAlnum(r) {
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

// validProjectName is compose's rule for project names.
func validProjectName(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '_' || r == '-')) {
			return false
		}
	}
	return s != ""
}

// The platform's name rules (docs/ram-format.md §8.2).
var (
	// A Kubernetes Service name, as the console checks a k8s_service_name
	// (console/services/app_config/port_service.py check_k8s_service_name).
	dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	// A container name (the worker names the container after k8s_component_name).
	dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// console/services/app_config/volume_service.py check_volume_name.
	volumeNameRule = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	// The region validates port_alias as alpha_dash.
	portAliasRule = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// console/utils/urlutil.py is_path_legal, Python's \w (Unicode letters, digits, '_') spelt
	// out: the first character after '/' is a letter, digit, '_' or '-', at least three
	// characters follow the '/', the last is a letter, digit, '_', '-' or '/'.
	volumePathRule = regexp.MustCompile(`^/([\p{L}\p{N}_-]+/?)+([\p{L}\p{N}_-]?.+/?)?([\p{L}\p{N}_-]?.[\p{L}\p{N}_-]+/?)$`)
)

// validServiceName reports whether s is a k8s_service_name the console keeps.
func validServiceName(s string) bool { return len(s) <= maxK8sName && dns1035.MatchString(s) }

// validComponentName reports whether s is a k8s_component_name the worker can run.
func validComponentName(s string) bool { return len(s) <= maxK8sName && dns1123.MatchString(s) }

// validVolumeName reports whether s is a volume_name the console keeps.
func validVolumeName(s string) bool { return volumeNameRule.MatchString(s) }

// legalVolumePath reports whether the console keeps a volume mounted at p.
func legalVolumePath(p string) bool { return volumePathRule.MatchString(p) }

// dnsLabel makes s a DNS label of at most max characters: lower case, every character other
// than a letter, digit or '-' a '-', runs of '-' one, no '-' at the ends; with letterFirst
// (a Service name, DNS-1035) "svc-" before a leading digit. A name already valid is kept.
func dnsLabel(s string, max int, letterFirst bool) string {
	rule := dns1123
	if letterFirst {
		rule = dns1035
	}
	if len(s) <= max && rule.MatchString(s) {
		return s
	}
	n := replaceRunes(strings.ToLower(s), func(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' }, '-')
	for strings.Contains(n, "--") {
		n = strings.ReplaceAll(n, "--", "-")
	}
	n = strings.Trim(n, "-")
	switch {
	case n == "" && letterFirst:
		n = "svc"
	case n == "":
		n = "component"
	case letterFirst && n[0] >= '0' && n[0] <= '9':
		n = "svc-" + n
	}
	return shorten(n, max, "-")
}

// volumeName is a volume_name made of s: letters, digits and '-', '_' inside, a letter or
// digit at both ends ("volume" when nothing is left). The console also allows '.'; airpack
// spells it '-', as it always has.
func volumeName(s string) string {
	keep := func(r rune) bool { return asciiAlnum(r) || r == '-' || r == '_' }
	n := strings.TrimFunc(replaceRunes(s, keep, '-'), func(r rune) bool { return !asciiAlnum(r) })
	if n == "" {
		return "volume"
	}
	return n
}

// portAlias is the port_alias airpack derives for port of a component named name: <NAME>_<PORT>,
// name as a .env variable name (envName, upper case), the form the platform derives connection
// variable names from (<ALIAS>_HOST, <ALIAS>_PORT), the name cut so that the whole fits the
// column (maxPortAlias). platformNames makes it unique.
func portAlias(name string, port int) string {
	suffix := "_" + strconv.Itoa(port)
	return cutName(envName(name), maxPortAlias-len(suffix)) + suffix
}

// shorten cuts s to max characters when it is longer, keeping it distinct from other cuts: its
// first characters, sep and 6 hex digits of the SHA-256 of s. max <= 0: no limit.
func shorten(s string, max int, sep string) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	tag := sep + hex.EncodeToString(sum[:3])
	return cutName(s, max-len(tag)) + tag
}

// cutName is the first n characters of s, without separators at its end.
func cutName(s string, n int) string {
	if r := []rune(s); len(r) > n {
		s = string(r[:max(n, 0)])
	}
	return strings.TrimRight(s, "-_. ")
}

// nameSet hands out names unique within a scope (a template, a component).
type nameSet struct {
	fold func(string) string // the form two names collide in; nil: as they are
	used map[string]bool
}

func newNameSet(fold func(string) string) *nameSet {
	return &nameSet{fold: fold, used: map[string]bool{}}
}

func (s *nameSet) key(n string) string {
	if s.fold != nil {
		return s.fold(n)
	}
	return n
}

func (s *nameSet) has(n string) bool { return s.used[s.key(n)] }

// reserve takes n as it is, if free.
func (s *nameSet) reserve(n string) bool {
	if s.has(n) {
		return false
	}
	s.used[s.key(n)] = true
	return true
}

// take takes n, shortened to max characters (0: no limit) and made unique with sep and 2, 3, …
// (cut to leave room for the suffix).
func (s *nameSet) take(n string, max int, sep string) string {
	n = shorten(n, max, sep)
	u := n
	for k := 2; s.has(u); k++ {
		suffix := sep + strconv.Itoa(k)
		u = n + suffix
		if max > 0 {
			u = cutName(n, max-len(suffix)) + suffix
		}
	}
	s.used[s.key(u)] = true
	return u
}

// replaceRunes replaces each rune of s that keep refuses by with.
func replaceRunes(s string, keep func(rune) bool, with byte) string {
	var b strings.Builder
	for _, r := range s {
		if keep(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte(with)
		}
	}
	return b.String()
}

// asciiAlnum reports whether r is an ASCII letter or digit.
func asciiAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// platformNames gives the components of t (FromCompose's, in c.names order) the names the
// platform addresses them by, valid, within their columns and unique in the template:
//
//   - k8s_service_name, the same on every port (the console uses the first port's for all): the
//     template's own (x-ram) when valid, else the compose service name when it is a DNS-1035
//     label, else that name made one (dnsLabel); a suffix when another component has it;
//   - k8s_component_name: the template's own when valid, else the service name as a DNS-1123
//     label of at most maxComponentName characters, unique;
//   - port_alias: the template's own when valid and unique (case-insensitively: the platform
//     upper-cases it into <ALIAS>_HOST), else <K8S_SERVICE_NAME>_<PORT>;
//   - service_cname and deploy_version shortened to their columns.
//
// It warns where a service's compose name will not resolve on the platform while another
// service refers to it: the name differs from its k8s_service_name, or it has no port (the
// platform creates no Service for a component without ports).
func (c *fromCompose) platformNames(t *Template) {
	svcNames, compNames := newNameSet(nil), newNameSet(nil)
	aliases := newNameSet(strings.ToUpper)
	kept := make([]bool, len(t.Apps))
	chosen := make([]string, len(t.Apps))
	svcOwner, compOwner := map[string]string{}, map[string]string{} // name -> the service holding it
	fromExt := func(i int) *Component { return c.ext[c.names[i]] }
	// The names kept as they are first, so that a derived name never takes one.
	for i := range t.Apps {
		a := &t.Apps[i]
		if len(a.PortMapList) > 0 {
			want := ""
			if e := fromExt(i); e != nil && len(e.PortMapList) > 0 && validServiceName(e.PortMapList[0].K8sServiceName) {
				want, kept[i] = e.PortMapList[0].K8sServiceName, true
			} else if validServiceName(c.names[i]) {
				want = c.names[i]
			}
			if want != "" && svcNames.reserve(want) {
				chosen[i] = want
				svcOwner[want] = c.names[i]
			} else {
				kept[i] = false
			}
		}
		a.K8sComponentName = ""
		if e := fromExt(i); e != nil && validComponentName(e.K8sComponentName) && compNames.reserve(e.K8sComponentName) {
			a.K8sComponentName = e.K8sComponentName
			compOwner[a.K8sComponentName] = c.names[i]
		}
	}
	for i := range t.Apps {
		a := &t.Apps[i]
		scope := serviceScope(c.names[i])
		// A template's component without one keeps none: the platform names the container
		// after the service_alias it generates, valid and unique.
		var containerNote string
		if e := fromExt(i); a.K8sComponentName == "" && (e == nil || e.K8sComponentName != "") {
			base := dnsLabel(c.names[i], maxComponentName, false)
			a.K8sComponentName = compNames.take(base, maxComponentName, "-")
			compOwner[a.K8sComponentName] = c.names[i]
			if a.K8sComponentName != base {
				containerNote = fmt.Sprintf("the platform names its container %s (k8s_component_name): %s is taken by service %s", a.K8sComponentName, base, compOwner[base])
			}
		}
		// Where the service is reachable on the platform, one warning: the container's name
		// (a second fact, of no use to other services) only when there is no other.
		reachNote := ""
		if len(a.PortMapList) > 0 && chosen[i] == "" {
			base := dnsLabel(c.names[i], maxK8sName, true)
			chosen[i] = svcNames.take(base, maxK8sName, "-")
			svcOwner[chosen[i]] = c.names[i]
			reachNote = c.unreachableName(t, i, base, chosen[i], svcOwner[base])
		}
		if kept[i] && !strings.EqualFold(chosen[i], c.names[i]) {
			if refs := c.references(t, i, false); len(refs) > 0 {
				fix := fmt.Sprintf("write %s in them: compose resolves it too (it is the service's network alias)", chosen[i])
				if n := c.p.Services[c.names[i]].Networks["default"]; n == nil || !slices.Contains(n.Aliases, chosen[i]) {
					fix = fmt.Sprintf("write %s in them, and add it to the service's networks: default: aliases so that compose resolves it too", chosen[i])
				}
				reachNote = fmt.Sprintf("on the platform the component is reachable as %s (its k8s_service_name, from x-ram), not as %s; the references to %s in %s will not resolve there: %s", chosen[i], c.names[i], c.names[i], strings.Join(refs, ", "), fix)
			}
		}
		switch {
		case reachNote != "":
			c.warn.add(scope, "name", "%s", reachNote)
		case containerNote != "":
			c.warn.add(scope, "name", "%s", containerNote)
		}
		if len(a.PortMapList) == 0 {
			if refs := c.references(t, i, true); len(refs) > 0 {
				c.warn.add(scope, "ports", "none: on the platform a component without ports gets no Kubernetes Service, so %s does not resolve for %s: list the port it listens on under expose", c.names[i], strings.Join(refs, ", "))
			}
		}
		for j := range a.PortMapList {
			a.PortMapList[j].K8sServiceName = chosen[i]
		}
		if n := c.p.Services[c.names[i]].Networks["default"]; n != nil {
			var dropped []string
			for _, al := range n.Aliases {
				if al != chosen[i] {
					dropped = append(dropped, al)
				}
			}
			if len(dropped) > 0 {
				reach := "by its k8s_service_name, " + chosen[i] + ", only"
				if chosen[i] == "" {
					reach = "by no name: it has no ports"
				}
				c.warn.add(scope, "networks", "default: aliases %s: on the platform the component is reachable %s; dropped", strings.Join(dropped, ", "), reach)
			}
		}
		if n := shorten(a.ServiceCname, maxCname, "-"); n != a.ServiceCname {
			c.warn.add(scope, "name", "service_cname shortened to %s (the console stores %d characters)", n, maxCname)
			a.ServiceCname = n
		}
		a.DeployVersion = shorten(a.DeployVersion, maxDeployVersion, "-")
	}
	// Port aliases: the template's own first, then derived ones.
	derive := make([][]bool, len(t.Apps))
	for i := range t.Apps {
		a := &t.Apps[i]
		derive[i] = make([]bool, len(a.PortMapList))
		ext := map[int]string{}
		if e := fromExt(i); e != nil {
			for _, p := range e.PortMapList {
				ext[p.ContainerPort] = p.PortAlias
			}
		}
		for j := range a.PortMapList {
			p := &a.PortMapList[j]
			own := ext[p.ContainerPort]
			if own != "" && len(own) <= maxPortAlias && portAliasRule.MatchString(own) && aliases.reserve(own) {
				p.PortAlias = own
			} else {
				derive[i][j] = true
			}
		}
	}
	for i := range t.Apps {
		a := &t.Apps[i]
		for j := range a.PortMapList {
			if !derive[i][j] {
				continue
			}
			p := &a.PortMapList[j]
			base := chosen[i]
			if kept[i] {
				// The template's name (gr4c76b7-3306, say) makes a poor variable name.
				base = c.names[i]
			}
			p.PortAlias = aliases.take(portAlias(base, p.ContainerPort), maxPortAlias, "_")
		}
	}
}

// unreachableName is the warning for a service whose name is not the k8s_service_name it got
// (chosen, made of base, which owner may hold), or "" when the two resolve alike: why, and when
// other services refer to it by name, how to fix it.
func (c *fromCompose) unreachableName(t *Template, i int, base, chosen, owner string) string {
	name := c.names[i]
	var why, fix string
	switch {
	case len(name) > maxK8sName:
		why = fmt.Sprintf("a Service name is at most %d characters", maxK8sName)
		fix = fmt.Sprintf("shorten the service name to at most %d characters", maxK8sName)
		if !dns1035.MatchString(strings.ToLower(name)) {
			fix += " (lower case letters, digits and '-', starting with a letter)"
		}
	case chosen != base:
		why = fmt.Sprintf("%s is taken by service %s", base, owner)
		fix = fmt.Sprintf("rename service %s (e.g. to %s)", name, chosen)
	case strings.EqualFold(base, name):
		return "" // DNS names are case-insensitive: Web resolves as web.
	default:
		why = "a Service name is a DNS-1035 label (lower case letters, digits and '-', starting with a letter)"
		fix = fmt.Sprintf("rename service %s (e.g. to %s)", name, chosen)
	}
	msg := fmt.Sprintf("on the platform the component is reachable as %s (its k8s_service_name), not as %s: %s", chosen, name, why)
	if refs := c.references(t, i, true); len(refs) > 0 {
		msg += fmt.Sprintf("; the references to %s in %s will not resolve there: %s and update them", name, strings.Join(refs, ", "), fix)
	}
	return msg
}

// references lists where the other components of t refer to component i by its compose service
// name, one entry per component ("web (depends_on, environment DB_HOST)"): depends_on and
// links (with deps), and the name as a whole host name in their variables and config files.
func (c *fromCompose) references(t *Template, i int, deps bool) []string {
	name := c.names[i]
	var out []string
	for j := range t.Apps {
		if j == i {
			continue
		}
		var what []string
		if s := c.p.Services[c.names[j]]; deps {
			if _, ok := s.DependsOn[name]; ok {
				what = append(what, "depends_on")
			} else if slices.ContainsFunc(s.Links, func(l string) bool { svc, _, _ := strings.Cut(l, ":"); return svc == name }) {
				what = append(what, "links")
			}
		}
		a := &t.Apps[j]
		for _, list := range [][]Env{a.ServiceEnvMapList, a.ServiceConnectInfoMapList} {
			for _, e := range list {
				if hasHost(e.AttrValue, name) {
					what = append(what, "environment "+e.AttrName)
				}
			}
		}
		for _, v := range a.ServiceVolumeMapList {
			if v.VolumeType == VolumeConfigFile && hasHost(v.FileContent, name) {
				what = append(what, "config file "+v.VolumePath)
			}
		}
		if len(what) > 0 {
			out = append(out, c.names[j]+" ("+strings.Join(what, ", ")+")")
		}
	}
	return out
}

// hasHost reports whether host stands in s as a whole host name: alone, or inside a URL or
// host:port (the characters around it are not letters, digits, '.', '-' or '_').
func hasHost(s, host string) bool {
	for from := 0; host != ""; {
		k := strings.Index(s[from:], host)
		if k < 0 {
			return false
		}
		k += from
		end := k + len(host)
		if (k == 0 || !hostChar(s[k-1])) && (end == len(s) || !hostChar(s[end])) {
			return true
		}
		from = k + 1
	}
	return false
}

// nameProblems checks the names and paths of t against the platform's rules (lengths are
// lengthProblems').
func nameProblems(t *Template) []problem {
	var out []problem
	add := func(i int, key string, refuse bool, format string, args ...any) {
		out = append(out, problem{app: i, key: key, refuse: refuse, msg: fmt.Sprintf(format, args...)})
	}
	services, components, aliases := map[string]int{}, map[string]int{}, map[string]int{}
	for i := range t.Apps {
		a := &t.Apps[i]
		if n := a.K8sComponentName; n != "" {
			if !validComponentName(n) {
				add(i, "k8s_component_name", true, "k8s_component_name %s is not a DNS-1123 label (lower case letters, digits and '-', at most 63 characters): the worker names the container after it, and the deploy fails", quote(n))
			} else if j, dup := components[n]; dup {
				add(i, "k8s_component_name", true, "k8s_component_name %s is also the one of %s: their workloads collide", quote(n), componentLabel(j, &t.Apps[j]))
			} else {
				components[n] = i
			}
		}
		if len(a.PortMapList) > 0 {
			first := a.PortMapList[0].K8sServiceName
			switch {
			case first == "":
				add(i, "k8s_service_name", false, "port_map_list[0] has no k8s_service_name: the console names the component's Service after its generated service_alias, which no other component knows")
			case !validServiceName(first):
				add(i, "k8s_service_name", true, "k8s_service_name %s is not a DNS-1035 label (lower case letters, digits and '-', starting with a letter, at most 63 characters): the console renames the Service <service_alias>-<port>, and nothing reaches the component by %s", quote(first), quote(first))
			default:
				if j, dup := services[first]; dup {
					add(i, "k8s_service_name", true, "k8s_service_name %s is also the one of %s: the console checks names against the team's existing ones only, and the two Services collide", quote(first), componentLabel(j, &t.Apps[j]))
				} else {
					services[first] = i
				}
			}
			httpFirst := true
			for j, p := range a.PortMapList {
				if j > 0 && p.K8sServiceName != "" && p.K8sServiceName != first {
					add(i, "k8s_service_name", false, "port_map_list[%d]: k8s_service_name %s is ignored: the console gives every port the first port's, %s", j, quote(p.K8sServiceName), quote(first))
				}
				published := p.IsOuterService && p.Protocol == "http"
				if published && !httpFirst {
					add(i, "protocol", false, "port_map_list[%d]: published http port %d comes after a port that is not a published http port: the console gives it no default domain", j, p.ContainerPort)
				}
				httpFirst = httpFirst && published
				if p.PortAlias == "" {
					continue
				}
				if !portAliasRule.MatchString(p.PortAlias) {
					add(i, "port_alias", true, "port_map_list[%d]: port_alias %s holds characters other than letters, digits, '_' and '-', which the region refuses", j, quote(p.PortAlias))
					continue
				}
				up := strings.ToUpper(p.PortAlias)
				if k, dup := aliases[up]; dup && k != i {
					add(i, "port_alias", false, "port_map_list[%d]: port_alias %s is also one of %s: a component depending on both gets one %s_HOST", j, quote(p.PortAlias), componentLabel(k, &t.Apps[k]), up)
				} else {
					aliases[up] = i
				}
			}
		}
		names := map[string]bool{}
		for _, v := range a.ServiceVolumeMapList {
			switch {
			case names[v.VolumeName]:
				add(i, "volume_name", true, "two volumes are named %s: the console refuses the second", quote(v.VolumeName))
			case !validVolumeName(v.VolumeName) && v.VolumeType == VolumeConfigFile:
				add(i, "volume_name", true, "config file %s: volume_name %s breaks the console's rule (letters, digits and '-', '_', '.', a letter or digit at both ends): it renames the volume but not the file, which is then found by no volume and the deploy fails", quote(v.VolumePath), quote(v.VolumeName))
			case !validVolumeName(v.VolumeName):
				add(i, "volume_name", false, "volume %s: volume_name %s breaks the console's rule (letters, digits and '-', '_', '.', a letter or digit at both ends): it is renamed <service_alias>-<3 hex> at install, and mounts of it by other components are dropped", quote(v.VolumePath), quote(v.VolumeName))
			}
			names[v.VolumeName] = true
			if !legalVolumePath(strings.TrimSpace(v.VolumePath)) {
				var what string
				refuse := v.VolumeType != VolumeMemoryFS
				switch v.VolumeType {
				case VolumeConfigFile:
					what = "the component runs without the file"
				case VolumeMemoryFS:
					what = "the component writes there into its container instead"
				default:
					what = "the component writes its data into its container, lost when it restarts"
				}
				add(i, "volume_path", refuse, "volume %s at %s: the console drops a volume whose path fails its check (console/utils/urlutil.py is_path_legal: a letter, digit, '_' or '-' after the '/', at least 3 characters, no '.' at the end), so %s; mount it at another path", quote(v.VolumeName), quote(v.VolumePath), what)
			}
		}
	}
	return out
}
