//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/airpack/airpack/internal/demo"
	"github.com/airpack/airpack/ram"
)

// shellImage is the demo "report" image listening on :80 and reporting /etc/which (holding
// which), plus this machine's busybox and the libraries ldd names, linked as /bin/sh, grep and
// test: an image whose compose healthcheck can be a CMD-SHELL script.
func shellImage(t *testing.T, which string) v1.Image {
	t.Helper()
	img, err := demo.RoleImage(demoBin, "report", []string{"-listen", ":80", "-file", "/etc/which"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is needed for the shell image (scripts/ci-setup.sh installs it)")
	}
	out, err := exec.Command("ldd", bb).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bb, err)
	}
	files := map[string][]byte{"etc/which": []byte(which + "\n")}
	for _, p := range append([]string{bb}, regexp.MustCompile(`/\S+`).FindAllString(string(out), -1)...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p[1:]] = b
	}
	links := map[string]string{"bin/sh": "/" + bb[1:], "bin/grep": "/" + bb[1:], "bin/test": "/" + bb[1:]}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for n := range links {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var dirs []string
		for d := path.Dir(n); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			dirs = append(dirs, d)
		}
		slices.Reverse(dirs)
		for _, d := range dirs {
			must0(t, tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
		}
		if target, ok := links[n]; ok {
			must0(t, tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}))
			continue
		}
		must0(t, tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(files[n]))}))
		_, err := tw.Write(files[n])
		must0(t, err)
	}
	must0(t, tw.Close())
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	must0(t, err)
	img, err = mutate.AppendLayers(img, l)
	must0(t, err)
	return img
}

