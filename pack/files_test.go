package pack

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
)

// A project mounted whole with its output inside it: the bundle ships the project's files with
// their owners and modes (a 0700 data directory of uid 472, an empty directory, a non-ASCII
// name), keeps /etc/localtime as the target's, and never ships this pack's output or an earlier
// bundle. verify accepts what pack wrote.
func TestPackFilesOwnersHostPathsOutput(t *testing.T) {
	host := testRegistry(t, "shop/web:1.0")
	dir := project(t, "name: shop\nservices:\n  web:\n    image: "+host+"/shop/web:1.0\n    volumes:\n"+
		"      - .:/app\n      - ./data:/var/lib/grafana\n      - ./конфиг:/conf:ro\n      - /etc/localtime:/etc/localtime:ro\n      - ./pgdata:/pgdata\n")
	for rel, body := range map[string]string{"data/grafana.db": "db", "конфиг/設定 café.conf": "x"} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("設定 café.conf", filepath.Join(dir, "конфиг", "current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"data", "data/grafana.db", "data/plugins"} {
		if err := os.Chown(filepath.Join(dir, p), 472, 472); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "data", "plugins"), os.ModeSetgid|0o775); err != nil {
		t.Fatal(err)
	}
	opts := Options{Compose: compose.LoadOptions{WorkDir: dir}, Sources: []string{"registry"}}
	pack := func(version string) *Result {
		t.Helper()
		opts.Version, opts.Output = version, filepath.Join(dir, "out", "shop-"+version+".tar")
		res, err := Pack(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if err := os.MkdirAll(filepath.Join(dir, "out", ".airpack-export-123", "bundle"), 0o755); err != nil {
		t.Fatal(err)
	}
	pack("0.9")
	opts.Force = true
	pack("1.0")
	res := pack("1.0") // over itself
	wantWarnings := []string{
		"bind mount source .: ./out/shop-0.9.tar is left out of the bundle: it is an airpack bundle (airpack never ships its own output)",
		"bind mount source ./pgdata does not exist: the bundle ships none, and docker compose creates ./files/pgdata on the target as an empty directory owned by root",
		"host paths kept as the target's, not shipped: /etc/localtime; the target host must provide them (airpack inspect lists them); to ship a copy of one instead, pass --allow-outside PATH",
	}
	if !reflect.DeepEqual(res.Warnings, wantWarnings) {
		t.Errorf("Warnings =\n%s\nwant\n%s", strings.Join(res.Warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	if want := map[string]string{"files/конфиг/current": "設定 café.conf"}; !reflect.DeepEqual(res.Manifest.Links, want) {
		t.Errorf("airpack.json links = %v, want %v", res.Manifest.Links, want)
	}
	if !reflect.DeepEqual(res.Manifest.HostPaths, []string{"/etc/localtime"}) {
		t.Errorf("airpack.json hostPaths = %v, want [/etc/localtime]", res.Manifest.HostPaths)
	}
	_, problems, err := bundle.Verify(context.Background(), res.Output)
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v %v", err, problems)
	}
	type meta struct {
		typ      byte
		mode     int64
		uid, gid int
	}
	got := map[string]meta{}
	for _, h := range tarHeaders(t, res.Output) {
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "shop-1.0/"), "/")
		got[name] = meta{h.Typeflag, h.Mode, h.Uid, h.Gid}
		if h.Typeflag == tar.TypeSymlink && (name != "files/конфиг/current" || h.Linkname != "設定 café.conf") {
			t.Errorf("link %s -> %s", name, h.Linkname)
		}
		if strings.Contains(name, "out/") {
			t.Errorf("%s shipped", name)
		}
	}
	for name, want := range map[string]meta{
		"files/data":                {'5', 0o700, 472, 472},
		"files/data/grafana.db":     {'0', 0o640, 472, 472},
		"files/data/plugins":        {'5', 0o2775, 472, 472}, // setgid kept
		"files/конфиг/設定 café.conf": {'0', 0o640, 0, 0},
		"files/конфиг/current":      {'2', 0o777, 0, 0},
	} {
		if got[name] != want {
			t.Errorf("%s: %+v, want %+v", name, got[name], want)
		}
	}
	if _, err := OutsidePaths([]string{"--version"}); err == nil || err.Error() != `--allow-outside takes a PATH (got "--version"): name each file or directory outside the project to ship a copy of, repeating the flag; absolute host paths are otherwise kept as the target's` {
		t.Errorf("bare --allow-outside: %v", err)
	}
}

func tarHeaders(t *testing.T, p string) []*tar.Header {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hs []*tar.Header
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

// An earlier bundle written in parts inside a mounted directory is not shipped, and is said once;
// this pack's own output in parts (over itself) is left out silently.
func TestPackLeavesOutBundlesInParts(t *testing.T) {
	host := testRegistry(t, "shop/web:1.0")
	dir := project(t, "name: shop\nservices:\n  web:\n    image: "+host+"/shop/web:1.0\n    volumes:\n      - .:/app\n")
	opts := Options{Compose: compose.LoadOptions{WorkDir: dir}, Sources: []string{"registry"}, SplitSize: 4096, Force: true}
	pack := func(version string) *Result {
		t.Helper()
		opts.Version, opts.Output = version, filepath.Join(dir, "out", "shop-"+version+".tar")
		res, err := Pack(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	pack("0.9")
	pack("1.0")
	res := pack("1.0") // over itself
	want := []string{"bind mount source .: ./out/shop-0.9.tar.sha256 is left out of the bundle: it is the parts list of an airpack bundle split in parts, left out with its "}
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], want[0]) {
		t.Fatalf("Warnings =\n%s\nwant one starting\n%s", strings.Join(res.Warnings, "\n"), want[0])
	}
	v, err := bundle.VerifyBundle(context.Background(), res.Output)
	if err != nil || len(v.Problems) > 0 || v.Parts < 2 {
		t.Fatalf("verify: %v %v (%d parts)", err, v.Problems, v.Parts)
	}
	err = bundle.Walk(context.Background(), res.Output, func(name string, _ io.Reader, _ int64) error {
		if strings.Contains(name, "out/") {
			t.Errorf("%s shipped", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
