package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/bundle"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a bundle: signature, checksums, images, compose file",
		ArgsUsage: "BUNDLE",
		UsageText: "airpack verify out/shop-1.0.tar\n" +
			"airpack verify out/shop-1.0.tar.sha256   (a bundle split in parts)\n" +
			"airpack verify --allowed-signers allowed_signers [--identity NAME] out/shop-1.0.tar",
		Description: `Checks a bundle directory or archive (.tar, .tar.gz, .tar.zst) in one pass: every file against
SHA256SUMS, every image of the compose file present in airpack.json and in its archive with the
right digests, and no file outside the bundle referenced. Exits 0 when sound; otherwise prints
one line per problem and exits 1.

--allowed-signers FILE (an OpenSSH allowed signers file, ssh-keygen(1): a line per trusted key,
NAME namespaces="airpack" ssh-ed25519 AAAA...) checks the signature first, SHA256SUMS.sig:
a bundle whose signature is missing, does not match SHA256SUMS, or was made by a key FILE does
not list (for the namespace airpack, and for --identity NAME when given) is refused with one
line, exit 1, before anything else is checked. Without it, a signed bundle is said to be signed,
and a signature that does not match SHA256SUMS is a problem.

A bundle archive split in parts (pack --split-size) is verified as it is: BUNDLE is its parts
list (shop-1.0.tar.sha256), any of its parts (shop-1.0.tar.001), or the archive's name when only
the parts are there. Each part is checked against the list, a missing or damaged one named
(shop-1.0.tar.003: missing), and the archive the parts make is verified, read from the parts in
the same pass, never joined on disk.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "allowed-signers", Usage: "require a signature by a key of this OpenSSH allowed signers file", TakesFile: true},
			&cli.StringFlag{Name: "identity", Usage: "with --allowed-signers: the signer must be listed for this principal"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := oneArg(cmd, "BUNDLE")
			if err != nil {
				return err
			}
			var opts []bundle.VerifyOption
			file := cmd.String("allowed-signers")
			switch {
			case file != "":
				signers, err := bundle.LoadAllowedSigners(file)
				if err != nil {
					return err
				}
				opts = append(opts, bundle.WithAllowedSigners(signers, cmd.String("identity")))
			case cmd.IsSet("identity"):
				return errors.New("--identity needs --allowed-signers FILE: the file that lists the identity's key")
			}
			v, err := bundle.VerifyBundle(ctx, path, opts...)
			var se *bundle.SignatureError
			if errors.As(err, &se) {
				return cli.Exit(path+": "+se.Error(), 1)
			}
			if err != nil {
				return err
			}
			stdout, _ := writers(cmd)
			switch {
			case file != "":
				fmt.Fprintf(stdout, "%s: signature good: %s by %s (key %s)\n", path, bundle.SigFile, v.Signer, v.Key)
			case v.Key != "":
				fmt.Fprintf(stdout, "%s: signed (%s, key %s): check it with --allowed-signers FILE\n", path, bundle.SigFile, v.Key)
			}
			if len(v.Problems) > 0 {
				lines := make([]string, len(v.Problems))
				for i, p := range v.Problems {
					lines[i] = p.String()
				}
				return cli.Exit(fmt.Sprintf("%s\n%s: %d problems: the bundle is not sound", strings.Join(lines, "\n"), path, len(v.Problems)), 1)
			}
			m := v.Manifest
			parts := ""
			if v.Parts > 0 {
				parts = fmt.Sprintf(", %d parts", v.Parts)
			}
			upgrade := ""
			if m.Base != nil && len(m.Base.Layers) > 0 {
				// An upgrade bundle does not load alone: say so where a reviewer at the gap reads.
				upgrade = fmt.Sprintf("; an upgrade of %s %s: it loads only where %s-%s is loaded", m.Base.Name, m.Base.Version, m.Base.Name, m.Base.Version)
			}
			fmt.Fprintf(stdout, "%s: sound (%s %s, %d images, %s%s%s)\n", path, m.Name, m.Version, len(m.Images), m.Platform, parts, upgrade)
			return nil
		},
	}
}

func oneArg(cmd *cli.Command, what string) (string, error) {
	if cmd.Args().Len() != 1 {
		return "", errors.New("want exactly one " + what + " argument (see --help)")
	}
	return cmd.Args().First(), nil
}
