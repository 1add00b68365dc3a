package ram

// Names, both directions: compose project, service and volume names, .env variable names,
// Kubernetes names and port aliases. One set of rules for both converters.

import (
	"strconv"
	"strings"
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

// serviceNames gives each component a unique compose service name.
func (c *toCompose) serviceNames() {
	used := map[string]bool{}
	c.names = make([]string, len(c.t.Apps))
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
		base := n
		for k := 2; used[n]; k++ {
			n = base + "-" + itoa(k)
		}
		used[n] = true
		c.names[i] = n
	}
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

// portAlias is <SERVICE>_<PORT>, upper case, the form the platform derives connection variable
// names from (<ALIAS>_HOST, <ALIAS>_PORT): the service as a .env variable name (envName).
func portAlias(service string, port int) string {
	return envName(service) + "_" + strconv.Itoa(port)
}

// k8sName is a DNS-1123 label made of s.
func k8sName(s string) string {
	n := strings.Trim(replaceRunes(strings.ToLower(s), asciiAlnum, '-'), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	if n == "" {
		n = "component"
	}
	return n
}

// volumeName is a volume_name made of s: letters, digits, '-' and '_'.
func volumeName(s string) string {
	keep := func(r rune) bool { return asciiAlnum(r) || r == '-' || r == '_' }
	return strings.Trim(replaceRunes(s, keep, '-'), "-")
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
