//go:build e2e

// Package corpus is issue 9's corpus test: every project under testdata/ is packed by the
// airpack binary from an OCI layout of small images built here, the bundle is checked with
// `airpack verify`, and the pinned Compose plugin's `config --format json` of the source
// project is compared with that of the bundle, both in an empty environment. They must be
// equal but for the images (the shipped references) and the shipped file paths. Where the
// meaning cannot be kept, the project's expect.yaml asserts the refusal or the warning instead.
//
// It needs no Docker engine, only the Compose plugin that scripts/build-tools.sh builds
// (~/.docker/cli-plugins/docker-compose). Run it alone with
//
//	go test -tags e2e -run TestCorpus ./e2e/corpus/
//
// and one project with -run 'TestCorpus/project/<name>'. A project's expect.yaml is described by
// the expectation type below.
package corpus

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.yaml.in/yaml/v4"
)

// expectation is a project's expect.yaml.
type expectation struct {
	// Issue names the items of issue 9 the project covers ("9.1"), or "feature".
	Issue string `yaml:"issue"`
	// About says in a line what the project holds and what must happen.
	About string `yaml:"about"`
	// Outcome: "equal" (default: packs, verifies, same config), "refuse" (pack fails with
	// every Refuse text), or "either" (pack refuses with every Refuse text, or packs a bundle
	// that verifies, has the same config and warns with every Warn text: the issue leaves the
	// choice to the implementation but forbids silence and pack/verify disagreeing).
	Outcome string `yaml:"outcome"`

	// Compose flags, given to both airpack pack and docker compose config of the source.
	Files    []string `yaml:"files"`
	Profiles []string `yaml:"profiles"`
	EnvFiles []string `yaml:"env_files"`
	// PackArgs are more airpack pack flags; PackEnv more of its environment (besides PATH and
	// HOME=/corpus-packer-home).
	PackArgs []string          `yaml:"pack_args"`
	PackEnv  map[string]string `yaml:"pack_env"`
	// CompareEnv is the environment of the source's docker compose config, besides PATH and
	// HOME=/corpus-target-home (the bundle's always runs with these two alone).
	CompareEnv map[string]string `yaml:"compare_env"`
	// Output is pack's -o, relative to the project directory (default: outside the project).
	Output string `yaml:"output"`
	// Setup makes what git cannot hold: owners, empty directories, links, sockets.
	Setup []setupStep `yaml:"setup"`

	Refuse []string `yaml:"refuse"`
	// Warn: each text must be in one of pack's "airpack: warning:" lines. Without AllowWarnings,
	// a project that expects no warning fails on any.
	Warn          []string `yaml:"warn"`
	AllowWarnings bool     `yaml:"allow_warnings"`
	// KeptOrWarned: the bundle's File contains Text, or a warning contains Warning.
	KeptOrWarned []keptOrWarned `yaml:"kept_or_warned"`

	// Inspect are texts `airpack inspect BUNDLE` must print.
	Inspect []string `yaml:"inspect"`
	// NoCompare skips the config comparison (the project checks the bundle otherwise); the
	// images and platforms are still checked.
	NoCompare bool `yaml:"no_compare"`
	// Images is the number of images airpack.json lists (0: not checked); Shipped are
	// references it must list.
	Images  int      `yaml:"images"`
	Shipped []string `yaml:"shipped"`
	// Entries are bundle archive members (paths inside the bundle directory) and what they
	// must be; Lacks are members that must not exist, or, ending in "/", must hold nothing.
	Entries map[string]entry `yaml:"entries"`
	Lacks   []string         `yaml:"lacks"`
	// Contains / NotContains: bundle file -> texts it must / must not hold.
	Contains    map[string][]string `yaml:"contains"`
	NotContains map[string][]string `yaml:"not_contains"`
	// Absent are texts (the packer's secrets) no file of the bundle but the images may hold.
	Absent []string `yaml:"absent"`
}

type keptOrWarned struct {
	File    string `yaml:"file"`
	Text    string `yaml:"text"`
	Warning string `yaml:"warning"`
}

