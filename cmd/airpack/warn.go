package main

import (
	"fmt"

	"github.com/urfave/cli/v3"
)

// quietUsage is the --quiet flag's usage, the same for every command: warnings say where the
// output's meaning differs from the input's, so --quiet never hides them.
const quietUsage = "print nothing but warnings and errors"

// warningPrefix starts every warning line, whatever the command.
const warningPrefix = "airpack: warning: "

// printWarnings prints each warning on the command's error stream, with --quiet too. A
// warning's further lines are printed as they are (indented by whoever wrote them).
func printWarnings(cmd *cli.Command, warnings []string) {
	_, stderr := writers(cmd)
	for _, w := range warnings {
		fmt.Fprintln(stderr, warningPrefix+w)
	}
}

// refuseEmpty refuses each of flags set explicitly to "": the command would take the default
// silently, which is not what the user asked for.
func refuseEmpty(cmd *cli.Command, flags ...string) error {
	for _, f := range flags {
		if cmd.IsSet(f) && cmd.String(f) == "" {
			return fmt.Errorf("--%s is empty: give a value, or leave the flag out for the default", f)
		}
	}
	return nil
}
