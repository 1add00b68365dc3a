package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/airpack/airpack/internal/sshtest"
)

const testSums = "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7  airpack.json\n"

// Both ways with the real ssh-keygen: airpack's signature verifies with ssh-keygen -Y verify, and
// ssh-keygen -Y sign's verifies with airpack; ed25519 being deterministic, they are the same bytes.
func TestSignatureInteropSSHKeygen(t *testing.T) {
	dir := t.TempDir()
	alice := sshtest.NewKey(t, dir, "ed25519", "alice", "")
	signer, err := LoadSigningKey(alice.Private)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign([]byte(testSums), signer)
	if err != nil {
		t.Fatal(err)
	}
	sigFile := filepath.Join(dir, SigFile)
	fxCheck(t, os.WriteFile(sigFile, sig, 0o644))
	allowed := filepath.Join(dir, "allowed_signers")
	fxCheck(t, os.WriteFile(allowed, []byte("alice@example.com "+alice.Public+"\n"), 0o644))

	out, ok := sshtest.Verify(t, allowed, "alice@example.com", sigFile, []byte(testSums))
	if want := `Good "airpack" signature for alice@example.com with ED25519 key ` + alice.Fingerprint; !ok || !strings.Contains(out, want) {
		t.Errorf("ssh-keygen -Y verify of airpack's signature: %q, want %q", out, want)
	}
	if out, ok := sshtest.Verify(t, allowed, "alice@example.com", sigFile, []byte(testSums+"\n")); ok {
		t.Errorf("ssh-keygen -Y verify accepted airpack's signature of other content: %s", out)
	}

	msg := filepath.Join(dir, SumsFile)
	fxCheck(t, os.WriteFile(msg, []byte(testSums), 0o644))
	sshtest.Run(t, nil, "-Y", "sign", "-f", alice.Private, "-n", "airpack", msg)
	theirs, err := os.ReadFile(msg + ".sig")
	fxCheck(t, err)
	if !bytes.Equal(theirs, sig) {
		t.Errorf("airpack's signature:\n%s\nssh-keygen's:\n%s", sig, theirs)
	}
	signers, err := LoadAllowedSigners(allowed)
	fxCheck(t, err)
	if p, err := VerifySignature([]byte(testSums), theirs, signers, "alice@example.com"); err != nil || p != "alice@example.com" {
		t.Errorf("VerifySignature of ssh-keygen's signature: %q, %v", p, err)
	}
}

