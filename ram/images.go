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

	"github.com/distribution/reference"
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

// The platform importer's re-tag rule (docs/ram-format.md §8.1). rainbond-oam
// pkg/localimport/import.go ((*ramImport).Import) loads the package's images, then tags each
// share_image with docker.NewImageName (pkg/util/docker/image.go) and pushes it to the
// cluster's registry; the component then runs that name. This is the one place airpack knows
// the rule.

// ImportHub is the registry the importer pushes to on a default install: the cluster's
// internal registry (goodrain/rainbond builder/exector/import_app.go replaces an empty or
// "goodrain.me" hub_url by it), with an empty namespace (the console sends one only when the
// enterprise configured an app store image hub).
const ImportHub = "goodrain.me"

// ImportedName is the name the platform importer re-tags share_image to before pushing it to
// hub (ImportHub on a default install) under namespace ("" on a default install):
// share_image parsed as docker does ("redis:7" is docker.io/library/redis:7), its registry
// host dropped, then the first path segment when the path has more than one, the tag kept
// ("latest" when there is none):
//
//	redis:7, bitnami/redis:7, quay.io/x/redis:7 -> goodrain.me/redis:7
//	reg.example.com:5000/a/b/c:1                -> goodrain.me/b/c:1
//	goodrain.me/ns/abc:v1 (namespace "myns")    -> goodrain.me/myns/abc:v1
//
// It fails where the import fails: an upper-case repository ("repository name must be
// lowercase") and a digest reference (the importer takes the digest for the tag, and the name
// it builds does not parse).
func ImportedName(shareImage, hub, namespace string) (string, error) {
	ref, err := reference.ParseAnyReference(shareImage)
	if err != nil {
		return "", err
	}
	named, err := reference.ParseNamed(ref.String())
	if err != nil {
		return "", err
	}
	if d, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("it is pinned to digest %s: the importer takes the digest for a tag and cannot tag the image", d.Digest())
	}
	rest := reference.Path(named)
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[i+1:]
	}
	tag := reference.TagNameOnly(named).(reference.Tagged).Tag()
	if namespace != "" {
		return hub + "/" + namespace + "/" + rest + ":" + tag, nil
	}
	return hub + "/" + rest + ":" + tag, nil
}

// defaultImportedName is ImportedName on a default install. Any other hub or namespace is a
// prefix of the same (path rest, tag) pair, so two share_images collide under one exactly when
// they collide under this one.
func defaultImportedName(shareImage string) (string, error) {
	return ImportedName(shareImage, ImportHub, "")
}

// ImportProblems lists what the importer's re-tag does wrong to t's images, one line each: a
// share_image it cannot re-tag (the import fails), and two share_images naming different
// images that become one name (the second push overwrites the first, and a component runs
// another's image while the import reports success). Components and plugins are pushed to the
// same registry and are checked together. Two components with the very same share_image ship
// one image and are fine.
func ImportProblems(t *Template) []string {
	type owner struct {
		label string
		norm  string // the share_image, normalized
		image string // the share_image as written
	}
	var problems []string
	seen := map[string]owner{} // imported name -> its first owner
	reported := map[[2]string]bool{}
	check := func(label, shareImage string) {
		if strings.TrimSpace(shareImage) == "" {
			return // Validate's
		}
		n, err := defaultImportedName(shareImage)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: share_image %s cannot be imported: %v (the import fails)", label, quote(shareImage), err))
			return
		}
		o := owner{label, normRef(shareImage), shareImage}
		first, ok := seen[n]
		if !ok {
			seen[n] = o
			return
		}
		if first.norm == o.norm || reported[[2]string{first.norm, o.norm}] {
			return
		}
		reported[[2]string{first.norm, o.norm}] = true
		problems = append(problems, fmt.Sprintf("%s and %s both become %s on import (share_images %s and %s): the second overwrites the first, and both run one image", first.label, label, n, first.image, shareImage))
	}
	for i := range t.Apps {
		check(componentLabel(i, &t.Apps[i]), t.Apps[i].ShareImage)
	}
	for i := range t.Plugins {
		check("plugins["+itoa(i)+"] (plugin_name "+quote(t.Plugins[i].PluginName)+")", t.Plugins[i].ShareImage)
	}
	return problems
}

// airpack's share_image: ImportHub/<group>/<component id>:<version>
// (docs/ram-format.md §8.1). The platform's own exports name a component's image
// <hub>/<namespace>/<service_id>:<build_version>; airpack keeps that shape, with the group
// name (made a path segment) as the namespace. The importer drops the host and that first
// segment, so the component's image becomes ImportHub/<component id>:<version>: unique per
// component (the id is the service_id, 32 hex characters derived from the group name and the
// service name, or the template's own) and per version of the template.

// ShareImageName is the share_image airpack gives a component of template group, version: see
// above. id is the component's service_id; an id that cannot be a lower-case path segment
// of at most 40 characters is replaced by its StableID. The version is the tag when it is a
// valid lower-case tag; else it is made one (lower case, other characters '-') followed by
// '-' and 8 hex characters of its StableID, so that two versions never share a tag. The name
// is at most 12 + 40 + 1 + 128 = 181 characters once the importer has re-tagged it.
func ShareImageName(group, version, id string) string {
	return ImportHub + "/" + groupSegment(group) + "/" + idSegment(id) + ":" + versionTag(version)
}

func isLowerAlnum(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}

// groupSegment makes a group name a path segment: lower-case letters and digits, runs of
// anything else one '-', at most 40 characters; "app" when nothing is left.
func groupSegment(group string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(group) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 40 {
				break
			}
			continue
		}
		dash = true
	}
	s := strings.TrimRight(b.String(), "-")
	if s == "" {
		return "app"
	}
	return s
}

func idSegment(id string) string {
	if len(id) <= 40 && isLowerAlnum(id) {
		return id
	}
	return StableID("service_id", id)
}

// versionTag makes a group_version an image tag (see ShareImageName).
func versionTag(version string) string {
	valid := len(version) <= 128 && version != "" && version[0] != '.' && version[0] != '-'
	for _, r := range version {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '.' && r != '-' {
			valid = false
			break
		}
	}
	if valid {
		return version
	}
	var b strings.Builder
	for _, r := range strings.ToLower(version) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), ".-")
	if len(s) > 110 {
		s = s[:110]
	}
	if s == "" {
		s = "v"
	}
	return s + "-" + StableID("group_version", version)[:8]
}

// ShareImageTags is how an image archive holding every component's image under the name it
// was shipped as must be re-tagged to become component-images.tar (imageset.Retag): by the
// image name held (held reports whether the archive holds a name), the share_images to add. A
// component whose share_image is held needs nothing; else its image must be held, and its
// share_image is added to it, the shipped name kept so that the package can give it back.
func ShareImageTags(t *Template, held func(ref string) bool) (map[string][]string, error) {
	tags := map[string][]string{}
	for i := range t.Apps {
		c := &t.Apps[i]
		switch {
		case held(c.ShareImage):
		case c.Image != "" && held(c.Image):
			if !slices.Contains(tags[c.Image], c.ShareImage) {
				tags[c.Image] = append(tags[c.Image], c.ShareImage)
			}
		default:
			return nil, fmt.Errorf("%s: neither its share_image %s nor its image %s is among the images", componentLabel(i, c), c.ShareImage, quote(c.Image))
		}
	}
	return tags, nil
}
