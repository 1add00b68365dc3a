//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/airpack/airpack/internal/demo"
	"github.com/airpack/airpack/internal/ramtest"
	"github.com/airpack/airpack/ram"
)

// ramSample is the sample template of shared/testdata/ram (beside the checkout; the copy in
// ram/testdata when it is absent), its components made for this machine's architecture.
func ramSample(t *testing.T) *ram.Template {
	t.Helper()
	p := filepath.Join(moduleRoot, "..", "shared", "testdata", "ram", "example-metadata.json")
	if _, err := os.Stat(p); err != nil {
		p = filepath.Join(moduleRoot, "ram", "testdata", "example-metadata.json")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ram.DecodeMetadata(b)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	for i := range tpl.Apps {
		tpl.Apps[i].Arch = goarch
	}
	return tpl
}

// component returns the sample's component named cname.
func component(t *testing.T, tpl *ram.Template, cname string) *ram.Component {
	t.Helper()
	for i := range tpl.Apps {
		if tpl.Apps[i].ServiceCname == cname {
			return &tpl.Apps[i]
		}
	}
	t.Fatalf("the sample has no component %s", cname)
	return nil
}

// ramImages builds the sample's images from the demo binary, by share_image: web listens on its
// port 80 and reports its variables, its config file and what db answers at $DB_HOST:$DB_PORT;
// db listens on its port 3306 and reports its variables.
func ramImages(t *testing.T, tpl *ram.Template) map[string]v1.Image {
	t.Helper()
	web, db := component(t, tpl, "web"), component(t, tpl, "db")
	specs := map[string][]string{
		web.ShareImage: {"-listen", ":80", "-env", "ADMIN_TOKEN,MYSQL_ROOT_PASSWORD,DB_HOST,DB_PORT,TZ,NGINX_WORKERS",
			"-file", "/etc/nginx/conf.d/default.conf", "-call", "http://${DB_HOST}:${DB_PORT}/"},
		db.ShareImage: {"-listen", ":3306", "-env", "MYSQL_ROOT_PASSWORD,MYSQL_DATABASE"},
	}
	out := map[string]v1.Image{}
	for ref, args := range specs {
		img, err := demo.RoleImage(demoBin, "report", args, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[ref] = img
	}
	return out
}

// report is what a demo "report" service answered: its variables, file and call.
type report struct {
	env        map[string]string
	file, call string
}

func parseReport(body string) report {
	r := report{env: map[string]string{}}
	for _, line := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(line, "env "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "env "), "=")
			r.env[k] = v
		case strings.HasPrefix(line, "file="):
			r.file = strings.TrimPrefix(line, "file=")
		case strings.HasPrefix(line, "call="):
			r.call = strings.TrimPrefix(line, "call=")
		}
	}
	return r
}