func TestVerifySignatureRefusals(t *testing.T) {
	dir := t.TempDir()
	alice := sshtest.NewKey(t, dir, "ed25519", "alice", "")
	bob := sshtest.NewKey(t, dir, "ed25519", "bob", "")
	sign := func(k sshtest.Key) []byte {
		s, err := LoadSigningKey(k.Private)
		fxCheck(t, err)
		sig, err := Sign([]byte(testSums), s)
		fxCheck(t, err)
		return sig
	}
	aliceSig, bobSig := sign(alice), sign(bob)
	// Signed for git, as ssh-keygen would for a commit.
	msg := filepath.Join(dir, "msg")
	fxCheck(t, os.WriteFile(msg, []byte(testSums), 0o644))
	sshtest.Run(t, nil, "-Y", "sign", "-f", alice.Private, "-n", "git", msg)
	gitSig, err := os.ReadFile(msg + ".sig")
	fxCheck(t, err)

	const file = "allowed_signers"
	fp := alice.Fingerprint
	for _, tc := range []struct {
		name     string
		allowed  string
		sums     string
		sig      []byte
		identity string
		want     string // the principals, or the error
		reason   SignatureReason
	}{
		{name: "valid", allowed: "alice@example.com " + alice.Public, identity: "alice@example.com", want: "alice@example.com"},
		{name: "any identity", allowed: "# ops\nbob@example.com " + bob.Public + "\n\nalice@example.com,ops " + alice.Public, want: "alice@example.com,ops"},
		{name: "pattern and namespaces", allowed: `*@example.com namespaces="git,air*" ` + alice.Public, identity: "alice@example.com", want: "*@example.com"},
		{name: "quoted principals, valid dates", allowed: `"alice@example.com" valid-after="20000101",valid-before="29991231235959Z" ` + alice.Public, identity: "alice@example.com", want: "alice@example.com"},
		{name: "missing", allowed: "a " + alice.Public, sig: []byte(nil), reason: SigMissing,
			want: "SHA256SUMS.sig: missing: the bundle is not signed; ask its sender for a signed one (airpack pack --sign-key, or airpack sign)"},
		{name: "malformed", allowed: "a " + alice.Public, sig: []byte("not a signature\n"), reason: SigMalformed,
			want: "SHA256SUMS.sig: not an SSH signature (invalid PEM block): the file is damaged; ask the sender to sign the bundle again"},
		{name: "SHA256SUMS edited", allowed: "a " + alice.Public, sums: strings.Replace(testSums, "3a", "3b", 1), reason: SigBadSignature,
			want: "SHA256SUMS.sig: does not match SHA256SUMS: SHA256SUMS changed since it was signed; do not use this bundle, get a fresh copy from its sender"},
		{name: "wrong namespace", allowed: "a " + alice.Public, sig: gitSig, reason: SigWrongNamespace,
			want: `SHA256SUMS.sig: made for namespace "git", not "airpack": not a bundle signature; sign with airpack sign (or ssh-keygen -Y sign -n airpack)`},
		{name: "another key", allowed: "alice@example.com " + alice.Public, sig: bobSig, reason: SigUnknownKey,
			want: "SHA256SUMS.sig: signed by key " + bob.Fingerprint + ", which allowed_signers does not list: not a signer you trust; add the key to allowed_signers only if you do"},
		{name: "cert-authority", allowed: "bob " + bob.Public + "\n*@example.com cert-authority " + alice.Public, reason: SigUnknownKey,
			want: "SHA256SUMS.sig: signed by key " + fp + ", which allowed_signers does not list: not a signer you trust; add the key to allowed_signers only if you do"},
		{name: "other identity", allowed: "alice@example.com " + alice.Public, identity: "bob@example.com", reason: SigIdentityNotAllowed,
			want: `SHA256SUMS.sig: signed by key ` + fp + `, which allowed_signers line 1 lists for "alice@example.com", not for identity "bob@example.com": check --identity`},
		{name: "negated identity", allowed: "*@example.com,!alice@example.com " + alice.Public, identity: "alice@example.com", reason: SigIdentityNotAllowed,
			want: `SHA256SUMS.sig: signed by key ` + fp + `, which allowed_signers line 1 lists for "*@example.com,!alice@example.com", not for identity "alice@example.com": check --identity`},
		{name: "namespaces without airpack", allowed: "bob " + bob.Public + "\nalice@example.com namespaces=\"git,file\" " + alice.Public, identity: "alice@example.com", reason: SigNamespaceNotAllowed,
			want: `SHA256SUMS.sig: signed by key ` + fp + `, which allowed_signers line 2 allows for namespaces "git,file" only: add airpack to its namespaces= option to trust it for bundles`},
		{name: "expired", allowed: `alice@example.com valid-before="20000101Z" ` + alice.Public, reason: SigKeyNotValid,
			want: `SHA256SUMS.sig: signed by key ` + fp + `, which allowed_signers line 1 trusts until 2000-01-01 00:00:00 UTC only: not now; ask the sender to sign with a current key, or update the line`},
		{name: "not yet valid", allowed: `alice@example.com valid-after="299901011200Z" ` + alice.Public, reason: SigKeyNotValid,
			want: `SHA256SUMS.sig: signed by key ` + fp + `, which allowed_signers line 1 trusts from 2999-01-01 12:00:00 UTC only: not now; ask the sender to sign with a current key, or update the line`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signers, err := ParseAllowedSigners(file, []byte(tc.allowed))
			fxCheck(t, err)
			sums, sig := testSums, aliceSig
			if tc.sums != "" {
				sums = tc.sums
			}
			if tc.sig != nil || tc.reason == SigMissing {
				sig = tc.sig
			}
			p, err := VerifySignature([]byte(sums), sig, signers, tc.identity)
			if tc.reason == 0 {
				if err != nil || p != tc.want {
					t.Fatalf("got %q, %v; want %q", p, err, tc.want)
				}
				return
			}
			var se *SignatureError
			if !errors.As(err, &se) || se.Reason != tc.reason || err.Error() != tc.want {
				t.Fatalf("got %#v\n%v\nwant reason %d:\n%s", err, err, tc.reason, tc.want)
			}
			if errors.Is(err, ErrNoSignature) != (tc.reason == SigMissing) {
				t.Errorf("errors.Is(err, ErrNoSignature) wrong for %v", err)
			}
		})
	}
}

