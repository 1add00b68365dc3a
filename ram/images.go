package ram

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// imageNames is the set of image names an image archive holds.
type imageNames struct {
	names []string        // as written in the archive, sorted
	norm  map[string]bool // normalized (see normRef)
}

func (n *imageNames) has(ref string) bool { return ref != "" && n.norm[normRef(ref)] }

// add records ref (once; "" is ignored).
func (n *imageNames) add(ref string) {
	if ref == "" || slices.Contains(n.names, ref) {
		return
	}
	n.names = append(n.names, ref)
	n.norm[normRef(ref)] = true
}

func (n *imageNames) String() string {
	if len(n.names) == 0 {
		return "no tagged image"
	}
	const show = 8
	if len(n.names) > show {
		return strings.Join(n.names[:show], ", ") + fmt.Sprintf(" and %d more", len(n.names)-show)
	}
	return strings.Join(n.names, ", ")
}

// normRef normalizes an image reference the way the engine resolves names, so that "nginx",
// "nginx:latest" and "docker.io/library/nginx:latest" are one name.
func normRef(ref string) string {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return ref
	}
	return r.Name()
}

// LegacySaveName is the short name Rainbond before 5.3 saved an image under and the importer
// still falls back to: the reference without its registry host and first path segment, with its
// tag: goodrain.me/ns/abc:v1 -> abc:v1.
func LegacySaveName(ref string) string {
	repo, tag := ref, "latest"
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo, tag = repo[:i], repo[i+1:]
	} else if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo, tag = repo[:i], repo[i+1:]
	}
	parts := strings.Split(repo, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	if len(parts) > 1 {
		parts = parts[1:]
	}
	return strings.Join(parts, "/") + ":" + tag
}

// legacyFileName is the file a Rainbond 5.2 package stored an image in: the last path segment
// of the reference, ':' replaced by "--", plus ".image.tar".
func legacyFileName(ref string) string {
	last := ref[strings.LastIndexByte(ref, '/')+1:]
	return strings.ReplaceAll(last, ":", "--") + ".image.tar"
}

// readImageNames lists the images of an image archive from its docker-save manifest.json
// (RepoTags) and its OCI index.json (image name annotations), without reading the blobs: tar
// seeks past them.
func readImageNames(file string) (*imageNames, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, found, err := scanImageNames(tar.NewReader(f), func(err error) error {
		return fmt.Errorf("it is truncated or corrupt: %w", err)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("it is not an image archive: it has neither a manifest.json (docker save) nor an index.json (OCI)")
	}
	return n, nil
}

// scanImageNames reads an image archive's tar to its end and collects the image names its
// manifest.json and index.json list (namesFromEntry), sorted; found says whether either was
// there. tarErr wraps an error of the tar reader.
func scanImageNames(tr *tar.Reader, tarErr func(error) error) (n *imageNames, found bool, err error) {
	n = &imageNames{norm: map[string]bool{}}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, tarErr(err)
		}
		listed, err := namesFromEntry(h.Name, tr, n.add)
		if err != nil {
			return nil, false, err
		}
		found = found || listed
	}
	slices.Sort(n.names)
	return n, found, nil
}

// namesFromEntry adds the image names that an image archive's docker-save manifest.json
// (RepoTags) or OCI index.json (name annotations) lists, and reports whether the entry was one
// of those two.
func namesFromEntry(name string, r io.Reader, add func(string)) (bool, error) {
	switch path.Clean(name) {
	case "manifest.json":
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&m); err != nil {
			return true, fmt.Errorf("its manifest.json is not a docker-save manifest: %w", err)
		}
		for _, e := range m {
			for _, t := range e.RepoTags {
				add(t)
			}
		}
		return true, nil
	case "index.json":
		var idx struct {
			Manifests []struct{ Annotations map[string]string }
		}
		if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&idx); err != nil {
			return true, fmt.Errorf("its index.json is not an OCI image index: %w", err)
		}
		for _, m := range idx.Manifests {
			add(m.Annotations["io.containerd.image.name"])
			// ref.name is often only a tag; take it when it is a whole reference.
			if r := m.Annotations["org.opencontainers.image.ref.name"]; strings.ContainsAny(r, "/:") {
				add(r)
			}
		}
		return true, nil
	}
	return false, nil
}
