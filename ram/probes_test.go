package ram

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// shells are the /bin/sh implementations on this machine, each as the argv prefix that runs it.
func shells(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for _, n := range []string{"dash", "bash"} {
		if p, err := exec.LookPath(n); err == nil {
			out[n] = []string{p}
		}
	}
	if p, err := exec.LookPath("busybox"); err == nil && exec.Command(p, "sh", "-c", "true").Run() == nil {
		out["busybox"] = []string{p, "sh"}
	}
	if p, err := exec.LookPath("sh"); err == nil {
		out["sh"] = []string{p}
	}
	if len(out) == 0 {
		t.Skip("no shell")
	}
	return out
}

func exitStatus(t *testing.T, dir string, argv []string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GREETING=hello"}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run %q: %v", argv, err)
	return -1
}

// TestShellProbeRuns runs each CMD-SHELL test the way compose does (sh -c SCRIPT) and the probe
// made from it the way the platform does (strings.Split(cmd, " ") exec'd, no shell), with every
// shell at hand standing for the image's sh, and compares the exit statuses.
func TestShellProbeRuns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte("PONG\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		script string
		pass   bool // under compose
	}{
		{"test -f ready || exit 1", true},
		{"test -f missing || exit 1", false},
		{"cat ready | grep PONG", true},
		{"cat ready | grep PANG", false},
		{"echo PONG | grep -q PONG", true},
		{"true && false", false},
		{"  true  ", true},
		{"exit 3", false},
		{"test -n \"$GREETING\"", true},
		{"test -z \"$GREETING\"", false},
		{"[ $GREETING = hello ]", true},
		{"[ ${GREETING} = bye ]", false},
		{"ls missing 2>&1 >/dev/null | grep -q missing", true},
		{"ls ready 2>/dev/null >/dev/null", true},
		{"if test -f ready; then exit 0; else exit 1; fi", true},
		{"if test -f missing; then exit 0; else exit 1; fi", false},
		{"! test -f ready", false},
		{"X=1; (exit $X)", false},
		{"X=0; test $X -eq 0", true},
		{"test $(cat ready) = PONG", true},
		{"test $(( 1 + 1 )) -eq 2", true},
		{"for f in ready missing; do test -f $f || exit 1; done", false},
		{"case $GREETING in hello) exit 0;; *) exit 1;; esac", true},
		{"test -f ready # a comment with spaces", true},
		{"test -f ready\ntest -f missing", false},
		{"test -f 'ready'", true},
		{"test ${GREETING:-x} = hello", true},
	}
	for name, sh := range shells(t) {
		for _, c := range cases {
			cmd, err := shellProbe("sh", c.script)
			if err != nil {
				t.Errorf("%q: not converted: %v", c.script, err)
				continue
			}
			argv := strings.Split(cmd, " ") // what the platform execs
			if len(argv) != 3 || argv[0] != "sh" || argv[1] != "-c" {
				t.Errorf("%q: the platform execs %q", c.script, argv)
				continue
			}
			want := exitStatus(t, dir, append(append([]string(nil), sh...), "-c", c.script))
			if (want == 0) != c.pass {
				t.Errorf("%s: %q under compose: exit %d, the case says pass=%v", name, c.script, want, c.pass)
			}
			if got := exitStatus(t, dir, append(append([]string(nil), sh...), argv[1:]...)); got != want {
				t.Errorf("%s: %q: the probe %q exits %d, the compose test %d", name, c.script, cmd, got, want)
			}
		}
	}
}

func TestShellProbeRefused(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{"test 'a b' = 'a b'", "inside single quotes"},
		{`test "a b" = "a b"`, "inside double quotes"},
		{`test a\ b = x`, "escaped with a backslash"},
		{`test "$(echo a b)" = x`, "command substitution inside double quotes"},
		{"test `echo a` = a", "backquoted"},
		{"test ${X:-a b} = x", "inside a ${...} expansion"},
		{"test ${X:-${Y} b} = x", "inside a ${...} expansion"},
		{"cat <<EOF\na b\nEOF", "here-document"},
		{"echo 'a", "unterminated quote"},
		{"  ", "empty"},
	} {
		if cmd, err := shellProbe("sh", c.script); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %q, %v; want an error saying %q", c.script, cmd, err, c.want)
		}
	}
	// No space: the script is one argument as it is.
	if cmd, err := shellProbe("sh", "test -f x"); err != nil || cmd != "sh -c test\t-f\tx" {
		t.Errorf("got %q, %v", cmd, err)
	}
	if cmd, err := shellProbe("sh", `test "$A" = 'b'`); err != nil || cmd != "sh -c test\t\"$A\"\t=\t'b'" {
		t.Errorf("got %q, %v", cmd, err)
	}
}

