package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/airpack/airpack/bundle"
)

func splitParts(t *testing.T, out string) []string {
	t.Helper()
	m, err := filepath.Glob(out + ".[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

// pack --split-size writes parts that join (cat) to the archive pack writes whole, and that
// verify, inspect and ram read as they are; a missing and a damaged part are each named.
func TestPackSplitSize(t *testing.T) {
	f := newSignFixture(t)
	for _, ext := range []string{".tar", ".tar.zst"} {
		t.Run(ext, func(t *testing.T) {
			whole := filepath.Join(t.TempDir(), "shop-1.0"+ext)
			f.pack(t, whole)
			want, err := os.ReadFile(whole)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "shop-1.0"+ext)
			f.pack(t, out, "--split-size", "2KiB")
			parts := splitParts(t, out)
			if n := (len(want) + 2047) / 2048; len(parts) != n {
				t.Fatalf("%d parts for %d bytes in parts of 2 KiB, want %d", len(parts), len(want), n)
			}
			var joined bytes.Buffer
			for _, p := range parts {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				joined.Write(b)
			}
			if !bytes.Equal(joined.Bytes(), want) {
				t.Fatal("the joined parts differ from the archive packed whole")
			}
			if sh, err := exec.LookPath("sh"); err == nil {
				// The README's join, with the shell's glob.
				cmd := exec.Command(sh, "-c", "sha256sum -c shop-1.0"+ext+".sha256 >/dev/null && cat shop-1.0"+ext+".[0-9]* > joined")
				cmd.Dir = dir
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				got, _ := os.ReadFile(filepath.Join(dir, "joined"))
				if !bytes.Equal(got, want) {
					t.Fatal("cat of the glob differs from the archive packed whole")
				}
				os.Remove(filepath.Join(dir, "joined"))
			}

			for _, arg := range []string{out, parts[0], out + bundle.PartsSuffix} {
				stdout, _, err := run(t, "verify", arg)
				if err != nil {
					t.Fatalf("verify %s: %v", arg, err)
				}
				if !strings.Contains(stdout, "sound (shop 1.0, 1 images, linux/amd64, ") || !strings.Contains(stdout, " parts)") {
					t.Fatalf("verify %s: %s", arg, stdout)
				}
				stdout, _, err = run(t, "inspect", arg)
				if err != nil || !strings.Contains(stdout, "shop") {
					t.Fatalf("inspect %s: %v\n%s", arg, err, stdout)
				}
			}
			pkg := filepath.Join(t.TempDir(), "shop-1.0-ram.tar.gz")
			if _, _, err := run(t, "ram", out, "-o", pkg, "-q"); err != nil {
				t.Fatalf("ram of the parts: %v", err)
			}
			// And back: pack --ram in parts too.
			back := filepath.Join(t.TempDir(), "back-1.0.tar.gz")
			if _, _, err := run(t, "pack", "--ram", pkg, "-o", back, "--split-size", "2KiB", "-q"); err != nil {
				t.Fatalf("pack --ram --split-size: %v", err)
			}
			if stdout, _, err := run(t, "verify", back+".001"); err != nil || !strings.Contains(stdout, " parts)") {
				t.Fatalf("verify of pack --ram parts: %v\n%s", err, stdout)
			}

			// Damaged, then missing.
			data, _ := os.ReadFile(parts[1])
			data[5] ^= 1
			if err := os.WriteFile(parts[1], data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err = run(t, "verify", parts[0])
			if err == nil || !strings.Contains(err.Error(), filepath.Base(parts[1])+": damaged (sha256 ") {
				t.Fatalf("verify with a damaged part: %v", err)
			}
			if err := os.Remove(parts[len(parts)-1]); err != nil {
				t.Fatal(err)
			}
			_, _, err = run(t, "verify", out)
			if err == nil || !strings.Contains(err.Error(), filepath.Base(parts[len(parts)-1])+": missing") || !strings.Contains(err.Error(), filepath.Base(parts[1])+": damaged") {
				t.Fatalf("verify with a missing part: %v", err)
			}
		})
	}
}

func TestPackSplitSizeRefusals(t *testing.T) {
	f := newSignFixture(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", filepath.Join(dir, "shop-1.0"), "--split-size", "4G"}, "applies to an archive output"},
		{[]string{"-o", filepath.Join(dir, "shop-1.0.tar"), "--split-size", "4 parsecs"}, "--split-size: size"},
		{[]string{"-o", filepath.Join(dir, "shop-1.0.tar"), "--split-size", "0"}, "--split-size: size"},
		{[]string{"-o", filepath.Join(dir, "shop-1.0.tar"), "--split-size", ""}, "--split-size is empty"},
	} {
		args := append([]string{"pack", "--project-directory", f.project, "--version", "1.0", "--source", "registry", "-q"}, c.args...)
		if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused packs left %v", entries)
	}
	out := filepath.Join(dir, "shop-1.0.tar")
	f.pack(t, out, "--split-size", "4KiB")
	args := []string{"pack", "--project-directory", f.project, "--version", "1.0", "--source", "registry", "-q", "-o", out, "--split-size", "4KiB"}
	if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("existing parts: %v", err)
	}
	if _, _, err := run(t, append(args, "--force")...); err != nil {
		t.Fatal(err)
	}
}

// A signed bundle in parts: the signature is inside the archive, checked through the parts.
func TestPackSplitSigned(t *testing.T) {
	f := newSignFixture(t)
	out := filepath.Join(t.TempDir(), "shop-1.0.tar")
	f.pack(t, out, "--sign-key", f.alice.Private, "--split-size", "3KiB")
	stdout, _, err := run(t, "verify", "--allowed-signers", f.allowed, out+bundle.PartsSuffix)
	if err != nil || !strings.Contains(stdout, "signature good") || !strings.Contains(stdout, "sound (") {
		t.Fatalf("verify --allowed-signers of signed parts: %v\n%s", err, stdout)
	}
	if _, _, err := run(t, "sign", out+".001", "--key", f.bob.Private); err == nil || !strings.Contains(err.Error(), "split in parts") {
		t.Fatalf("sign of parts: %v", err)
	}
}

// verify of an upgrade bundle says it does not load alone: a reviewer at the gap reads that line.
func TestVerifyUpgradeSaysBase(t *testing.T) {
	f := newSignFixture(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "shop-1.0.tar")
	f.pack(t, base)
	up := filepath.Join(dir, "shop-1.1.tar")
	f.pack(t, up, "--version", "1.1", "--base", base)
	stdout, _, err := run(t, "verify", up)
	if want := "sound (shop 1.1, 1 images, linux/amd64; an upgrade of shop 1.0: it loads only where shop-1.0 is loaded)"; err != nil || !strings.Contains(stdout, want) {
		t.Errorf("verify of an upgrade: %v\n%s\nwant %q", err, stdout, want)
	}
}
