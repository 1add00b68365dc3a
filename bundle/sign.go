package bundle

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// The rules of a bundle's signature, all in this file: SigFile is an SSH signature (the SSHSIG
// format of `ssh-keygen -Y sign`, armored) over the bundle's SumsFile, made for the namespace
// SigNamespace with sha512, by an OpenSSH ed25519 key. On a target with no airpack,
//
//	ssh-keygen -Y verify -f allowed_signers -I NAME -n airpack -s SHA256SUMS.sig < SHA256SUMS
//
// checks it; SHA256SUMS then protects every other file.
const (
	// SigNamespace is the SSHSIG namespace of bundle signatures: a signature made for anything
	// else (git commits, files) is not taken for a bundle's.
	SigNamespace = "airpack"
	// PassphraseEnv holds the passphrase of a protected signing key when no one can type it.
	PassphraseEnv = "AIRPACK_SIGN_PASSPHRASE"

	sigHash    = sshsig.HashSHA512
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
)

// stdinIsTerminal says whether a passphrase can be asked for; tests replace it.
var stdinIsTerminal = func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// LoadSigningKey reads the OpenSSH ed25519 private key file path (as `ssh-keygen -t ed25519`
// writes it). The passphrase of a protected key comes from $AIRPACK_SIGN_PASSPHRASE when set,
// else from the terminal when stdin is one; otherwise it is an error saying so.
func LoadSigningKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("signing key %s does not exist: make one with ssh-keygen -t ed25519 -f %s", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	key, err := ssh.ParseRawPrivateKey(b)
	if _, ok := err.(*ssh.PassphraseMissingError); ok {
		pass, perr := passphrase(path)
		if perr != nil {
			return nil, perr
		}
		key, err = ssh.ParseRawPrivateKeyWithPassphrase(b, pass)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("signing key %s: wrong passphrase", path)
		}
	}
	if err != nil {
		if _, _, _, _, perr := ssh.ParseAuthorizedKey(b); perr == nil {
			return nil, fmt.Errorf("signing key %s is a public key: give the private key (the file without .pub)", path)
		}
		return nil, fmt.Errorf("signing key %s is not an OpenSSH private key (%v): make one with ssh-keygen -t ed25519", path, err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	if t := signer.PublicKey().Type(); t != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("signing key %s is an %s key: airpack signs with ed25519 keys only; make one with ssh-keygen -t ed25519", path, t)
	}
	return signer, nil
}

func passphrase(path string) ([]byte, error) {
	if p := os.Getenv(PassphraseEnv); p != "" {
		return []byte(p), nil
	}
	if !stdinIsTerminal() {
		return nil, fmt.Errorf("signing key %s is protected by a passphrase and there is no terminal to type it: set %s", path, PassphraseEnv)
	}
	fmt.Fprintf(os.Stderr, "Enter passphrase for %s: ", path)
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("read the passphrase of %s: %w", path, err)
	}
	return p, nil
}

// Sign signs sums, a bundle's SHA256SUMS, and returns the content of its SHA256SUMS.sig,
// armored as ssh-keygen writes it.
func Sign(sums []byte, signer ssh.Signer) ([]byte, error) {
	s, err := sshsig.Sign(bytes.NewReader(sums), signer, sigHash, SigNamespace)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", SumsFile, err)
	}
	// ssh-keygen's armor: base64 in lines of 70 characters (sshsig.Armor's PEM uses 64).
	b64 := base64.StdEncoding.EncodeToString(s.Marshal())
	var b strings.Builder
	b.WriteString(armorBegin + "\n")
	for len(b64) > 70 {
		b.WriteString(b64[:70] + "\n")
		b64 = b64[70:]
	}
	b.WriteString(b64 + "\n" + armorEnd + "\n")
	return []byte(b.String()), nil
}

// SignatureReason is why a bundle's signature was refused.
type SignatureReason int

const (
	// SigMissing: the bundle has no SHA256SUMS.sig.
	SigMissing SignatureReason = iota + 1
	// SigMalformed: SHA256SUMS.sig is not an SSH signature.
	SigMalformed
	// SigWrongNamespace: the signature was made for another namespace than SigNamespace.
	SigWrongNamespace
	// SigBadSignature: the signature does not match SHA256SUMS, changed since it was signed.
	SigBadSignature
	// SigUnknownKey: the signing key is not in the allowed signers file.
	SigUnknownKey
	// SigIdentityNotAllowed: the allowed signers file lists the key, but not for the identity
	// asked for.
	SigIdentityNotAllowed
	// SigNamespaceNotAllowed: the allowed signers file lists the key for other namespaces only.
	SigNamespaceNotAllowed
	// SigKeyNotValid: the allowed signers file lists the key as valid at other times only
	// (valid-after, valid-before).
	SigKeyNotValid
)

// ErrNoSignature is matched (errors.Is) by the *SignatureError of a bundle with no signature.
var ErrNoSignature = errors.New("the bundle is not signed")

