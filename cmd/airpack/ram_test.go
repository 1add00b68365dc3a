package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airpack/airpack/ram"
)

// testImage serves one small linux/amd64 image from an in-process registry and returns its
// reference.
func testImage(t *testing.T, repo string) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := u.Host + "/" + repo
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// run runs the CLI with args and returns its stdout and stderr.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := app()
	a.Writer, a.ErrWriter = &out, &errOut
	err := a.Run(context.Background(), append([]string{"airpack"}, args...))
	return out.String(), errOut.String(), err
}

func TestRAMCommand(t *testing.T) {
	ref := testImage(t, "shop/web:1.0")
	dir := t.TempDir()
	body := "name: shop\nservices:\n  web:\n    image: " + ref + "\n    cap_add: [NET_ADMIN]\n    user: \"1000\"\n    networks: [front]\nnetworks:\n  front: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(t.TempDir(), "shop-1.0-ram.tar.gz")
	stdout, stderr, err := run(t, "ram", dir, "--version", "1.0", "--source", "registry", "-o", pkg, "-q")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"airpack: warning: networks: front: RAM has no networks (components reach each other by name); dropped",
		"airpack: warning: service web: cap_add: RAM has no Linux capabilities; dropped",
		"airpack: warning: service web: networks: front: RAM has no networks (components reach each other by name); dropped",
		"airpack: warning: service web: user: RAM runs the image's user; dropped",
	}
	if got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant one warning per line:\n%s", stderr, strings.Join(want, "\n"))
	}
	if stdout != "" {
		t.Errorf("--quiet printed %q", stdout)
	}

	// Again, not quiet, over the first: --force, and the last line says what was written.
	stdout, _, err = run(t, "ram", dir, "--version", "1.0", "--source", "registry", "-o", pkg, "--force")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != "wrote "+pkg+" (1 component)\n" {
		t.Errorf("stdout %q", stdout)
	}
	if _, _, err := run(t, "ram", dir, "--version", "1.0", "--source", "registry", "-o", pkg); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing output: %v", err)
	}

	// An -o file name holding "plugin" would make the importer skip every image: refused,
	// before any work, in one line naming the file and what to do.
	bad := filepath.Join(filepath.Dir(pkg), "shop-plugin-1.0.tar.gz")
	stdout, _, err = run(t, "ram", dir, "--version", "1.0", "--source", "registry", "-o", bad)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "output "+bad+`: the file name "shop-plugin-1.0.tar.gz" contains "plugin"`) || !strings.HasSuffix(err.Error(), "choose another -o name (the default is <group_name>-<group_version>-ram.tar.gz)") || stdout != "" {
		t.Errorf("-o with plugin: %v (stdout %q)", err, stdout)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("%s written: %v", bad, err)
	}

	// inspect reads the package, for people and for machines.
	stdout, _, err = run(t, "inspect", pkg)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"RAM package " + pkg, "template      shop 1.0", "web ", ref} {
		if !strings.Contains(stdout, w) {
			t.Errorf("inspect lacks %q:\n%s", w, stdout)
		}
	}
	stdout, _, err = run(t, "inspect", "--json", pkg)
	if err != nil {
		t.Fatal(err)
	}
	var r ram.PackageReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.GroupName != "shop" || len(r.Components) != 1 || !r.Components[0].ImageFound || r.Components[0].ShareImage != ram.ShareImageName("shop", "1.0", ram.StableID("shop", "web")) || len(r.Images) != 1 || !slices.Contains(r.Images[0].Names, ref) || r.Problems == nil {
		t.Errorf("inspect --json: %v\n%s", err, stdout)
	}
}

// inspect still reads bundles, directories and archives.
func TestInspectBundle(t *testing.T) {
	ref := testImage(t, "shop/web:1.0")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: shop\nservices:\n  web:\n    image: "+ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, b := range []string{filepath.Join(out, "shop-1.0"), filepath.Join(out, "shop-1.0.tar.gz")} {
		if _, _, err := run(t, "pack", "--project-directory", dir, "--version", "1.0", "--source", "registry", "-o", b, "-q"); err != nil {
			t.Fatal(err)
		}
		stdout, _, err := run(t, "inspect", "--json", b)
		if err != nil {
			t.Fatalf("inspect %s: %v", b, err)
		}
		if !strings.Contains(stdout, `"name": "shop"`) || strings.Contains(stdout, "groupName") {
			t.Errorf("inspect %s:\n%s", b, stdout)
		}
	}
	if _, _, err := run(t, "inspect", filepath.Join(dir, "compose.yaml")); err == nil {
		t.Error("inspect of a compose file succeeded")
	}
}

// An explicitly empty --name, --version or -o is refused: it would silently fall back to the
// default. A bundle's --name is checked before any work, as a project's is.
func TestEmptyFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: shop\nservices:\n  web:\n    image: nginx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(t.TempDir(), "p.tar.gz")
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--version", []string{"ram", dir, "--version", "", "-o", pkg}},
		{"--name", []string{"ram", dir, "--version", "1.0", "--name", "", "-o", pkg}},
		{"--output", []string{"ram", dir, "--version", "1.0", "-o", ""}},
		{"--flavor", []string{"ram", dir, "--version", "1.0", "--flavor", "", "-o", pkg}},
		{"--version", []string{"pack", "--project-directory", dir, "--version", ""}},
		{"--name", []string{"pack", "--project-directory", dir, "--version", "1.0", "--name", ""}},
		{"--version", []string{"pack", "--ram", pkg, "--version", ""}},
		{"--output", []string{"pack", "--ram", pkg, "--output", ""}},
	} {
		_, _, err := run(t, c.args...)
		if want := c.flag + " is empty: give a value, or leave the flag out for the default"; err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", c.args, err, want)
		}
	}
	if _, err := os.Stat(pkg); !os.IsNotExist(err) {
		t.Errorf("%s written", pkg)
	}
}

// -o for a RAM package must say what it is: a gzip-compressed tar.
func TestRAMOutputSuffix(t *testing.T) {
	f := newSignFixture(t)
	b := filepath.Join(t.TempDir(), "shop-1.0")
	f.pack(t, b)
	out := filepath.Join(t.TempDir(), "shop.tar")
	_, stderr, err := run(t, "ram", b, "-o", out, "--name", "my-plugin-app")
	if err == nil || !strings.Contains(err.Error(), "name it .tar.gz or .tgz") || stderr != "" {
		t.Errorf("-o shop.tar: %v (stderr %q)", err, stderr)
	}
	_, stderr, err = run(t, "ram", b, "--name", "my-plugin-app", "-o", filepath.Join(t.TempDir(), "x.tgz"))
	if err == nil || !strings.HasPrefix(err.Error(), `package name "my-plugin-app" contains "plugin"`) || stderr != "" {
		t.Errorf("--name my-plugin-app: %v (stderr %q)", err, stderr)
	}
}