func TestHealthcheckToProbe(t *testing.T) {
	dur := func(d time.Duration) *types.Duration { x := types.Duration(d); return &x }
	retries := func(n uint64) *uint64 { return &n }
	ports := []Port{{ContainerPort: 8080}}
	cases := []struct {
		name  string
		hc    types.HealthCheckConfig
		ports []Port
		want  *Probe // nil: dropped
		warn  string
	}{
		// The compose test ran curl, wget or nc inside the container: the image has them, and a
		// cmd probe checks loopback there as compose did.
		{name: "curl CMD", hc: types.HealthCheckConfig{Test: []string{"CMD", "curl", "-f", "http://localhost:8080/health"}},
			want: &Probe{Scheme: "cmd", Cmd: "curl -f http://localhost:8080/health"}},
		{name: "curl shell", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:9000/ready?full=1 || exit 1"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c curl\t-fsS\t-o\t/dev/null\thttp://127.0.0.1:9000/ready?full=1\t||\texit\t1"}},
		{name: "wget", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "wget -q --spider http://127.0.0.1/"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c wget\t-q\t--spider\thttp://127.0.0.1/"}},
		{name: "wget no path", hc: types.HealthCheckConfig{Test: []string{"CMD", "wget", "-qO-", "http://localhost:3000"}},
			want: &Probe{Scheme: "cmd", Cmd: "wget -qO- http://localhost:3000"}},
		{name: "nc", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "nc -z localhost 5432"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c nc\t-z\tlocalhost\t5432"}},
		{name: "nc -w", hc: types.HealthCheckConfig{Test: []string{"CMD", "nc", "-zv", "-w", "2", "127.0.0.1", "6379"}},
			want: &Probe{Scheme: "cmd", Cmd: "nc -zv -w 2 127.0.0.1 6379"}},
		// A plain check whose exec form is too long for the console's column: the http or tcp
		// probe is the fallback, with a warning that the platform checks the pod's address.
		{name: "long curl: http fallback", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "curl -f " + strings.Repeat("-s ", 340) + "http://localhost:9000/health || exit 1"}},
			want: &Probe{Scheme: "http", Port: 9000, Path: "/health"},
			warn: "is 1072 characters, more than the 1024 the platform stores (console ServiceProbe.cmd): put the check in a script in the image; it is a plain check of the container itself, so it becomes an http port 9000 path /health probe, which the platform runs from the node against the pod's address, not loopback inside the container: the app must listen on all addresses (0.0.0.0), not only 127.0.0.1"},
		{name: "long nc: tcp fallback", hc: types.HealthCheckConfig{Test: append([]string{"CMD", "nc"}, append(slices.Repeat([]string{"-z"}, 400), "localhost", "5432")...)},
			want: &Probe{Scheme: "tcp", Port: 5432}, warn: "it becomes a tcp port 5432 probe, which the platform runs from the node against the pod's address"},
		// Any other test too long for the column is dropped with a warning, not refused.
		{name: "long script", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "test -f /ready && " + strings.Repeat("true && ", 130) + "true"}},
			warn: "the probe's command is 1068 characters, more than the 1024 the platform stores (console ServiceProbe.cmd): put the check in a script in the image; dropped"},
		{name: "curl without -f passes on an error status: a command", hc: types.HealthCheckConfig{Test: []string{"CMD", "curl", "http://localhost:8080/"}},
			want: &Probe{Scheme: "cmd", Cmd: "curl http://localhost:8080/"}},
		{name: "https is no http probe", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "curl -fk https://localhost:8443/"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c curl\t-fk\thttps://localhost:8443/"}},
		{name: "another host", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "curl -f http://db:80/"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c curl\t-f\thttp://db:80/"}},
		{name: "exit 0 always passes", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 0"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c curl\t-f\thttp://localhost/\t||\texit\t0"}},
		{name: "pg_isready", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "pg_isready -U postgres || exit 1"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c pg_isready\t-U\tpostgres\t||\texit\t1"}},
		{name: "redis", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", "redis-cli ping | grep PONG"}},
			want: &Probe{Scheme: "cmd", Cmd: "sh -c redis-cli\tping\t|\tgrep\tPONG"}},
		{name: "CMD", hc: types.HealthCheckConfig{Test: []string{"CMD", "pg_isready", "-U", "postgres"}},
			want: &Probe{Scheme: "cmd", Cmd: "pg_isready -U postgres"}},
		{name: "CMD sh -c", hc: types.HealthCheckConfig{Test: []string{"CMD", "/bin/sh", "-c", "pg_isready -U postgres"}},
			want: &Probe{Scheme: "cmd", Cmd: "/bin/sh -c pg_isready\t-U\tpostgres"}},
		{name: "CMD argument with a space", hc: types.HealthCheckConfig{Test: []string{"CMD", "check", "a b"}},
			warn: "an empty argument or one holding a space"},
		{name: "CMD empty argument", hc: types.HealthCheckConfig{Test: []string{"CMD", "check", ""}},
			warn: "an empty argument or one holding a space"},
		{name: "quoted space", hc: types.HealthCheckConfig{Test: []string{"CMD-SHELL", `test "$(hostname)" = "a b"`}},
			warn: "command substitution inside double quotes"},
		{name: "no ports: port 1", hc: types.HealthCheckConfig{Test: []string{"CMD", "true"}}, ports: []Port{},
			want: &Probe{Scheme: "cmd", Cmd: "true", Port: 1}},
		{name: "timings", hc: types.HealthCheckConfig{Test: []string{"CMD", "true"}, Interval: dur(1500 * time.Millisecond),
			Timeout: dur(0), StartPeriod: dur(40 * time.Second), Retries: retries(0)},
			want: &Probe{Scheme: "cmd", Cmd: "true", PeriodSecond: 2, TimeoutSecond: 1, InitialDelaySecond: 40, FailureThreshold: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fromCompose{warn: newKeyedWarnings()}
			hc := c.hc
			pp := ports
			if c.ports != nil {
				pp = c.ports
			}
			var svc types.ServiceConfig
			svc.HealthCheck = &hc
			got := fc.probe("service s", svc, pp)
			warnings := strings.Join(fc.warn.list(), "\n")
			if c.want == nil {
				if got != nil || !strings.Contains(warnings, c.warn) {
					t.Fatalf("got %+v, warnings %q; want it dropped saying %q", got, warnings, c.warn)
				}
				return
			}
			want := *c.want
			want.Mode, want.IsUsed, want.SuccessThreshold = "readiness", true, 1
			if want.Port == 0 {
				want.Port = 8080
			}
			if want.PeriodSecond == 0 {
				want.PeriodSecond, want.TimeoutSecond, want.InitialDelaySecond, want.FailureThreshold = 30, 30, 1, 3
			}
			eq(t, "probe", got, &want)
			if c.warn == "" && warnings != "" || !strings.Contains(warnings, c.warn) {
				t.Errorf("warnings %q, want one saying %q", warnings, c.warn)
			}
			// What the console requires of every probe (facts §2c).
			if got.Port < 1 || got.Port > 65535 || got.PeriodSecond < 1 || got.TimeoutSecond < 1 || got.InitialDelaySecond < 1 || got.FailureThreshold < 1 || got.SuccessThreshold < 1 || got.Scheme == "https" {
				t.Errorf("the console would refuse or change %+v", got)
			}
			if got.Scheme == "cmd" && strings.Contains(got.Cmd, "  ") {
				t.Errorf("empty argument in %q", got.Cmd)
			}
		})
	}
}