// SignatureError is a bundle signature refused; Reason says why, and the message what to do.
type SignatureError struct {
	Reason SignatureReason
	// Key is the signing key's fingerprint (SHA256:…), once the signature parsed.
	Key string
	// Namespace is the signature's namespace (SigWrongNamespace).
	Namespace string
	// AllowedSigners is the allowed signers file, Identity the identity asked for ("" for any).
	AllowedSigners string
	Identity       string
	// Line and Principals are the allowed signers line that lists Key, when one does; Detail says
	// what of it does not hold (its namespaces, its validity).
	Line       int
	Principals string
	Detail     string
	// Err is the parse error of SigMalformed.
	Err error
}

func (e *SignatureError) Error() string {
	var msg string
	switch e.Reason {
	case SigMissing:
		msg = "missing: the bundle is not signed; ask its sender for a signed one (airpack pack --sign-key, or airpack sign)"
	case SigMalformed:
		msg = fmt.Sprintf("not an SSH signature (%v): the file is damaged; ask the sender to sign the bundle again", e.Err)
	case SigWrongNamespace:
		msg = fmt.Sprintf("made for namespace %q, not %q: not a bundle signature; sign with airpack sign (or ssh-keygen -Y sign -n %s)", e.Namespace, SigNamespace, SigNamespace)
	case SigBadSignature:
		msg = fmt.Sprintf("does not match %s: %s changed since it was signed; do not use this bundle, get a fresh copy from its sender", SumsFile, SumsFile)
	case SigUnknownKey:
		msg = fmt.Sprintf("signed by key %s, which %s does not list: not a signer you trust; add the key to %s only if you do", e.Key, e.AllowedSigners, e.AllowedSigners)
	case SigIdentityNotAllowed:
		msg = fmt.Sprintf("signed by key %s, which %s line %d lists for %q, not for identity %q: check --identity", e.Key, e.AllowedSigners, e.Line, e.Principals, e.Identity)
	case SigNamespaceNotAllowed:
		msg = fmt.Sprintf("signed by key %s, which %s line %d allows for namespaces %q only: add %s to its namespaces= option to trust it for bundles", e.Key, e.AllowedSigners, e.Line, e.Detail, SigNamespace)
	case SigKeyNotValid:
		msg = fmt.Sprintf("signed by key %s, which %s line %d trusts %s only: not now; ask the sender to sign with a current key, or update the line", e.Key, e.AllowedSigners, e.Line, e.Detail)
	default:
		msg = "refused"
	}
	return SigFile + ": " + msg
}

func (e *SignatureError) Unwrap() error { return e.Err }

func (e *SignatureError) Is(target error) bool {
	return target == ErrNoSignature && e.Reason == SigMissing
}

// CheckSignature checks that sig, a bundle's SHA256SUMS.sig (nil when it has none), is a
// signature of sums for SigNamespace by the key it names, and returns that key. It says nothing
// of whether the key is to be trusted: that is VerifySignature's job.
func CheckSignature(sums, sig []byte) (ssh.PublicKey, error) {
	if sig == nil {
		return nil, &SignatureError{Reason: SigMissing}
	}
	s, err := sshsig.Unarmor(bytes.TrimSpace(sig))
	if err == nil {
		err = s.HashAlgorithm.Available()
	}
	if err != nil {
		return nil, &SignatureError{Reason: SigMalformed, Err: err}
	}
	key := ssh.FingerprintSHA256(s.PublicKey)
	if s.Namespace != SigNamespace {
		return nil, &SignatureError{Reason: SigWrongNamespace, Key: key, Namespace: s.Namespace}
	}
	if err := sshsig.Verify(bytes.NewReader(sums), s, s.PublicKey, s.HashAlgorithm, SigNamespace); err != nil {
		return nil, &SignatureError{Reason: SigBadSignature, Key: key}
	}
	return s.PublicKey, nil
}

// VerifySignature checks sig as CheckSignature does, then that signers lists its key for the
// namespace SigNamespace, now, and, when identity is not "", for identity: as
// `ssh-keygen -Y verify -n airpack -I identity` would. It returns the principals of the allowed
// signers line that matched. Every refusal is a *SignatureError.
func VerifySignature(sums, sig []byte, signers *AllowedSigners, identity string) (string, error) {
	if signers == nil {
		return "", errors.New("no allowed signers to check the signature against")
	}
	key, err := CheckSignature(sums, sig)
	if err != nil {
		return "", err
	}
	e := &SignatureError{Reason: SigUnknownKey, Key: ssh.FingerprintSHA256(key), AllowedSigners: signers.File, Identity: identity}
	now := time.Now()
	for _, s := range signers.entries {
		if !bytes.Equal(s.key.Marshal(), key.Marshal()) {
			continue
		}
		// Keep the refusal of the line that came closest.
		refuse := func(r SignatureReason, detail string) {
			if r > e.Reason {
				e.Reason, e.Line, e.Principals, e.Detail = r, s.line, s.principals, detail
			}
		}
		switch {
		case identity != "" && !matchPatternList(identity, s.principals):
			refuse(SigIdentityNotAllowed, "")
		case s.namespaces != nil && !matchPatternList(SigNamespace, *s.namespaces):
			refuse(SigNamespaceNotAllowed, *s.namespaces)
		case !s.validAfter.IsZero() && now.Before(s.validAfter) || !s.validBefore.IsZero() && now.After(s.validBefore):
			refuse(SigKeyNotValid, s.validity())
		default:
			return s.principals, nil
		}
	}
	return "", e
}

