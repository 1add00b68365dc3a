package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/crypto/ssh"

	"github.com/airpack/airpack/internal/xio"
)

// Problem is one thing wrong with a bundle.
type Problem struct {
	// File is the bundle-relative path of the file concerned, empty for the bundle as a whole.
	File string `json:"file,omitempty"`
	Msg  string `json:"msg"`
}

func (p Problem) String() string {
	if p.File == "" {
		return p.Msg
	}
	return p.File + ": " + p.Msg
}

// maxSmallFile bounds what Verify holds in memory: the files it parses (airpack.json, the compose
// file, .env, SHA256SUMS, an image archive's index.json, manifest.json, manifests and configs).
const maxSmallFile = 16 << 20

// Annotations on the OCI index entries of an image archive that name the image for the
// containerd image store.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Verify checks the bundle at path (a directory or an archive, see Walk) against
// docs/bundle-format.md, reading it once: every file against SHA256SUMS, every image of
// airpack.json against its archive (index.json, manifest.json, each blob's digest, manifests,
// configs, layers), and the compose file against the bundle (images shipped, no build, every
// bind-mount source, env_file, config and secret file inside the bundle and present).
//
// Each finding is a Problem. The error is for a bundle Verify cannot read at all: missing, not a
// bundle archive, truncated or corrupt, of an airpack.json format newer than this build. The
// manifest is returned when airpack.json parses.
func Verify(ctx context.Context, path string) (*Manifest, []Problem, error) {
	v, err := VerifyBundle(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return v.Manifest, v.Problems, nil
}

// Verification is what VerifyBundle found.
type Verification struct {
	// Manifest is set when airpack.json parses.
	Manifest *Manifest
	Problems []Problem
	// Signed is set when the bundle holds a SHA256SUMS.sig; Key is then its key's fingerprint
	// (SHA256:…) when the signature matches SHA256SUMS, and Signer, with WithAllowedSigners, the
	// principals of the allowed signers line that trusts it.
	Signed      bool
	Key, Signer string
	// Parts is the number of parts of a bundle archive split in parts (FindParts), 0 otherwise.
	Parts int
	// sums is the SHA256SUMS read, nil when missing or too large.
	sums []byte
}

// VerifyOption changes what VerifyBundle checks.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	signers  *AllowedSigners
	identity string
}

// WithAllowedSigners makes VerifyBundle check the bundle's signature first, before anything
// else (VerifySignature): a bundle not signed by a key of signers (for identity, when not "") is
// refused with a *SignatureError.
func WithAllowedSigners(signers *AllowedSigners, identity string) VerifyOption {
	return func(o *verifyOptions) { o.signers, o.identity = signers, identity }
}

