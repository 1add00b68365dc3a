//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

// simpleProject writes a one-service project using image.
func simpleProject(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "compose.yaml"), body)
	return dir
}

// assertNothingWritten fails if out or a temporary file beside it exists.
func assertNothingWritten(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Lstat(out); err == nil {
		t.Errorf("%s was written despite the error", out)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary %s left behind", e.Name())
		}
	}
}

// packFails runs pack in dir and asserts it fails with every want in its output, leaving
// nothing at out.
func packFails(t *testing.T, dir, out string, extra []string, wants ...string) {
	t.Helper()
	args := append([]string{"pack", "--version", "1.0", "-o", out}, extra...)
	r := airpack(t, dir, args...)
	if r.err == nil {
		t.Fatalf("pack succeeded, want failure with %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("pack error lacks %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("pack panicked:\n%s", r.stderr)
	}
	assertNothingWritten(t, out)
}

func TestPackBadInput(t *testing.T) {
	reg := startRegistry(t)
	refs := reg.push(t, "bad", "1.0", "", "web")
	web := refs["web"]
	repo := reg.host + "/bad"

	cases := []struct {
		name    string
		compose string
		files   map[string]string
		extra   []string
		wants   []string
	}{
		{
			name:    "compose syntax error",
			compose: "services:\n  web:\n    image: " + web + "\n   ports: [bad\n",
			wants:   []string{"compose.yaml", "yaml"},
		},
		{
			name:    "image does not exist",
			compose: "services:\n  web:\n    image: " + repo + "/nosuch:1.0\n",
			extra:   []string{"--source", "registry"},
			wants:   []string{"service web", repo + "/nosuch:1.0", "does not exist"},
		},
		{
			name:    "tag does not exist",
			compose: "services:\n  web:\n    image: " + repo + "/web:9.9\n",
			extra:   []string{"--source", "registry"},
			wants:   []string{"service web", "no such tag 9.9"},
		},
		{
			name:    "platform the image lacks",
			compose: "services:\n  web:\n    image: " + web + "\n",
			extra:   []string{"--platform", "linux/s390x"},
			wants:   []string{"service web", "no manifest for platform linux/s390x"},
		},
		{
			name:    "build service not built",
			compose: "services:\n  app:\n    build: .\n    image: airpack-e2e-never-built:1.0\n",
			files:   map[string]string{"Dockerfile": "FROM scratch\n"},
			wants:   []string{"service app", "airpack-e2e-never-built:1.0", "docker compose build"},
		},
		{
			// the long syntax: compose would not create it (the short syntax is left to compose)
			name:    "missing bind-mount source",
			compose: "services:\n  web:\n    image: " + web + "\n    volumes:\n      - type: bind\n        source: ./conf/missing.conf\n        target: /etc/x.conf\n",
			wants:   []string{"service web", "missing.conf", "does not exist", "create_host_path: true"},
		},
		{
			name:    "every problem at once",
			compose: "services:\n  a:\n    image: " + repo + "/nosuch:1.0\n  b:\n    image: " + repo + "/web:9.9\n",
			extra:   []string{"--source", "registry"},
			wants:   []string{"service a", "service b"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := simpleProject(t, c.compose)
			for n, body := range c.files {
				write(t, filepath.Join(dir, n), body)
			}
			out := filepath.Join(t.TempDir(), "out.tar")
			packFails(t, dir, out, c.extra, c.wants...)
		})
	}

	t.Run("unwritable output", func(t *testing.T) {
		dir := simpleProject(t, "services:\n  web:\n    image: "+web+"\n")
		blocker := filepath.Join(t.TempDir(), "a-file")
		write(t, blocker, "x")
		r := airpack(t, dir, "pack", "--version", "1.0", "-o", filepath.Join(blocker, "out.tar"))
		if r.err == nil || !strings.Contains(r.stderr, "a-file") {
			t.Fatalf("pack into a file's path: %v\n%s", r.err, r)
		}
	})

	t.Run("existing output", func(t *testing.T) {
		dir := simpleProject(t, "services:\n  web:\n    image: "+web+"\n")
		out := filepath.Join(t.TempDir(), "out.tar")
		write(t, out, "precious")
		r := airpack(t, dir, "pack", "--version", "1.0", "-o", out)
		if r.err == nil || !strings.Contains(r.stderr, "already exists") || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("pack over an existing output: %v\n%s", r.err, r)
		}
		if b, _ := os.ReadFile(out); string(b) != "precious" {
			t.Fatal("existing output was changed")
		}
		if r := airpack(t, dir, "pack", "--version", "1.0", "-o", out, "--force"); r.err != nil {
			t.Fatalf("pack --force: %v\n%s", r.err, r)
		}
		if r := airpack(t, "", "verify", out); r.err != nil {
			t.Fatalf("verify after --force: %v\n%s", r.err, r)
		}
	})
}

func TestVerifyBadBundles(t *testing.T) {
	reg := startRegistry(t)
	refs := reg.push(t, "vb", "1.0", "", "web", "api")
	dir := simpleProject(t, fmt.Sprintf("services:\n  web:\n    image: %s\n  api:\n    image: %s\n", refs["web"], refs["api"]))
	out := t.TempDir()
	gz := filepath.Join(out, "vb-1.0.tar.gz")
	if r := airpack(t, dir, "pack", "--name", "vb", "--version", "1.0", "-o", gz); r.err != nil {
		t.Fatalf("pack: %v\n%s", r.err, r)
	}

	t.Run("truncated archive", func(t *testing.T) {
		b, _ := os.ReadFile(gz)
		cut := filepath.Join(t.TempDir(), "cut.tar.gz")
		os.WriteFile(cut, b[:len(b)*2/3], 0o644)
		r := airpack(t, "", "verify", cut)
		if r.err == nil || !strings.Contains(r.stderr, "truncated") {
			t.Fatalf("verify of a truncated archive: %v\n%s", r.err, r)
		}
	})

	t.Run("compose names an image not in the bundle", func(t *testing.T) {
		target := t.TempDir()
		must(t, target, "tar", "xf", gz)
		bdir := filepath.Join(target, "vb-1.0")
		cf := filepath.Join(bdir, bundle.ComposeFile)
		b, _ := os.ReadFile(cf)
		changed := strings.Replace(string(b), refs["api"], reg.host+"/vb/other:2.0", 1)
		if changed == string(b) {
			t.Fatalf("compose file does not name %s:\n%s", refs["api"], b)
		}
		os.WriteFile(cf, []byte(changed), 0o644)
		// Re-sign the checksums so only the image problem remains.
		must(t, bdir, "sh", "-c", "grep -v ' docker-compose.yaml$' SHA256SUMS > S && sha256sum docker-compose.yaml >> S && mv S SHA256SUMS")
		r := airpack(t, "", "verify", bdir)
		if r.err == nil || !strings.Contains(r.stderr, reg.host+"/vb/other:2.0") || !strings.Contains(r.stderr, "not in the bundle") {
			t.Fatalf("verify: %v\n%s", r.err, r)
		}
		r = run(t, bdir, nil, "./load.sh", "--check")
		if r.err == nil {
			t.Errorf("load.sh --check accepted a compose file naming a missing image:\n%s", r)
		}
	})
}
