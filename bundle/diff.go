package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v4"
)

// The forms a side of a diff is read from.
const (
	FormDirectory = "directory"
	FormArchive   = "archive"
	FormManifest  = "manifest" // an airpack.json file alone
)

// DiffSide is one side of `airpack diff`: what is read of a bundle directory, a bundle archive
// or an airpack.json file. Nothing but the small files is read: an archive is read up to its
// image archives, never extracted.
type DiffSide struct {
	Path     string
	Form     string
	Manifest *Manifest
	// Compose is the bundle's compose file as written; nil for an airpack.json input, or when
	// the bundle has none.
	Compose []byte
	// Env is the bundle's .env; nil when there is none (or the input is an airpack.json).
	Env []byte
	// ManifestJSON are the exact bytes of its airpack.json (an upgrade records their sha256).
	ManifestJSON []byte
	// Size is the bundle's size as given: the archive file's, or the sum of the directory's
	// files; -1 for an airpack.json input.
	Size int64
}

// ReadDiffSide reads path: a bundle directory, a bundle archive (.tar, .tar.gz, .tar.zst,
// recognised by content, or its split parts) or an airpack.json file (a file whose content is a
// JSON object). Errors name path once. `airpack diff` reads both its sides so, and pack --base
// its base (ReadBaseFiles).
func ReadDiffSide(ctx context.Context, path string) (*DiffSide, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, pathErr(err))
	}
	s := &DiffSide{Path: path}
	if fi.IsDir() {
		s.Form = FormDirectory
		err = s.readDir(path)
	} else {
		size := fi.Size()
		// A split archive (its parts list, a part, or the archive's name when only its parts
		// exist) is as large as its parts together.
		if ps, perr := FindParts(path); perr == nil && ps != nil {
			size = 0
			for _, p := range ps.Parts {
				if st, err := os.Stat(p.Path); err == nil {
					size += st.Size()
				}
			}
		}
		err = s.readFile(ctx, path, size)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// noManifestError is a directory or archive without airpack.json.
type noManifestError string

func (p noManifestError) Error() string {
	return fmt.Sprintf("%s: no %s: not an airpack bundle", string(p), ManifestFile)
}

// named makes err one line that names path once.
func named(path string, err error) error {
	msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "open bundle: "), "\n", "; ")
	if !strings.Contains(msg, path) {
		msg = path + ": " + msg
	}
	return errors.New(msg)
}

// pathErr drops the path an *fs.PathError repeats.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (s *DiffSide) readDir(dir string) error {
	read := func(name string) ([]byte, error) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if fi.Size() > maxSmallFile {
			return nil, fmt.Errorf("%s: %s is too large (%s) to be what its name says", dir, name, HumanSize(fi.Size()))
		}
		return os.ReadFile(p)
	}
	b, err := read(ManifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		return noManifestError(dir)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, pathErr(err))
	}
	if s.Manifest, err = ParseManifest(b); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	s.ManifestJSON = b
	if b, err := read(s.composeFile()); err == nil {
		s.Compose = b
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", dir, pathErr(err))
	}
	if b, err := read(EnvFile); err == nil {
		s.Env = b
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", dir, pathErr(err))
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", dir, pathErr(err))
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("%s: %w", dir, pathErr(err))
			}
			s.Size += fi.Size()
		}
		return nil
	})
}