// VerifyBundle is Verify, telling also about the bundle's signature. A signature that does not
// match SHA256SUMS is a Problem; with WithAllowedSigners, the signature is checked before the
// bundle is read and any refusal is the error.
//
// A bundle archive split in parts (FindParts) is checked part by part against its parts list,
// every part missing or damaged a Problem of its own named by the part's file name
// ("shop-1.0.tar.003: missing", "shop-1.0.tar.002: damaged (sha256 …)"), listed first; the
// archive the parts make is then verified as any archive, read from the parts in the same pass
// (never joined on disk). With a part missing, only the parts are checked.
func VerifyBundle(ctx context.Context, path string, opts ...VerifyOption) (*Verification, error) {
	var o verifyOptions
	for _, opt := range opts {
		opt(&o)
	}
	var signed []byte
	res := &Verification{}
	ps, err := FindParts(path)
	if err != nil {
		return nil, err
	}
	if ps != nil {
		res.Parts = len(ps.Parts)
		res.Problems = ps.Strays()
		if missing := ps.Missing(); len(missing) > 0 {
			probs, err := ps.Check(ctx)
			if err != nil {
				return nil, err
			}
			res.Problems = append(append(res.Problems, probs...), Problem{Msg: fmt.Sprintf("the bundle archive cannot be checked further with %d of its %d parts missing (%s lists them)", len(missing), len(ps.Parts), filepath.Base(ps.List))})
			return res, nil
		}
	}
	if o.signers != nil {
		sums, sig, err := ReadSums(ctx, path)
		if err != nil {
			return nil, err
		}
		if res.Signer, err = VerifySignature(sums, sig, o.signers, o.identity); err != nil {
			return nil, err
		}
		signed = sums
	}
	v := &verifier{
		files:    map[string]fileFacts{},
		small:    map[string][]byte{},
		archives: map[string]*imageArchive{},
		links:    map[string]string{},
	}
	var partProblems []Problem
	if ps != nil {
		j, err := ps.open()
		if err != nil {
			return nil, fmt.Errorf("bundle archive %s is split in parts, and part %w", ps.Archive, err)
		}
		err = walkArchiveFrom(ctx, path, j, v.file)
		j.Close()
		var perr error
		partProblems, perr = j.check(ctx)
		if perr != nil {
			return nil, perr
		}
		if _, werr := splitEntryErrors(err); werr != nil && len(partProblems) > 0 {
			// The damage is the parts': each named, then what it did to the archive.
			res.Problems = append(append(res.Problems, partProblems...), Problem{Msg: werr.Error()})
			return res, nil
		}
	} else {
		err = Walk(ctx, path, v.file)
	}
	entries, err := splitEntryErrors(err)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Link != "" {
			v.links[e.Name] = e.Link // checked against airpack.json
			continue
		}
		v.problem(e.Name, "%s", e.Msg)
	}
	v.check(ctx)
	res.sums = v.small[SumsFile]
	if _, res.Signed = v.files[SigFile]; res.Signed {
		sig := v.small[SigFile]
		if sig == nil {
			sig = []byte{} // too large to be kept: not a signature
		}
		key, err := CheckSignature(res.sums, sig)
		var se *SignatureError
		switch {
		case errors.As(err, &se):
			v.problem(SigFile, "%s", strings.TrimPrefix(se.Error(), SigFile+": "))
		case err == nil:
			res.Key = ssh.FingerprintSHA256(key)
		}
	}
	if signed != nil && !bytes.Equal(signed, res.sums) {
		v.problem(SumsFile, "changed while the bundle was being verified: verify it again")
	}
	// The parts' problems first: they are the cause of what else a damaged part shows.
	res.Manifest, res.Problems = v.manifest, append(append(res.Problems, partProblems...), v.problems...)
	return res, nil
}

// splitEntryErrors separates the *EntryError values Walk reports from an error that stopped it.
func splitEntryErrors(err error) ([]*EntryError, error) {
	if err == nil {
		return nil, nil
	}
	if e, ok := err.(*EntryError); ok {
		return []*EntryError{e}, nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil, err
	}
	var out []*EntryError
	for _, x := range j.Unwrap() {
		e, ok := x.(*EntryError)
		if !ok {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

type fileFacts struct {
	sum  string
	size int64
}

type verifier struct {
	files    map[string]fileFacts
	small    map[string][]byte
	archives map[string]*imageArchive
	// links are the symbolic links found (path -> target)
	links map[string]string
	// manifest is set as soon as airpack.json has been read, so the compose file and image
	// archives it names are recognised whenever they come.
	manifest    *Manifest
	manifestErr error
	problems    []Problem
}

func (v *verifier) problem(file, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: file, Msg: fmt.Sprintf(format, args...)})
}

func (v *verifier) composeFile() string {
	if v.manifest != nil && v.manifest.ComposeFile != "" {
		return v.manifest.ComposeFile
	}
	return ComposeFile
}

func (v *verifier) isImageArchive(name string) bool {
	if strings.HasPrefix(name, ImagesDir+"/") && strings.HasSuffix(name, ".tar") {
		return true
	}
	if v.manifest != nil {
		for _, im := range v.manifest.Images {
			if im.Archive == name {
				return true
			}
		}
		for _, a := range v.manifest.Archives {
			if a.Path == name {
				return true
			}
		}
	}
	return false
}

// file is Walk's callback: it hashes every file, keeps the small ones Verify parses, and reads
// image archives as they stream by.
func (v *verifier) file(name string, r io.Reader, size int64) error {
	h := sha256.New()
	cr := &xio.CountReader{R: io.TeeReader(r, h)}
	var data []byte
	switch {
	case v.isImageArchive(name):
		a, err := readImageArchive(cr)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		v.archives[name] = a
	case size <= maxSmallFile && (!strings.Contains(name, "/") || name == v.composeFile()):
		var err error
		if data, err = io.ReadAll(cr); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		v.small[name] = data
	}
	// Hash what is left (all of it for most files); hide io.Discard's ReaderFrom so the
	// larger buffer is used.
	if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, cr, make([]byte, 256<<10)); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	v.files[name] = fileFacts{sum: hex.EncodeToString(h.Sum(nil)), size: cr.N}
	if name == ManifestFile && data != nil {
		return v.readManifest(data)
	}
	return nil
}

