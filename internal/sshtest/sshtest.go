// Package sshtest runs the real OpenSSH ssh-keygen for the signature tests: keys made as users
// make them, signatures checked as targets check them. A missing ssh-keygen fails the test.
package sshtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Key is a key pair made by ssh-keygen.
type Key struct {
	// Private is the private key file; Public its public key line ("ssh-ed25519 AAAA… comment").
	Private string
	Public  string
	// Fingerprint is the public key's SHA256:… fingerprint.
	Fingerprint string
}

// NewKey makes a key of type typ ("ed25519", "ecdsa", …) named name in dir, protected by
// passphrase when it is not "".
func NewKey(t testing.TB, dir, typ, name, passphrase string) Key {
	t.Helper()
	k := Key{Private: filepath.Join(dir, name)}
	Run(t, nil, "-q", "-t", typ, "-N", passphrase, "-C", name, "-f", k.Private)
	pub, err := os.ReadFile(k.Private + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k.Public = strings.TrimSpace(string(pub))
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	k.Fingerprint = ssh.FingerprintSHA256(pk)
	return k
}

// Run runs ssh-keygen with args and stdin and returns its combined output; failing is fatal.
func Run(t testing.TB, stdin []byte, args ...string) string {
	t.Helper()
	out, err := run(t, stdin, args...)
	if err != nil {
		t.Fatalf("ssh-keygen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func run(t testing.TB, stdin []byte, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatalf("ssh-keygen (openssh-client) is needed by this test: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	// Keys come from files, never from an agent.
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Verify runs `ssh-keygen -Y verify` as a target would: the signature sigFile of message, for
// identity and namespace "airpack", by a key of the allowed signers file. It returns the output
// and whether ssh-keygen accepted the signature.
func Verify(t testing.TB, allowedSigners, identity, sigFile string, message []byte) (string, bool) {
	t.Helper()
	out, err := run(t, message, "-Y", "verify", "-f", allowedSigners, "-I", identity, "-n", "airpack", "-s", sigFile)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("ssh-keygen -Y verify: %v", err)
		}
	}
	return out, err == nil
}