// containerEnv is the environment docker gave a service's container.
func containerEnv(t *testing.T, dir, service string) map[string]string {
	t.Helper()
	id := strings.TrimSpace(must(t, dir, "docker", "compose", "ps", "-q", service).stdout)
	if id == "" {
		t.Fatalf("no container for service %s", service)
	}
	out := must(t, dir, "docker", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", id).stdout
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

var generated = regexp.MustCompile(`^[A-Za-z0-9]{24}$`)

// runRAMPackage converts pkgFile with `airpack pack --ram`, runs the bundle as an operator does
// (./load.sh, a free host port set in .env, docker compose up -d) on an engine that has none of
// its images, and checks what the sample's services got.
func runRAMPackage(t *testing.T, pkgFile string, tpl *ram.Template) {
	t.Helper()
	var refs []string
	for _, a := range tpl.Apps {
		refs = append(refs, a.ShareImage)
	}
	removeImages(t, refs...)
	t.Cleanup(func() { removeImages(t, refs...) })

	bundleName := tpl.GroupName + "-" + tpl.GroupVersion
	archive := filepath.Join(t.TempDir(), bundleName+".tar")
	if r := airpack(t, "", "pack", "--ram", pkgFile, "-o", archive); r.err != nil {
		t.Fatalf("pack --ram: %v\n%s", r.err, r)
	}
	if r := airpack(t, "", "verify", archive); r.err != nil || !strings.Contains(r.stdout, "sound") {
		t.Fatalf("verify: %v\n%s", r.err, r)
	}
	target := t.TempDir()
	must(t, target, "tar", "xf", archive)
	dir := filepath.Join(target, bundleName)
	m := readManifest(t, dir)
	if len(m.Images) != len(tpl.Apps) {
		t.Fatalf("airpack.json lists %d images, want %d", len(m.Images), len(tpl.Apps))
	}

	must(t, dir, "./load.sh")
	for _, im := range m.Images {
		want := im.ConfigDigest
		if containerdStore {
			want = im.ManifestDigest
		}
		if got := imageID(t, im.Ref); got != want {
			t.Errorf("image %s: ID %q after load, airpack.json expects %s", im.Ref, got, want)
		}
	}

	// The operator moves the published port in one place: the bundle's .env.
	port := freePort(t)
	envFile := filepath.Join(dir, ".env")
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env, err := dotenv.UnmarshalBytesWithLookup(b, nil)
	if err != nil {
		t.Fatalf(".env: %v\n%s", err, b)
	}
	if env["WEB_PORT_80"] != "80" {
		t.Fatalf(".env has no WEB_PORT_80=80:\n%s", b)
	}
	b = regexp.MustCompile(`(?m)^WEB_PORT_80=.*$`).ReplaceAll(b, []byte(fmt.Sprintf("WEB_PORT_80=%d", port)))
	if err := os.WriteFile(envFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	password, token := env["DB_MYSQL_ROOT_PASSWORD"], env["WEB_ADMIN_TOKEN"]
	if !generated.MatchString(password) || !generated.MatchString(token) || password == token {
		t.Fatalf("generated values in .env: DB_MYSQL_ROOT_PASSWORD=%q WEB_ADMIN_TOKEN=%q", password, token)
	}

	t.Cleanup(func() { run(t, dir, nil, "docker", "compose", "down", "-v") })
	must(t, dir, "docker", "compose", "up", "-d")
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	t.Logf("web answered:\n%s", indent(body))
	web := parseReport(body)

	// The config file is mounted, rendered with web's own DB_HOST (the dependency's name).
	if want := "server { listen 80; location / { proxy_pass http://db:3306; } }"; web.file != want {
		t.Errorf("web's config file: %q, want %q", web.file, want)
	}
	for k, want := range map[string]string{
		"DB_HOST":             "db", // 127.0.0.1 in db's connection info
		"DB_PORT":             "3306",
		"TZ":                  "Asia/Shanghai", // the config group naming web
		"NGINX_WORKERS":       "2",
		"ADMIN_TOKEN":         token,
		"MYSQL_ROOT_PASSWORD": password,
	} {
		if web.env[k] != want {
			t.Errorf("web got %s=%q, want %q", k, web.env[k], want)
		}
	}
	// web reaches db by its service name, and db was started with the same password.
	if want := "env MYSQL_ROOT_PASSWORD=" + password; !strings.Contains(web.call, want) || !strings.Contains(web.call, "env MYSQL_DATABASE=demo") {
		t.Errorf("web's call to db answered %q, want it to hold %q", web.call, want)
	}
	webEnv, dbEnv := containerEnv(t, dir, "web"), containerEnv(t, dir, "db")
	if webEnv["MYSQL_ROOT_PASSWORD"] != password || dbEnv["MYSQL_ROOT_PASSWORD"] != password {
		t.Errorf("containers' MYSQL_ROOT_PASSWORD: web %q, db %q, .env %q", webEnv["MYSQL_ROOT_PASSWORD"], dbEnv["MYSQL_ROOT_PASSWORD"], password)
	}
	must(t, dir, "docker", "compose", "down", "-v")
}

// TestRAMPackRun converts the sample template's package, images built from source under their
// share_image names, and runs it.
func TestRAMPackRun(t *testing.T) {
	tpl := ramSample(t)
	runRAMPackage(t, ramtest.WritePackage(t, tpl, ramImages(t, tpl)), tpl)
}

// TestRAMLegacyZipRun does the same with a Rainbond 5.2 zip.
func TestRAMLegacyZipRun(t *testing.T) {
	tpl := ramSample(t)
	tpl.GroupName = "legacy-delivery"
	for i := range tpl.Apps {
		a := &tpl.Apps[i]
		a.ShareImage = "goodrain.me/legacy-delivery/" + a.ServiceID + ":" + a.DeployVersion
	}
	runRAMPackage(t, ramtest.WriteLegacyZip(t, tpl, ramImages(t, tpl)), tpl)
}

// TestRAMBadInput feeds `airpack pack --ram` what is not a usable package: one line saying what
// is wrong, and nothing written, not even temporary files.
func TestRAMBadInput(t *testing.T) {
	tpl := ramSample(t)
	images := map[string]v1.Image{}
	for _, a := range tpl.Apps {
		img, err := random.Image(4096, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", goarch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		images[a.ShareImage] = img
	}
	good := ramtest.WritePackage(t, tpl, images)
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := tpl.MarshalJSON()
	var flat bytes.Buffer
	zw := gzip.NewWriter(&flat)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "metadata.json", Mode: 0o644, Size: int64(len(meta)), Typeflag: tar.TypeReg})
	tw.Write(meta)
	tw.Close()
	zw.Close()

	dir := t.TempDir()
	file := func(n string, b []byte) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name  string
		pkg   string
		extra []string
		want  string
	}{
		{"neither gzip nor zip", file("text-ram.tar.gz", []byte("just some text, not an archive\n")), nil,
			"is not a RAM package: want a gzip tar (.tar.gz) or a zip, got data of an unknown format"},
		{"flat archive", file("flat-ram.tar.gz", flat.Bytes()), nil,
			"metadata.json must be inside one top-level directory (the importer opens <top>/metadata.json); found \"metadata.json\" at the top level"},
		{"truncated", file("cut-ram.tar.gz", whole[:len(whole)/2]), nil, "is truncated or corrupt"},
		{"past --max-size", good, []string{"--max-size", "1KiB"}, "expands past the --max-size limit of 1024 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(t.TempDir(), "out.tar")
			args := append([]string{"pack", "-q", "--ram", c.pkg, "-o", out}, c.extra...)
			r := run(t, "", []string{"TMPDIR=" + tmp}, airpackBin, args...)
			if r.err == nil {
				t.Fatal("pack --ram succeeded")
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "airpack: ") || !strings.Contains(lines[0], c.want) || !strings.Contains(lines[0], filepath.Base(c.pkg)) {
				t.Errorf("want one line naming %s with %q, got:\n%s", filepath.Base(c.pkg), c.want, r.stderr)
			}
			assertNothingWritten(t, out)
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}