type entry struct {
	Type string `yaml:"type"` // file, dir, symlink
	Mode string `yaml:"mode"` // octal permission bits, e.g. "0700"
	UID  *int   `yaml:"uid"`
	GID  *int   `yaml:"gid"`
	Link string `yaml:"link"` // a symlink's target
}

type setupStep struct {
	Mkdir   string `yaml:"mkdir"`
	Write   string `yaml:"write"`
	Content string `yaml:"content"`
	Symlink string `yaml:"symlink"`
	Target  string `yaml:"target"`
	Socket  string `yaml:"socket"`
	Mode    string `yaml:"mode"`
	UID     *int   `yaml:"uid"`
	GID     *int   `yaml:"gid"`
}

const (
	packerHome = "/corpus-packer-home"
	targetHome = "/corpus-target-home"
	version    = "1.0"
)

// env is the state shared by every project: built once.
type env struct {
	airpack string
	compose string // the pinned plugin, run standalone
	layout  string
	digests map[string]string // "ref" or "ref@os/arch" -> digest
}

// TestMain runs more projects at once than there are CPUs (unless -parallel says): a project
// mostly waits for the programs it runs.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(max(8, 4*runtime.GOMAXPROCS(0))))
	}
	os.Exit(m.Run())
}

func TestCorpus(t *testing.T) {
	start := time.Now()
	e := setup(t)
	t.Logf("setup (airpack build, images) took %s", time.Since(start).Round(time.Millisecond))
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	t.Run("project", func(t *testing.T) {
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			n++
			t.Run(d.Name(), func(t *testing.T) {
				t.Parallel()
				e.project(t, d.Name())
			})
		}
	})
	if n < 40 {
		t.Errorf("the corpus has %d projects, issue 9 asks for at least 40", n)
	}
	t.Logf("%d projects in %s", n, time.Since(start).Round(time.Millisecond))
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{}
	for _, p := range []string{os.Getenv("DOCKER_CONFIG"), filepath.Join(os.Getenv("HOME"), ".docker")} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(p, "cli-plugins", "docker-compose")); err == nil {
			e.compose = filepath.Join(p, "cli-plugins", "docker-compose")
			break
		}
	}
	if e.compose == "" {
		t.Fatal("the pinned Compose plugin is not in ~/.docker/cli-plugins: run scripts/build-tools.sh")
	}
	tmp, err := os.MkdirTemp("", "corpus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	var wg sync.WaitGroup
	var buildErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.airpack = filepath.Join(tmp, "airpack")
		cmd := exec.Command("go", "build", "-o", e.airpack, "./cmd/airpack")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build airpack: %v\n%s", err, out)
		}
	}()
	e.layout = filepath.Join(tmp, "layout")
	digests, err := writeLayout(e.layout)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	e.digests = digests
	return e
}

// images are the references the layout holds: platforms, linux/amd64 when none; several make
// an image index.
var images = map[string][]string{
	"alpine:3.19":             {"linux/amd64", "linux/arm64"},
	"busybox:latest":          nil,
	"busybox:1.36":            nil,
	"nginx:1.25":              nil,
	"postgres:16":             nil,
	"redis:7":                 nil,
	"mariadb:11":              nil,
	"wordpress:6":             nil,
	"grafana/grafana:10.4":    nil,
	"traefik:v3.0":            nil,
	"prom/prometheus:v2.51":   nil,
	"python:3.12":             nil,
	"node:20":                 nil,
	"nvidia/cuda:12.3-base":   nil,
	"ghcr.io/corpus/app:1.0":  nil,
	"corpus/app:1.0":          nil,
	"corpus/worker:1.0":       nil,
	"corpus/assets:1.0":       nil,
	"corpus/multi:1.0":        {"linux/amd64", "linux/arm64"},
	"corpus/wasm:1.0":         {"wasi/wasm"},
	"registry.local/tool:2.1": nil,
}

