package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"
	"golang.org/x/crypto/ssh"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
	"github.com/airpack/airpack/pack"
)

func packCommand() *cli.Command {
	return &cli.Command{
		Name:  "pack",
		Usage: "pack a Compose project into a bundle",
		UsageText: "airpack pack [-f docker-compose.yaml ...] --version 1.0 -o out/shop-1.0.tar\n" +
			"airpack pack --ram app-delivery-1.0-ram.tar.gz [-o out/app-delivery-1.0.tar]\n" +
			"airpack pack --version 1.1 --base out/shop-1.0.tar -o out/shop-1.1.tar",
		Description: `Loads the project like docker compose (several -f merged, --profile, .env and --env-file,
interpolation, extends, include), resolves every service's image before writing anything, and
writes the bundle under a temporary name, renamed into place when complete.

-o ending in .tar, .tar.gz or .tar.zst writes one archive whose top directory is <name>-<version>/;
any other path writes the bundle directory itself.

Images come from --source, tried in order: "auto" (default) is a registry (docker config
credentials; plain HTTP for loopback and --insecure-registry hosts), then the local Docker
engine, which must hold images of services with build: (run docker compose build first, or
pass --build). "oci:DIR" reads an OCI image layout directory.

--build first builds the active services with build: through the Compose CLI, as docker
compose up --build does: docker compose build with the project's -f files, --project-directory,
project name, --profile and --env-file, in this environment (which interpolates the compose
files for the build as for airpack), its output on stderr. The images just built are then
packed from the engine (DOCKER_HOST, else the default socket, whatever the docker context):
"<project>-<service>", or the service's image:. Services without platform: are built for the
bundle's platform (DOCKER_DEFAULT_PLATFORM, unless set). Needs the engine and the compose plugin.

--ram FILE packs a Rainbond / Kato application template package instead of a Compose project:
a <name>-<version>-ram.tar.gz (Rainbond 5.3+, Kato) or a Rainbond 5.2 .zip. Each component
becomes a service; its images come from the package itself (no registry, no engine). Name and
version default to the template's group_name and group_version. Values the template leaves to
the platform ("**None**") are generated once and written to the bundle's .env, shared by the
component and everything depending on it. --max-size (default 20GiB) stops reading a package
that expands past it.

--max-archive-size SIZE spreads the images over several image archives, images/part-1.tar,
part-2.tar, …, each at most SIZE where possible (whole images, in order; an image larger than
SIZE gets an archive of its own, with a warning), each layer in the first archive that needs it.
load.sh loads them one after the other, in order, for targets where one large docker load is a
problem. Without it, or when everything fits in SIZE, the images are in one images/images.tar.

--base BASE makes an upgrade bundle of an earlier bundle of the same application (a directory,
an archive, or its airpack.json): the image archive leaves out the layers BASE has, airpack.json
records BASE, and load.sh first checks BASE's images are loaded. Works with --ram too, where
the values BASE generated for "**None**" are kept: read from BASE's .env (give the bundle, not
its airpack.json, which has none).

--sign-key KEY signs the bundle with an OpenSSH ed25519 private key (ssh-keygen -t ed25519):
SHA256SUMS.sig, an SSH signature of SHA256SUMS for the namespace "airpack", which targets check
with airpack verify --allowed-signers or ssh-keygen -Y verify. A key with a passphrase takes it
from $AIRPACK_SIGN_PASSPHRASE, else asks on the terminal. The key is read before anything else.

--split-size SIZE (e.g. 4G, 700M, 4.7GB, 2GiB; K/M/G = 1000^n, KiB/MiB/GiB = 1024^n) writes the
archive in parts for removable media: OUT.001, OUT.002, … (each SIZE bytes but the last; more
digits past 999 parts) and OUT.sha256, their checksums in sha256sum's format. On the target,
sha256sum -c OUT.sha256 checks them and cat OUT.[0-9]* > OUT joins them; airpack verify and
inspect read the parts as they are. 4G parts fit a FAT32 stick (files under 4 GiB).`,
		Flags: append(projectFlags(""),
			&cli.StringFlag{Name: "ram", Usage: "pack this RAM / KatoApp package (.tar.gz, or a Rainbond 5.2 .zip) instead of a compose project", TakesFile: true},
			&cli.StringFlag{Name: "max-size", Value: "20GiB", Usage: "with --ram: stop when the package expands past this size (e.g. 512MiB, 20GiB)"},
			&cli.StringFlag{Name: "max-archive-size", Usage: "spread the images over image archives (images/part-N.tar) of at most this size each, loaded in order (e.g. 2GiB); an image larger gets one of its own"},
			&cli.StringFlag{Name: "name", Usage: "bundle name (default: the compose project name; with --ram the template's group_name)"},
			&cli.StringFlag{Name: "version", Usage: "bundle version, e.g. 1.0 (required, except with --ram: the template's group_version)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output: .tar, .tar.gz, .tar.zst or a directory (default: <name>-<version>.tar)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output"},
			&cli.StringFlag{Name: "base", Usage: "make an upgrade bundle of this earlier bundle of the application (a directory, .tar/.tar.gz/.tar.zst, or its airpack.json): ship only the layers it lacks", TakesFile: true},
			&cli.StringFlag{Name: "sign-key", Usage: "sign the bundle (SHA256SUMS.sig) with this OpenSSH ed25519 private key file", TakesFile: true},
			&cli.StringFlag{Name: "split-size", Usage: "write the archive in parts of this size for removable media (e.g. 4G, 700M): OUT.001, OUT.002, … and OUT.sha256"},
			&cli.BoolFlag{Name: "build", Usage: "build the services with build: first (docker compose build, the same project settings), then pack the images just built"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: quietUsage + " (the build's output too, unless it fails)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			// First: the old bare --allow-outside takes the next flag as its path.
			if _, err := pack.OutsidePaths(cmd.StringSlice("allow-outside")); err != nil {
				return err
			}
			if cmd.Args().Present() {
				return fmt.Errorf("pack takes no arguments (got %q): use -f for compose files", cmd.Args().Slice())
			}
			if err := refuseEmpty(cmd, "name", "version", "output", "ram", "split-size"); err != nil {
				return err
			}
			split, err := sizeFlag(cmd, "split-size")
			if err != nil {
				return err
			}
			signer, err := signingKey(cmd, "sign-key")
			if err != nil {
				return err
			}
			maxArchive, err := sizeFlag(cmd, "max-archive-size")
			if err != nil {
				return err
			}
			if cmd.IsSet("ram") {
				return packRAM(ctx, cmd, signer, maxArchive, split)
			}
			if cmd.IsSet("max-size") {
				return fmt.Errorf("--max-size applies to --ram packages only")
			}
			log := newLogger(os.Stderr, cmd.Bool("quiet"))
			var buildOut *bytes.Buffer // with --quiet, shown only when the build fails
			if cmd.Bool("quiet") {
				buildOut = &bytes.Buffer{}
			}
			opts := pack.Options{
				Compose:      composeOptions(cmd),
				Name:         cmd.String("name"),
				Version:      cmd.String("version"),
				Output:       cmd.String("output"),
				Platform:     cmd.String("platform"),
				Sources:      cmd.StringSlice("source"),
				Insecure:     cmd.StringSlice("insecure-registry"),
				Jobs:         cmd.Int("jobs"),
				AllowOutside: cmd.StringSlice("allow-outside"),
				Force:        cmd.Bool("force"),
				Progress:     log.progress(),
				Log:          log.logf,
				CreatedBy:    "airpack " + version,
				Signer:       signer,

				MaxArchiveSize: maxArchive,
				Base:           cmd.String("base"),
				SplitSize:      split,
				Build:          cmd.Bool("build"),
			}
			if buildOut != nil {
				opts.BuildOutput = buildOut
			}
			res, err := pack.Pack(ctx, opts)
			log.finish(err != nil)
			if err != nil {
				if buildOut != nil && buildOut.Len() > 0 {
					os.Stderr.Write(buildOut.Bytes())
				}
				return err
			}
			printWarnings(cmd, res.Warnings)
			m := res.Manifest
			log.logf("packed %s %s: %d images for %s in %s%s%s", m.Name, m.Version, len(m.Images), m.Platform, res.Output, inParts(res.Output, split), signedBy(signer))
			logUpgrade(log, res)
			if split > 0 {
				log.logf("next: airpack verify %s%s; copy the parts and %s; on the target: sha256sum -c %s && cat %s.[0-9]* > %s",
					res.Output, bundle.PartsSuffix, filepath.Base(res.Output)+bundle.PartsSuffix, filepath.Base(res.Output)+bundle.PartsSuffix, filepath.Base(res.Output), filepath.Base(res.Output))
				return nil
			}
			log.logf("next: airpack verify %s; on the target: ./load.sh && docker compose up -d", res.Output)
			return nil
		},
	}
}

// logUpgrade says what an upgrade bundle carries, against the full bundle, and what it needs.
func logUpgrade(log *logger, res *pack.Result) {
	u, b := res.Upgrade, res.Manifest.Base
	if u == nil {
		return
	}
	pct := 100.0
	if res.FullSize > 0 {
		pct = 100 * float64(res.ArchiveSize) / float64(res.FullSize)
	}
	log.logf("upgrade of %s %s: the image archive is %s, %.1f%% of the full %s: it carries %d new %s (%s) and leaves out %d %s (%s) the target has from %s %s",
		b.Name, b.Version, bundle.HumanSize(res.ArchiveSize), pct, bundle.HumanSize(res.FullSize),
		len(u.Carried), plural(len(u.Carried), "layer"), bundle.HumanSize(u.CarriedBytes), len(u.Reused), plural(len(u.Reused), "layer"), bundle.HumanSize(u.ReusedBytes), b.Name, b.Version)
	if len(u.Reused) > 0 {
		log.logf("on the target, load %s-%s first: load.sh checks its images are there", b.Name, b.Version)
	}
}

// sizeFlag is the size flag name in bytes (pack.ParseSize), 0 when not set. Whether it applies
// to the output is pack's to say (a split output must be an archive: pack.Pack).
func sizeFlag(cmd *cli.Command, name string) (int64, error) {
	if !cmd.IsSet(name) {
		return 0, nil
	}
	n, err := pack.ParseSize(cmd.String(name))
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	return n, nil
}

// inParts says how many parts the archive out was written in, "" when not split.
func inParts(out string, split int64) string {
	if split <= 0 {
		return ""
	}
	ps, err := bundle.FindParts(out + bundle.PartsSuffix)
	if err != nil || ps == nil {
		return ""
	}
	return fmt.Sprintf(" (%d %s of at most %s, listed in %s)", len(ps.Parts), plural(len(ps.Parts), "part"), bundle.HumanSize(split), filepath.Base(out)+bundle.PartsSuffix)
}

// ramConflicts are the flags that describe a compose project or where its images come from:
// with --ram, the package is both.
var ramConflicts = []struct{ name, show string }{
	{"file", "-f/--file"},
	{"project-directory", "--project-directory"},
	{"profile", "--profile"},
	{"env-file", "--env-file"},
	{"env-from-shell", "--env-from-shell"},
	{"source", "--source"},
	{"insecure-registry", "--insecure-registry"},
	{"allow-outside", "--allow-outside"},
	{"build", "--build"},
}

func packRAM(ctx context.Context, cmd *cli.Command, signer ssh.Signer, maxArchive, split int64) error {
	var bad []string
	for _, f := range ramConflicts {
		if cmd.IsSet(f.name) {
			bad = append(bad, f.show)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("--ram cannot be combined with %s: the application and its images come from the RAM package", strings.Join(bad, ", "))
	}
	file := cmd.String("ram")
	maxSize, err := pack.ParseSize(cmd.String("max-size"))
	if err != nil {
		return fmt.Errorf("--max-size: %w", err)
	}
	log := newLogger(os.Stderr, cmd.Bool("quiet"))
	res, err := pack.PackRAM(ctx, pack.RAMOptions{
		Package:   file,
		Name:      cmd.String("name"),
		Version:   cmd.String("version"),
		Output:    cmd.String("output"),
		Platform:  cmd.String("platform"),
		MaxSize:   maxSize,
		Jobs:      cmd.Int("jobs"),
		Force:     cmd.Bool("force"),
		Progress:  log.progress(),
		Log:       log.logf,
		CreatedBy: "airpack " + version,
		Signer:    signer,

		MaxArchiveSize: maxArchive,
		Base:           cmd.String("base"),
		SplitSize:      split,
	})
	log.finish(err != nil)
	if err != nil {
		return err
	}
	printWarnings(cmd, res.Warnings)
	m := res.Manifest
	log.logf("packed %s %s: %d images for %s in %s%s%s", m.Name, m.Version, len(m.Images), m.Platform, res.Output, inParts(res.Output, split), signedBy(signer))
	logUpgrade(log, res)
	log.logf("next: airpack verify %s; on the target: ./load.sh && docker compose up -d (host ports and generated secrets are in .env)", res.Output)
	return nil
}

// projectFlags are the flags that load a Compose project and pack its images; usagePrefix
// starts each usage (for commands that take other inputs too).
func projectFlags(usagePrefix string) []cli.Flag {
	u := func(s string) string { return usagePrefix + s }
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: u("compose file (repeat to merge); default: compose.yaml or docker-compose.yaml")},
		&cli.StringFlag{Name: "project-directory", Usage: u("project directory (default: the first compose file's directory)")},
		&cli.StringSliceFlag{Name: "profile", Usage: u("enable a compose profile (repeatable)")},
		&cli.StringSliceFlag{Name: "env-file", Usage: u("environment file for interpolation (default: the project's .env)")},
		&cli.StringSliceFlag{Name: "env-from-shell", Usage: u("ship this variable's value from this environment in the bundle's .env (repeatable); " +
			"by default a value only the environment sets is left to the target's")},
		&cli.StringFlag{Name: "platform", Usage: u("os/arch[/variant] to pack, the one platform of the bundle (default: the one the services' platform: name, else linux/amd64)")},
		&cli.StringSliceFlag{Name: "source", Usage: u("image source: auto, registry, engine or oci:DIR (repeatable, tried in order)")},
		&cli.StringSliceFlag{Name: "insecure-registry", Usage: u("reach this registry HOST[:PORT] over plain HTTP")},
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 4, Usage: u("blobs fetched at once")},
		&cli.StringSliceFlag{Name: "allow-outside", Usage: u("ship a copy of this file or directory outside the project (a relative path that leaves it, or a host path otherwise kept as the target's); repeatable"), TakesFile: true},
	}
}

// composeOptions are the projectFlags that load the Compose project.
func composeOptions(cmd *cli.Command) compose.LoadOptions {
	return compose.LoadOptions{
		Files:        cmd.StringSlice("file"),
		WorkDir:      cmd.String("project-directory"),
		Profiles:     cmd.StringSlice("profile"),
		EnvFiles:     cmd.StringSlice("env-file"),
		EnvFromShell: cmd.StringSlice("env-from-shell"),
	}
}