func TestParseAllowedSignersErrors(t *testing.T) {
	dir := t.TempDir()
	alice := sshtest.NewKey(t, dir, "ed25519", "alice", "")
	const tail = "; the format is: principals [options] keytype base64-key (ssh-keygen(1), ALLOWED SIGNERS)"
	for _, tc := range []struct{ in, want string }{
		{"# nobody\n\n", `signers lists no key: add a line "NAME ssh-ed25519 AAAA…" per signer you trust`},
		{alice.Public, "signers line 1: no public key" + tail},
		{"alice", "signers line 1: no key after the principals" + tail},
		{"# x\nalice ssh-ed25519 AAAA!!!", "signers line 2: no public key" + tail},
		{`alice no-touch-required ` + alice.Public, `signers line 1: unknown option "no-touch-required" (known: cert-authority, namespaces, valid-after, valid-before)` + tail},
		{`alice namespaces=airpack ` + alice.Public, "signers line 1: option namespaces: the value must be in double quotes" + tail},
		{`alice valid-after="2020" ` + alice.Public, `signers line 1: option valid-after: "2020" is not a time YYYYMMDD[HHMM[SS]][Z]` + tail},
		{`"alice ` + alice.Public, "signers line 1: unmatched quote in the principals" + tail},
	} {
		_, err := ParseAllowedSigners("signers", []byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v\nwant %s", tc.in, err, tc.want)
		}
	}
	if _, err := LoadAllowedSigners(filepath.Join(dir, "nope")); err == nil || err.Error() != "allowed signers: open "+filepath.Join(dir, "nope")+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadSigningKey(t *testing.T) {
	dir := t.TempDir()
	plain := sshtest.NewKey(t, dir, "ed25519", "plain", "")
	locked := sshtest.NewKey(t, dir, "ed25519", "locked", "s3cret pass")
	ecdsa := sshtest.NewKey(t, dir, "ecdsa", "ecdsa", "")
	junk := filepath.Join(dir, "junk")
	fxCheck(t, os.WriteFile(junk, []byte("hello\n"), 0o600))
	missing := filepath.Join(dir, "missing")

	noTerminal := stdinIsTerminal
	t.Cleanup(func() { stdinIsTerminal = noTerminal })
	stdinIsTerminal = func() bool { return false }

	for _, tc := range []struct {
		name, path, pass, want string
	}{
		{"ed25519", plain.Private, "", ""},
		{"passphrase from the environment", locked.Private, "s3cret pass", ""},
		{"no passphrase, no terminal", locked.Private, "", "signing key " + locked.Private + " is protected by a passphrase and there is no terminal to type it: set AIRPACK_SIGN_PASSPHRASE"},
		{"wrong passphrase", locked.Private, "guess", "signing key " + locked.Private + ": wrong passphrase"},
		{"ecdsa", ecdsa.Private, "", "signing key " + ecdsa.Private + " is an ecdsa-sha2-nistp256 key: airpack signs with ed25519 keys only; make one with ssh-keygen -t ed25519"},
		{"public key", plain.Private + ".pub", "", "signing key " + plain.Private + ".pub is a public key: give the private key (the file without .pub)"},
		{"not a key", junk, "", "signing key " + junk + " is not an OpenSSH private key (ssh: no key found): make one with ssh-keygen -t ed25519"},
		{"missing", missing, "", "signing key " + missing + " does not exist: make one with ssh-keygen -t ed25519 -f " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(PassphraseEnv, tc.pass)
			s, err := LoadSigningKey(tc.path)
			if tc.want == "" {
				fxCheck(t, err)
				if s.PublicKey().Type() != "ssh-ed25519" {
					t.Fatalf("key type %s", s.PublicKey().Type())
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// tarSpan is where a member lies in a tar stream: header to padded end.
type tarSpan struct {
	name       string
	start, end int64
}

// tarSpans lists the members of the tar stream data.
func tarSpans(t *testing.T, data []byte) []tarSpan {
	t.Helper()
	r := bytes.NewReader(data)
	tr := tar.NewReader(r)
	var spans []tarSpan
	var end int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return spans
		}
		fxCheck(t, err)
		dataStart := int64(len(data)) - int64(r.Len())
		s := tarSpan{name: memberName(hdr.Name), start: end, end: dataStart + (hdr.Size+511)/512*512}
		spans = append(spans, s)
		end = s.end
	}
}

// plainTar is the tar stream of a bundle archive, decompressed.
func plainTar(t *testing.T, p string) []byte {
	t.Helper()
	raw, err := os.ReadFile(p)
	fxCheck(t, err)
	var r io.Reader = bytes.NewReader(raw)
	switch {
	case strings.HasSuffix(p, ".tar.gz"):
		zr, err := gzip.NewReader(r)
		fxCheck(t, err)
		r = zr
	case strings.HasSuffix(p, ".tar.zst"):
		zr, err := zstd.NewReader(r)
		fxCheck(t, err)
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(r)
	fxCheck(t, err)
	return b
}

// checkSigMember checks that the tar stream signed is unsigned with one SHA256SUMS.sig member
// added right after SHA256SUMS, every other byte the same.
func checkSigMember(t *testing.T, unsigned, signed []byte) {
	t.Helper()
	spans := tarSpans(t, signed)
	var sigs []int
	for i, s := range spans {
		if s.name == SigFile {
			sigs = append(sigs, i)
		}
	}
	if len(sigs) != 1 || sigs[0] == 0 || spans[sigs[0]-1].name != SumsFile {
		t.Fatalf("want one %s member, right after %s: %+v", SigFile, SumsFile, spans)
	}
	s := spans[sigs[0]]
	if rest := append(bytes.Clone(signed[:s.start]), signed[s.end:]...); !bytes.Equal(rest, unsigned) {
		t.Fatal("the signed archive differs from the original by more than the signature")
	}
}

// bundleSums reads a bundle's SHA256SUMS and signature into dir, as `tar xf` would give them.
func bundleSums(t *testing.T, p, dir string) {
	t.Helper()
	sums, sig, err := ReadSums(context.Background(), p)
	fxCheck(t, err)
	fxCheck(t, os.WriteFile(filepath.Join(dir, SumsFile), sums, 0o644))
	fxCheck(t, os.WriteFile(filepath.Join(dir, SigFile), sig, 0o644))
}

func TestSignBundle(t *testing.T) {
	ctx := context.Background()
	keys := t.TempDir()
	alice := sshtest.NewKey(t, keys, "ed25519", "alice", "")
	bob := sshtest.NewKey(t, keys, "ed25519", "bob", "")
	allowed := filepath.Join(keys, "allowed_signers")
	fxCheck(t, os.WriteFile(allowed, []byte("alice@example.com "+alice.Public+"\nbob@example.com "+bob.Public+"\n"), 0o644))
	signers, err := LoadAllowedSigners(allowed)
	fxCheck(t, err)
	aliceKey, err := LoadSigningKey(alice.Private)
	fxCheck(t, err)
	bobKey, err := LoadSigningKey(bob.Private)
	fxCheck(t, err)

	b := fxNewBundle(t)
	for _, form := range fxForms {
		t.Run(form, func(t *testing.T) {
			p := b.write(t, form)
			var unsigned []byte
			if form != fxDir {
				unsigned = plainTar(t, p)
			}
			v, err := SignBundle(ctx, p, aliceKey)
			fxCheck(t, err)
			if v.Signed || v.Manifest.Name != "shop" {
				t.Errorf("before signing: %+v", v)
			}
			res, err := VerifyBundle(ctx, p, WithAllowedSigners(signers, "alice@example.com"))
			fxCheck(t, err)
			if len(res.Problems) > 0 || !res.Signed || res.Key != alice.Fingerprint || res.Signer != "alice@example.com" {
				t.Fatalf("verify after signing: %+v\n%s", res, strings.Join(fxProblems(res.Problems), "\n"))
			}
			if form != fxDir {
				checkSigMember(t, unsigned, plainTar(t, p))
			}
			// What the target gets out of it, checked with ssh-keygen.
			out := t.TempDir()
			bundleSums(t, p, out)
			sums, err := os.ReadFile(filepath.Join(out, SumsFile))
			fxCheck(t, err)
			if msg, ok := sshtest.Verify(t, allowed, "alice@example.com", filepath.Join(out, SigFile), sums); !ok {
				t.Fatalf("ssh-keygen -Y verify: %s", msg)
			}

			// Signed again by another key: the signature is replaced.
			v, err = SignBundle(ctx, p, bobKey)
			fxCheck(t, err)
			if !v.Signed || v.Key != alice.Fingerprint {
				t.Errorf("before signing again: %+v", v)
			}
			res, err = VerifyBundle(ctx, p, WithAllowedSigners(signers, ""))
			fxCheck(t, err)
			if len(res.Problems) > 0 || res.Key != bob.Fingerprint || res.Signer != "bob@example.com" {
				t.Fatalf("verify after signing again: %+v", res)
			}
			if form != fxDir {
				checkSigMember(t, unsigned, plainTar(t, p))
			}
			// Nothing left behind.
			entries, err := os.ReadDir(filepath.Dir(p))
			fxCheck(t, err)
			if form != fxDir && len(entries) != 1 {
				t.Errorf("%d files beside the bundle", len(entries))
			}
			if form == fxDir {
				if entries, _ = os.ReadDir(p); len(entries) != 8 {
					t.Errorf("%d entries in the bundle", len(entries))
				}
			}
		})
	}
}

// A bundle that is not sound is not signed, and a failed signing leaves the bundle as it was.
func TestSignBundleFailures(t *testing.T) {
	ctx := context.Background()
	alice := sshtest.NewKey(t, t.TempDir(), "ed25519", "alice", "")
	key, err := LoadSigningKey(alice.Private)
	fxCheck(t, err)
	b := fxNewBundle(t)
	b.files["files/db.txt"] = []byte("edited\n") // after SHA256SUMS was made
	for _, form := range fxForms {
		t.Run(form, func(t *testing.T) {
			p := b.write(t, form)
			before := snapshot(t, p)
			_, err := SignBundle(ctx, p, key)
			want := p + ": files/db.txt: checksum mismatch (file corrupted in transit?)\n" + p + ": 1 problems: refusing to sign a bundle that is not sound; re-pack it"
			if err == nil || err.Error() != want {
				t.Errorf("got %v\nwant %s", err, want)
			}
			if after := snapshot(t, p); after != before {
				t.Error("the refused bundle changed")
			}
		})
	}

	good := fxNewBundle(t)
	sig, err := Sign(good.files[SumsFile], key)
	fxCheck(t, err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, form := range fxForms {
		t.Run("interrupted "+form, func(t *testing.T) {
			p := good.write(t, form)
			before := snapshot(t, p)
			var errs []error
			if form == fxDir {
				errs = append(errs, signDir(p, []byte("other\n"), sig))
			} else {
				errs = append(errs, signArchive(ctx, p, 0o644, []byte("other\n"), sig), signArchive(cancelled, p, 0o644, good.files[SumsFile], sig))
			}
			if !errors.Is(errs[0], errSumsChanged) {
				t.Errorf("SHA256SUMS changed: %v", errs[0])
			}
			if len(errs) > 1 && !errors.Is(errs[1], context.Canceled) {
				t.Errorf("cancelled: %v", errs[1])
			}
			if after := snapshot(t, p); after != before {
				t.Errorf("a failed signing changed the bundle:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// snapshot lists the files of the directory holding bundle p, the bundle's own included, with
// their content.
func snapshot(t *testing.T, p string) string {
	t.Helper()
	var b strings.Builder
	fxCheck(t, filepath.WalkDir(filepath.Dir(p), func(q string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(q)
		b.WriteString(q + " " + fxSHA256(data) + "\n")
		return err
	}))
	return b.String()
}

// Write signs when given a signer: SHA256SUMS.sig right after SHA256SUMS, in every format.
func TestWriteSigned(t *testing.T) {
	alice := sshtest.NewKey(t, t.TempDir(), "ed25519", "alice", "")
	key, err := LoadSigningKey(alice.Private)
	fxCheck(t, err)
	archive := fakeArchive{body: bytes.Repeat([]byte("layer"), 1000)}
	for _, name := range []string{"shop-1.0", "shop-1.0.tar", "shop-1.0.tar.gz", "shop-1.0.tar.zst", "streamed:shop-1.0.tar"} {
		t.Run(name, func(t *testing.T) {
			c := testContents(t, archive)
			if n, ok := strings.CutPrefix(name, "streamed:"); ok {
				// An archive streamed in: the signature follows SHA256SUMS after it too.
				name, c.Archives = n, []ArchiveWriter{&streamedArchive{body: archive.body, size: -1}}
			}
			out := filepath.Join(t.TempDir(), name)
			fxCheck(t, Write(context.Background(), out, c, false, WithSigner(key)))
			sums, sig, err := ReadSums(context.Background(), out)
			fxCheck(t, err)
			if k, err := CheckSignature(sums, sig); err != nil || k.Type() != "ssh-ed25519" {
				t.Fatalf("signature: %v", err)
			}
			if name != "shop-1.0" {
				spans := tarSpans(t, plainTar(t, out))
				var names []string
				for _, s := range spans {
					names = append(names, s.name)
				}
				if i := strings.Index(strings.Join(names, " "), SumsFile+" "+SigFile); i < 0 {
					t.Errorf("members %v: want %s right after %s", names, SigFile, SumsFile)
				}
			}
			v, err := VerifyBundle(context.Background(), out)
			fxCheck(t, err)
			if !v.Signed || v.Key != alice.Fingerprint {
				t.Errorf("verify: signed %v, key %s", v.Signed, v.Key)
			}
			for _, p := range v.Problems {
				if p.File == SigFile || p.File == SumsFile {
					t.Errorf("problem: %s", p)
				}
			}
		})
	}
}

// With allowed signers, the signature is checked before anything else: a SHA256SUMS edited after
// signing is refused as such; a file edited after signing passes the signature and fails its
// checksum.
func TestVerifyBundleSignature(t *testing.T) {
	ctx := context.Background()
	keys := t.TempDir()
	alice := sshtest.NewKey(t, keys, "ed25519", "alice", "")
	key, err := LoadSigningKey(alice.Private)
	fxCheck(t, err)
	signers, err := ParseAllowedSigners("allowed_signers", []byte("alice "+alice.Public))
	fxCheck(t, err)
	b := fxNewBundle(t)
	sig, err := Sign(b.files[SumsFile], key)
	fxCheck(t, err)

	unsigned := b.write(t, fxTar)
	if _, err := VerifyBundle(ctx, unsigned, WithAllowedSigners(signers, "")); !errors.Is(err, ErrNoSignature) {
		t.Errorf("unsigned: %v", err)
	}

	b.files[SigFile] = sig
	b.files["files/db.txt"] = []byte("edited\n")
	v, err := VerifyBundle(ctx, b.write(t, fxTarGz), WithAllowedSigners(signers, "alice"))
	fxCheck(t, err)
	if got := strings.Join(fxProblems(v.Problems), "\n"); got != "files/db.txt: checksum mismatch (file corrupted in transit?)" || v.Signer != "alice" {
		t.Errorf("file edited after signing: signer %q, problems:\n%s", v.Signer, got)
	}

	b.files[SumsFile] = append(b.files[SumsFile], '\n')
	_, err = VerifyBundle(ctx, b.write(t, fxDir), WithAllowedSigners(signers, "alice"))
	var se *SignatureError
	if !errors.As(err, &se) || se.Reason != SigBadSignature {
		t.Errorf("SHA256SUMS edited after signing: %v", err)
	}
	// Without allowed signers, the broken signature is a problem of its own.
	v, err = VerifyBundle(ctx, b.write(t, fxDir))
	fxCheck(t, err)
	if got := strings.Join(fxProblems(v.Problems), "\n"); got != "files/db.txt: checksum mismatch (file corrupted in transit?)\n"+se.Error() || !v.Signed || v.Key != "" {
		t.Errorf("SHA256SUMS edited after signing, no allowed signers: %+v\n%s", v, got)
	}
}
