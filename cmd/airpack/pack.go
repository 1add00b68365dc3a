package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/pack"
)

func packCommand() *cli.Command {
	return &cli.Command{
		Name:      "pack",
		Usage:     "pack a Compose project into a bundle",
		UsageText: "airpack pack [-f docker-compose.yaml ...] --version 1.0 -o out/shop-1.0.tar",
		Description: `Loads the project like docker compose (several -f merged, --profile, .env and --env-file,
interpolation, extends, include), resolves every service's image before writing anything, and
writes the bundle under a temporary name, renamed into place when complete.

-o ending in .tar, .tar.gz or .tar.zst writes one archive whose top directory is <name>-<version>/;
any other path writes the bundle directory itself.

Images come from --source, tried in order: "auto" (default) is a registry (docker config
credentials; plain HTTP for loopback and --insecure-registry hosts), then the local Docker
engine, which must hold images of services with build: (run docker compose build first).
"oci:DIR" reads an OCI image layout directory.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "compose file (repeat to merge); default: compose.yaml or docker-compose.yaml"},
			&cli.StringFlag{Name: "project-directory", Usage: "project directory (default: the first compose file's directory)"},
			&cli.StringSliceFlag{Name: "profile", Usage: "enable a compose profile (repeatable)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "environment file for interpolation (default: the project's .env)"},
			&cli.StringFlag{Name: "name", Usage: "bundle name (default: the compose project name)"},
			&cli.StringFlag{Name: "version", Usage: "bundle version, e.g. 1.0 (required)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output: .tar, .tar.gz, .tar.zst or a directory (default: <name>-<version>.tar)"},
			&cli.StringFlag{Name: "platform", Usage: "os/arch[/variant] to pack (default: each service's platform:, else linux/amd64)"},
			&cli.StringSliceFlag{Name: "source", Usage: "image source: auto, registry, engine or oci:DIR (repeatable, tried in order)"},
			&cli.StringSliceFlag{Name: "insecure-registry", Usage: "reach this registry HOST[:PORT] over plain HTTP"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 4, Usage: "blobs fetched at once"},
			&cli.BoolFlag{Name: "allow-outside", Usage: "ship bind-mounted files that are outside the project directory"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Present() {
				return fmt.Errorf("pack takes no arguments (got %q): use -f for compose files", cmd.Args().Slice())
			}
			log := newLogger(os.Stderr, cmd.Bool("quiet"))
			opts := pack.Options{
				Compose: compose.LoadOptions{
					Files:    cmd.StringSlice("file"),
					WorkDir:  cmd.String("project-directory"),
					Profiles: cmd.StringSlice("profile"),
					EnvFiles: cmd.StringSlice("env-file"),
				},
				Name:         cmd.String("name"),
				Version:      cmd.String("version"),
				Output:       cmd.String("output"),
				Platform:     cmd.String("platform"),
				Sources:      cmd.StringSlice("source"),
				Insecure:     cmd.StringSlice("insecure-registry"),
				Jobs:         cmd.Int("jobs"),
				AllowOutside: cmd.Bool("allow-outside"),
				Force:        cmd.Bool("force"),
				Progress:     log.progress(),
				Log:          log.logf,
				CreatedBy:    "airpack " + version,
			}
			res, err := pack.Pack(ctx, opts)
			log.finish(err != nil)
			if err != nil {
				return err
			}
			m := res.Manifest
			log.logf("packed %s %s: %d images for %s in %s", m.Name, m.Version, len(m.Images), m.Platform, res.Output)
			log.logf("next: airpack verify %s; on the target: ./load.sh && docker compose up -d", res.Output)
			return nil
		},
	}
}