func TestProbeToHealthcheck(t *testing.T) {
	tpl := templateOf(
		testComponent("a", "ka", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 80}}
			c.Probes = []Probe{{Mode: "readiness", Scheme: "cmd", Cmd: "sh -c pg_isready\t-U\tpostgres  x", IsUsed: true}}
		}),
		testComponent("b", "kb", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 443}}
			c.Probes = []Probe{{Mode: "readiness", Scheme: "https", Port: 443, IsUsed: true}}
		}),
		testComponent("c", "kc", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 80}}
			c.Probes = []Probe{{Mode: "", Scheme: "tcp", Port: 80, IsUsed: true}, {Mode: "ignore", Scheme: "tcp", Port: 80, IsUsed: true}}
		}),
	)
	c := convertToCompose(t, tpl, ToComposeOptions{})
	if hc := c.service(t, "a").HealthCheck; hc == nil || !slicesEqual(hc.Test, []string{"CMD", "sh", "-c", "pg_isready\t-U\tpostgres", "", "x"}) {
		t.Errorf("cmd probe: %+v", hc)
	}
	if hc := c.service(t, "b").HealthCheck; hc != nil {
		t.Errorf("https probe: %+v", hc)
	}
	if !strings.Contains(strings.Join(c.p.Warnings, "\n"), `readiness probe scheme "https": the platform runs no such probe`) {
		t.Errorf("warnings %q", c.p.Warnings)
	}
	if hc := c.service(t, "c").HealthCheck; hc != nil {
		t.Errorf("a probe the worker never reads (mode \"\" or ignore): %+v", hc)
	}
}