// writeLayout writes the images into an OCI layout, each named by both annotations the
// oci: source reads, and returns their digests ("ref" for what the index names, "ref@os/arch"
// for each platform's manifest).
func writeLayout(dir string) (map[string]string, error) {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, err
	}
	digests := map[string]string{}
	refs := make([]string, 0, len(images))
	for r := range images {
		refs = append(refs, r)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		plats := images[ref]
		full, err := name.ParseReference(ref)
		if err != nil {
			return nil, err
		}
		ann := layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": ref,
			"io.containerd.image.name":          full.Name(),
		})
		if len(plats) == 0 {
			plats = []string{"linux/amd64"}
		}
		var imgs []v1.Image
		for _, pl := range plats {
			img, err := tinyImage(ref, pl)
			if err != nil {
				return nil, err
			}
			d, err := img.Digest()
			if err != nil {
				return nil, err
			}
			digests[ref+"@"+pl] = d.String()
			imgs = append(imgs, img)
		}
		if len(imgs) == 1 {
			if err := p.AppendImage(imgs[0], ann); err != nil {
				return nil, err
			}
			digests[ref] = digests[ref+"@"+plats[0]]
			continue
		}
		var idx v1.ImageIndex = empty.Index
		idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
		for i, img := range imgs {
			pl, err := v1.ParsePlatform(plats[i])
			if err != nil {
				return nil, err
			}
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
		}
		d, err := idx.Digest()
		if err != nil {
			return nil, err
		}
		digests[ref] = d.String()
		if err := p.AppendIndex(idx, ann); err != nil {
			return nil, err
		}
	}
	return digests, nil
}

