package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/airpack/airpack/bundle"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a bundle's services, images, layers and sizes",
		ArgsUsage: "BUNDLE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for machines"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := oneArg(cmd, "BUNDLE")
			if err != nil {
				return err
			}
			m, err := bundle.ReadManifest(ctx, path)
			if err != nil {
				return err
			}
			r := bundle.NewReport(m)
			if cmd.Bool("json") {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return r.WriteText(os.Stdout)
		},
	}
}