func slicesEqual(a, b []string) bool { return slices.Equal(a, b) }

// A healthcheck whose probe would be longer than the console's column is dropped with a
// warning, like any healthcheck that cannot be converted; the conversion goes on. A template's
// own probe (x-ram) that long is still refused: airpack did not make it.
func TestLongHealthcheckDropped(t *testing.T) {
	long := "test -f /ready && " + strings.Repeat("true && ", 130) + "true"
	p, dir := loadProject(t, map[string]string{"compose.yaml": `name: long
services:
  w:
    image: w:1
    healthcheck: {test: ["CMD-SHELL", "` + long + `"]}
`})
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	if len(tpl.Apps[0].Probes) != 0 {
		t.Errorf("probes %+v", tpl.Apps[0].Probes)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "service w: healthcheck: ") || !strings.HasSuffix(warnings[0], "more than the 1024 the platform stores (console ServiceProbe.cmd): put the check in a script in the image; dropped") {
		t.Errorf("warnings %q", warnings)
	}

	_, bp, bdir := sampleBundle(t)
	web := bp.Services["web"]
	ext := web.Extensions[ExtensionKey].(map[string]any)
	probes := ext["probes"].([]any)
	lp := probes[0].(map[string]any)
	lp["scheme"], lp["cmd"], lp["mode"] = "cmd", strings.Repeat("x", maxProbeCmd+1), "liveness"
	bp.Services["web"] = web
	if _, _, err := FromCompose(bp, FromComposeOptions{Dir: bdir}); err == nil || !strings.Contains(err.Error(), "probe cmd is 1025 characters, more than the 1024") {
		t.Errorf("a template's long probe: %v", err)
	}
}

