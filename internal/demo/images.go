// Package demo builds the images of airpack's demo application from source, with no registry
// and no network: a static Go binary in a base layer shared by every image, and a small layer
// of its own per role. The end-to-end tests and `make demo` use it.
package demo

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Roles are the demo application's services.
var Roles = []string{"web", "api", "echo", "worker"}

// BuildBinary compiles testdata/demoapp (found from the module root dir) as a static linux
// binary into dir and returns its path.
func BuildBinary(ctx context.Context, moduleRoot, dir string) (string, error) {
	out := filepath.Join(dir, "demoapp")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/demoapp")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build demoapp: %v\n%s", err, b)
	}
	return out, nil
}

// Images builds one image per role from the binary, all sharing the binary's layer.
// extra, when non-empty, adds a layer with that content to each image (to make versions differ).
func Images(binary string, roles []string, extra string) (map[string]v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	base, err := layer(map[string]file{"app/demoapp": {bin, 0o755}})
	if err != nil {
		return nil, err
	}
	out := map[string]v1.Image{}
	for _, role := range roles {
		img, err := roleImage(base, role, extra, nil, nil)
		if err != nil {
			return nil, err
		}
		out[role] = img
	}
	return out, nil
}

// RoleImage builds one image of role whose entrypoint also passes args to the role and whose
// config sets env (NAME=value entries): for roles configured by flags, like "report".
func RoleImage(binary, role string, args, env []string) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	base, err := layer(map[string]file{"app/demoapp": {bin, 0o755}})
	if err != nil {
		return nil, err
	}
	return roleImage(base, role, "", args, env)
}

func roleImage(base v1.Layer, role, extra string, args, env []string) (v1.Image, error) {
	files := map[string]file{"etc/demo-role": {[]byte(role + "\n"), 0o644}}
	if extra != "" {
		files["etc/demo-version"] = file{[]byte(extra + "\n"), 0o644}
	}
	own, err := layer(files)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, base, own)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = append([]string{"/app/demoapp", role}, args...)
	if len(env) > 0 {
		cf.Config.Env = append([]string(nil), env...)
	}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.title": "airpack demo " + role}
	return mutate.ConfigFile(img, cf)
}

type file struct {
	body []byte
	mode int64
}

// layer makes a gzip layer of files with fixed headers, so builds are reproducible.
func layer(files map[string]file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := filepath.Dir(n); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				return nil, err
			}
		}
		f := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: f.mode, Size: int64(len(f.body))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}
