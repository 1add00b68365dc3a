package loader

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

// Each hostile string, shell-quoted, must come back byte for byte from every shell.
func TestShellQuote(t *testing.T) {
	hostile := []string{
		"", "plain", "'", "''", "a'b", `'\''`, `\`, `\'`, `"`, `"'"`, "$HOME", "${HOME}", "$(touch pwned)",
		"`touch pwned`", "a b\tc", "line1\nline2", "\n", "*", "?[a]", "-n", "--", "!", "#comment", ";", "&&",
		"|", "<>", "~", "%s%d", "a\\nb", "ünïcødé ✓", "\x01\x7f", "$'x'", "}", "{", "(", ")",
		strings.Repeat("'", 50),
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			for _, s := range hostile {
				script := "printf '%s' " + shellQuote(s)
				argv := append(append([]string{}, sh.argv...), "-c", script)
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Dir = t.TempDir()
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("%q: %s -c %q: %v\n%s", s, sh.name, script, err, out)
					continue
				}
				if string(out) != s {
					t.Errorf("%q: %s printed %q", s, sh.name, out)
				}
			}
		})
	}
}

func TestTemplateQuoteRefusesNUL(t *testing.T) {
	if _, err := templateQuote("a\x00b"); err == nil {
		t.Fatal("templateQuote accepted a NUL byte")
	}
	if got, err := templateQuote("it's"); err != nil || got != `'it'\''s'` {
		t.Fatalf(`templateQuote("it's") = %q, %v`, got, err)
	}
}

func TestRepoTag(t *testing.T) {
	cases := []struct{ ref, want string }{
		{"nginx:1.25", "library/nginx:1.25"},
		{"nginx", "library/nginx:latest"},
		{"docker.io/library/redis:7", "library/redis:7"},
		{"index.docker.io/grafana/grafana:11.0.0", "grafana/grafana:11.0.0"},
		{"127.0.0.1:5000/demo/web:1.0", "demo/web:1.0"},
		{"localhost/app:dev", "app:dev"},
		{"ghcr.io/org/team/svc:v2.3.4-rc.1", "org/team/svc:v2.3.4-rc.1"},
		{"registry.example.com:8443/a/b_c.d-e:1", "a/b_c.d-e:1"},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			m := sampleManifest()
			m.Images = m.Images[:1]
			m.Images[0].Ref = c.ref
			d, err := newScriptData(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Images[0].RepoTag; got != c.want {
				t.Fatalf("RepoTag(%s) = %q, want %q", c.ref, got, c.want)
			}
		})
	}
}

func TestScriptRefuses(t *testing.T) {
	cases := []struct {
		name   string
		change func(m *bundle.Manifest)
		want   string
	}{
		{"no name", func(m *bundle.Manifest) { m.Name = "" }, "no name"},
		{"newline in version", func(m *bundle.Manifest) { m.Version = "1\n2" }, "control character"},
		{"bad platform", func(m *bundle.Manifest) { m.Platform = "amd64" }, "not os/arch"},
		{"platform with spaces", func(m *bundle.Manifest) { m.Platform = "linux/amd 64" }, "not os/arch"},
		{"custom compose file", func(m *bundle.Manifest) { m.ComposeFile = "app.yaml" }, "compose file"},
		{"compose file in subdir", func(m *bundle.Manifest) { m.ComposeFile = "sub/docker-compose.yaml" }, "compose file"},
		{"no archives", func(m *bundle.Manifest) { m.Archives = nil }, "no image archive"},
		{"archive outside", func(m *bundle.Manifest) { m.Archives[0].Path = "../x.tar" }, "clean relative path"},
		{"absolute archive", func(m *bundle.Manifest) { m.Archives[0].Path = "/x.tar" }, "clean relative path"},
		{"archive with backslash", func(m *bundle.Manifest) { m.Archives[0].Path = `images\x.tar` }, "clean relative path"},
		{"archive twice", func(m *bundle.Manifest) { m.Archives = append(m.Archives, m.Archives[0]) }, "listed twice"},
		{"negative size", func(m *bundle.Manifest) { m.Archives[0].Size = -1 }, "negative size"},
		{"no images", func(m *bundle.Manifest) { m.Images = nil }, "no image"},
		{"image in unknown archive", func(m *bundle.Manifest) { m.Images[0].Archive = "images/other.tar" }, "not among"},
		{"digest reference", func(m *bundle.Manifest) { m.Images[0].Ref = "nginx@" + digest('a') }, "has no tag"},
		{"invalid reference", func(m *bundle.Manifest) { m.Images[0].Ref = "Nginx:1.25" }, "image reference"},
		{"bad config digest", func(m *bundle.Manifest) { m.Images[0].ConfigDigest = "sha256:abc" }, "config digest"},
		{"bad manifest digest", func(m *bundle.Manifest) { m.Images[0].ManifestDigest = "'; rm -rf /" }, "manifest digest"},
		{"bad service name", func(m *bundle.Manifest) { m.Images[0].Services = []string{"web'; x"} }, "service name"},
		{"service twice", func(m *bundle.Manifest) { m.Images[1].Services = []string{"web"} }, "two images"},
		{"image twice", func(m *bundle.Manifest) { m.Images[1].Ref = m.Images[0].Ref }, "listed twice"},
		{"upgrade bundle with a malformed base", func(m *bundle.Manifest) { m.Base = &bundle.Base{Name: "shop", Version: "0.9"} }, "base: manifestSHA256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := sampleManifest()
			c.change(m)
			_, err := Script(m)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Script: err %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := Script(nil); err == nil {
		t.Fatal("Script(nil) succeeded")
	}
}

func TestScriptDefaults(t *testing.T) {
	m := sampleManifest()
	m.ComposeFile = ""
	m.Images[0].Archive = "" // the only archive
	m.Archives[0].Size = 3 << 30
	b, err := Script(m)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"COMPOSE_FILE_PATH='docker-compose.yaml'",
		`"$1" 'nginx:1.25' 'images/images.tar' `,
		"NEED_KB=6291456", // twice 3 GiB, in KiB
		"#!/bin/sh\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if !strings.HasPrefix(s, "#!/bin/sh\n") {
		t.Errorf("script does not start with #!/bin/sh")
	}
}