// readManifest parses airpack.json as soon as it is read. A format newer than this build stops
// the walk: nothing else can be judged.
func (v *verifier) readManifest(data []byte) error {
	var fv struct {
		FormatVersion int `json:"formatVersion"`
	}
	m, err := ParseManifest(data)
	if err != nil && json.Unmarshal(data, &fv) == nil && fv.FormatVersion > FormatVersion {
		return err
	}
	v.manifest, v.manifestErr = m, err
	return nil
}

// imageArchive is what Verify keeps of an image archive: its small metadata files and, per
// blob, its size and whether its content matches its digest.
type imageArchive struct {
	// err says why the archive is not a readable tar; what was read before it is kept.
	err                             error
	ociLayout, index, dockerManifst []byte
	// large are metadata files too big to be what they claim.
	large []string
	// badNames are blob entries whose name is not a sha256 digest.
	badNames []string
	blobs    map[string]*archiveBlob // by digest, "sha256:<hex>"
}

type archiveBlob struct {
	size    int64
	corrupt bool
	// data is kept for blobs that may be a manifest or a config: small and JSON.
	data []byte
}

// readImageArchive reads an image archive as an inner tar, hashing each blob. An error is a
// failure to read r itself; damage inside the archive is recorded in the result.
func readImageArchive(r io.Reader) (*imageArchive, error) {
	er := &errReader{r: r}
	a := &imageArchive{blobs: map[string]*archiveBlob{}}
	tr := tar.NewReader(er)
	fail := func(err error) (*imageArchive, error) {
		if er.err != nil {
			return nil, er.err
		}
		a.err = err
		return a, nil
	}
	buf := make([]byte, 256<<10)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return fail(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		switch {
		case name == "oci-layout" || name == "index.json" || name == "manifest.json":
			if hdr.Size > maxSmallFile {
				a.large = append(a.large, name)
				continue
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return fail(err)
			}
			switch name {
			case "oci-layout":
				a.ociLayout = b
			case "index.json":
				a.index = b
			default:
				a.dockerManifst = b
			}
		case strings.HasPrefix(name, "blobs/sha256/"):
			hx := strings.TrimPrefix(name, "blobs/sha256/")
			if !isSHA256Hex(hx) {
				a.badNames = append(a.badNames, name)
				continue
			}
			b, err := readBlob(tr, hx, hdr.Size, buf)
			if err != nil {
				return fail(err)
			}
			a.blobs["sha256:"+hx] = b
		}
	}
}

func readBlob(r io.Reader, hx string, size int64, buf []byte) (*archiveBlob, error) {
	h := sha256.New()
	head := make([]byte, min(size, 512))
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	h.Write(head)
	b := &archiveBlob{size: size}
	if size <= maxSmallFile && looksLikeJSONObject(head) {
		// A manifest or a config, possibly: keep it to parse once the archive's index is known.
		var data bytes.Buffer
		data.Grow(int(size))
		data.Write(head)
		if _, err := io.CopyBuffer(io.MultiWriter(h, &data), r, buf); err != nil {
			return nil, err
		}
		b.data = data.Bytes()
	} else if _, err := io.CopyBuffer(h, r, buf); err != nil {
		return nil, err
	}
	b.corrupt = hex.EncodeToString(h.Sum(nil)) != hx
	return b, nil
}

func looksLikeJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// shortDigest abbreviates "sha256:<64 hex>" for messages, as docker shows image IDs.
func shortDigest(d string) string {
	alg, hx, ok := strings.Cut(d, ":")
	if !ok || len(hx) <= 12 {
		return d
	}
	return alg + ":" + hx[:12] + "…"
}

// check runs every check that needs the whole bundle read.
func (v *verifier) check(ctx context.Context) {
	v.checkSums()
	if _, ok := v.files[LoaderFile]; !ok {
		v.problem(LoaderFile, "missing: the target has no loader; re-pack the bundle")
	}
	m := v.manifest
	switch {
	case v.manifestErr != nil:
		v.problem(ManifestFile, "%v", v.manifestErr)
	case m == nil:
		if _, ok := v.files[ManifestFile]; ok {
			v.problem(ManifestFile, "too large (over %d MiB) to be a bundle manifest", maxSmallFile>>20)
		} else {
			v.problem(ManifestFile, "missing: not an airpack bundle, or an incomplete one")
		}
	}
	v.checkImages(m)
	v.checkLinks(m)
	if m != nil && m.Base != nil {
		for _, p := range BaseProblems(m.Base) {
			v.problem(ManifestFile, "%s", p)
		}
	}
	if m != nil {
		v.checkCompose(ctx, m)
	}
}

// checkLinks compares the symbolic links found with those airpack.json lists.
func (v *verifier) checkLinks(m *Manifest) {
	var want map[string]string
	if m != nil {
		want = m.Links
	}
	for _, p := range sortedKeys(want) {
		got, ok := v.links[p]
		switch {
		case LinkProblem(p, want[p]) != "":
			v.problem(ManifestFile, "link %s %s", p, LinkProblem(p, want[p]))
		case !ok:
			v.problem(p, "listed in %s as a link to %s but missing from the bundle", ManifestFile, want[p])
		case got != want[p]:
			v.problem(p, "is a link to %s; %s says %s", got, ManifestFile, want[p])
		}
	}
	for _, p := range sortedKeys(v.links) {
		if _, ok := want[p]; !ok {
			v.problem(p, "is a symbolic link (to %s) that %s does not list: replace it with the file itself", v.links[p], ManifestFile)
		}
	}
}

