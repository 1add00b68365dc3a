package pack

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/internal/ramtest"
	"github.com/airpack/airpack/ram"
)

func sampleTemplate(t *testing.T) *ram.Template {
	t.Helper()
	b, err := os.ReadFile("../ram/testdata/example-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ram.DecodeMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// platformImage is a random image for linux/<arch>.
func platformImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// templateImages makes one random image per component, by share_image.
func templateImages(t *testing.T, tpl *ram.Template) map[string]v1.Image {
	t.Helper()
	out := map[string]v1.Image{}
	for _, a := range tpl.Apps {
		out[a.ShareImage] = platformImage(t, "amd64")
	}
	return out
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left behind in the work directory: %s", e.Name())
	}
}

// checkRAMBundle checks a bundle made from the sample template and images.
func checkRAMBundle(t *testing.T, out string, tpl *ram.Template, images map[string]v1.Image) {
	t.Helper()
	m, problems, err := bundle.Verify(context.Background(), out)
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", err, problems)
	}
	if m.Name != "app-delivery" || m.Version != "1.0" || m.Platform != "linux/amd64" || len(m.Images) != len(tpl.Apps) {
		t.Fatalf("manifest %+v", m)
	}
	for _, im := range m.Images {
		img, ok := images[im.Ref]
		if !ok {
			t.Errorf("bundle ships %s, not a share_image", im.Ref)
			continue
		}
		cfg, _ := img.ConfigName()
		if im.ConfigDigest != cfg.String() {
			t.Errorf("%s: config digest %s, the package's image has %s", im.Ref, im.ConfigDigest, cfg)
		}
	}
	// The bundle's compose file loads with its .env and carries the template.
	proj, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: out})
	if err != nil {
		t.Fatal(err)
	}
	typed := proj.Typed()
	if _, err := ram.TemplateFromExtension(typed.Extensions[ram.ExtensionKey]); err != nil {
		t.Errorf("top-level x-ram: %v", err)
	}
	for _, svc := range []string{"web", "db"} {
		if _, err := ram.ComponentFromExtension(typed.Services[svc].Extensions[ram.ExtensionKey]); err != nil {
			t.Errorf("service %s x-ram: %v", svc, err)
		}
	}
	// What the platform resolves (each component's first k8s_service_name) resolves under
	// compose: a network alias.
	for svc, alias := range map[string]string{"web": "web-80", "db": "db-3306"} {
		n := typed.Services[svc].Networks["default"]
		if n == nil || !reflect.DeepEqual(n.Aliases, []string{alias}) {
			t.Errorf("service %s: network aliases %+v, want [%s]", svc, n, alias)
		}
	}
	conf, err := os.ReadFile(filepath.Join(out, "files", "web", "etc", "nginx", "conf.d", "default.conf"))
	if err != nil || string(conf) != "server { listen 80; location / { proxy_pass http://db:3306; } }\n" {
		t.Errorf("shipped config file %q %v", conf, err)
	}
	env, _ := os.ReadFile(filepath.Join(out, bundle.EnvFile))
	vars, err := dotenv.UnmarshalBytesWithLookup(env, nil)
	if err != nil || len(vars["DB_MYSQL_ROOT_PASSWORD"]) < 16 || vars["WEB_PORT_80"] != "80" {
		t.Errorf(".env %v %v", vars, err)
	}
	web := typed.Services["web"].Environment["MYSQL_ROOT_PASSWORD"]
	db := typed.Services["db"].Environment["MYSQL_ROOT_PASSWORD"]
	if web == nil || db == nil || *web != *db || *web != vars["DB_MYSQL_ROOT_PASSWORD"] {
		t.Errorf("web and db do not share the generated password (web %v, db %v)", web, db)
	}
}

