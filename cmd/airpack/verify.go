package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/bundle"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a bundle: checksums, images, compose file",
		ArgsUsage: "BUNDLE",
		Description: `Checks a bundle directory or archive (.tar, .tar.gz, .tar.zst) in one pass: every file against
SHA256SUMS, every image of the compose file present in airpack.json and in its archive with the
right digests, and no file outside the bundle referenced. Exits 0 when sound; otherwise prints
one line per problem and exits 1.`,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := oneArg(cmd, "BUNDLE")
			if err != nil {
				return err
			}
			m, problems, err := bundle.Verify(ctx, path)
			if err != nil {
				return err
			}
			if len(problems) > 0 {
				lines := make([]string, len(problems))
				for i, p := range problems {
					lines[i] = p.String()
				}
				return cli.Exit(fmt.Sprintf("%s\n%s: %d problems: the bundle is not sound", strings.Join(lines, "\n"), path, len(problems)), 1)
			}
			fmt.Fprintf(os.Stdout, "%s: sound (%s %s, %d images, %s)\n", path, m.Name, m.Version, len(m.Images), m.Platform)
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
