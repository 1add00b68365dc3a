package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/ram"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a bundle's services, images, layers and sizes, or a RAM package's components",
		ArgsUsage: "BUNDLE_OR_RAM_PACKAGE",
		Description: `A bundle (directory or archive): its services, images, layers and sizes, from airpack.json.
A bundle archive split in parts (pack --split-size) is read from its parts: name its parts list
(shop-1.0.tar.sha256), a part, or the archive when only its parts are there.

A Rainbond / Kato application package (a -ram.tar.gz, or a Rainbond 5.2 .zip), recognised by its
content: the template; each component (service key, share_image and whether the package holds
it, the name other components reach it by, readiness probe, cmd, image, replicas, memory, cpu,
ports, environment, dependencies, volumes); each image of component-images.tar once, with its
names; the problems (the import fails or the application breaks) and, apart, the notes (what the
platform repairs or ignores). It is read as a stream; nothing is extracted.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for machines"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := oneArg(cmd, "BUNDLE_OR_RAM_PACKAGE")
			if err != nil {
				return err
			}
			stdout, _ := writers(cmd)
			var report interface {
				WriteText(w io.Writer) error
			}
			ps, err := bundle.FindParts(path)
			if err != nil {
				return err
			}
			if st, err := os.Stat(path); err == nil && !st.IsDir() && ps == nil {
				r, err := ram.InspectPackage(ctx, path, ram.ReadOptions{})
				switch {
				case err == nil:
					report = r
				case !errors.Is(err, ram.ErrNotPackage):
					return err
				}
			}
			if report == nil {
				m, err := bundle.ReadManifest(ctx, path)
				if err != nil {
					return err
				}
				r := bundle.NewReport(m)
				report = r
			}
			if cmd.Bool("json") {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(report)
			}
			if err := report.WriteText(stdout); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			return nil
		},
	}
}
