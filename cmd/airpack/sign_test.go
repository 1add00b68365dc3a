package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/internal/ramtest"
	"github.com/airpack/airpack/internal/sshtest"
	"github.com/airpack/airpack/ram"
)

// signFixture is a Compose project whose image an in-process registry serves, and the keys and
// allowed signers files of the signature tests.
type signFixture struct {
	project    string
	alice, bob sshtest.Key
	// allowed trusts alice@example.com (alice's key) for airpack; gitOnly the same key for git.
	allowed, gitOnly string
}

func newSignFixture(t *testing.T) *signFixture {
	t.Helper()
	f := &signFixture{project: t.TempDir()}
	ref := testImage(t, "shop/web:1.0")
	if err := os.WriteFile(filepath.Join(f.project, "compose.yaml"), []byte("name: shop\nservices:\n  web:\n    image: "+ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	f.alice = sshtest.NewKey(t, keys, "ed25519", "alice", "")
	f.bob = sshtest.NewKey(t, keys, "ed25519", "bob", "")
	f.allowed = writeFile(t, keys, "allowed_signers", "alice@example.com namespaces=\"airpack\" "+f.alice.Public+"\n")
	f.gitOnly = writeFile(t, keys, "git_signers", "alice@example.com namespaces=\"git\" "+f.alice.Public+"\n")
	return f
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pack packs the project to out, with extra flags (--sign-key).
func (f *signFixture) pack(t *testing.T, out string, extra ...string) {
	t.Helper()
	args := append([]string{"pack", "--project-directory", f.project, "--version", "1.0", "--source", "registry", "-o", out, "-q"}, extra...)
	if _, _, err := run(t, args...); err != nil {
		t.Fatal(err)
	}
}

// extract writes every file of the bundle at p into a new directory, as tar xf would, and
// returns it.
func extract(t *testing.T, p string) string {
	t.Helper()
	dir := t.TempDir()
	err := bundle.Walk(context.Background(), p, func(name string, r io.Reader, _ int64) error {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// sshVerify checks the signature of the bundle at p as a target without airpack does.
func (f *signFixture) sshVerify(t *testing.T, p string) {
	t.Helper()
	dir := extract(t, p)
	sums, err := os.ReadFile(filepath.Join(dir, bundle.SumsFile))
	if err != nil {
		t.Fatal(err)
	}
	out, ok := sshtest.Verify(t, f.allowed, "alice@example.com", filepath.Join(dir, bundle.SigFile), sums)
	if !ok || !strings.Contains(out, `Good "airpack" signature for alice@example.com`) {
		t.Fatalf("ssh-keygen -Y verify of %s: %s", p, out)
	}
}

// wantExit1 checks that err is the one line msg with exit status 1.
func wantExit1(t *testing.T, err error, msg string) {
	t.Helper()
	var ec cli.ExitCoder
	if err == nil || err.Error() != msg || !errors.As(err, &ec) || ec.ExitCode() != 1 {
		t.Errorf("got %v\nwant (exit 1) %s", err, msg)
	}
}

func TestPackSignedVerify(t *testing.T) {
	f := newSignFixture(t)
	out := t.TempDir()
	for _, name := range []string{"shop-1.0", "shop-1.0.tar", "shop-1.0.tar.gz", "shop-1.0.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			b := filepath.Join(out, name)
			f.pack(t, b, "--sign-key", f.alice.Private)
			stdout, _, err := run(t, "verify", "--allowed-signers", f.allowed, "--identity", "alice@example.com", b)
			want := b + ": signature good: SHA256SUMS.sig by alice@example.com (key " + f.alice.Fingerprint + ")\n" +
				b + ": sound (shop 1.0, 1 images, linux/amd64)\n"
			if err != nil || stdout != want {
				t.Errorf("verify --allowed-signers: %v\n%s\nwant\n%s", err, stdout, want)
			}
			stdout, _, err = run(t, "verify", b)
			want = b + ": signed (SHA256SUMS.sig, key " + f.alice.Fingerprint + "): check it with --allowed-signers FILE\n" +
				b + ": sound (shop 1.0, 1 images, linux/amd64)\n"
			if err != nil || stdout != want {
				t.Errorf("verify: %v\n%s\nwant\n%s", err, stdout, want)
			}
			f.sshVerify(t, b)
		})
	}
}

// Each way a signature check fails has its own one-line message, exit status 1.
func TestVerifySignatureFailures(t *testing.T) {
	f := newSignFixture(t)
	out := t.TempDir()
	signed := filepath.Join(out, "signed")
	f.pack(t, signed, "--sign-key", f.alice.Private)
	fp := f.alice.Fingerprint
	verify := func(b string, args ...string) (string, error) {
		stdout, _, err := run(t, append(append([]string{"verify"}, args...), b)...)
		return stdout, err
	}
	// copyBundle copies the signed bundle directory, edit changing one of its files.
	copyBundle := func(name, file string, edit func([]byte) []byte) string {
		dst := filepath.Join(out, name)
		if err := os.CopyFS(dst, os.DirFS(signed)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, edit(b), 0o644); err != nil {
			t.Fatal(err)
		}
		return dst
	}

	t.Run("SHA256SUMS edited", func(t *testing.T) {
		b := copyBundle("sums-edited", bundle.SumsFile, func(b []byte) []byte {
			return append(b, "0000000000000000000000000000000000000000000000000000000000000000  extra\n"...)
		})
		_, err := verify(b, "--allowed-signers", f.allowed)
		wantExit1(t, err, b+": SHA256SUMS.sig: does not match SHA256SUMS: SHA256SUMS changed since it was signed; do not use this bundle, get a fresh copy from its sender")
	})
	t.Run("file edited after signing", func(t *testing.T) {
		b := copyBundle("env-edited", bundle.EnvFile, func(b []byte) []byte { return append(b, "X=1\n"...) })
		stdout, err := verify(b, "--allowed-signers", f.allowed)
		wantExit1(t, err, ".env: checksum mismatch (file corrupted in transit?)\n"+b+": 1 problems: the bundle is not sound")
		if stdout != b+": signature good: SHA256SUMS.sig by alice@example.com (key "+fp+")\n" {
			t.Errorf("stdout %q", stdout)
		}
	})
	t.Run("another key", func(t *testing.T) {
		b := filepath.Join(out, "by-bob.tar")
		f.pack(t, b, "--sign-key", f.bob.Private)
		_, err := verify(b, "--allowed-signers", f.allowed)
		wantExit1(t, err, b+": SHA256SUMS.sig: signed by key "+f.bob.Fingerprint+", which "+f.allowed+" does not list: not a signer you trust; add the key to "+f.allowed+" only if you do")
	})
	t.Run("missing", func(t *testing.T) {
		b := filepath.Join(out, "unsigned.tar.zst")
		f.pack(t, b)
		_, err := verify(b, "--allowed-signers", f.allowed)
		wantExit1(t, err, b+": SHA256SUMS.sig: missing: the bundle is not signed; ask its sender for a signed one (airpack pack --sign-key, or airpack sign)")
		// Without --allowed-signers an unsigned bundle is just sound.
		if stdout, err := verify(b); err != nil || stdout != b+": sound (shop 1.0, 1 images, linux/amd64)\n" {
			t.Errorf("verify unsigned: %v %q", err, stdout)
		}
	})
	t.Run("wrong namespace", func(t *testing.T) {
		b := copyBundle("namespace-other", bundle.SigFile, func(b []byte) []byte { return b })
		if err := os.Remove(filepath.Join(b, bundle.SigFile)); err != nil {
			t.Fatal(err)
		}
		// Writes SHA256SUMS.sig.
		sshtest.Run(t, nil, "-Y", "sign", "-f", f.alice.Private, "-n", "other", filepath.Join(b, bundle.SumsFile))
		_, err := verify(b, "--allowed-signers", f.allowed)
		wantExit1(t, err, b+`: SHA256SUMS.sig: made for namespace "other", not "airpack": not a bundle signature; sign with airpack sign (or ssh-keygen -Y sign -n airpack)`)
		// Without --allowed-signers it is a problem all the same.
		_, err = verify(b)
		wantExit1(t, err, `SHA256SUMS.sig: made for namespace "other", not "airpack": not a bundle signature; sign with airpack sign (or ssh-keygen -Y sign -n airpack)`+"\n"+b+": 1 problems: the bundle is not sound")
	})
	t.Run("allowed signers namespaces without airpack", func(t *testing.T) {
		_, err := verify(signed, "--allowed-signers", f.gitOnly)
		wantExit1(t, err, signed+": SHA256SUMS.sig: signed by key "+fp+", which "+f.gitOnly+` line 1 allows for namespaces "git" only: add airpack to its namespaces= option to trust it for bundles`)
	})
	t.Run("other identity", func(t *testing.T) {
		_, err := verify(signed, "--allowed-signers", f.allowed, "--identity", "mallory@example.com")
		wantExit1(t, err, signed+": SHA256SUMS.sig: signed by key "+fp+", which "+f.allowed+` line 1 lists for "alice@example.com", not for identity "mallory@example.com": check --identity`)
	})
	t.Run("usage", func(t *testing.T) {
		if _, err := verify(signed, "--identity", "alice@example.com"); err == nil || err.Error() != "--identity needs --allowed-signers FILE: the file that lists the identity's key" {
			t.Errorf("--identity alone: %v", err)
		}
		bad := writeFile(t, out, "bad_signers", "alice@example.com\n")
		if _, err := verify(signed, "--allowed-signers", bad); err == nil || err.Error() != bad+" line 1: no key after the principals; the format is: principals [options] keytype base64-key (ssh-keygen(1), ALLOWED SIGNERS)" {
			t.Errorf("bad allowed signers: %v", err)
		}
	})
}

// airpack sign signs an existing bundle in place, in every form; the result verifies with airpack
// and, extracted, with ssh-keygen. A bundle it refuses is left as it was.
func TestSignCommand(t *testing.T) {
	f := newSignFixture(t)
	out := t.TempDir()
	for _, name := range []string{"shop-1.0", "shop-1.0.tar", "shop-1.0.tar.gz", "shop-1.0.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			b := filepath.Join(out, name)
			f.pack(t, b)
			stdout, _, err := run(t, "sign", b, "--key", f.alice.Private)
			want := "signed " + b + " (shop 1.0) with key " + f.alice.Fingerprint + "\n" +
				"targets trust it with this allowed signers line: NAME namespaces=\"airpack\" " + strings.TrimSuffix(f.alice.Public, " alice") + "\n"
			if err != nil || stdout != want {
				t.Fatalf("sign: %v\n%s\nwant\n%s", err, stdout, want)
			}
			if _, _, err := run(t, "verify", "--allowed-signers", f.allowed, "--identity", "alice@example.com", b); err != nil {
				t.Fatalf("verify after sign: %v", err)
			}
			f.sshVerify(t, b)
			// Signed again: the signature is replaced, and says so.
			stdout, _, err = run(t, "sign", b, "--key", f.bob.Private)
			if err != nil || !strings.Contains(stdout, " with key "+f.bob.Fingerprint+" (replacing the previous signature)\n") {
				t.Fatalf("sign again: %v\n%s", err, stdout)
			}
			_, _, err = run(t, "verify", "--allowed-signers", f.allowed, b)
			wantExit1(t, err, b+": SHA256SUMS.sig: signed by key "+f.bob.Fingerprint+", which "+f.allowed+" does not list: not a signer you trust; add the key to "+f.allowed+" only if you do")

			// A damaged bundle is refused and left untouched.
			damaged := filepath.Join(t.TempDir(), name)
			f.pack(t, damaged)
			var want1 string
			if name == "shop-1.0" {
				writeFile(t, damaged, bundle.EnvFile, "EDITED=1\n")
				want1 = damaged + ": .env: checksum mismatch (file corrupted in transit?)\n" + damaged + ": 1 problems: refusing to sign a bundle that is not sound; re-pack it"
			} else {
				st, _ := os.Stat(damaged)
				if err := os.Truncate(damaged, st.Size()-2000); err != nil {
					t.Fatal(err)
				}
				want1 = "bundle archive " + damaged + " is truncated or corrupt"
			}
			before := listDir(t, filepath.Dir(damaged))
			_, _, err = run(t, "sign", damaged, "--key", f.alice.Private)
			if err == nil || !strings.HasPrefix(err.Error(), want1) {
				t.Errorf("sign a damaged bundle: %v\nwant %s", err, want1)
			}
			if after := listDir(t, filepath.Dir(damaged)); after != before {
				t.Errorf("the refused bundle changed:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// listDir lists the files under dir with their content.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.WriteString(p + " " + string(data) + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSignKeyErrors(t *testing.T) {
	f := newSignFixture(t)
	b := filepath.Join(t.TempDir(), "shop-1.0.tar")
	f.pack(t, b)
	locked := sshtest.NewKey(t, t.TempDir(), "ed25519", "locked", "pass phrase")
	ecdsa := sshtest.NewKey(t, t.TempDir(), "ecdsa", "ecdsa", "")

	// stdin is no terminal: the passphrase can only come from the environment.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	stdin := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = stdin })
	t.Setenv(bundle.PassphraseEnv, "")

	if _, _, err := run(t, "sign", b); err == nil || err.Error() != "--key KEY is required: the OpenSSH ed25519 private key to sign with (ssh-keygen -t ed25519 makes one)" {
		t.Errorf("no --key: %v", err)
	}
	if _, _, err := run(t, "sign", b, "--key", locked.Private); err == nil || err.Error() != "signing key "+locked.Private+" is protected by a passphrase and there is no terminal to type it: set AIRPACK_SIGN_PASSPHRASE" {
		t.Errorf("passphrase-protected key, no passphrase: %v", err)
	}
	// pack reads the key before anything else: no bundle is written.
	out := filepath.Join(t.TempDir(), "shop.tar")
	if _, _, err := run(t, "pack", "--project-directory", f.project, "--version", "1.0", "--source", "registry", "-o", out, "--sign-key", ecdsa.Private); err == nil || err.Error() != "signing key "+ecdsa.Private+" is an ecdsa-sha2-nistp256 key: airpack signs with ed25519 keys only; make one with ssh-keygen -t ed25519" {
		t.Errorf("pack with an ecdsa key: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("pack with a bad key wrote a bundle")
	}

	t.Setenv(bundle.PassphraseEnv, "pass phrase")
	if _, _, err := run(t, "sign", b, "-q", "--key", locked.Private); err != nil {
		t.Fatalf("sign with the passphrase from the environment: %v", err)
	}
	signers := writeFile(t, t.TempDir(), "allowed", "ops "+locked.Public+"\n")
	if _, _, err := run(t, "verify", "--allowed-signers", signers, b); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// pack --ram --sign-key signs the bundle made from a RAM package.
func TestPackRAMSigned(t *testing.T) {
	f := newSignFixture(t)
	raw, err := os.ReadFile("../../ram/testdata/example-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ram.DecodeMetadata(raw)
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{}
	for _, a := range tpl.Apps {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		if images[a.ShareImage], err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
	}
	pkg := ramtest.WritePackage(t, tpl, images)
	b := filepath.Join(t.TempDir(), "app.tar.gz")
	if _, _, err := run(t, "pack", "--ram", pkg, "-o", b, "-q", "--sign-key", f.alice.Private); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, "verify", "--allowed-signers", f.allowed, b)
	if err != nil || !strings.HasPrefix(stdout, b+": signature good: SHA256SUMS.sig by alice@example.com") {
		t.Errorf("verify: %v\n%s", err, stdout)
	}
}
