package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/bundle"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two bundles: services, images, layers, and what an upgrade bundle would carry",
		ArgsUsage: "OLD NEW",
		UsageText: "airpack diff out/shop-1.0.tar out/shop-1.1.tar\n" +
			"airpack diff --json shop-1.0/airpack.json out/shop-1.1.tar.zst",
		Description: `OLD and NEW are each a bundle directory, a bundle archive (.tar, .tar.gz, .tar.zst) or an
airpack.json file. Only the small files are read (airpack.json, the compose file, .env); image
archives are never opened, and nothing is extracted.

Services: added, removed, and changed, when the image a service runs is another reference or
another digest, or, when both inputs are bundles with their compose files, when its definition
changed (compared as written, normalised, key order ignored; the keys that changed are named:
image, environment, ports, volumes, command, ...) or a .env variable it uses changed (named, no
value shown). Images: paired by reference (else by repository: shop/web:1.0 and shop/web:1.1),
old and new digests, layers added and removed with their sizes. A different name or platform is
a warning: an in-place upgrade needs the same project name and platform.

Upgrade: what 'airpack pack --base OLD' would write for NEW, by the same rule (bundle.PlanUpgrade):
the layers it carries (NEW's layers OLD does not have) and those it reuses, which the target
must hold (OLD loaded first); its image archive and bundle estimated as NEW's less the reused
layers (so every image's manifest and config, and NEW's other files, count), against NEW's size.

Exits 0 whether or not the bundles differ; 1, with one line naming the file, when an input
cannot be read. --json prints the same as JSON (docs/bundle-format.md, "airpack diff").`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for machines"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 2 {
				return errors.New("want two arguments, OLD and NEW (see --help)")
			}
			old, err := bundle.ReadDiffSide(ctx, cmd.Args().Get(0))
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			new, err := bundle.ReadDiffSide(ctx, cmd.Args().Get(1))
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			d := bundle.NewDiff(old, new)
			stdout, _ := writers(cmd)
			if cmd.Bool("json") {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			if err := d.WriteText(stdout); err != nil {
				return fmt.Errorf("write diff: %w", err)
			}
			return nil
		},
	}
}
