package bundle

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Sums maps a bundle-relative slash path to the lowercase hex sha256 of its content.
type Sums map[string]string

// Format renders the sums in `sha256sum -c` format ("<hex>  <path>"), sorted by path so the
// same bundle always gives the same file.
func (s Sums) Format() []byte {
	paths := make([]string, 0, len(s))
	for p := range s {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&b, "%s  %s\n", s[p], p)
	}
	return b.Bytes()
}

var sumLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *](.+)$`)

// ParseSums reads a SHA256SUMS file. Paths must be relative and stay inside the bundle.
func ParseSums(b []byte) (Sums, error) {
	s := Sums{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		m := sumLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s line %d: not a sha256sum line", SumsFile, n)
		}
		p := strings.TrimPrefix(m[2], "./")
		if !LocalPath(p) {
			return nil, fmt.Errorf("%s line %d: path %q leaves the bundle", SumsFile, n, m[2])
		}
		s[p] = m[1]
	}
	return s, sc.Err()
}

// LocalPath reports whether the slash path p is relative and stays inside the bundle.
func LocalPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return false
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return false
		}
	}
	return true
}