func (s *DiffSide) readFile(ctx context.Context, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, pathErr(err))
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if looksLikeJSONObject(head[:n]) {
		s.Form, s.Size = FormManifest, -1
		if size > maxSmallFile {
			return fmt.Errorf("%s: too large (%s) to be an %s", path, HumanSize(size), ManifestFile)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, pathErr(err))
		}
		if s.Manifest, err = ParseManifest(b); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		s.ManifestJSON = b
		return nil
	}
	s.Form, s.Size = FormArchive, size
	// airpack.json, the compose file and .env come before the image archives in a bundle
	// archive (plain: the small files, then images/; compressed: sorted by path), so the walk
	// stops at images/ and never reads an image archive.
	small := map[string][]byte{}
	err = Walk(ctx, path, func(name string, r io.Reader, size int64) error {
		if strings.HasPrefix(name, ImagesDir+"/") {
			return fs.SkipAll
		}
		if strings.Contains(name, "/") || size > maxSmallFile {
			return nil // files/…; the compose file is at the top
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		small[name] = b
		return nil
	})
	if _, err := splitEntryErrors(err); err != nil {
		return named(path, err)
	}
	b, ok := small[ManifestFile]
	if !ok {
		return noManifestError(path)
	}
	if s.Manifest, err = ParseManifest(b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	s.ManifestJSON = b
	s.Compose = small[s.composeFile()]
	s.Env = small[EnvFile]
	return nil
}

func (s *DiffSide) composeFile() string {
	if s.Manifest != nil && s.Manifest.ComposeFile != "" {
		return s.Manifest.ComposeFile
	}
	return ComposeFile
}

// Diff is what `airpack diff OLD NEW` reports: what changed from OLD to NEW, and what an
// upgrade bundle from OLD to NEW (`airpack pack --base OLD`) would carry. Every list is
// present, empty when nothing is in it.
type Diff struct {
	Old DiffBundle `json:"old"`
	New DiffBundle `json:"new"`
	// Same is true when nothing compared differs: name, version, platform, services, images,
	// and (when compared) the compose file and .env.
	Same bool `json:"same"`
	// Warnings say what makes NEW no in-place upgrade of OLD: another name or platform.
	Warnings []string `json:"warnings"`
	// ComposeCompared is true when both sides are bundles with their compose files, whose
	// services' definitions and .env were compared.
	ComposeCompared bool     `json:"composeCompared"`
	Services        Services `json:"services"`
	// ComposeKeys are the compose file's top-level keys other than services and name whose
	// content changed (networks, volumes, configs, secrets, …).
	ComposeKeys []string `json:"composeKeys"`
	// EnvVariables are the .env variables (names only: values may be secrets) added, removed
	// or given another value.
	EnvVariables EnvChanges      `json:"envVariables"`
	Images       Images          `json:"images"`
	Upgrade      UpgradeEstimate `json:"upgrade"`
}

// DiffBundle identifies one side of a diff.
type DiffBundle struct {
	Path     string `json:"path"`
	Form     string `json:"form"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	// Size is the bundle's size as given (the archive file, or the directory's files); null
	// for an airpack.json input.
	Size *int64 `json:"size"`
	// ImageArchiveSize is the sum of the image archives' sizes (airpack.json archives[]).
	ImageArchiveSize int64 `json:"imageArchiveSize"`
}

// Services compares the services of the two bundles.
type Services struct {
	Added     []ServiceRef    `json:"added"`
	Removed   []ServiceRef    `json:"removed"`
	Changed   []ServiceChange `json:"changed"`
	Unchanged []string        `json:"unchanged"`
}

// ServiceRef is a service and the image it runs ("" for a service without one, a provider).
type ServiceRef struct {
	Service string `json:"service"`
	Image   string `json:"image"`
}

// ServiceChange is a service of both bundles that changed.
type ServiceChange struct {
	Service  string `json:"service"`
	OldImage string `json:"oldImage"`
	NewImage string `json:"newImage"`
	// OldDigest and NewDigest are the manifest digests of the images it runs.
	OldDigest string `json:"oldDigest"`
	NewDigest string `json:"newDigest"`
	// ImageChanged: the image it runs is another reference or another digest.
	ImageChanged bool `json:"imageChanged"`
	// VolumeImages are the images it mounts as `type: image` volumes that changed (their refs
	// in NEW).
	VolumeImages []string `json:"volumeImages"`
	// Keys are the keys of its definition in the compose file whose value changed, compared
	// as written (variables not substituted), normalised, key order ignored.
	Keys []string `json:"keys"`
	// EnvVariables are the .env variables its definition uses that were added, removed or
	// given another value.
	EnvVariables []string `json:"envVariables"`
}

// EnvChanges are the names of .env variables that changed.
type EnvChanges struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

// Images compares the images of the two bundles, paired by reference, else by repository
// (shop/web:1.0 and shop/web:1.1, when each side has one image of that repository left).
type Images struct {
	Added     []ImageSummary `json:"added"`
	Removed   []ImageSummary `json:"removed"`
	Changed   []ImageChange  `json:"changed"`
	Unchanged []string       `json:"unchanged"`
}

// ImageSummary is an image of one bundle.
type ImageSummary struct {
	Ref            string `json:"ref"`
	ManifestDigest string `json:"manifestDigest"`
	ConfigDigest   string `json:"configDigest"`
	Layers         int    `json:"layers"`
	Size           int64  `json:"size"`
}

// ImageChange is an image of both bundles whose reference or digest changed.
type ImageChange struct {
	OldRef            string `json:"oldRef"`
	NewRef            string `json:"newRef"`
	OldManifestDigest string `json:"oldManifestDigest"`
	NewManifestDigest string `json:"newManifestDigest"`
	OldConfigDigest   string `json:"oldConfigDigest"`
	NewConfigDigest   string `json:"newConfigDigest"`
	// LayersAdded are NEW's layers the OLD image does not have; LayersRemoved the reverse.
	LayersAdded   []LayerRef `json:"layersAdded"`
	LayersRemoved []LayerRef `json:"layersRemoved"`
	AddedBytes    int64      `json:"addedBytes"`
	RemovedBytes  int64      `json:"removedBytes"`
}

// LayerRef is a layer and its size as stored.
type LayerRef struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// UpgradeEstimate is what an upgrade bundle from OLD to NEW would carry: PlanUpgrade's plan,
// the rule `airpack pack --base` applies, and the sizes that follow from it.
type UpgradeEstimate struct {
	// CarriedLayers / CarriedLayerBytes: NEW's layers OLD does not have, each once: the only
	// layers the upgrade's image archive stores (PlanUpgrade's Carried, CarriedBytes).
	CarriedLayers     int   `json:"carriedLayers"`
	CarriedLayerBytes int64 `json:"carriedLayerBytes"`
	// ReusedLayers / ReusedLayerBytes: NEW's layers OLD has, left out (PlanUpgrade's Reused).
	ReusedLayers     int   `json:"reusedLayers"`
	ReusedLayerBytes int64 `json:"reusedLayerBytes"`
	// BaseImages are OLD's images the target must hold for the upgrade (PlanUpgrade's Needs).
	BaseImages []BaseImage `json:"baseImages"`
	// ImageArchiveSize estimates the upgrade's image archive: NEW's image archives less the
	// reused layer blobs (each with its tar header and padding). It holds every image's
	// manifest and config, index.json, manifest.json and the carried layers.
	ImageArchiveSize int64 `json:"imageArchiveSize"`
	// BundleSize estimates the whole upgrade bundle as NEW is given (same form, same
	// compression): NEW's size less what ImageArchiveSize leaves out. Its other files (compose
	// file, .env, load.sh, files/, airpack.json) are NEW's. null for an airpack.json NEW.
	BundleSize *int64 `json:"bundleSize"`
	// Ratio is BundleSize / NEW's size, or, for an airpack.json NEW, ImageArchiveSize / NEW's
	// image archive size; 0 when NEW is empty.
	Ratio float64 `json:"ratio"`
}

// tarMemberSize is what a file of n bytes takes in a tar: a header block and its content
// padded to whole blocks (blob names are short enough for no PAX record).
func tarMemberSize(n int64) int64 { return 512 + (n+511)/512*512 }

// NewDiff compares old and new.
func NewDiff(old, new *DiffSide) Diff {
	om, nm := old.Manifest, new.Manifest
	d := Diff{
		Old:          diffBundle(old),
		New:          diffBundle(new),
		Warnings:     []string{},
		ComposeKeys:  []string{},
		EnvVariables: EnvChanges{Added: []string{}, Removed: []string{}, Changed: []string{}},
	}
	if om.Name != nm.Name {
		d.Warnings = append(d.Warnings, fmt.Sprintf("the bundles have different names (%s, %s): NEW does not upgrade OLD in place (containers, networks and volumes are named after the project); pack NEW with --name %s", om.Name, nm.Name, om.Name))
	}
	if om.Platform != nm.Platform {
		d.Warnings = append(d.Warnings, fmt.Sprintf("the bundles are for different platforms (%s, %s): NEW does not upgrade OLD on one target", om.Platform, nm.Platform))
	}

	d.Images = diffImages(om, nm)
	oc, nc := parseCompose(old.Compose), parseCompose(new.Compose)
	d.ComposeCompared = oc != nil && nc != nil
	var envChanged map[string]bool
	if d.ComposeCompared {
		d.ComposeKeys = changedKeys(oc, nc, "services", "name")
		d.EnvVariables, envChanged = diffEnv(old.Env, new.Env)
	}
	d.Services = diffServices(om, nm, oc, nc, d.ComposeCompared, envChanged)

	u := PlanUpgrade(om, nm)
	d.Upgrade = UpgradeEstimate{
		CarriedLayers:     len(u.Carried),
		CarriedLayerBytes: u.CarriedBytes,
		ReusedLayers:      len(u.Reused),
		ReusedLayerBytes:  u.ReusedBytes,
		BaseImages:        append([]BaseImage{}, u.Needs...),
	}
	// NEW's archives store every layer but those its own base lists (NEW may be an upgrade
	// bundle itself): the estimate leaves out the reused layers NEW stores, and adds the carried
	// ones it does not.
	notStored := map[string]bool{}
	if nm.Base != nil {
		for _, d := range nm.Base.Layers {
			notStored[d] = true
		}
	}
	var left int64
	for _, l := range u.Reused {
		if !notStored[l.Digest] {
			left += tarMemberSize(l.Size)
		}
	}
	for _, l := range u.Carried {
		if notStored[l.Digest] {
			left -= tarMemberSize(l.Size)
		}
	}
	d.Upgrade.ImageArchiveSize = max(d.New.ImageArchiveSize-left, 0)
	if d.New.Size != nil {
		n := max(*d.New.Size-left, 0)
		d.Upgrade.BundleSize = &n
		if *d.New.Size > 0 {
			d.Upgrade.Ratio = float64(n) / float64(*d.New.Size)
		}
	} else if d.New.ImageArchiveSize > 0 {
		d.Upgrade.Ratio = float64(d.Upgrade.ImageArchiveSize) / float64(d.New.ImageArchiveSize)
	}

	d.Same = om.Name == nm.Name && om.Version == nm.Version && om.Platform == nm.Platform &&
		len(d.Services.Added)+len(d.Services.Removed)+len(d.Services.Changed) == 0 &&
		len(d.Images.Added)+len(d.Images.Removed)+len(d.Images.Changed) == 0 &&
		len(d.ComposeKeys) == 0 &&
		len(d.EnvVariables.Added)+len(d.EnvVariables.Removed)+len(d.EnvVariables.Changed) == 0
	return d
}

func diffBundle(s *DiffSide) DiffBundle {
	m := s.Manifest
	b := DiffBundle{Path: s.Path, Form: s.Form, Name: m.Name, Version: m.Version, Platform: m.Platform}
	if s.Size >= 0 && s.Form != FormManifest {
		n := s.Size
		b.Size = &n
	}
	for _, a := range m.Archives {
		b.ImageArchiveSize += a.Size
	}
	return b
}

// repository is ref without its tag.
func repository(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

func summary(im *Image) ImageSummary {
	return ImageSummary{Ref: im.Ref, ManifestDigest: im.ManifestDigest, ConfigDigest: im.ConfigDigest, Layers: len(im.Layers), Size: im.Size()}
}

func diffImages(om, nm *Manifest) Images {
	r := Images{Added: []ImageSummary{}, Removed: []ImageSummary{}, Changed: []ImageChange{}, Unchanged: []string{}}
	pair := map[int]int{} // new index -> old index
	usedOld := map[int]bool{}
	oldByRef := map[string]int{}
	for i, im := range om.Images {
		oldByRef[im.Ref] = i
	}
	for j, im := range nm.Images {
		if i, ok := oldByRef[im.Ref]; ok && !usedOld[i] {
			pair[j], usedOld[i] = i, true
		}
	}
	// What is left pairs by repository, when each side has one image of it left.
	left := func(ims []Image, used func(int) bool) map[string][]int {
		byRepo := map[string][]int{}
		for i, im := range ims {
			if !used(i) {
				byRepo[repository(im.Ref)] = append(byRepo[repository(im.Ref)], i)
			}
		}
		return byRepo
	}
	oldLeft := left(om.Images, func(i int) bool { return usedOld[i] })
	newLeft := left(nm.Images, func(j int) bool { _, ok := pair[j]; return ok })
	for repo, js := range newLeft {
		if is := oldLeft[repo]; len(js) == 1 && len(is) == 1 {
			pair[js[0]], usedOld[is[0]] = is[0], true
		}
	}
	for j := range nm.Images {
		n := &nm.Images[j]
		i, ok := pair[j]
		if !ok {
			r.Added = append(r.Added, summary(n))
			continue
		}
		o := &om.Images[i]
		if o.Ref == n.Ref && o.ManifestDigest == n.ManifestDigest && o.ConfigDigest == n.ConfigDigest {
			r.Unchanged = append(r.Unchanged, n.Ref)
			continue
		}
		c := ImageChange{
			OldRef: o.Ref, NewRef: n.Ref,
			OldManifestDigest: o.ManifestDigest, NewManifestDigest: n.ManifestDigest,
			OldConfigDigest: o.ConfigDigest, NewConfigDigest: n.ConfigDigest,
		}
		c.LayersAdded, c.AddedBytes = layersNotIn(n.Layers, o.Layers)
		c.LayersRemoved, c.RemovedBytes = layersNotIn(o.Layers, n.Layers)
		r.Changed = append(r.Changed, c)
	}
	for i := range om.Images {
		if !usedOld[i] {
			r.Removed = append(r.Removed, summary(&om.Images[i]))
		}
	}
	return r
}

// layersNotIn returns the layers of a that b does not have, each once, and their size.
func layersNotIn(a, b []Layer) ([]LayerRef, int64) {
	in := map[string]bool{}
	for _, l := range b {
		in[l.Digest] = true
	}
	out := []LayerRef{}
	var n int64
	for _, l := range a {
		if !in[l.Digest] {
			in[l.Digest] = true
			out = append(out, LayerRef{Digest: l.Digest, Size: l.Size})
			n += l.Size
		}
	}
	return out, n
}

// serviceImages maps each service to the image it runs and the images it mounts.
func serviceImages(m *Manifest) (runs map[string]*Image, mounts map[string][]*Image) {
	runs, mounts = map[string]*Image{}, map[string][]*Image{}
	for i := range m.Images {
		im := &m.Images[i]
		for _, s := range im.Services {
			runs[s] = im
		}
		for _, s := range im.MountedBy {
			mounts[s] = append(mounts[s], im)
		}
	}
	return runs, mounts
}

func diffServices(om, nm *Manifest, oc, nc map[string]any, compose bool, envChanged map[string]bool) Services {
	r := Services{Added: []ServiceRef{}, Removed: []ServiceRef{}, Changed: []ServiceChange{}, Unchanged: []string{}}
	oRuns, oMounts := serviceImages(om)
	nRuns, nMounts := serviceImages(nm)
	names := func(runs map[string]*Image, mounts map[string][]*Image, c map[string]any) map[string]bool {
		set := map[string]bool{}
		if compose {
			// Services without an image (provider:) are only in the compose file.
			for s := range composeServices(c) {
				set[s] = true
			}
			return set
		}
		for s := range runs {
			set[s] = true
		}
		for s := range mounts {
			set[s] = true
		}
		return set
	}
	oldSet, newSet := names(oRuns, oMounts, oc), names(nRuns, nMounts, nc)
	ref := func(im *Image) string {
		if im == nil {
			return ""
		}
		return im.Ref
	}
	digest := func(im *Image) string {
		if im == nil {
			return ""
		}
		return im.ManifestDigest
	}
	for _, s := range sortedKeys(newSet) {
		if !oldSet[s] {
			r.Added = append(r.Added, ServiceRef{Service: s, Image: ref(nRuns[s])})
			continue
		}
		o, n := oRuns[s], nRuns[s]
		c := ServiceChange{
			Service: s, OldImage: ref(o), NewImage: ref(n), OldDigest: digest(o), NewDigest: digest(n),
			VolumeImages: []string{}, Keys: []string{}, EnvVariables: []string{},
		}
		c.ImageChanged = c.OldImage != c.NewImage || c.OldDigest != c.NewDigest
		c.VolumeImages = changedMounts(oMounts[s], nMounts[s])
		if compose {
			od, _ := composeServices(oc)[s].(map[string]any)
			nd, _ := composeServices(nc)[s].(map[string]any)
			c.Keys = changedKeys(od, nd)
			used := map[string]bool{}
			for v := range template.ExtractVariables(od, nil) {
				used[v] = true
			}
			for v := range template.ExtractVariables(nd, nil) {
				used[v] = true
			}
			for _, v := range sortedKeys(used) {
				if envChanged[v] {
					c.EnvVariables = append(c.EnvVariables, v)
				}
			}
		}
		if c.ImageChanged || len(c.VolumeImages)+len(c.Keys)+len(c.EnvVariables) > 0 {
			r.Changed = append(r.Changed, c)
		} else {
			r.Unchanged = append(r.Unchanged, s)
		}
	}
	for _, s := range sortedKeys(oldSet) {
		if !newSet[s] {
			r.Removed = append(r.Removed, ServiceRef{Service: s, Image: ref(oRuns[s])})
		}
	}
	return r
}

// changedMounts returns the refs (NEW's) of mounted images that are not in old with the same
// ref and digest, and the refs of old's that NEW no longer mounts.
func changedMounts(old, new []*Image) []string {
	out := []string{}
	had := map[string]string{}
	for _, im := range old {
		had[im.Ref] = im.ManifestDigest
	}
	has := map[string]bool{}
	for _, im := range new {
		has[im.Ref] = true
		if d, ok := had[im.Ref]; !ok || d != im.ManifestDigest {
			out = append(out, im.Ref)
		}
	}
	for _, im := range old {
		if !has[im.Ref] {
			out = append(out, im.Ref)
		}
	}
	sort.Strings(out)
	return out
}

// parseCompose parses a compose file as written; nil when there is none or it does not parse
// as a YAML mapping.
func parseCompose(b []byte) map[string]any {
	if b == nil {
		return nil
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil || doc == nil {
		return nil
	}
	return doc
}

func composeServices(doc map[string]any) map[string]any {
	s, _ := doc["services"].(map[string]any)
	return s
}

// changedKeys returns the keys of a or b (but skip) whose values differ once normalised.
func changedKeys(a, b map[string]any, skip ...string) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for _, k := range skip {
		delete(keys, k)
	}
	out := []string{}
	for _, k := range sortedKeys(keys) {
		if !reflect.DeepEqual(normalise(k, a[k]), normalise(k, b[k])) {
			out = append(out, k)
		}
	}
	return out
}

// listAsMap names the keys compose accepts as a list of KEY=VALUE or as a mapping.
var listAsMap = map[string]bool{"environment": true, "labels": true, "annotations": true, "sysctls": true}

// normalise makes two spellings of one value equal: a KEY=VALUE list under the keys of
// listAsMap becomes a mapping; everything else is compared as parsed (mappings ignore order).
func normalise(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalise(k, e)
		}
		return out
	case []any:
		if listAsMap[key] {
			out := map[string]any{}
			for _, e := range x {
				s := fmt.Sprint(e)
				k, val, ok := strings.Cut(s, "=")
				if ok {
					out[k] = val
				} else {
					out[k] = nil
				}
			}
			return out
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalise("", e)
		}
		return out
	}
	return v
}

// diffEnv compares two .env files by their values (not substituted: a reference to the
// shell stays as written), and returns the names that changed, also as a set.
func diffEnv(a, b []byte) (EnvChanges, map[string]bool) {
	parse := func(raw []byte) map[string]string {
		m, err := dotenv.ParseWithLookup(bytes.NewReader(raw), func(string) (string, bool) { return "", false })
		if err != nil {
			return map[string]string{}
		}
		return m
	}
	oe, ne := parse(a), parse(b)
	r := EnvChanges{Added: []string{}, Removed: []string{}, Changed: []string{}}
	set := map[string]bool{}
	for _, k := range sortedKeys(ne) {
		v, ok := oe[k]
		switch {
		case !ok:
			r.Added = append(r.Added, k)
		case v != ne[k]:
			r.Changed = append(r.Changed, k)
		default:
			continue
		}
		set[k] = true
	}
	for _, k := range sortedKeys(oe) {
		if _, ok := ne[k]; !ok {
			r.Removed = append(r.Removed, k)
			set[k] = true
		}
	}
	return r, set
}

// WriteText writes the diff for people: the two bundles, warnings, then services, images and
// the upgrade, sizes in decimal units, digests shortened.
func (d Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	side := func(label string, s DiffBundle) {
		p("%s  %s %s (%s), %s", label, s.Name, s.Version, s.Platform, s.Path)
		if s.Form == FormManifest {
			p(" (airpack.json only)")
		}
		p("\n")
	}
	side("OLD", d.Old)
	side("NEW", d.New)
	for _, w := range d.Warnings {
		p("warning: %s\n", w)
	}
	if d.Same {
		p("\nNo differences: same services, images")
		if d.ComposeCompared {
			p(", compose file and .env")
		}
		p(".\n")
	} else {
		d.writeServices(p)
		d.writeImages(p)
	}
	d.writeUpgrade(p)
	_, err := io.WriteString(w, b.String())
	return err
}

func (d Diff) writeServices(p func(string, ...any)) {
	s := d.Services
	p("\nServices: %d added, %d removed, %d changed, %d unchanged\n", len(s.Added), len(s.Removed), len(s.Changed), len(s.Unchanged))
	orNone := func(ref string) string {
		if ref == "" {
			return "(no image)"
		}
		return ref
	}
	for _, a := range s.Added {
		p("  + %s  %s\n", a.Service, orNone(a.Image))
	}
	for _, r := range s.Removed {
		p("  - %s  %s\n", r.Service, orNone(r.Image))
	}
	for _, c := range s.Changed {
		var why []string
		if c.ImageChanged {
			if c.OldImage != c.NewImage {
				why = append(why, fmt.Sprintf("image %s -> %s", orNone(c.OldImage), orNone(c.NewImage)))
			} else {
				why = append(why, fmt.Sprintf("image %s: %s -> %s", c.NewImage, shortDigest(c.OldDigest), shortDigest(c.NewDigest)))
			}
		}
		if len(c.VolumeImages) > 0 {
			why = append(why, "image volumes "+strings.Join(c.VolumeImages, ", "))
		}
		if len(c.Keys) > 0 {
			why = append(why, "definition: "+strings.Join(c.Keys, ", "))
		}
		if len(c.EnvVariables) > 0 {
			why = append(why, ".env: "+strings.Join(c.EnvVariables, ", "))
		}
		p("  ~ %s  %s\n", c.Service, strings.Join(why, "; "))
	}
	if !d.ComposeCompared {
		p("  (compose files not compared: an input is an airpack.json or has no compose file; only the images services run were)\n")
	}
	if len(d.ComposeKeys) > 0 {
		p("Compose file, top level: %s changed\n", strings.Join(d.ComposeKeys, ", "))
	}
	e := d.EnvVariables
	if len(e.Added)+len(e.Removed)+len(e.Changed) > 0 {
		var parts []string
		for _, x := range []struct {
			what  string
			names []string
		}{{"added", e.Added}, {"removed", e.Removed}, {"changed", e.Changed}} {
			if len(x.names) > 0 {
				parts = append(parts, x.what+" "+strings.Join(x.names, ", "))
			}
		}
		p(".env variables: %s (values not shown)\n", strings.Join(parts, "; "))
	}
}

func (d Diff) writeImages(p func(string, ...any)) {
	im := d.Images
	p("\nImages: %d added, %d removed, %d changed, %d unchanged\n", len(im.Added), len(im.Removed), len(im.Changed), len(im.Unchanged))
	for _, a := range im.Added {
		p("  + %s  %s, %s, %s\n", a.Ref, shortDigest(a.ManifestDigest), countLayers(a.Layers), HumanSize(a.Size))
	}
	for _, r := range im.Removed {
		p("  - %s  %s, %s, %s\n", r.Ref, shortDigest(r.ManifestDigest), countLayers(r.Layers), HumanSize(r.Size))
	}
	for _, c := range im.Changed {
		name := c.NewRef
		if c.OldRef != c.NewRef {
			name = c.OldRef + " -> " + c.NewRef
		}
		p("  ~ %s  %s -> %s\n", name, shortDigest(c.OldManifestDigest), shortDigest(c.NewManifestDigest))
		for _, l := range c.LayersAdded {
			p("      + layer %s  %s\n", shortDigest(l.Digest), HumanSize(l.Size))
		}
		for _, l := range c.LayersRemoved {
			p("      - layer %s  %s\n", shortDigest(l.Digest), HumanSize(l.Size))
		}
	}
}

func (d Diff) writeUpgrade(p func(string, ...any)) {
	u := d.Upgrade
	p("\nUpgrade bundle from OLD (airpack pack --base OLD):\n")
	p("  carries  %s, %s: NEW's layers OLD does not have\n", countLayers(u.CarriedLayers), HumanSize(u.CarriedLayerBytes))
	p("  reuses   %s, %s: left out; the target must hold ", countLayers(u.ReusedLayers), HumanSize(u.ReusedLayerBytes))
	if len(u.BaseImages) == 0 {
		p("nothing of OLD\n")
	} else {
		refs := make([]string, len(u.BaseImages))
		for i, b := range u.BaseImages {
			refs[i] = b.Ref
		}
		p("OLD's %s\n", strings.Join(refs, ", "))
	}
	p("  image archive  about %s of NEW's %s%s\n", HumanSize(u.ImageArchiveSize), HumanSize(d.New.ImageArchiveSize), percent(u.ImageArchiveSize, d.New.ImageArchiveSize))
	if u.BundleSize != nil {
		p("  bundle         about %s of NEW's %s%s\n", HumanSize(*u.BundleSize), HumanSize(*d.New.Size), percent(*u.BundleSize, *d.New.Size))
		p("  (NEW less the reused layers: the carried layers, every image's manifest and config, and NEW's other files)\n")
	} else {
		p("  (the carried layers and every image's manifest and config; NEW is an airpack.json, so its other files are not counted)\n")
	}
}

// percent is " (12.3%)", a of b; "" when b is 0.
func percent(a, b int64) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%.1f%%)", 100*float64(a)/float64(b))
}

func countLayers(n int) string {
	if n == 1 {
		return "1 layer"
	}
	return fmt.Sprintf("%d layers", n)
}
