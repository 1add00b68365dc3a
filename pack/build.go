package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/airpack/airpack/compose"
)

// defaultDockerHost is the engine the engine source reads when DOCKER_HOST is not set (the
// moby client's default).
const defaultDockerHost = "unix:///var/run/docker.sock"

// buildStep runs `docker compose build` for the services of a loaded project that have
// `build:` (Options.Build), so that their images are in the engine the engine source reads.
type buildStep struct {
	// run runs a command and returns its error (an error with ExitCode() int for a command
	// that ran and failed); nil: (*exec.Cmd).Run.
	run func(*exec.Cmd) error
	// out receives the build's output, stdout and stderr; nil: os.Stderr.
	out io.Writer
	// env is the environment the commands run in (Options.Compose.Environment as a list); nil:
	// the process's, as airpack loaded the project with it.
	env []string
	// host is the engine: DOCKER_HOST, else the default socket, whatever the docker CLI's
	// context, since the images are read from there.
	host string
	log  func(format string, args ...any)
}

func newBuildStep(opts *Options) *buildStep {
	b := &buildStep{run: opts.RunCommand, out: opts.BuildOutput, log: opts.logf}
	if b.run == nil {
		b.run = (*exec.Cmd).Run
	}
	if b.out == nil {
		b.out = os.Stderr
	}
	if opts.Compose.Environment != nil {
		for k, v := range opts.Compose.Environment {
			b.env = append(b.env, k+"="+v)
		}
		slices.Sort(b.env)
	}
	b.host = os.Getenv("DOCKER_HOST")
	if b.host == "" {
		b.host = defaultDockerHost
	}
	return b
}

// checkBuildOptions refuses --build where the built images could not be packed: compose files
// in memory (docker compose reads files), or image sources without the engine.
func checkBuildOptions(opts *Options) error {
	if !opts.Build {
		return nil
	}
	if len(opts.Compose.ConfigFiles) > 0 {
		return errors.New("--build runs docker compose build, which reads the compose files from disk: they are given in memory")
	}
	if opts.ImageSources != nil {
		return nil
	}
	specs := opts.Sources
	if len(specs) == 0 || slices.Contains(specs, "auto") || slices.Contains(specs, "engine") {
		return nil
	}
	return fmt.Errorf("--build puts the images it builds in the docker engine, but --source %s leaves the engine out: add --source engine (or leave --source out)", strings.Join(specs, ", "))
}

// builtServices are the active services with `build:`, sorted: the ones the bundle ships.
func builtServices(proj *compose.Project) []string {
	var out []string
	for _, s := range proj.Images() {
		if s.Build {
			out = append(out, s.Service)
		}
	}
	return out
}

// command is docker with args, in the build's environment plus extra.
func (b *buildStep) command(ctx context.Context, extra []string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "docker", append([]string{"--host", b.host}, args...)...)
	if b.env != nil || extra != nil {
		env := b.env
		if env == nil {
			env = os.Environ()
		}
		c.Env = append(slices.Clone(env), extra...)
	}
	return c
}

// preflight checks the engine and the compose plugin answer, with a clear message if not.
func (b *buildStep) preflight(ctx context.Context) error {
	var out bytes.Buffer
	c := b.command(ctx, nil, "version", "--format", "{{.Server.Version}}")
	c.Stdout, c.Stderr = &out, &out
	if err := b.run(c); errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("--build runs docker compose build, but the docker CLI is not in PATH: %w", err)
	} else if err != nil {
		return fmt.Errorf("--build needs the Docker engine, which builds the images: `docker --host %s version` failed: %s", b.host, lastLine(out.String(), err))
	}
	out.Reset()
	c = b.command(ctx, nil, "compose", "version", "--short")
	c.Stdout, c.Stderr = &out, &out
	if err := b.run(c); err != nil {
		return fmt.Errorf("--build needs the Docker Compose CLI plugin (docker compose), which builds the images: `docker compose version` failed: %s", lastLine(out.String(), err))
	}
	return nil
}

// buildCommand is `docker compose build` of services with the project's settings as airpack
// loaded them: its compose files, project directory, name, profiles and env files, so compose
// builds the images airpack packs, under the same names. The bundle's platform is the default
// platform of the services that name none (DOCKER_DEFAULT_PLATFORM, unless the environment sets it).
func (b *buildStep) buildCommand(ctx context.Context, proj *compose.Project, lo compose.LoadOptions, platform string, services []string) (*exec.Cmd, error) {
	args := []string{"compose", "--project-name", proj.Name(), "--project-directory", proj.Dir()}
	for _, f := range proj.Typed().ComposeFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		args = append(args, "--file", abs)
	}
	for _, p := range lo.Profiles {
		args = append(args, "--profile", p)
	}
	for _, e := range lo.EnvFiles {
		abs, err := filepath.Abs(e) // as airpack read it: relative to the current directory
		if err != nil {
			return nil, err
		}
		args = append(args, "--env-file", abs)
	}
	args = append(args, "build")
	args = append(args, services...)
	var extra []string
	if _, set := b.lookupEnv("DOCKER_DEFAULT_PLATFORM"); !set {
		extra = []string{"DOCKER_DEFAULT_PLATFORM=" + platform}
	}
	return b.command(ctx, extra, args...), nil
}

func (b *buildStep) lookupEnv(name string) (string, bool) {
	if b.env == nil {
		return os.LookupEnv(name)
	}
	for _, kv := range b.env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v, true
		}
	}
	return "", false
}

// build runs docker compose build for the project's services with `build:`, its output to
// b.out; a failure is one line, the output being above it.
func (b *buildStep) build(ctx context.Context, proj *compose.Project, lo compose.LoadOptions, platform string) error {
	services := builtServices(proj)
	if len(services) == 0 {
		b.log("--build: no service has build:, nothing to build")
		return nil
	}
	if err := b.preflight(ctx); err != nil {
		return err
	}
	c, err := b.buildCommand(ctx, proj, lo, platform, services)
	if err != nil {
		return err
	}
	c.Stdout, c.Stderr = b.out, b.out
	b.log("building %d %s: docker compose build %s", len(services), plural(len(services), "service", "services"), strings.Join(services, " "))
	if err := b.run(c); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		what := "docker compose build"
		if len(services) == 1 {
			what += " of service " + services[0]
		} else {
			what += " of services " + strings.Join(services, ", ")
		}
		var exit interface{ ExitCode() int }
		if errors.As(err, &exit) {
			return fmt.Errorf("%s failed (exit %d): its output is above", what, exit.ExitCode())
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// lastLine is the last non-empty line of a command's output, else its error.
func lastLine(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}