// tinyImage is an image of one small layer naming the reference and platform.
func tinyImage(ref, platform string) (v1.Image, error) {
	pl, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte(ref + " " + platform + "\n")
	hdr := &tar.Header{Name: "corpus/image", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(946684800, 0), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	tw.Write(body)
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(buf.Bytes())
	if err := zw.Close(); err != nil {
		return nil, err
	}
	layer := static.NewLayer(gz.Bytes(), types.OCILayer)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = pl.OS, pl.Architecture, pl.Variant
	cf.Config.Cmd = []string{"/corpus/image"}
	cf.Created = v1.Time{Time: time.Unix(946684800, 0).UTC()}
	return mutate.ConfigFile(img, cf)
}

var placeholder = regexp.MustCompile(`@@digest:([^@]+?)(?:@([a-z0-9]+/[a-z0-9]+))?@@`)

// project runs one project of the corpus.
func (e *env) project(t *testing.T, proj string) {
	src := filepath.Join("testdata", proj)
	var x expectation
	b, err := os.ReadFile(filepath.Join(src, "expect.yaml"))
	if err != nil {
		t.Fatalf("every project needs an expect.yaml: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&x); err != nil {
		t.Fatalf("expect.yaml: %v", err)
	}
	if x.Outcome == "" {
		x.Outcome = "equal"
	}
	if x.Outcome != "equal" && x.Outcome != "refuse" && x.Outcome != "either" {
		t.Fatalf("expect.yaml: outcome %q: want equal, refuse or either", x.Outcome)
	}
	t.Logf("%s (issue %s): %s", proj, x.Issue, x.About)

	tmp, err := os.MkdirTemp("", "corpus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	dir := filepath.Join(tmp, "src", proj)
	if err := e.copyProject(src, dir); err != nil {
		t.Fatal(err)
	}
	for i, s := range x.Setup {
		if err := s.run(dir); err != nil {
			t.Fatalf("setup step %d: %v", i+1, err)
		}
	}

	out := filepath.Join(tmp, "out", proj+"-"+version+".tar")
	if x.Output != "" {
		out = filepath.Join(dir, x.Output)
	}
	composeArgs := composeFlags(x)
	args := append([]string{"pack", "--version", version, "--source", "oci:" + e.layout, "-q", "-o", out}, composeArgs...)
	args = append(args, x.PackArgs...)
	packEnv := map[string]string{"HOME": packerHome}
	for k, v := range x.PackEnv {
		packEnv[k] = v
	}
	res := run(dir, packEnv, e.airpack, args...)
	t.Logf("$ airpack %s\n%s", strings.Join(args, " "), indent(res.stdout+res.stderr))

	// Item 13: compose-go's warnings are airpack warnings, never raw log lines. An indented line
	// continues the line before it.
	var warnings []string
	inWarning := false
	for _, l := range lines(res.stderr) {
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			if inWarning {
				warnings[len(warnings)-1] += "\n" + l
			}
			continue
		}
		w, ok := strings.CutPrefix(l, "airpack: warning: ")
		if inWarning = ok; ok {
			warnings = append(warnings, w)
		} else if !strings.HasPrefix(l, "airpack: ") {
			t.Errorf("pack printed a line that is not airpack's (a raw log line?): %q", l)
		}
	}

	if res.err != nil {
		if x.Outcome == "equal" {
			t.Fatalf("pack failed, want a bundle with the project's meaning:\n%s", indent(res.stderr))
		}
		for _, want := range x.Refuse {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("pack refused, but its message lacks %q:\n%s", want, indent(res.stderr))
			}
		}
		if strings.Contains(res.stderr, "panic:") {
			t.Errorf("pack panicked")
		}
		if _, err := os.Lstat(out); err == nil {
			t.Errorf("pack failed but left %s", out)
		}
		return
	}
	if x.Outcome == "refuse" {
		t.Errorf("pack succeeded, want it to refuse with %q (warnings: %q)", x.Refuse, warnings)
		return
	}

	// Warnings.
	for _, want := range x.Warn {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("no warning mentions %q; warnings: %q", want, warnings)
		}
	}
	if len(x.Warn) == 0 && len(x.KeptOrWarned) == 0 && !x.AllowWarnings && len(warnings) > 0 {
		t.Errorf("unexpected warnings (the project keeps its meaning): %q", warnings)
	}

	// airpack verify: whatever pack writes, verify accepts (item 11).
	if v := run(tmp, nil, e.airpack, "verify", out); v.err != nil {
		t.Errorf("airpack verify rejects what pack wrote: %v\n%s", v.err, indent(v.stdout+v.stderr))
	}

	// ... and airpack ram accepts it too (item 11); what RAM cannot express is its warnings.
	ramOut := filepath.Join(tmp, "ram", proj+"-ram.tar.gz")
	if r := run(tmp, nil, e.airpack, "ram", out, "-q", "-o", ramOut); r.err != nil {
		t.Errorf("airpack ram rejects what pack wrote: %v\n%s", r.err, indent(r.stdout+r.stderr))
	}

	var members *members
	bdir := out
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		// -o DIR: the bundle directory itself
		if members, err = dirMembers(out); err != nil {
			t.Fatalf("read bundle %s: %v", out, err)
		}
	} else {
		if members, err = readMembers(out); err != nil {
			t.Fatalf("read bundle %s: %v", out, err)
		}
		bdir = filepath.Join(tmp, "bundle")
		if err := os.MkdirAll(bdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if r := run(bdir, nil, "tar", "-xf", out); r.err != nil {
			t.Fatalf("tar -xf %s: %v\n%s", out, r.err, r.stderr)
		}
		bdir = filepath.Join(bdir, filepath.Base(members.top))
	}

	x.checkBundle(t, bdir, members, warnings)
	m := readManifest(t, bdir)
	if x.Images > 0 && len(m.Images) != x.Images {
		t.Errorf("airpack.json lists %d images, want %d: %v", len(m.Images), x.Images, m.refs())
	}
	for _, want := range x.Shipped {
		if !slices.Contains(m.refs(), want) {
			t.Errorf("airpack.json does not ship %s: %v", want, m.refs())
		}
	}
	if len(x.Inspect) > 0 {
		r := run(tmp, nil, e.airpack, "inspect", out)
		for _, want := range x.Inspect {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("airpack inspect does not list %q: %v\n%s", want, r.err, indent(r.stdout+r.stderr))
			}
		}
	}

	// The comparison: the source as the pinned plugin reads it in an empty environment, and
	// the bundle likewise. Images and platforms are checked even without the comparison.
	compareEnv := map[string]string{"HOME": targetHome}
	for k, v := range x.CompareEnv {
		compareEnv[k] = v
	}
	want, err := e.config(dir, compareEnv, composeArgs)
	if err != nil {
		t.Fatalf("docker compose config of the source: %v", err)
	}
	got, err := e.config(bdir, map[string]string{"HOME": targetHome}, nil)
	if err != nil {
		t.Fatalf("docker compose config of the bundle: %v", err)
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	realBundle, _ := filepath.EvalSymlinks(bdir)
	got = normalizePaths(got, realBundle, realDir).(map[string]any)
	checkImages(t, want, got, m)
	if x.NoCompare {
		return
	}
	if diff := cmp.Diff(intended(want), intended(got)); diff != "" {
		t.Errorf("docker compose config differs, source (-) vs bundle (+):\n%s", diff)
	}
}

