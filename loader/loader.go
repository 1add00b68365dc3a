package loader

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/airpack/airpack/bundle"
)

//go:embed load.sh.tmpl
var scriptTemplate string

// OverrideFile is the compose override load.sh --registry writes next to the compose file. docker
// compose reads it by itself after the compose file (unless a compose.override.yml,
// compose.override.yaml or docker-compose.override.yml, which it prefers, exists there too).
const OverrideFile = "docker-compose.override.yaml"

// overrideMarker starts the first line of every override load.sh writes: load.sh replaces such a
// file on a re-run and refuses to overwrite any other.
const overrideMarker = "# Written by airpack load.sh"

// The docker --format templates load.sh uses. They live here rather than in load.sh.tmpl because
// their {{ }} would clash with text/template's.
const (
	// formatServer is the daemon's version and platform ("27.5.1 linux/amd64"), the platform as Go,
	// and so image platforms, name it: docker version answers at once, so load.sh knows from it
	// whether the engine can take the bundle's images.
	formatServer = "{{.Server.Version}} {{.Server.Os}}/{{.Server.Arch}}"
	// formatInfo is the rest load.sh needs from the engine, one line each: Docker's root dir, the
	// storage driver's status, which names the containerd image store, and the version of the
	// CLI's Compose v2 plugin, empty without one (docker info runs every CLI plugin to list them,
	// which is what makes it slower than docker version).
	formatInfo = "{{.DockerRootDir}}\n{{json .DriverStatus}}\n" +
		`{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Version}}{{end}}{{end}}`
	formatImageID = "{{.Id}}"
	// formatPS is one container of the application as load.sh --up lists it (docker compose ps):
	// fields separated by |, which none of them holds, so that an empty one (no healthcheck) stays
	// a field for sh's read.
	formatPS = "{{.Service}}|{{.State}}|{{.Health}}|{{.ExitCode}}|{{.Ports}}"
)

// composeDefaultFiles are the names docker compose finds by itself in the current directory; the
// bundle's compose file must be one of them for `docker compose up -d` to need no -f.
var composeDefaultFiles = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}