func TestPackRAM(t *testing.T) {
	tpl := sampleTemplate(t)
	images := templateImages(t, tpl)
	for _, c := range []struct {
		name  string
		write func(testing.TB, *ram.Template, map[string]v1.Image) string
	}{
		{"current layout", ramtest.WritePackage},
		{"legacy 5.2 zip", ramtest.WriteLegacyZip},
	} {
		t.Run(c.name, func(t *testing.T) {
			pkg := c.write(t, tpl, images)
			work := t.TempDir()
			out := filepath.Join(t.TempDir(), "bundle")
			var log []string
			res, err := PackRAM(context.Background(), RAMOptions{Package: pkg, Output: out, WorkDir: work, Log: func(f string, a ...any) {
				log = append(log, f)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Output != out {
				t.Errorf("output %s", res.Output)
			}
			checkRAMBundle(t, out, tpl, images)
			assertEmptyDir(t, work)
		})
	}
}

// A Rainbond 5.2 zip with a plugin: its image, in <plugin_name>/, is accepted but not shipped
// (compose does not run plugins), with a warning.
func TestPackRAMLegacyPlugins(t *testing.T) {
	tpl := sampleTemplate(t)
	images := templateImages(t, tpl)
	tpl.Plugins = []ram.Plugin{{PluginName: "mesh", PluginKey: "k", ShareImage: "goodrain.me/plugins/mesh:1"}}
	images["goodrain.me/plugins/mesh:1"] = platformImage(t, "amd64")
	pkg := ramtest.WriteLegacyZip(t, tpl, images)
	work := t.TempDir()
	out := filepath.Join(t.TempDir(), "bundle")
	var log []string
	res, err := PackRAM(context.Background(), RAMOptions{Package: pkg, Output: out, WorkDir: work, Log: func(f string, a ...any) {
		log = append(log, fmt.Sprintf(f, a...))
	}})
	if err != nil {
		t.Fatal(err)
	}
	delete(images, "goodrain.me/plugins/mesh:1")
	checkRAMBundle(t, out, tpl, images)
	// Warnings are the Result's (the command prints them, with --quiet too), never logged.
	if !slices.Contains(res.Warnings, "the template's 1 plugin is not run by docker compose (kept in x-ram)") {
		t.Errorf("no plugin warning in %q", res.Warnings)
	}
	if slices.ContainsFunc(log, func(l string) bool { return strings.Contains(l, "warning") }) {
		t.Errorf("a warning logged as a step: %q", log)
	}
	assertEmptyDir(t, work)
}

// A package whose plugin image is missing (no plugin-images.tar) is packed, with a warning: a
// bundle ships no plugin images; only the platform's importer needs them.
func TestPackRAMMissingPluginImage(t *testing.T) {
	tpl := sampleTemplate(t)
	images := templateImages(t, tpl)
	pkg := ramtest.WritePackage(t, tpl, images)
	withPlugin := *tpl
	withPlugin.Plugins = []ram.Plugin{{PluginName: "mesh", PluginKey: "k", ShareImage: "goodrain.me/plugins/mesh:1"}}
	meta, err := withPlugin.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	pkg = replaceMetadata(t, pkg, meta)
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := PackRAM(context.Background(), RAMOptions{Package: pkg, Output: out, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkRAMBundle(t, out, &withPlugin, images)
	want := pkg + ": the template has 1 plugin but the package has no plugin-images.tar"
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
		t.Errorf("warnings %q, want one starting %q", res.Warnings, want)
	}
}

// replaceMetadata copies the gzip tar package pkg with its metadata.json replaced by meta.
func replaceMetadata(t *testing.T, pkg string, meta []byte) string {
	t.Helper()
	in, err := os.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tr, tw := tar.NewReader(zr), tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if path.Base(h.Name) == ram.MetadataFile {
			body = meta
			h.Size = int64(len(meta))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The packing machine's environment plays no part in a RAM pack: the compose file and the
// generated .env reach the loader in memory, so a variable named like one of the .env (or a
// COMPOSE_* one) changes nothing in the bundle. (Before, such a variable overrode the .env
// while the config files had been rendered with the generated value: pack refused.)
func TestPackRAMIgnoresShellEnvironment(t *testing.T) {
	tpl := sampleTemplate(t)
	images := templateImages(t, tpl)
	pkg := ramtest.WritePackage(t, tpl, images)
	out := filepath.Join(t.TempDir(), "bundle")
	const shellPassword = "a-password-set-in-the-packing-shell"
	t.Run("pack", func(t *testing.T) {
		for k, v := range map[string]string{
			"WEB_PORT_80": "8080", "DB_MYSQL_ROOT_PASSWORD": shellPassword,
			"COMPOSE_PROJECT_NAME": "other", "COMPOSE_PROFILES": "none", "COMPOSE_DISABLE_ENV_FILE": "not a boolean",
		} {
			t.Setenv(k, v)
		}
		work := t.TempDir()
		if _, err := PackRAM(context.Background(), RAMOptions{Package: pkg, Output: out, WorkDir: work}); err != nil {
			t.Fatal(err)
		}
		assertEmptyDir(t, work)
	})
	if t.Failed() {
		return
	}
	checkRAMBundle(t, out, tpl, images) // WEB_PORT_80=80 and a generated password in .env
	env, _ := os.ReadFile(filepath.Join(out, bundle.EnvFile))
	if strings.Contains(string(env), shellPassword) || strings.Contains(string(env), "8080") {
		t.Errorf("the shell's values reached the bundle's .env:\n%s", env)
	}
}

func TestPackRAMRefuses(t *testing.T) {
	tpl := sampleTemplate(t)
	images := templateImages(t, tpl)
	pkg := ramtest.WritePackage(t, tpl, images)

	mixed := sampleTemplate(t)
	mixed.Apps[1].Arch = "arm64"
	mixedPkg := ramtest.WritePackage(t, mixed, images)

	badVersion := sampleTemplate(t)
	badVersion.GroupVersion = "1.0 beta"
	badVersionPkg := ramtest.WritePackage(t, badVersion, images)

	notAPackage := filepath.Join(t.TempDir(), "x-ram.tar.gz")
	os.WriteFile(notAPackage, []byte("hello, not an archive\n"), 0o644)
	existing := filepath.Join(t.TempDir(), "exists.tar")
	os.WriteFile(existing, nil, 0o644)

	for _, c := range []struct {
		name string
		opts RAMOptions
		want string
	}{
		{"not a package", RAMOptions{Package: notAPackage}, "is not a RAM package"},
		{"too big", RAMOptions{Package: pkg, MaxSize: 1024}, "expands past the --max-size limit of 1024 bytes"},
		{"existing output", RAMOptions{Package: pkg, Output: existing}, "already exists"},
		{"mixed architectures", RAMOptions{Package: mixedPkg}, "different architectures (amd64: web; arm64: db)"},
		{"bad version", RAMOptions{Package: badVersionPkg}, `group_version "1.0 beta"`},
		{"bad name", RAMOptions{Package: pkg, Name: "Bad Name"}, "lowercase letters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			outDir := t.TempDir()
			if c.opts.Output == "" {
				c.opts.Output = filepath.Join(outDir, "out.tar")
			}
			c.opts.WorkDir = work
			_, err := PackRAM(context.Background(), c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			assertEmptyDir(t, work)
			if c.opts.Output != existing {
				assertEmptyDir(t, outDir)
			}
		})
	}

	// A cancelled pack leaves nothing either.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	work, outDir := t.TempDir(), t.TempDir()
	if _, err := PackRAM(ctx, RAMOptions{Package: pkg, Output: filepath.Join(outDir, "o.tar"), WorkDir: work}); err == nil {
		t.Error("a cancelled pack succeeded")
	}
	assertEmptyDir(t, work)
	assertEmptyDir(t, outDir)
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"1024", 1024}, {"1KiB", 1024}, {"1kib", 1024}, {"20GiB", 20 << 30}, {"20 GiB", 20 << 30},
		{"1.5GB", 1500000000}, {"1G", 1e9}, {"512MiB", 512 << 20}, {"2TiB", 2 << 40}, {"7B", 7},
	} {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1", "0", "0.1", "1.5.5GiB", "20GiBs", "1e3", "ten", "20 G i B", "99999999999TiB"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}
