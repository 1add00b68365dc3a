package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/airpack/airpack/bundle"
)

// tree is a shipped directory being walked.
type tree struct {
	kind string // what mounts it, for messages
	top  string // the directory as mounted
	root string // top with its links resolved: what a link may point into
	dst  string // top's path in the bundle
	seen map[string]bool
}

// addTree adds dir (a directory of t) and everything below it: directories (empty ones too) and
// regular files, with their modes and owners. A symbolic link that stays inside the mounted
// directory is shipped as a link when relative (as the container sees it), else followed (the
// container finds the same content through it); one that leaves it would ship the packing
// machine's files, so it is refused unless --allow-outside names its target. Broken links, sockets and the like are left out, with a warning; so is airpack's own
// output.
func (r *rewriter) addTree(dir, dst string, t tree) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if t.seen[real] {
		return nil // a link back up the tree
	}
	t.seen[real] = true
	defer delete(t.seen, real)
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := r.addFile(dir, dst, info); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		src := filepath.Join(dir, e.Name())
		if r.opts.Exclude != nil {
			if skip, why := r.opts.Exclude(src); skip {
				if why != "" {
					r.warnf("%s %s: %s is left out of the bundle: %s", t.kind, r.display(t.top), r.display(src), why)
				}
				continue
			}
		}
		if e.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(src)
			if errors.Is(err, fs.ErrNotExist) {
				link, _ := os.Readlink(src)
				r.warnf("%s %s: %s is a broken symbolic link (to %s): left out of the bundle", t.kind, r.display(t.top), r.display(src), link)
				continue
			}
			if err != nil {
				return err
			}
			if link, _ := os.Readlink(src); within(t.root, target) && r.keepLink(t, dst+"/"+e.Name(), link) {
				if err := r.addLink(src, dst+"/"+e.Name(), link); err != nil {
					return err
				}
				continue
			}
			if !within(t.root, target) {
				link, _ := os.Readlink(src)
				if !r.allowed(target) {
					return fmt.Errorf("%s %s: %s is a symbolic link to %s, outside the mounted directory: the bundle would ship this machine's %s; replace the link with the file, or pass --allow-outside %s to ship a copy",
						t.kind, r.display(t.top), r.display(src), link, target, target)
				}
				r.warnf("%s %s: %s is a symbolic link to %s, outside the mounted directory: shipped as a copy of this machine's %s (--allow-outside)",
					t.kind, r.display(t.top), r.display(src), link, target)
			}
		}
		info, err := os.Stat(src)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			err = r.addTree(src, dst+"/"+e.Name(), t)
		case info.Mode().IsRegular():
			err = r.addFile(src, dst+"/"+e.Name(), info)
		default:
			r.warnf("%s %s: %s is a %s: left out of the bundle (it holds only files and directories)", t.kind, r.display(t.top), r.display(src), fileKind(info.Mode()))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// keepLink reports whether a link found at dst in the bundle to target is shipped as a link:
// relative, and staying inside the mounted directory as the container sees it.
func (r *rewriter) keepLink(t tree, dst, target string) bool {
	to := path.Join(path.Dir(dst), target)
	return bundle.LinkProblem(dst, target) == "" && (to == t.dst || strings.HasPrefix(to, t.dst+"/"))
}

func (r *rewriter) addLink(src, dst, target string) error {
	if err := bundle.CheckFileName(dst); err != nil {
		return fmt.Errorf("%s: %w", r.display(src), err)
	}
	if prev, ok := r.files[dst]; ok && prev.Src != src {
		return fmt.Errorf("%s and %s would both be shipped as %s", prev.Src, src, dst)
	}
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	uid, gid := owner(info)
	r.files[dst] = FileCopy{Src: src, Dst: dst, Mode: info.Mode(), Link: target, Uid: uid, Gid: gid}
	return nil
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != ".."+string(filepath.Separator))
}

// owner is a file's numeric owner and group.
func owner(info fs.FileInfo) (uid, gid int) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}