var (
	digestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	serviceRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`) // the compose specification's service name
	platRE    = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
)

var tmpl = template.Must(template.New("load.sh").
	Funcs(template.FuncMap{"sq": templateQuote, "yamlString": strconv.Quote, "dotSlash": dotSlash}).
	Parse(scriptTemplate))

// scriptData is what load.sh.tmpl renders: the manifest, checked and with everything the script
// would otherwise have to compute (sizes, the --registry names) worked out.
type scriptData struct {
	Name, Version string
	Platform      string // os/arch[/variant], as packed
	OSArch        string // os/arch: what `docker version` reports to compare with
	ComposeFile   string
	// ComposeSHA256 is the sha256 (hex) of the compose file airpack wrote, "" when unknown: that
	// file names only the bundle's images, and load.sh asks docker compose which images a compose
	// file names only when SHA256SUMS lists another one.
	ComposeSHA256 string
	OverrideFile  string
	Marker        string
	SumsFile      string
	SigFile       string
	EnvFile       string
	// Required are the files SHA256SUMS must list, one per line: the compose file, airpack.json,
	// load.sh and the image archives.
	Required string
	// Links are the bundle's symbolic links, "PATH<tab>TARGET\n" each (Manifest.Links).
	Links    string
	NeedKB   int64 // free space docker load needs under Docker's root dir: twice the archives
	Archives []archiveData
	Images   []imageData
	// BaseName and BaseVersion name an upgrade bundle's base ("" otherwise), BaseImages are its
	// images load.sh checks are in the engine before loading (step 4).
	BaseName, BaseVersion string
	BaseImages            []bundle.BaseImage
	Format                map[string]string
}

type archiveData struct {
	Path string
	MiB  int64 // its size in MiB, rounded up
}

type imageData struct {
	Ref            string
	Archive        string
	ConfigDigest   string
	ManifestDigest string
	// RepoTag is the repository path without its registry host, and the tag ("library/nginx:1.25"):
	// the image's name under --registry REGISTRY is REGISTRY/RepoTag.
	RepoTag  string
	Services []string
}

// Option adds to what Script knows of the bundle.
type Option func(*scriptData)

// WithComposeFile gives Script the contents of the compose file airpack writes into the bundle.
func WithComposeFile(body []byte) Option {
	sum := sha256.Sum256(body)
	return func(d *scriptData) { d.ComposeSHA256 = hex.EncodeToString(sum[:]) }
}

// Script renders the bundle's load.sh for the manifest m. The script embeds everything it needs
// (image table: ref, services, expected config digest and manifest digest, archive path; bundle
// name, version, platform; archive sizes) so it never parses JSON.
//
// Script refuses a manifest load.sh could not handle correctly: a missing or malformed field, an
// image in no listed archive, a reference without a tag, a service named twice, or an upgrade
// bundle's base (m.Base) with a problem (bundle.BaseProblems).
func Script(m *bundle.Manifest, opts ...Option) ([]byte, error) {
	d, err := newScriptData(m)
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", bundle.LoaderFile, err)
	}
	for _, o := range opts {
		o(d)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("generate %s for %s %s: %w", bundle.LoaderFile, m.Name, m.Version, err)
	}
	return buf.Bytes(), nil
}

func newScriptData(m *bundle.Manifest) (*scriptData, error) {
	if m == nil {
		return nil, errors.New("no manifest")
	}
	if b := m.Base; b != nil {
		if problems := bundle.BaseProblems(b); len(problems) > 0 {
			return nil, errors.New(strings.Join(problems, "; "))
		}
		if err := errors.Join(checkText("base name", b.Name), checkText("base version", b.Version)); err != nil {
			return nil, err
		}
	}
	d := &scriptData{
		Name:         m.Name,
		Version:      m.Version,
		Platform:     m.Platform,
		ComposeFile:  m.ComposeFile,
		OverrideFile: OverrideFile,
		Marker:       overrideMarker,
		SumsFile:     bundle.SumsFile,
		SigFile:      bundle.SigFile,
		EnvFile:      bundle.EnvFile,
		Format: map[string]string{
			"Info":    formatInfo,
			"Server":  formatServer,
			"ImageID": formatImageID,
			"PS":      formatPS,
		},
	}
	if err := checkText("name", m.Name); err != nil {
		return nil, err
	}
	if err := checkText("version", m.Version); err != nil {
		return nil, err
	}
	osArch, err := platformOSArch(m.Platform)
	if err != nil {
		return nil, err
	}
	d.OSArch = osArch
	if m.Base != nil {
		d.BaseName, d.BaseVersion, d.BaseImages = m.Base.Name, m.Base.Version, m.Base.Images
	}
	if d.ComposeFile == "" {
		d.ComposeFile = bundle.ComposeFile
	}
	if !slices.Contains(composeDefaultFiles, d.ComposeFile) {
		return nil, fmt.Errorf("compose file %q: load.sh expects it at the bundle's top under a name docker compose finds by itself (%s)", d.ComposeFile, strings.Join(composeDefaultFiles, ", "))
	}

	required := []string{d.ComposeFile, bundle.ManifestFile, bundle.LoaderFile}
	if len(m.Archives) == 0 {
		return nil, errors.New("the manifest lists no image archive")
	}
	var total int64
	for _, a := range m.Archives {
		if err := checkRelPath("archive path", a.Path); err != nil {
			return nil, err
		}
		if a.Size < 0 {
			return nil, fmt.Errorf("archive %s has a negative size %d", a.Path, a.Size)
		}
		for _, b := range d.Archives {
			if b.Path == a.Path {
				return nil, fmt.Errorf("archive %s is listed twice", a.Path)
			}
		}
		d.Archives = append(d.Archives, archiveData{Path: a.Path, MiB: (a.Size + 1<<20 - 1) >> 20})
		required = append(required, a.Path)
		total += a.Size
	}
	d.NeedKB = (2*total + 1023) / 1024
	d.Required = strings.Join(required, "\n")
	for _, p := range slices.Sorted(maps.Keys(m.Links)) {
		if problem := bundle.LinkProblem(p, m.Links[p]); problem != "" {
			return nil, fmt.Errorf("link %s %s", p, problem)
		}
		d.Links += p + "\t" + m.Links[p] + "\n"
	}

	if len(m.Images) == 0 {
		return nil, errors.New("the manifest lists no image")
	}
	refs := map[string]bool{}
	serviceImage := map[string]string{}
	for _, img := range m.Images {
		id, err := newImageData(img, m.Archives)
		if err != nil {
			return nil, err
		}
		if refs[img.Ref] {
			return nil, fmt.Errorf("image %s is listed twice", img.Ref)
		}
		refs[img.Ref] = true
		for _, s := range img.Services {
			if other, ok := serviceImage[s]; ok {
				return nil, fmt.Errorf("service %q is listed under two images, %s and %s", s, other, img.Ref)
			}
			serviceImage[s] = img.Ref
		}
		d.Images = append(d.Images, id)
	}
	return d, nil
}

func newImageData(img bundle.Image, archives []bundle.Archive) (imageData, error) {
	ref, err := name.ParseReference(img.Ref)
	if err != nil {
		return imageData{}, fmt.Errorf("image reference %q: %w", img.Ref, err)
	}
	tag, ok := ref.(name.Tag)
	if !ok {
		return imageData{}, fmt.Errorf("image reference %q has no tag: docker load restores images by tag", img.Ref)
	}
	id := imageData{
		Ref:            img.Ref,
		Archive:        img.Archive,
		ConfigDigest:   img.ConfigDigest,
		ManifestDigest: img.ManifestDigest,
		RepoTag:        tag.Context().RepositoryStr() + ":" + tag.TagStr(),
		Services:       img.Services,
	}
	if !digestRE.MatchString(img.ConfigDigest) {
		return imageData{}, fmt.Errorf("image %s: config digest %q is not sha256:<64 hex digits>", img.Ref, img.ConfigDigest)
	}
	if !digestRE.MatchString(img.ManifestDigest) {
		return imageData{}, fmt.Errorf("image %s: manifest digest %q is not sha256:<64 hex digits>", img.Ref, img.ManifestDigest)
	}
	if id.Archive == "" && len(archives) == 1 {
		id.Archive = archives[0].Path
	}
	found := false
	for _, a := range archives {
		found = found || a.Path == id.Archive
	}
	if !found {
		return imageData{}, fmt.Errorf("image %s: its archive %q is not among the manifest's archives", img.Ref, img.Archive)
	}
	for _, s := range img.Services {
		if !serviceRE.MatchString(s) {
			return imageData{}, fmt.Errorf("image %s: service name %q is not a valid compose service name", img.Ref, s)
		}
	}
	return id, nil
}

// platformOSArch checks an os/arch[/variant] platform and returns its os/arch, the part `docker
// version` reports for an engine.
func platformOSArch(p string) (string, error) {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf("platform %q is not os/arch[/variant]", p)
	}
	for _, s := range parts {
		if !platRE.MatchString(s) {
			return "", fmt.Errorf("platform %q is not os/arch[/variant]", p)
		}
	}
	return parts[0] + "/" + parts[1], nil
}

// checkText refuses what load.sh cannot print on one line: empty values, control characters
// (a newline would also break the override file's comment) and invalid UTF-8.
func checkText(field, s string) error {
	if s == "" {
		return fmt.Errorf("the manifest has no %s", field)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", field, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s %q contains a control character", field, s)
		}
	}
	return nil
}

// checkRelPath refuses paths that are not clean and inside the bundle, or that sha256sum would
// print escaped (a backslash), which load.sh could then not match with its own list.
func checkRelPath(field, p string) error {
	if err := checkText(field, p); err != nil {
		return err
	}
	if path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, `\`) {
		return fmt.Errorf("%s %q is not a clean relative path inside the bundle", field, p)
	}
	return nil
}
