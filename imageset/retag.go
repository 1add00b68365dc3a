package imageset

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// nameAnnotations are the index.json annotations naming an image ref: containerd's full name
// (what `docker load` and `ctr import` tag the image with) and the OCI ref name (its tag).
func nameAnnotations(ref string) (map[string]string, error) {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return nil, err
	}
	full, err := ContainerdName(ref)
	if err != nil {
		return nil, err
	}
	return map[string]string{AnnotationImageName: full, AnnotationRefName: r.Identifier()}, nil
}

// Retag copies the image archive read from r (a tar: a `docker save` archive, an OCI layout,
// or airpack's archive, which is both) to w, giving its images more names: the image tagged
// with a key of tags (names compared normalised, "redis:7" is docker.io/library/redis:7) is
// also tagged with each name tags lists for it, and keeps its own. In manifest.json the names
// are added to the image's RepoTags; in index.json each gets a descriptor of its own, a copy of
// the image's with name annotations as NewArchive writes them. Only those two small entries
// are rewritten (at most 64 MiB each, read into memory), in place; every other entry is copied
// as it is, streamed. An image named in tags that neither lists is an error, as is a new name
// that parses as no image reference, and a new name another image of the archive holds or that
// tags gives two images (a name the image holds already changes nothing).
func Retag(w io.Writer, r io.Reader, tags map[string][]string) error {
	want := map[string][]string{} // normalised old name -> new names
	for from, to := range tags {
		for _, t := range to {
			if _, err := name.ParseReference(t, name.WeakValidation); err != nil {
				return fmt.Errorf("retag image archive: new name %q: %w", t, err)
			}
		}
		k := normName(from)
		want[k] = append(want[k], to...)
	}
	found := map[string]bool{}
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	sawIndex, sawManifest := false, false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read image archive: %w", err)
		}
		var rewrite func([]byte) ([]byte, error)
		if h.Typeflag == tar.TypeReg {
			switch cleanEntryName(h.Name) {
			case "manifest.json":
				sawManifest = true
				rewrite = func(b []byte) ([]byte, error) { return retagManifest(b, want, found) }
			case "index.json":
				sawIndex = true
				rewrite = func(b []byte) ([]byte, error) { return retagIndex(b, want, found) }
			}
		}
		if rewrite == nil || len(want) == 0 {
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return fmt.Errorf("copy image archive entry %s: %w", h.Name, err)
			}
			continue
		}
		if h.Size > metaLimit {
			return fmt.Errorf("image archive: %s is %d bytes, too large for image metadata", h.Name, h.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("read image archive entry %s: %w", h.Name, err)
		}
		if b, err = rewrite(b); err != nil {
			return fmt.Errorf("image archive %s: %w", h.Name, err)
		}
		nh := *h
		nh.Size = int64(len(b))
		if err := tw.WriteHeader(&nh); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if !sawIndex && !sawManifest {
		return fmt.Errorf("image archive: neither manifest.json (docker save) nor index.json (OCI layout) in it")
	}
	var missing []string
	for from := range tags {
		if !found[normName(from)] {
			missing = append(missing, from)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("image archive: no image tagged %s in it", strings.Join(missing, ", "))
	}
	return tw.Close()
}

// retagManifest adds the new names to manifest.json's RepoTags, keeping every other field of
// each entry as it is. A new name another entry (another image: another Config) holds, or that
// want gives two images, is an error naming both.
func retagManifest(b []byte, want map[string][]string, found map[string]bool) ([]byte, error) {
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("not a docker-save manifest: %w", err)
	}
	tagsOf := make([][]string, len(entries))
	image := make([]string, len(entries)) // what makes an entry one image: its Config
	owner := map[string]int{}             // normalised name -> the first entry holding it
	for i, e := range entries {
		if raw, ok := e["RepoTags"]; ok {
			if err := json.Unmarshal(raw, &tagsOf[i]); err != nil {
				return nil, fmt.Errorf("RepoTags: %w", err)
			}
		}
		image[i] = "#" + strconv.Itoa(i)
		if raw, ok := e["Config"]; ok {
			var c string
			if json.Unmarshal(raw, &c) == nil && c != "" {
				image[i] = c
			}
		}
		for _, t := range tagsOf[i] {
			if _, ok := owner[normName(t)]; !ok {
				owner[normName(t)] = i
			}
		}
	}
	label := func(i int) string {
		if len(tagsOf[i]) > 0 {
			return tagsOf[i][0]
		}
		return "the image of config " + image[i]
	}
	changed := false
	for i, e := range entries {
		tags := tagsOf[i]
		out := tags
		for _, t := range tags {
			for _, n := range want[normName(t)] {
				found[normName(t)] = true
				j, ok := owner[normName(n)]
				switch {
				case !ok:
					owner[normName(n)] = i
					out = append(out, n)
				case image[j] != image[i]:
					return nil, nameTaken(t, n, label(j))
				}
			}
		}
		if len(out) != len(tags) {
			tagsOf[i] = out
			raw, err := json.Marshal(out)
			if err != nil {
				return nil, err
			}
			e["RepoTags"] = raw
			changed = true
		}
	}
	if !changed {
		return b, nil
	}
	return json.Marshal(entries)
}