func composeFlags(x expectation) []string {
	var a []string
	for _, f := range x.Files {
		a = append(a, "-f", f)
	}
	for _, p := range x.Profiles {
		a = append(a, "--profile", p)
	}
	for _, f := range x.EnvFiles {
		a = append(a, "--env-file", f)
	}
	return a
}

// copyProject copies a testdata project (but its expect.yaml), filling the digest placeholders
// of its text files: @@digest:REF@@ (what the layout's index names) and @@digest:REF@OS/ARCH@@.
func (e *env) copyProject(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "expect.yaml" {
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var bad error
		b = placeholder.ReplaceAllFunc(b, func(m []byte) []byte {
			sm := placeholder.FindSubmatch(m)
			key := string(sm[1])
			if len(sm[2]) > 0 {
				key += "@" + string(sm[2])
			}
			d, ok := e.digests[key]
			if !ok {
				bad = fmt.Errorf("%s: no image %s in the corpus layout", rel, key)
			}
			return []byte(d)
		})
		if bad != nil {
			return bad
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}

func (s setupStep) run(dir string) error {
	path := func(p string) string { return filepath.Join(dir, p) }
	var p string
	switch {
	case s.Mkdir != "":
		p = path(s.Mkdir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	case s.Write != "":
		p = path(s.Write)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(s.Content), 0o644); err != nil {
			return err
		}
	case s.Symlink != "":
		p = path(s.Symlink)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.Symlink(s.Target, p)
	case s.Socket != "":
		p = path(s.Socket)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		if err != nil {
			return err
		}
		l.SetUnlinkOnClose(false)
		return l.Close()
	default:
		return fmt.Errorf("a step needs mkdir, write, symlink or socket")
	}
	if s.UID != nil || s.GID != nil {
		uid, gid := -1, -1
		if s.UID != nil {
			uid = *s.UID
		}
		if s.GID != nil {
			gid = *s.GID
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("%v (the corpus test runs as root, as make test does)", err)
		}
	}
	// After the owner: chown clears setuid and setgid bits.
	if s.Mode != "" {
		mode, err := strconv.ParseUint(s.Mode, 8, 32)
		if err != nil {
			return err
		}
		// Unix bits to Go's: os.FileMode(0o2775) would drop the setgid bit.
		m := os.FileMode(mode).Perm()
		for bit, gm := range map[uint64]os.FileMode{0o4000: os.ModeSetuid, 0o2000: os.ModeSetgid, 0o1000: os.ModeSticky} {
			if mode&bit != 0 {
				m |= gm
			}
		}
		if err := os.Chmod(p, m); err != nil {
			return err
		}
	}
	return nil
}

// members are the headers of a bundle archive, by path inside its top directory.
type members struct {
	top string
	hdr map[string]*tar.Header
}

func readMembers(path string) (*members, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &members{hdr: map[string]*tar.Header{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top, rest, _ := strings.Cut(strings.TrimSuffix(h.Name, "/"), "/")
		if m.top == "" {
			m.top = top
		}
		if rest != "" {
			m.hdr[rest] = h
		}
	}
	if m.top == "" {
		return nil, fmt.Errorf("an empty archive")
	}
	return m, nil
}

// dirMembers describes a bundle directory as readMembers describes an archive.
func dirMembers(dir string) (*members, error) {
	m := &members{top: filepath.Base(dir), hdr: map[string]*tar.Header{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m.hdr[filepath.ToSlash(rel)] = h
		return nil
	})
	return m, err
}

func (x expectation) checkBundle(t *testing.T, bdir string, m *members, warnings []string) {
	t.Helper()
	for p, want := range x.Entries {
		h, ok := m.hdr[p]
		if !ok {
			t.Errorf("the bundle has no %s", p)
			continue
		}
		typ := map[byte]string{tar.TypeReg: "file", tar.TypeDir: "dir", tar.TypeSymlink: "symlink"}[h.Typeflag]
		if want.Type != "" && typ != want.Type {
			t.Errorf("bundle %s is a %q (tar type %q), want a %s", p, typ, h.Typeflag, want.Type)
		}
		if want.Mode != "" {
			mode, _ := strconv.ParseUint(want.Mode, 8, 32)
			if uint64(h.Mode&0o7777) != mode {
				t.Errorf("bundle %s has mode %04o, want %s", p, h.Mode&0o7777, want.Mode)
			}
		}
		if want.UID != nil && h.Uid != *want.UID {
			t.Errorf("bundle %s has owner %d, want %d", p, h.Uid, *want.UID)
		}
		if want.GID != nil && h.Gid != *want.GID {
			t.Errorf("bundle %s has group %d, want %d", p, h.Gid, *want.GID)
		}
		if want.Link != "" && h.Linkname != want.Link {
			t.Errorf("bundle %s links to %q, want %q", p, h.Linkname, want.Link)
		}
	}
	for _, p := range x.Lacks {
		for name := range m.hdr {
			if name == p || strings.HasSuffix(p, "/") && strings.HasPrefix(name, p) {
				t.Errorf("the bundle holds %s, which it must not", name)
			}
		}
	}
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(bdir, f))
		if err != nil {
			t.Errorf("bundle file %s: %v", f, err)
		}
		return string(b)
	}
	for f, texts := range x.Contains {
		body := read(f)
		for _, s := range texts {
			if !strings.Contains(body, s) {
				t.Errorf("bundle %s lacks %q:\n%s", f, s, indent(body))
			}
		}
	}
	for f, texts := range x.NotContains {
		body := read(f)
		for _, s := range texts {
			if strings.Contains(body, s) {
				t.Errorf("bundle %s holds %q:\n%s", f, s, indent(body))
			}
		}
	}
	for _, k := range x.KeptOrWarned {
		if !strings.Contains(read(k.File), k.Text) && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, k.Warning) }) {
			t.Errorf("bundle %s lacks %q and no warning mentions %q (warnings: %q)", k.File, k.Text, k.Warning, warnings)
		}
	}
	if len(x.Absent) > 0 {
		filepath.WalkDir(bdir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(p, filepath.Join(bdir, "images")+"/") {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, s := range x.Absent {
				if bytes.Contains(b, []byte(s)) {
					rel, _ := filepath.Rel(bdir, p)
					t.Errorf("bundle %s holds %q, a value of the packing machine", rel, s)
				}
			}
			return nil
		})
	}
}