// AllowedSigners is an OpenSSH allowed signers file (ssh-keygen(1), ALLOWED SIGNERS): one line
// per trusted key, "principals [options] keytype base64-key [comment]". Principals are a
// comma-separated list of patterns (* and ?, ! to exclude); the options honoured are
// namespaces="list", valid-after="time" and valid-before="time". cert-authority lines trust
// certificates, which bundle signatures never are: they are skipped.
type AllowedSigners struct {
	// File names the file in messages.
	File    string
	entries []allowedSigner
}

type allowedSigner struct {
	line                    int
	principals              string
	key                     ssh.PublicKey
	namespaces              *string
	validAfter, validBefore time.Time
}

func (s allowedSigner) validity() string {
	const layout = "2006-01-02 15:04:05 MST"
	switch {
	case s.validBefore.IsZero():
		return "from " + s.validAfter.Format(layout)
	case s.validAfter.IsZero():
		return "until " + s.validBefore.Format(layout)
	}
	return "from " + s.validAfter.Format(layout) + " until " + s.validBefore.Format(layout)
}

// LoadAllowedSigners reads the allowed signers file path.
func LoadAllowedSigners(path string) (*AllowedSigners, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("allowed signers: %w", err)
	}
	return ParseAllowedSigners(path, b)
}

// ParseAllowedSigners parses the content of an allowed signers file, name naming it in messages.
// Any line it cannot read is an error: a trust file is not guessed at.
func ParseAllowedSigners(name string, data []byte) (*AllowedSigners, error) {
	a := &AllowedSigners{File: name}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, skip, err := parseAllowedSigner(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %v; the format is: principals [options] keytype base64-key (ssh-keygen(1), ALLOWED SIGNERS)", name, n, err)
		}
		if !skip {
			s.line = n
			a.entries = append(a.entries, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(a.entries) == 0 {
		return nil, fmt.Errorf("%s lists no key: add a line \"NAME ssh-ed25519 AAAA…\" per signer you trust", name)
	}
	return a, nil
}

// parseAllowedSigner parses one line; skip is set for a cert-authority line.
func parseAllowedSigner(line string) (s allowedSigner, skip bool, err error) {
	rest := ""
	if line[0] == '"' {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return s, false, errors.New("unmatched quote in the principals")
		}
		s.principals, rest = line[1:end+1], line[end+2:]
	} else {
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return s, false, errors.New("no key after the principals")
		}
		s.principals, rest = line[:i], line[i:]
	}
	rest = strings.TrimSpace(rest)
	key, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return s, false, errors.New("no public key")
	}
	s.key = key
	for _, o := range opts {
		name, val, hasVal := strings.Cut(o, "=")
		if hasVal {
			if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
				return s, false, fmt.Errorf("option %s: the value must be in double quotes", name)
			}
			val = val[1 : len(val)-1]
		}
		switch strings.ToLower(name) {
		case "cert-authority":
			skip = true
		case "namespaces":
			s.namespaces = &val
		case "valid-after":
			s.validAfter, err = parseSignerTime(val)
		case "valid-before":
			s.validBefore, err = parseSignerTime(val)
		default:
			return s, false, fmt.Errorf("unknown option %q (known: cert-authority, namespaces, valid-after, valid-before)", name)
		}
		if err != nil {
			return s, false, fmt.Errorf("option %s: %v", name, err)
		}
	}
	return s, skip, nil
}

// parseSignerTime reads an allowed signers time as ssh-keygen does: YYYYMMDD[HHMM[SS]], in UTC
// with a Z suffix, else in local time.
func parseSignerTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		v, loc = v[:len(v)-1], time.UTC
	}
	layout := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}[len(v)]
	t, err := time.ParseInLocation(layout, v, loc)
	if layout == "" || err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time YYYYMMDD[HHMM[SS]][Z]", v)
	}
	return t, nil
}

// matchPatternList is OpenSSH's match_pattern_list: s matches one of the comma-separated
// patterns and none of those negated with "!".
func matchPatternList(s, list string) bool {
	found := false
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		negated := strings.HasPrefix(p, "!")
		if matchPattern(s, strings.TrimPrefix(p, "!")) {
			if negated {
				return false
			}
			found = true
		}
	}
	return found
}

// matchPattern matches s against an OpenSSH pattern: * is any string, ? any byte.
func matchPattern(s, p string) bool {
	for p != "" {
		switch p[0] {
		case '*':
			p = strings.TrimLeft(p, "*")
			for i := 0; i <= len(s); i++ {
				if matchPattern(s[i:], p) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		s, p = s[1:], p[1:]
	}
	return s == ""
}