func must0(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A Compose project as the platform would get it wrong before issue 10: two images the
// importer re-tags to one name (HOST/lib/app:7 and HOST/other/app:7 both become
// goodrain.me/app:7), each with a CMD-SHELL healthcheck (a pipe, ||, spaces), which the
// platform runs as an exec of the probe's cmd split at spaces, with no shell.
//
// `airpack ram` gives each component a share_image of its own and a probe the platform can
// exec. Played as the platform plays it on this engine: `docker load` of component-images.tar,
// each share_image tagged as the importer does (ram.ImportedName), a container of each
// imported name, and the probe's cmd split as the worker splits it, exec'd in it: it passes,
// which also proves each imported name holds its own component's image (each script checks
// /etc/which). Then `airpack pack --ram` of the package runs under compose: every service on
// its original image name and healthy.
func TestRAMExportRunsAsThePlatformWould(t *testing.T) {
	reg := startRegistry(t)
	shipped := map[string]string{}
	for svc, which := range map[string]string{"cache": "lib", "cache2": "other"} {
		ref := reg.host + "/" + which + "/app:7"
		r, err := name.ParseReference(ref)
		must0(t, err)
		must0(t, remote.Write(r, shellImage(t, "team-"+which)))
		shipped[svc] = ref
	}
	scripts := map[string]string{
		"cache":  "grep -q team-lib /etc/which || exit 1",
		"cache2": "grep team-other /etc/which | grep -q -v team-lib",
	}
	dir := simpleProject(t, fmt.Sprintf(`name: shop
services:
  cache:
    image: %s
    expose: ["80"]
    healthcheck: {test: ["CMD-SHELL", %q], interval: 1s, retries: 30}
  cache2:
    image: %s
    expose: ["80"]
    healthcheck: {test: ["CMD-SHELL", %q], interval: 1s, retries: 30}
`, shipped["cache"], scripts["cache"], shipped["cache2"], scripts["cache2"]))
	pkgFile := filepath.Join(t.TempDir(), "shop-1.0-ram.tar.gz")
	if r := airpack(t, "", "ram", dir, "--version", "1.0", "--source", "registry", "-o", pkgFile); r.err != nil {
		t.Fatalf("airpack ram: %v\n%s", r.err, r)
	}
	pkg, err := ram.ReadPackage(t.Context(), pkgFile, ram.ReadOptions{WorkDir: t.TempDir()})
	must0(t, err)
	defer pkg.Remove()

	imported := map[string]string{} // service -> the name the importer gives its image
	refs := []string{shipped["cache"], shipped["cache2"]}
	for _, a := range pkg.Template.Apps {
		n, err := ram.ImportedName(a.ShareImage, ram.ImportHub, "")
		must0(t, err)
		imported[a.ServiceCname] = n
		refs = append(refs, a.ShareImage, n)
		if a.Image != shipped[a.ServiceCname] {
			t.Errorf("%s: image %s, want %s", a.ServiceCname, a.Image, shipped[a.ServiceCname])
		}
	}
	if imported["cache"] == imported["cache2"] {
		t.Fatalf("both components become %s on import", imported["cache"])
	}
	removeImages(t, refs...)
	t.Cleanup(func() { removeImages(t, refs...) })

	// The importer: load, then tag each share_image with its new name, in apps order.
	must(t, "", "docker", "load", "-i", pkg.ComponentImages)
	for _, a := range pkg.Template.Apps {
		if imageID(t, a.ShareImage) == "" || imageID(t, a.ShareImage) != imageID(t, a.Image) {
			t.Errorf("%s: after docker load, %s is %q and %s is %q", a.ServiceCname, a.ShareImage, imageID(t, a.ShareImage), a.Image, imageID(t, a.Image))
		}
		must(t, "", "docker", "tag", a.ShareImage, imported[a.ServiceCname])
	}
	// The worker: the readiness probe's cmd, split at spaces, exec'd in a container of the
	// imported image.
	for _, a := range pkg.Template.Apps {
		var probe *ram.Probe
		for i := range a.Probes {
			if a.Probes[i].Mode == "readiness" && a.Probes[i].IsUsed {
				probe = &a.Probes[i]
			}
		}
		if probe == nil || probe.Scheme != "cmd" || probe.Port < 1 {
			t.Errorf("%s: no usable readiness cmd probe with a port: %+v", a.ServiceCname, a.Probes)
			continue
		}
		ctr := strings.TrimSpace(must(t, "", "docker", "run", "-d", "--rm", imported[a.ServiceCname]).stdout)
		t.Cleanup(func() { run(t, "", nil, "docker", "rm", "-f", ctr) })
		t.Logf("%s: probe cmd %q", a.ServiceCname, probe.Cmd)
		argv := append([]string{"exec", ctr}, strings.Split(probe.Cmd, " ")...)
		if r := run(t, "", nil, "docker", argv...); r.err != nil {
			t.Errorf("%s: the probe %q, exec'd as the platform does in %s, fails: %v\n%s", a.ServiceCname, probe.Cmd, imported[a.ServiceCname], r.err, r)
		}
	}

	// RAM -> bundle: the original image names, and compose runs the probes as healthchecks.
	archive := filepath.Join(t.TempDir(), "shop-1.0.tar")
	if r := airpack(t, "", "pack", "--ram", pkgFile, "-o", archive); r.err != nil {
		t.Fatalf("pack --ram: %v\n%s", r.err, r)
	}
	target := t.TempDir()
	must(t, target, "tar", "xf", archive)
	bdir := filepath.Join(target, "shop-1.0")
	m := readManifest(t, bdir)
	for _, im := range m.Images {
		for _, s := range im.Services {
			if im.Ref != shipped[s] {
				t.Errorf("bundle: service %s ships %s, want %s", s, im.Ref, shipped[s])
			}
		}
	}
	removeImages(t, refs...)
	t.Cleanup(func() { run(t, bdir, nil, "docker", "compose", "down", "-v") })
	if r := run(t, bdir, nil, "./load.sh", "--up"); r.err != nil {
		t.Fatalf("load.sh --up: %v\n%s", r.err, r)
	}
	for svc := range shipped {
		ctr := strings.TrimSpace(must(t, bdir, "docker", "compose", "ps", "-q", svc).stdout)
		if h := strings.TrimSpace(must(t, "", "docker", "inspect", "--format", "{{.State.Health.Status}}", ctr).stdout); h != "healthy" {
			t.Errorf("service %s: %s", svc, h)
		}
	}
}
