package imageset

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
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
// that parses as no image reference.
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
// each entry as it is.
func retagManifest(b []byte, want map[string][]string, found map[string]bool) ([]byte, error) {
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("not a docker-save manifest: %w", err)
	}
	changed := false
	for _, e := range entries {
		var tags []string
		if raw, ok := e["RepoTags"]; ok {
			if err := json.Unmarshal(raw, &tags); err != nil {
				return nil, fmt.Errorf("RepoTags: %w", err)
			}
		}
		norm := map[string]bool{}
		for _, t := range tags {
			norm[normName(t)] = true
		}
		out := tags
		for _, t := range tags {
			for _, n := range want[normName(t)] {
				found[normName(t)] = true
				if !norm[normName(n)] {
					norm[normName(n)] = true
					out = append(out, n)
				}
			}
		}
		if len(out) != len(tags) {
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
	has := map[string]bool{}
	for _, d := range descs {
		for _, n := range named(d) {
			has[n] = true
		}
	}
	var out []map[string]json.RawMessage
	for _, d := range descs {
		out = append(out, d)
		for _, old := range named(d) {
			for _, n := range want[old] {
				found[old] = true
				if has[normName(n)] {
					continue
				}
				has[normName(n)] = true
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
