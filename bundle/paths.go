package bundle

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// The rules for the paths a bundle's compose file names and the files a bundle holds. pack
// (compose.Rewrite) applies them, Verify checks them and airpack ram reads bundles by them:
// whatever pack writes, verify accepts; whatever verify refuses, pack refuses first, in the same
// words.

// IsHostPath reports whether src, a bind mount source or a local volume's device as a compose
// file writes it, names a path of the host the bundle runs on: an absolute path or one in a home
// directory ("~", "~/data"). Such paths are the target's: a bundle keeps them as written and
// ships nothing for them. Every other source is relative, and must be in the bundle.
func IsHostPath(src string) bool {
	return strings.HasPrefix(src, "/") || src == "~" || strings.HasPrefix(src, "~/")
}

// BindSourceProblem says what is wrong with a bind mount source as the bundle's compose file
// writes it, or "" when nothing is. Whether a relative source is in the bundle is the caller's
// check.
func BindSourceProblem(src string) string {
	switch {
	case src == "":
		return "is empty: give a host path (/srv/data) or a path in the project (./data)"
	case strings.Contains(src, "\\") || len(src) > 1 && src[1] == ':':
		return "is a Windows path: the target is Linux; use a / path"
	}
	return ""
}

// LinkProblem says why a symbolic link at name (a bundle path) to target cannot be in a bundle,
// or "": a link is relative, stays under files/, and is a name SHA256SUMS could carry.
func LinkProblem(name, target string) string {
	to := path.Join(path.Dir(name), target)
	switch {
	case target == "" || strings.HasPrefix(target, "/"):
		return "is a symbolic link to an absolute path: bundles hold relative links only"
	case !LocalPath(name) || !strings.HasPrefix(name, FilesDir+"/") || !LocalPath(to) || !strings.HasPrefix(to+"/", FilesDir+"/"):
		return fmt.Sprintf("is a symbolic link leaving %s/: bundles hold links that stay in their shipped directory", FilesDir)
	case CheckFileName(name) != nil || CheckFileName(target) != nil:
		return "is a symbolic link whose name or target has a newline, tab or backslash"
	}
	return ""
}

// CheckFileName refuses a name (a slash path in the bundle) that SHA256SUMS or load.sh cannot
// carry: one line per file, a tab between path and sum in load.sh, no backslash escapes, UTF-8.
func CheckFileName(name string) error {
	for _, c := range []struct{ s, what string }{{"\n", "a newline"}, {"\r", "a carriage return"}, {"\t", "a tab"}, {"\\", "a backslash"}} {
		if strings.Contains(name, c.s) {
			return fmt.Errorf("%q has %s in its name: %s cannot list it; rename it", name, c.what, SumsFile)
		}
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%q is not valid UTF-8: rename it", name)
	}
	return nil
}

// ImagePartArchive is the path of the n-th (from 1) image archive of a bundle whose images are
// spread over several archives (pack --max-archive-size): "images/part-1.tar", … A bundle whose
// images fit in one archive has ImageArchive instead.
func ImagePartArchive(n int) string {
	return fmt.Sprintf("%s/part-%d.tar", ImagesDir, n)
}