type manifest struct {
	Platform string `json:"platform"`
	Images   []struct {
		Ref            string   `json:"ref"`
		Services       []string `json:"services"`
		ManifestDigest string   `json:"manifestDigest"`
		Platform       string   `json:"platform"`
		// Pin is the digest the source pinned: the compose file names the tag (the classic
		// store cannot resolve a digest of a loaded image), airpack.json keeps the pin.
		Pin string `json:"pin"`
	} `json:"images"`
}

func (m *manifest) refs() []string {
	var r []string
	for _, i := range m.Images {
		r = append(r, i.Ref)
	}
	return r
}

func readManifest(t *testing.T, bdir string) *manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bdir, "airpack.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("airpack.json: %v", err)
	}
	return &m
}

// config is `docker compose config --format json` by the pinned plugin, run standalone in dir
// with PATH and env alone.
func (e *env) config(dir string, env map[string]string, flags []string) (map[string]any, error) {
	args := append(slices.Clone(flags), "config", "--format", "json")
	r := run(dir, env, e.compose, args...)
	if r.err != nil {
		return nil, fmt.Errorf("docker compose %s: %v\n%s", strings.Join(args, " "), r.err, indent(r.stderr))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// normalizePaths maps the bundle's paths to the source's: files/_outside/<abs> is <abs>,
// files/<rel> and <rel> are the project's <rel>.
func normalizePaths(v any, bundle, src string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = normalizePaths(x, bundle, src)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = normalizePaths(x, bundle, src)
		}
		return v
	case string:
		switch v {
		case bundle + "/files", bundle:
			return src
		}
		for _, r := range []struct{ from, to string }{
			{bundle + "/files/_outside/", "/"},
			{bundle + "/files/", src + "/"},
			{bundle + "/", src + "/"},
		} {
			if rest, ok := strings.CutPrefix(v, r.from); ok {
				return r.to + rest
			}
		}
		return v
	}
	return v
}