func (v *verifier) checkSums() {
	if _, ok := v.files[SumsFile]; !ok {
		v.problem(SumsFile, "missing: nothing protects the bundle's files from damage in transit; re-pack the bundle")
		return
	}
	raw, ok := v.small[SumsFile]
	if !ok {
		v.problem(SumsFile, "too large (over %d MiB) to be a bundle's checksum list", maxSmallFile>>20)
		return
	}
	sums, err := ParseSums(raw)
	if err != nil {
		v.problem(SumsFile, "%s", strings.TrimPrefix(err.Error(), SumsFile+" "))
		return
	}
	for _, p := range sortedKeys(sums) {
		f, ok := v.files[p]
		switch {
		case !ok:
			v.problem(p, "listed in %s but missing from the bundle", SumsFile)
		case f.sum != sums[p]:
			v.problem(p, "checksum mismatch (file corrupted in transit?)")
		}
	}
	for _, p := range sortedKeys(v.files) {
		if _, ok := sums[p]; !ok && p != SumsFile && p != SigFile {
			v.problem(p, "not listed in %s: nothing protects it (added after packing?); remove it or re-pack the bundle", SumsFile)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dockerSaveEntry is one image of an image archive's manifest.json (docker save format).
type dockerSaveEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archiveMeta is an image archive's index.json and manifest.json, parsed.
type archiveMeta struct {
	index    *v1.IndexManifest
	docker   []dockerSaveEntry
	dockerOK bool
}

// checkImages checks every image archive of the bundle and every image of m (nil when
// airpack.json is missing or broken: then only the archives' own consistency is checked).
func (v *verifier) checkImages(m *Manifest) {
	var images []Image
	var listed []Archive
	if m != nil {
		images, listed = m.Images, m.Archives
	}
	// Which archives the bundle should have, and for whom.
	want := map[string][]string{}
	var order []string
	need := func(p, ref string) {
		if _, ok := want[p]; !ok {
			order = append(order, p)
		}
		if ref != "" {
			want[p] = append(want[p], ref)
		} else if want[p] == nil {
			want[p] = []string{}
		}
	}
	for _, im := range images {
		need(archiveOf(im), im.Ref)
	}
	for _, a := range listed {
		need(a.Path, "")
	}
	for _, p := range sortedKeys(v.archives) {
		need(p, "")
	}

	meta := map[string]*archiveMeta{}
	for _, p := range order {
		if !LocalPath(p) {
			v.problem(ManifestFile, "image archive %s is outside the bundle", p)
			continue
		}
		f, present := v.files[p]
		a := v.archives[p]
		switch {
		case !present && len(want[p]) > 0:
			v.problem(p, "missing: it holds %s", strings.Join(want[p], ", "))
			continue
		case !present:
			v.problem(p, "missing: %s lists it", ManifestFile)
			continue
		case a == nil:
			v.problem(p, "not checked: image archives are expected under %s/ with a .tar name", ImagesDir)
			continue
		}
		for _, la := range listed {
			if la.Path == p && la.Size != f.size {
				v.problem(p, "is %d bytes, %s says %d", f.size, ManifestFile, la.Size)
			}
		}
		meta[p] = v.checkArchive(p, a, images)
	}

	held := v.heldBefore(m)
	for _, im := range images {
		if md := meta[archiveOf(im)]; md != nil {
			v.checkImage(m, im, v.archives[archiveOf(im)], md, held[archiveOf(im)])
		}
	}
}

// heldBefore is, for each image archive airpack.json lists, the layers it may leave out
// because the target holds them before load.sh loads it: an upgrade bundle's base layers, and
// the layers the images of the archives listed before it bring (load.sh loads them in that
// order; a part of a bundle packed with --max-archive-size leaves out a layer an earlier part
// stores), those only where every image of the archive using the layer has it on the same
// layers below as an earlier image (Omittable: Docker's classic store reuses a layer only so).
// An archive not listed gets the base layers alone.
func (v *verifier) heldBefore(m *Manifest) map[string]map[string]bool {
	if m == nil {
		return nil
	}
	base := map[string]bool{}
	if m.Base != nil {
		for _, d := range m.Base.Layers {
			base[d] = true
		}
	}
	byArchive := map[string][]Image{}
	held := map[string]map[string]bool{}
	for _, im := range m.Images {
		held[archiveOf(im)] = base
		byArchive[archiveOf(im)] = append(byArchive[archiveOf(im)], im)
	}
	chains := map[string]bool{}
	done := map[string]bool{}
	for _, a := range m.Archives {
		if done[a.Path] {
			continue
		}
		done[a.Path] = true
		h := maps.Clone(base)
		maps.Copy(h, Omittable(byArchive[a.Path], chains))
		held[a.Path] = h
		maps.Copy(chains, Chains(byArchive[a.Path]))
	}
	return held
}

func archiveOf(im Image) string {
	if im.Archive == "" {
		return ImageArchive
	}
	return im.Archive
}

// checkArchive checks what an image archive holds on its own: a readable tar, the OCI layout
// and docker metadata files, intact blobs. It returns the parsed metadata, nil when the images
// in it cannot be checked further.
func (v *verifier) checkArchive(p string, a *imageArchive, images []Image) *archiveMeta {
	if a.err != nil {
		v.problem(p, "not a readable tar archive (%v): docker load would fail; re-pack the bundle", a.err)
		return nil
	}
	for _, n := range a.large {
		v.problem(p, "%s is too large (over %d MiB) to be what its name says", n, maxSmallFile>>20)
	}
	for _, n := range a.badNames {
		v.problem(p, "blob %s is not named by a sha256 digest", n)
	}
	// Corrupt blobs, once each, saying what they are.
	roles := blobRoles(p, images)
	for _, d := range sortedKeys(a.blobs) {
		if a.blobs[d].corrupt {
			what := ""
			if r := roles[d]; len(r) > 0 {
				what = " (" + strings.Join(r, ", ") + ")"
			}
			v.problem(p, "blob %s is corrupt%s: its content does not match its digest", shortDigest(d), what)
		}
	}

	md := &archiveMeta{}
	switch {
	case a.ociLayout == nil:
		v.problem(p, "no oci-layout: the containerd image store cannot load it")
	default:
		var l struct {
			ImageLayoutVersion string `json:"imageLayoutVersion"`
		}
		if err := json.Unmarshal(a.ociLayout, &l); err != nil || l.ImageLayoutVersion == "" {
			v.problem(p, "oci-layout is not an OCI layout file: the containerd image store cannot load it")
		}
	}
	if a.index == nil {
		v.problem(p, "no index.json: the containerd image store cannot load it")
	} else if idx, err := v1.ParseIndexManifest(bytes.NewReader(a.index)); err != nil {
		v.problem(p, "index.json does not parse: %v", err)
	} else {
		md.index = idx
	}
	if a.dockerManifst == nil {
		v.problem(p, "no manifest.json: Docker's classic image store cannot load it")
	} else if err := json.Unmarshal(a.dockerManifst, &md.docker); err != nil {
		v.problem(p, "manifest.json does not parse: %v", err)
	} else {
		md.dockerOK = true
	}
	return md
}

// blobRoles says what each blob of archive p is for, per airpack.json: "layer 2 of nginx:1.25".
func blobRoles(p string, images []Image) map[string][]string {
	roles := map[string][]string{}
	for _, im := range images {
		if archiveOf(im) != p {
			continue
		}
		roles[im.ManifestDigest] = append(roles[im.ManifestDigest], "manifest of "+im.Ref)
		roles[im.ConfigDigest] = append(roles[im.ConfigDigest], "config of "+im.Ref)
		for i, l := range im.Layers {
			roles[l.Digest] = append(roles[l.Digest], fmt.Sprintf("layer %d of %s", i+1, im.Ref))
		}
	}
	return roles
}

// containerdName is the full reference `docker` uses for ref ("nginx:1.25" →
// "docker.io/library/nginx:1.25"), which the containerd image store looks images up by, and
// its tag. The containerd store takes the index's io.containerd.image.name as is, so it must be
// exactly this (go-containerregistry's name.Reference.Name() gives "index.docker.io/…" for
// Docker Hub, which docker would not find).
func containerdName(ref string) (full, tag string, err error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", "", err
	}
	named = reference.TagNameOnly(named)
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return named.String(), tag, nil
}

// checkImage checks one image of airpack.json against its archive.
// held are the layers the target holds before this archive is loaded (heldBefore).
func (v *verifier) checkImage(m *Manifest, im Image, a *imageArchive, md *archiveMeta, held map[string]bool) {
	p := archiveOf(im)
	img := "image " + im.Ref
	bad := func(format string, args ...any) { v.problem(p, "%s: %s", img, fmt.Sprintf(format, args...)) }

	if h, err := v1.NewHash(im.Pin); im.Pin != "" && (err != nil || h.Algorithm != "sha256") {
		v.problem(ManifestFile, "%s: pin %q is not a sha256 digest", img, im.Pin)
	}
	if m.Platform != "" && im.Platform != "" && !samePlatform(m.Platform, im.Platform) {
		v.problem(ManifestFile, "%s is for %s, but the bundle is for %s", img, im.Platform, m.Platform)
	}

	// The containerd image store: index.json.
	if md.index != nil {
		var desc *v1.Descriptor
		for i := range md.index.Manifests {
			if md.index.Manifests[i].Digest.String() == im.ManifestDigest {
				desc = &md.index.Manifests[i]
				break
			}
		}
		if desc == nil {
			bad("manifest %s is not in index.json: the containerd image store would not load it", shortDigest(im.ManifestDigest))
		} else {
			full, tag, err := containerdName(im.Ref)
			if err != nil {
				v.problem(ManifestFile, "%s: not a valid image reference: %v", img, err)
			} else {
				switch got := desc.Annotations[annotationImageName]; {
				case got == "":
					bad("index.json gives it no %s annotation: the containerd image store would load it untagged", annotationImageName)
				case got != full:
					bad("index.json names it %s, want %s: the containerd image store would tag it so and docker would not find it", got, full)
				}
				if got := desc.Annotations[annotationRefName]; tag != "" && got != tag {
					bad("index.json gives it %s %q, want %q", annotationRefName, got, tag)
				}
			}
			if im.ManifestMediaType != "" && string(desc.MediaType) != im.ManifestMediaType {
				bad("index.json gives its manifest media type %s, %s says %s", desc.MediaType, ManifestFile, im.ManifestMediaType)
			}
			if b := a.blobs[im.ManifestDigest]; b != nil && !b.corrupt && desc.Size != b.size {
				bad("index.json gives its manifest size %d, the blob is %d bytes", desc.Size, b.size)
			}
		}
	}

	// The classic image store: manifest.json.
	if md.dockerOK {
		var entry *dockerSaveEntry
		for i := range md.docker {
			for _, t := range md.docker[i].RepoTags {
				if t == im.Ref {
					entry = &md.docker[i]
				}
			}
		}
		if entry == nil {
			bad("not in manifest.json (no RepoTags %q): Docker's classic image store would not load it under its tag", im.Ref)
		} else {
			if want := archiveBlobPath(im.ConfigDigest); entry.Config != want {
				bad("manifest.json gives its config as %s, want %s", entry.Config, want)
			}
			var want []string
			for _, l := range im.Layers {
				want = append(want, archiveBlobPath(l.Digest))
			}
			if !equalStrings(entry.Layers, want) {
				bad("manifest.json lists other layers than %s (%d instead of %d, or in another order)", ManifestFile, len(entry.Layers), len(want))
			}
		}
	}

	// The manifest blob.
	mb := a.blobs[im.ManifestDigest]
	switch {
	case mb == nil:
		bad("manifest blob %s is missing from the archive", shortDigest(im.ManifestDigest))
	case mb.corrupt: // reported with the archive
	case mb.data == nil:
		bad("manifest blob %s is not a JSON image manifest", shortDigest(im.ManifestDigest))
	default:
		man, err := v1.ParseManifest(bytes.NewReader(mb.data))
		if err != nil {
			bad("manifest blob %s does not parse: %v", shortDigest(im.ManifestDigest), err)
			break
		}
		if got := man.Config.Digest.String(); got != im.ConfigDigest {
			bad("its manifest names config %s, %s says %s", shortDigest(got), ManifestFile, shortDigest(im.ConfigDigest))
		}
		if msg := diffLayers(man.Layers, im.Layers); msg != "" {
			bad("its manifest and %s disagree on the layers: %s", ManifestFile, msg)
		}
	}

	// The config blob.
	cb := a.blobs[im.ConfigDigest]
	switch {
	case cb == nil:
		bad("config blob %s is missing from the archive", shortDigest(im.ConfigDigest))
	case cb.corrupt:
	case cb.data == nil:
		bad("config blob %s is not a JSON image config", shortDigest(im.ConfigDigest))
	default:
		cf, err := v1.ParseConfigFile(bytes.NewReader(cb.data))
		if err != nil {
			bad("config blob %s does not parse: %v", shortDigest(im.ConfigDigest), err)
			break
		}
		var got, want []string
		for _, d := range cf.RootFS.DiffIDs {
			got = append(got, d.String())
		}
		for _, l := range im.Layers {
			want = append(want, l.DiffID)
		}
		if !equalStrings(got, want) {
			bad("its config's rootfs diff_ids differ from the layers' diffIDs in %s: docker load would fail", ManifestFile)
		}
		if cf.OS != "" && im.Platform != "" {
			cp := cf.OS + "/" + cf.Architecture
			if cf.Variant != "" {
				cp += "/" + cf.Variant
			}
			if !samePlatform(cp, im.Platform) {
				bad("its config is for %s, %s says %s", cp, ManifestFile, im.Platform)
			}
		}
	}

	// The layer blobs.
	for i, l := range im.Layers {
		b := a.blobs[l.Digest]
		switch {
		case b == nil && held[l.Digest]:
			// Left out: the base bundle or an earlier archive brought it.
		case b == nil && len(m.Archives) > 1:
			bad("layer %d (%s) is missing from the archive and from every archive loaded before it", i+1, shortDigest(l.Digest))
		case b == nil:
			bad("layer %d (%s) is missing from the archive", i+1, shortDigest(l.Digest))
		case !b.corrupt && b.size != l.Size:
			bad("layer %d (%s) is %d bytes, %s says %d", i+1, shortDigest(l.Digest), b.size, ManifestFile, l.Size)
		}
	}
}

func archiveBlobPath(digest string) string {
	return "blobs/" + strings.Replace(digest, ":", "/", 1)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diffLayers describes the first difference between the layers of an image manifest and those
// airpack.json records, "" when they agree.
func diffLayers(got []v1.Descriptor, want []Layer) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		g, w := got[i], want[i]
		if g.Digest.String() != w.Digest || g.Size != w.Size {
			return fmt.Sprintf("layer %d is %s (%d bytes) in the manifest, %s (%d bytes) in %s", i+1, shortDigest(g.Digest.String()), g.Size, shortDigest(w.Digest), w.Size, ManifestFile)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d layers in the manifest, %d in %s", len(got), len(want), ManifestFile)
	}
	return ""
}

// samePlatform compares os/arch[/variant] platforms; a variant only counts when both name one
// (engines often leave it out, e.g. arm64 vs arm64/v8).
func samePlatform(a, b string) bool {
	pa, err1 := v1.ParsePlatform(a)
	pb, err2 := v1.ParsePlatform(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	if pa.OS != pb.OS || pa.Architecture != pb.Architecture {
		return false
	}
	return pa.Variant == "" || pb.Variant == "" || pa.Variant == pb.Variant
}

// present reports whether the bundle holds file p, or, p being a directory, a file under it.
func (v *verifier) present(p string) bool {
	if p == "." {
		return len(v.files) > 0
	}
	if _, ok := v.files[p]; ok {
		return true
	}
	for f := range v.files {
		if strings.HasPrefix(f, p+"/") {
			return true
		}
	}
	return false
}

// checkHostPath checks a path the compose file gives (a bind-mount source, an env_file, a
// config or secret file): relative to the compose file's directory, inside the bundle, and
// there when required. A bind mount source may also be a host path of the target (see
// IsHostPath), which the bundle keeps as written; env_files, configs and secrets are always
// shipped.
func (v *verifier) checkHostPath(what, src string, required bool) {
	cf := v.composeFile()
	bind := strings.HasSuffix(what, "bind mount source")
	if bind {
		if p := BindSourceProblem(src); p != "" {
			if src != "" {
				what += " " + src
			}
			v.problem(cf, "%s %s", what, p)
			return
		}
		if IsHostPath(src) {
			return // the target's: airpack inspect lists it
		}
	}
	switch {
	case src == "":
		return
	case strings.HasPrefix(src, "/"):
		v.problem(cf, "%s %s is an absolute host path: it is not in the bundle and the target may not have it; copy it into the bundle under %s/", what, src, FilesDir)
		return
	case strings.HasPrefix(src, "~"):
		v.problem(cf, "%s %s is in a home directory, not in the bundle; copy it into the bundle under %s/", what, src, FilesDir)
		return
	case strings.Contains(src, "\\") || len(src) > 1 && src[1] == ':':
		v.problem(cf, "%s %s is a Windows path, not a path in the bundle", what, src)
		return
	}
	p := path.Join(path.Dir(cf), src)
	if p == ".." || strings.HasPrefix(p, "../") {
		v.problem(cf, "%s %s leaves the bundle: the target has nothing there; copy it into the bundle under %s/ and point at that", what, src, FilesDir)
		return
	}
	if required && !v.present(p) {
		v.problem(cf, "%s %s is not in the bundle", what, src)
	}
}