// A bundle made from a RAM package: the template's probes stay while the healthcheck is the one
// ToCompose wrote for them (with the compose file's timings when only they changed); an edited
// healthcheck gives the readiness probe (the template's liveness probe kept), a removed or
// disabled one removes it, each with a warning.
func TestXRAMHealthcheckEdits(t *testing.T) {
	dur := func(d time.Duration) *types.Duration { x := types.Duration(d); return &x }
	tcp := Probe{Mode: "readiness", Scheme: "tcp", Port: 80, IsUsed: true, InitialDelaySecond: 4, PeriodSecond: 3, TimeoutSecond: 5, FailureThreshold: 3, SuccessThreshold: 1}
	liveness := Probe{Mode: "liveness", Scheme: "http", Port: 80, Path: "/live", IsUsed: true, InitialDelaySecond: 4, PeriodSecond: 3, TimeoutSecond: 5, FailureThreshold: 3, SuccessThreshold: 1}
	pgReady := Probe{Mode: "readiness", Scheme: "cmd", Cmd: "pg_isready -q", Port: 80, IsUsed: true, InitialDelaySecond: 1, PeriodSecond: 30, TimeoutSecond: 30, FailureThreshold: 3, SuccessThreshold: 1}
	cases := []struct {
		name     string
		template []Probe // web's probes in the template
		edit     func(h *types.HealthCheckConfig) *types.HealthCheckConfig
		want     []Probe
		warn     string // "": none
	}{
		{name: "unchanged", template: []Probe{tcp}, want: []Probe{tcp}},
		{name: "unchanged, with liveness", template: []Probe{liveness, tcp}, want: []Probe{liveness, tcp}},
		{name: "edited", template: []Probe{tcp},
			edit: func(h *types.HealthCheckConfig) *types.HealthCheckConfig {
				return &types.HealthCheckConfig{Test: []string{"CMD", "pg_isready", "-q"}}
			},
			want: []Probe{pgReady},
			warn: `service web: healthcheck: differs from the template's readiness probe (tcp port 80): the readiness probe is now the healthcheck's (cmd "pg_isready -q")`},
		{name: "edited, liveness kept", template: []Probe{tcp, liveness},
			edit: func(h *types.HealthCheckConfig) *types.HealthCheckConfig {
				return &types.HealthCheckConfig{Test: []string{"CMD", "pg_isready", "-q"}}
			},
			want: []Probe{liveness, pgReady},
			warn: `service web: healthcheck: differs from the template's readiness probe (tcp port 80): the readiness probe is now the healthcheck's (cmd "pg_isready -q"); the template's other probes are kept`},
		{name: "interval changed", template: []Probe{tcp},
			edit: func(h *types.HealthCheckConfig) *types.HealthCheckConfig {
				h.Interval = dur(10 * time.Second)
				return h
			},
			want: []Probe{{Mode: "readiness", Scheme: "tcp", Port: 80, IsUsed: true, InitialDelaySecond: 4, PeriodSecond: 10, TimeoutSecond: 5, FailureThreshold: 3, SuccessThreshold: 1}}},
		{name: "timings removed", template: []Probe{liveness, tcp},
			edit: func(h *types.HealthCheckConfig) *types.HealthCheckConfig {
				return &types.HealthCheckConfig{Test: h.Test}
			},
			want: []Probe{liveness, {Mode: "readiness", Scheme: "tcp", Port: 80, IsUsed: true, InitialDelaySecond: 1, PeriodSecond: 30, TimeoutSecond: 30, FailureThreshold: 3, SuccessThreshold: 1}}},
		{name: "removed", template: []Probe{liveness, tcp},
			edit: func(*types.HealthCheckConfig) *types.HealthCheckConfig { return nil },
			want: []Probe{liveness},
			warn: "service web: healthcheck: none in the compose file: the template's readiness probe (tcp port 80) is removed; the template's other probes are kept"},
		{name: "disabled", template: []Probe{tcp},
			edit: func(h *types.HealthCheckConfig) *types.HealthCheckConfig { h.Disable = true; return h },
			want: []Probe{},
			warn: "service web: healthcheck: disabled in the compose file: the template's readiness probe (tcp port 80) is removed"},
		{name: "cannot be converted", template: []Probe{tcp},
			edit: func(h *types.HealthCheckConfig) *types.HealthCheckConfig {
				return &types.HealthCheckConfig{Test: []string{"CMD", "check", "a b"}}
			},
			want: []Probe{},
			warn: "; dropped; differs from the template's readiness probe (tcp port 80) and cannot be converted: the readiness probe is removed"},
		// A template with only a liveness probe: ToCompose wrote no healthcheck, so one in the
		// compose file is the user's, and becomes the readiness probe.
		{name: "added to a liveness probe", template: []Probe{liveness},
			edit: func(h *types.HealthCheckConfig) *types.HealthCheckConfig {
				return &types.HealthCheckConfig{Test: []string{"CMD", "pg_isready", "-q"}}
			},
			want: []Probe{liveness, pgReady}},
		{name: "liveness only, none added", template: []Probe{liveness}, want: []Probe{liveness}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig, err := DecodeMetadata(sampleBytes(t))
			if err != nil {
				t.Fatal(err)
			}
			orig.Apps[0].Probes = tc.template
			p, dir := composeOf(t, orig, nil)
			if tc.edit != nil {
				web := p.Services["web"]
				web.HealthCheck = tc.edit(web.HealthCheck)
				p.Services["web"] = web
			}
			got, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
			web := appNamed(t, got, "web")
			eq(t, "probes", web.Probes, tc.want)
			w := strings.Join(warnings, "\n")
			if tc.warn == "" && w != "" || !strings.Contains(w, tc.warn) {
				t.Errorf("warnings %q, want one saying %q", warnings, tc.warn)
			}
		})
	}
}
