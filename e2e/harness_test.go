//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/airpack/airpack/internal/demo"
)

// Built once by TestMain.
var (
	airpackBin string
	demoBin    string
	moduleRoot string
	// containerdStore is true on an engine with the containerd image store.
	containerdStore bool
)

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code(m))
}

func setup() (func(*testing.M) int, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	moduleRoot = filepath.Dir(wd)
	for _, tool := range []string{"docker", "docker-registry", "tar", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed: run scripts/ci-setup.sh", tool)
		}
	}
	if out, err := exec.Command("docker", "info", "--format", "{{json .DriverStatus}}").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("no Docker engine answers (%v: %s): start one with scripts/engine.sh start 20|29", err, bytes.TrimSpace(out))
	} else {
		containerdStore = bytes.Contains(out, []byte("io.containerd.snapshotter.v1"))
	}
	switch e := os.Getenv("AIRPACK_E2E_ENGINE"); {
	case e == "29" && !containerdStore:
		return nil, fmt.Errorf("AIRPACK_E2E_ENGINE=29 but the engine uses the classic image store")
	case e == "20" && containerdStore:
		return nil, fmt.Errorf("AIRPACK_E2E_ENGINE=20 but the engine uses the containerd image store")
	}
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("docker compose v2 is missing (%s): run scripts/build-tools.sh", bytes.TrimSpace(out))
	}
	tmp, err := os.MkdirTemp("", "airpack-e2e-bin-")
	if err != nil {
		return nil, err
	}
	airpackBin = filepath.Join(tmp, "airpack")
	build := exec.Command("go", "build", "-o", airpackBin, "./cmd/airpack")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build airpack: %v\n%s", err, out)
	}
	if demoBin, err = demo.BuildBinary(context.Background(), moduleRoot, tmp); err != nil {
		return nil, err
	}
	store := "classic"
	if containerdStore {
		store = "containerd"
	}
	fmt.Printf("e2e: engine with the %s image store\n", store)
	return func(m *testing.M) int {
		defer os.RemoveAll(tmp)
		return m.Run()
	}, nil
}

// result is what a command printed.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string { return r.stdout + r.stderr }

// run runs a command in dir and returns what it printed; it does not fail the test.
func run(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout.String(), stderr.String(), err}
	t.Logf("$ %s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, indent(r.String()))
	return r
}

// must runs a command that must succeed.
func must(t *testing.T, dir string, name string, args ...string) result {
	t.Helper()
	r := run(t, dir, nil, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s failed: %v\n%s", name, strings.Join(args, " "), r.err, r)
	}
	return r
}

func airpack(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return run(t, dir, nil, airpackBin, args...)
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// freePort is a loopback TCP port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// registry is a running Distribution registry on loopback.
type registry struct {
	host string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRegistry starts Debian's docker-registry on a free loopback port; it is stopped when
// the test ends.
func startRegistry(t *testing.T) *registry {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	host := fmt.Sprintf("127.0.0.1:%d", port)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), host)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	r := &registry{host: host, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(r.done) }()
	t.Cleanup(r.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return r
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry on %s did not answer: %v\n%s", host, err, b)
		}
		select {
		case <-r.done:
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry exited:\n%s", b)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *registry) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Kill()
	<-r.done
}

// push builds the demo images for roles and pushes them as HOST/REPO/<role>:TAG.
func (r *registry) push(t *testing.T, repo, tag, extra string, roles ...string) map[string]string {
	t.Helper()
	imgs, err := demo.Images(demoBin, roles, extra)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for role, img := range imgs {
		s := fmt.Sprintf("%s/%s/%s:%s", r.host, repo, role, tag)
		ref, err := name.ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", s, err)
		}
		refs[role] = s
	}
	return refs
}

// imageID is the engine's ID for ref, "" when absent.
func imageID(t *testing.T, ref string) string {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// allImageIDs lists every image ID in the engine.
func allImageIDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("docker", "images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").Output()
	if err != nil {
		t.Fatalf("docker images: %v", err)
	}
	// Sorted: images created at the same second come in any order.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// removeImages removes refs from the engine, if present.
func removeImages(t *testing.T, refs ...string) {
	t.Helper()
	for _, r := range refs {
		exec.Command("docker", "rmi", "-f", r).Run()
		if id := imageID(t, r); id != "" {
			t.Fatalf("image %s still present (%s) after docker rmi", r, id)
		}
	}
}

// httpGet retries until the URL answers 200 or a minute passes.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && !strings.Contains(string(b), "ERROR") {
				return string(b)
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered well: %s", url, last)
	return ""
}

var goarch = runtime.GOARCH

var _ = v1.Hash{}