// keptPullPolicies are the pull_policy values the bundle keeps (docs/bundle-format.md).
var keptPullPolicies = []string{"never", "missing", "if_not_present"}

// intended removes the differences the bundle format intends: the image (checked by
// checkImages), build, develop and profiles (the bundle holds the active services, built),
// a pull_policy that would reach for a registry, depends_on entries naming an inactive service.
func intended(cfg map[string]any) map[string]any {
	services, _ := cfg["services"].(map[string]any)
	for _, s := range services {
		svc, ok := s.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range []string{"image", "build", "develop", "profiles"} {
			delete(svc, k)
		}
		if p, ok := svc["pull_policy"].(string); ok && !slices.Contains(keptPullPolicies, p) {
			delete(svc, "pull_policy")
		}
		if deps, ok := svc["depends_on"].(map[string]any); ok {
			for d := range deps {
				if _, active := services[d]; !active {
					delete(deps, d)
				}
			}
			if len(deps) == 0 {
				delete(svc, "depends_on")
			}
		}
	}
	return cfg
}

// checkImages: every bundle service names the image airpack.json ships for it, the same
// repository and tag as the source's, with the source's digest pin kept (item 1); a service's
// platform is that of its shipped image (item 2).
func checkImages(t *testing.T, want, got map[string]any, m *manifest) {
	t.Helper()
	ws, _ := want["services"].(map[string]any)
	gs, _ := got["services"].(map[string]any)
	shipped := map[string]string{}
	platform := map[string]string{}
	pins := map[string]string{}
	for _, img := range m.Images {
		for _, s := range img.Services {
			shipped[s] = img.Ref
			platform[s] = img.Platform
			pins[s] = img.Pin
		}
	}
	for svc, w := range ws {
		g, ok := gs[svc].(map[string]any)
		if !ok {
			continue // the diff names it
		}
		wi, _ := w.(map[string]any)["image"].(string)
		gi, _ := g["image"].(string)
		if gi != shipped[svc] {
			t.Errorf("service %s: the bundle's image is %q, airpack.json ships %q for it", svc, gi, shipped[svc])
		}
		wr, err1 := name.ParseReference(strings.SplitN(wi, "@", 2)[0])
		gr, err2 := name.ParseReference(strings.SplitN(gi, "@", 2)[0])
		if err1 == nil && err2 == nil && wr.Context().Name() != gr.Context().Name() {
			t.Errorf("service %s: the bundle ships %s for the source's %s: another repository", svc, gi, wi)
		}
		if _, d, ok := strings.Cut(wi, "@"); ok && !strings.Contains(gi, "@"+d) && pins[svc] != d {
			t.Errorf("service %s: the source pins %s, the bundle lost the pin (image %q, airpack.json pin %q)", svc, d, gi, pins[svc])
		}
		if tag := tagOf(wi); tag != "" && tagOf(gi) != tag {
			t.Errorf("service %s: the bundle's image %q has not the source's tag %q", svc, gi, tag)
		}
		if p, ok := g["platform"].(string); ok && p != platform[svc] {
			t.Errorf("service %s: the bundle says platform: %s but ships its image for %s", svc, p, platform[svc])
		}
	}
}

// tagOf is the tag a reference names, "" when none.
func tagOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	last := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, _ := strings.Cut(last, ":")
	return tag
}

type result struct {
	stdout, stderr string
	err            error
}

// run runs a program in dir with PATH and env alone.
func run(dir string, env map[string]string, prog string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result{stdout.String(), stderr.String(), err}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
