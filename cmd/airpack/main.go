// Command airpack packs Docker Compose applications into self-contained bundles for hosts
// with no network access: `./load.sh && docker compose up -d` is all the target needs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// memoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT sets one: the garbage
// collector keeps the heap under it (the engine source churns through block buffers of its
// parallel gzip), so airpack's peak memory stays far below 100 MiB whatever the image sizes.
const memoryLimit = 48 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app().Run(ctx, os.Args); err != nil {
		// One line per problem, each prefixed, so a user sees every problem at once.
		for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
			fmt.Fprintln(os.Stderr, "airpack: "+line)
		}
		if ctx.Err() != nil {
			os.Exit(130)
		}
		if ec, ok := err.(cli.ExitCoder); ok {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

func app() *cli.Command {
	return &cli.Command{
		Name:    "airpack",
		Usage:   "pack Docker Compose applications for hosts with no network",
		Version: version,
		Description: `airpack turns a Compose project into one bundle: the rewritten compose file, every image
as a docker-load-able archive, and a load.sh. On the target host, with only Docker:

   tar xf shop-1.0.tar && cd shop-1.0 && ./load.sh && docker compose up -d`,
		Commands: []*cli.Command{packCommand(), signCommand(), verifyCommand(), inspectCommand(), diffCommand(), ramCommand()},
		// Errors are printed once, by main.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
}