// nameTaken is the error for a new name n of the image named old that names another image,
// other, already.
func nameTaken(old, n, other string) error {
	return fmt.Errorf("image %s cannot also be named %s: the name belongs to another image, %s", old, n, other)
}

// retagIndex adds, after the descriptor of each image index.json names with a name of want,
// one descriptor per new name: a copy with name annotations for it.
func retagIndex(b []byte, want map[string][]string, found map[string]bool) ([]byte, error) {
	var idx map[string]json.RawMessage
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("not an OCI image index: %w", err)
	}
	var descs []map[string]json.RawMessage
	if raw, ok := idx["manifests"]; ok {
		if err := json.Unmarshal(raw, &descs); err != nil {
			return nil, fmt.Errorf("manifests: %w", err)
		}
	}
	named := func(d map[string]json.RawMessage) []string {
		var a map[string]string
		if raw, ok := d["annotations"]; ok {
			_ = json.Unmarshal(raw, &a) // not a name map: names nothing
		}
		var out []string
		if n := a[AnnotationImageName]; n != "" {
			out = append(out, normName(n))
		}
		if n := a[AnnotationRefName]; n != "" && !bareTag(n) {
			out = append(out, normName(n))
		}
		return out
	}
	// What makes a descriptor one image: its manifest's digest.
	digest := func(d map[string]json.RawMessage) string {
		var s string
		_ = json.Unmarshal(d["digest"], &s)
		return s
	}
	type image struct{ digest, label string }
	owner := map[string]image{} // normalised name -> the first image holding it
	label := func(d map[string]json.RawMessage) string {
		var a map[string]string
		if raw, ok := d["annotations"]; ok {
			_ = json.Unmarshal(raw, &a)
		}
		if n := a[AnnotationImageName]; n != "" {
			return n
		}
		if n := a[AnnotationRefName]; n != "" {
			return n
		}
		return "the image of manifest " + digest(d)
	}
	for _, d := range descs {
		for _, n := range named(d) {
			if _, ok := owner[n]; !ok {
				owner[n] = image{digest(d), label(d)}
			}
		}
	}
	var out []map[string]json.RawMessage
	for _, d := range descs {
		out = append(out, d)
		for _, old := range named(d) {
			for _, n := range want[old] {
				found[old] = true
				if o, ok := owner[normName(n)]; ok {
					if o.digest != digest(d) {
						return nil, nameTaken(label(d), n, o.label)
					}
					continue
				}
				ann, err := nameAnnotations(n)
				if err != nil {
					return nil, fmt.Errorf("new name %q: %w", n, err)
				}
				raw, err := json.Marshal(ann)
				if err != nil {
					return nil, err
				}
				c := make(map[string]json.RawMessage, len(d))
				for k, v := range d {
					c[k] = v
				}
				c["annotations"] = raw
				owner[normName(n)] = image{digest(d), label(d)}
				out = append(out, c)
			}
		}
	}
	if len(out) == len(descs) {
		return b, nil
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	idx["manifests"] = raw
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(idx); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ArchiveSameImage reports whether the image archive at path tags one image with both names x
// and y (compared normalised): in manifest.json, one entry (or entries sharing a config); in
// index.json, descriptors of one manifest. False when either name is not in it.
func ArchiveSameImage(path, x, y string) (bool, error) {
	a, err := indexArchive(path, openArchiveFile)
	if err != nil {
		return false, err
	}
	nx, ny := normName(x), normName(y)
	configOf := func(n string) string {
		for _, e := range a.docker {
			for _, t := range e.RepoTags {
				if normName(t) == n {
					return e.Config
				}
			}
		}
		return ""
	}
	if cx, cy := configOf(nx), configOf(ny); cx != "" && cy != "" && (cx == cy || a.sameEntry(cx, cy)) {
		return true, nil
	}
	if a.index != nil {
		digestOf := func(n string) string {
			for _, d := range a.index.Manifests {
				if m := d.Annotations[AnnotationImageName]; m != "" && normName(m) == n {
					return d.Digest.String()
				}
				if r := d.Annotations[AnnotationRefName]; !bareTag(r) && normName(r) == n {
					return d.Digest.String()
				}
			}
			return ""
		}
		if dx, dy := digestOf(nx), digestOf(ny); dx != "" && dx == dy {
			return true, nil
		}
	}
	return false, nil
}
