package pack

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/airpack/airpack/bundle"
)

// OutsidePaths makes the --allow-outside paths absolute and clean. A value that looks like a
// flag is the old bare --allow-outside swallowing the next argument: it now takes a path.
func OutsidePaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "" || strings.HasPrefix(p, "-") {
			return nil, fmt.Errorf("--allow-outside takes a PATH (got %q): name each file or directory outside the project to ship a copy of, repeating the flag; absolute host paths are otherwise kept as the target's", p)
		}
		if p == "~" || strings.HasPrefix(p, "~/") {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("--allow-outside %s: %w", p, err)
			}
			p = filepath.Join(home, p[1:])
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("--allow-outside %s: %w", p, err)
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			out = append(out, real) // sources are compared resolved, links are followed
		}
		out = append(out, abs)
	}
	return out, nil
}

// archiveIsBundle reports whether the archive at p is an airpack bundle. A bundle archive has
// airpack.json among its first files (small files come first, sorted: .env, airpack.json, ...):
// a large archive of other data is not read through.
func archiveIsBundle(ctx context.Context, p string) bool {
	found, n := false, 0
	_ = bundle.Walk(ctx, p, func(name string, _ io.Reader, _ int64) error {
		n++
		if found = name == bundle.ManifestFile; found || n >= 3 {
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// tmpExport starts the name of the work directory airpack ram makes beside its output.
const tmpExport = ".airpack-export-"

// excludeOutput says whether a file found in a shipped directory must not be shipped: this
// pack's output or its temporary files (silently: they were never the project's), airpack ram's
// work directory, or an airpack bundle (an earlier pack's output, with a warning).
func excludeOutput(ctx context.Context, output string) func(string) (bool, string) {
	absOut, err := filepath.Abs(output)
	if err != nil {
		absOut = output
	}
	tmpPrefix := filepath.Join(filepath.Dir(absOut), "."+filepath.Base(absOut)+".tmp-")
	return func(p string) (bool, string) {
		switch {
		case p == absOut, strings.HasPrefix(p, tmpPrefix), strings.HasPrefix(filepath.Base(p), tmpExport):
			return true, ""
		case bundle.IsPartOf(p, absOut):
			return true, "" // this pack's output in parts
		}
		if ps, err := bundle.FindParts(p); err == nil && ps != nil && archiveIsBundle(ctx, p) {
			if p != ps.List {
				return true, "" // the list says it, once for all the parts
			}
			return true, fmt.Sprintf("it is the parts list of an airpack bundle split in parts, left out with its %d parts (airpack never ships its own output)", len(ps.Parts))
		}
		st, err := os.Stat(p)
		if err != nil {
			return false, ""
		}
		if st.IsDir() {
			if _, err := os.Stat(filepath.Join(p, bundle.ManifestFile)); err != nil {
				return false, ""
			}
			if _, err := os.Stat(filepath.Join(p, bundle.SumsFile)); err != nil {
				return false, ""
			}
			return true, "it is an airpack bundle (airpack never ships its own output)"
		}
		if bundle.FormatOf(p) == bundle.FormatDir || !archiveIsBundle(ctx, p) {
			return false, ""
		}
		return true, "it is an airpack bundle (airpack never ships its own output)"
	}
}
