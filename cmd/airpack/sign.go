package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/crypto/ssh"

	"github.com/airpack/airpack/bundle"
)

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign an existing bundle: SHA256SUMS.sig, an SSH signature the target checks",
		ArgsUsage: "BUNDLE",
		UsageText: "airpack sign out/shop-1.0.tar --key ~/.ssh/id_ed25519",
		Description: `Signs a bundle directory or archive (.tar, .tar.gz, .tar.zst) in place with an OpenSSH ed25519
private key (ssh-keygen -t ed25519): SHA256SUMS.sig, an SSH signature of SHA256SUMS for the
namespace "airpack", replacing any signature the bundle had. airpack pack --sign-key does the
same while packing.

The bundle is verified first (as airpack verify does): one that is not sound is not signed. An
archive is rewritten beside itself, every member unchanged and the signature added after
SHA256SUMS, and renamed over the original when complete: an error or Ctrl-C leaves the bundle as
it was. A key with a passphrase takes it from $AIRPACK_SIGN_PASSPHRASE, else asks on the terminal.

The target checks the signature against an OpenSSH allowed signers file, a line per trusted key
(NAME namespaces="airpack" ssh-ed25519 AAAA...): airpack verify --allowed-signers FILE, or
without airpack: ssh-keygen -Y verify -f FILE -I NAME -n airpack -s SHA256SUMS.sig < SHA256SUMS`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the OpenSSH ed25519 private key file to sign with (required)", TakesFile: true},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := oneArg(cmd, "BUNDLE")
			if err != nil {
				return err
			}
			signer, err := signingKey(cmd, "key")
			if err != nil {
				return err
			}
			if signer == nil {
				return errors.New("--key KEY is required: the OpenSSH ed25519 private key to sign with (ssh-keygen -t ed25519 makes one)")
			}
			v, err := bundle.SignBundle(ctx, path, signer)
			if err != nil {
				return err
			}
			if cmd.Bool("quiet") {
				return nil
			}
			stdout, _ := writers(cmd)
			replaced := ""
			if v.Signed {
				replaced = " (replacing the previous signature)"
			}
			fmt.Fprintf(stdout, "signed %s (%s %s) with key %s%s\n", path, v.Manifest.Name, v.Manifest.Version, ssh.FingerprintSHA256(signer.PublicKey()), replaced)
			fmt.Fprintf(stdout, "targets trust it with this allowed signers line: NAME namespaces=\"%s\" %s\n", bundle.SigNamespace, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))))
			return nil
		},
	}
}

// signingKey loads the key file the flag names, nil when it names none.
func signingKey(cmd *cli.Command, flag string) (ssh.Signer, error) {
	path := cmd.String(flag)
	if path == "" {
		return nil, nil
	}
	return bundle.LoadSigningKey(path)
}

// signedBy tells which key signed a bundle, "" for none.
func signedBy(signer ssh.Signer) string {
	if signer == nil {
		return ""
	}
	return ", signed with key " + ssh.FingerprintSHA256(signer.PublicKey())
}
