//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airpack/airpack/bundle"
)

// TestPackFilesRun: the files a bundle ships or keeps arrive as the project meant them, seen from
// inside the running container: a data directory owned by uid 472 at 0700 (and an empty one), a
// host path kept as the target's (/etc/localtime), a symbolic link inside a mounted directory (a
// link in the container too), a non-ASCII file name, and a missing ./pgdata that compose creates
// on the target.
func TestPackFilesRun(t *testing.T) {
	reg := startRegistry(t)
	refs := reg.push(t, "e2efiles", "1.0", "", "worker")
	t.Cleanup(func() { removeImages(t, refs["worker"]) })
	dir := t.TempDir()
	paths := []string{"/data", "/data/grafana.db", "/data/empty", "/etc/localtime", "/site/link", "/site/конфиг/設定 café.conf", "/pgdata"}
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = fmt.Sprintf("%q", p)
	}
	write(t, filepath.Join(dir, "compose.yaml"), fmt.Sprintf(`name: e2efiles
services:
  files:
    image: %s
    entrypoint: ["/app/demoapp", "stat", %s]
    volumes:
      - ./data:/data
      - /etc/localtime:/etc/localtime:ro
      - ./site:/site:ro
      - ./pgdata:/pgdata
`, refs["worker"], strings.Join(quoted, ", ")))
	write(t, filepath.Join(dir, "data", "grafana.db"), "grafana\n")
	write(t, filepath.Join(dir, "site", "real.txt"), "real\n")
	write(t, filepath.Join(dir, "site", "конфиг", "設定 café.conf"), "non-ascii\n")
	if err := os.Symlink("real.txt", filepath.Join(dir, "site", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data", "empty"), 0o750); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{"data": 0o700, "data/grafana.db": 0o640, "data/empty": 0o750} {
		if err := os.Chown(filepath.Join(dir, p), 472, 472); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, p), mode); err != nil {
			t.Fatal(err)
		}
	}

	archive := filepath.Join(t.TempDir(), "e2efiles-1.0.tar")
	r := airpack(t, dir, "pack", "--version", "1.0", "-o", archive, "--source", "registry")
	if r.err != nil {
		t.Fatalf("pack failed: %v\n%s", r.err, r)
	}
	for _, w := range []string{
		"airpack: warning: bind mount source ./pgdata does not exist: the bundle ships none, and docker compose creates ./files/pgdata on the target as an empty directory owned by root\n",
		"airpack: warning: host paths kept as the target's, not shipped: /etc/localtime; the target host must provide them (airpack inspect lists them); to ship a copy of one instead, pass --allow-outside PATH\n",
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("pack did not warn %q:\n%s", w, r.stderr)
		}
	}
	if r := airpack(t, "", "verify", archive); r.err != nil || !strings.Contains(r.stdout, "sound") {
		t.Fatalf("verify: %v\n%s", r.err, r)
	}
	if r := airpack(t, "", "inspect", archive); !strings.Contains(r.stdout, "Host paths:    /etc/localtime (the target's, not in the bundle)") {
		t.Errorf("inspect does not list the host path:\n%s", r)
	}

	// The target: no image, no registry; extracted as root, which keeps owners.
	removeImages(t, refs["worker"])
	reg.stop()
	target := t.TempDir()
	must(t, target, "tar", "xpf", archive)
	bdir := filepath.Join(target, "e2efiles-1.0")
	must(t, bdir, "./load.sh")
	t.Cleanup(func() { run(t, bdir, nil, "docker", "compose", "down", "-v") })
	must(t, bdir, "docker", "compose", "up", "-d")

	var logs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		logs = run(t, bdir, nil, "docker", "compose", "logs", "--no-log-prefix", "files").stdout
		if strings.Count(logs, "stat ") >= len(paths) {
			break
		}
	}
	for _, want := range []string{
		"stat /data mode=0700 uid=472 gid=472 dir\n",
		"stat /data/grafana.db mode=0640 uid=472 gid=472 content=grafana\n",
		"stat /data/empty mode=0750 uid=472 gid=472 dir\n",
		"stat /etc/localtime mode=0644 uid=0 gid=0 content=TZif",             // this host's zone file
		"stat /site/link mode=0777 uid=0 gid=0 link=real.txt content=real\n", // shipped as the link
		"stat /site/конфиг/設定 café.conf mode=0644 uid=0 gid=0 content=non-ascii\n",
		"stat /pgdata mode=0755 uid=0 gid=0 dir\n", // created by compose on the target
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the container did not see %q:\n%s", want, logs)
		}
	}
	if _, err := os.Stat(filepath.Join(bdir, bundle.FilesDir, "pgdata")); err != nil {
		t.Errorf("compose did not create ./files/pgdata on the target: %v", err)
	}
}
