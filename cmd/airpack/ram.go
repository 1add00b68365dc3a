package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/pack"
	"github.com/airpack/airpack/ram"
)

func ramCommand() *cli.Command {
	return &cli.Command{
		Name:      "ram",
		Usage:     "export a bundle or a Compose project as a Rainbond / Kato application package (RAM)",
		ArgsUsage: "BUNDLE_OR_COMPOSE_PROJECT",
		UsageText: "airpack ram out/shop-1.0.tar [-o shop-1.0-ram.tar.gz] [--flavor kato]\n" +
			"airpack ram [-f docker-compose.yaml ...] --version 1.0",
		Description: `Writes a <name>-<version>-ram.tar.gz the Rainbond or Kato console imports (Application
Market, Offline Import): one directory holding metadata.json, the application template, and
component-images.tar, every component's image under its share_image (a name of its own,
goodrain.me/<name>/<service_id>:<version>, which the importer's re-tag leaves unique) and the
name it was shipped as.

The argument is a bundle (a directory or a .tar, .tar.gz, .tar.zst archive: verified first, an
unsound one refused), or a Compose project directory or compose file (packed into a temporary
bundle first, as airpack pack does: --version is required, images come from --source; pack's
warnings about a bundle's target host are left out, a package has none). Without an argument:
the current directory, or the project -f names.

Each service becomes a component whose ids derive from the name and the service name, so the
same input always gives the same template. What the compose file says that RAM cannot express
is printed as one warning per service and key. A bundle made from a RAM package (airpack pack
--ram) carries the template in x-ram fields: everything it holds comes back, updated with what
the compose file changed.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "package file, a gzip-compressed tar: its name must end in .tar.gz or .tgz (default: <name>-<version>-ram.tar.gz); a name containing \"plugin\" is refused (the importer would skip its images)"},
			&cli.StringFlag{Name: "flavor", Value: string(ram.Rainbond), Usage: "platform: rainbond or kato (the same format)"},
			&cli.StringFlag{Name: "name", Usage: "group_name (default: the x-ram group_name of a bundle made from a RAM package, else the bundle or project name)"},
			&cli.StringFlag{Name: "version", Usage: "group_version (default: the bundle's version; required for a Compose project)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: quietUsage},
		}, projectFlags("Compose project: ")...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if _, err := pack.OutsidePaths(cmd.StringSlice("allow-outside")); err != nil {
				return err
			}
			if cmd.Args().Len() > 1 {
				return fmt.Errorf("want at most one BUNDLE_OR_COMPOSE_PROJECT argument (got %q)", cmd.Args().Slice())
			}
			if err := refuseEmpty(cmd, "name", "version", "output", "flavor"); err != nil {
				return err
			}
			stdout, _ := writers(cmd)
			log := newLogger(os.Stderr, cmd.Bool("quiet"))
			res, err := pack.ExportRAM(ctx, pack.ExportOptions{
				Input:        cmd.Args().First(),
				Output:       cmd.String("output"),
				Flavor:       ram.Flavor(cmd.String("flavor")),
				Name:         cmd.String("name"),
				Version:      cmd.String("version"),
				Compose:      composeOptions(cmd),
				Platform:     cmd.String("platform"),
				Sources:      cmd.StringSlice("source"),
				Insecure:     cmd.StringSlice("insecure-registry"),
				Jobs:         cmd.Int("jobs"),
				AllowOutside: cmd.StringSlice("allow-outside"),
				Force:        cmd.Bool("force"),
				Progress:     log.progress(),
				Log:          log.logf,
				CreatedBy:    "airpack " + version,
			})
			log.finish(err != nil)
			if err != nil {
				return err
			}
			printWarnings(cmd, res.Warnings)
			if !cmd.Bool("quiet") {
				n := len(res.Template.Apps)
				fmt.Fprintf(stdout, "wrote %s (%d %s)\n", res.Output, n, plural(n, "component"))
			}
			return nil
		},
	}
}

// writers are the root command's output streams (tests set them), else stdout and stderr.
func writers(cmd *cli.Command) (io.Writer, io.Writer) {
	out, errw := io.Writer(os.Stdout), io.Writer(os.Stderr)
	if r := cmd.Root(); r != nil {
		if r.Writer != nil {
			out = r.Writer
		}
		if r.ErrWriter != nil {
			errw = r.ErrWriter
		}
	}
	return out, errw
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
