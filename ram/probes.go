package ram

// Probes, both directions: the readiness probe <-> healthcheck.

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// healthcheck is the readiness probe as a compose healthcheck, nil when there is none (see
// probeCheck).
func (c *toCompose) healthcheck(i int, ports []servicePort) *yaml.Node {
	p := readinessProbe(c.t.Apps[i].Probes)
	if p == nil {
		return nil
	}
	first := 0
	if len(ports) > 0 {
		first = ports[0].port
	}
	check, why := probeCheck(p, first)
	if check == nil {
		c.warnf("%s: %s: no healthcheck", c.label(i), why)
		return nil
	}
	test := yamlSeq()
	for _, a := range check.test {
		test.Content = append(test.Content, yamlStr(escape(a)))
	}
	hc := yamlMap()
	yamlSet(hc, "test", test)
	for _, d := range []struct {
		key string
		sec int
	}{{"interval", check.interval}, {"timeout", check.timeout}, {"start_period", check.startPeriod}} {
		if d.sec > 0 {
			yamlSet(hc, d.key, yamlStr(strconv.Itoa(d.sec)+"s"))
		}
	}
	if check.retries > 0 {
		yamlSet(hc, "retries", yamlVal(check.retries))
	}
	return hc
}

// readinessProbe is the probe the platform's worker runs for readiness: the first with mode
// "readiness" and is_used (docs/ram-format.md §8.3); nil when there is none.
func readinessProbe(probes []Probe) *Probe {
	for k := range probes {
		if pr := &probes[k]; pr.IsUsed && pr.Mode == "readiness" {
			return pr
		}
	}
	return nil
}

// composeCheck is a healthcheck as ToCompose writes it and compose reads it back: the test
// (unescaped), interval, timeout and start_period in seconds and retries (0: not written).
type composeCheck struct {
	test                                    []string
	interval, timeout, startPeriod, retries int
}

// probeCheck is the healthcheck ToCompose writes for the readiness probe p of a component whose
// first port is firstPort (0: it has none): a cmd probe as the platform execs it,
// strings.Split(cmd, " ") with no shell; tcp and http probes as a check of loopback. The
// platform has no https scheme (nor any other): such a probe is no probe. Nil, with the reason,
// when there is none.
func probeCheck(p *Probe, firstPort int) (*composeCheck, string) {
	port := p.Port
	if port == 0 {
		port = firstPort
	}
	var test []string
	switch p.Scheme {
	case "tcp":
		if port == 0 {
			return nil, "the tcp readiness probe names no port"
		}
		test = []string{"CMD-SHELL", fmt.Sprintf("nc -z 127.0.0.1 %d || bash -c ': >/dev/tcp/127.0.0.1/%d'", port, port)}
	case "http":
		if port == 0 {
			return nil, "the http readiness probe names no port"
		}
		pth := p.Path
		if !strings.HasPrefix(pth, "/") {
			pth = "/" + pth
		}
		url := shellQuote(fmt.Sprintf("http://127.0.0.1:%d%s", port, pth))
		test = []string{"CMD-SHELL", fmt.Sprintf("wget -q -O /dev/null %s || curl -fsS -o /dev/null %s", url, url)}
	case "cmd":
		if p.Cmd == "" {
			return nil, "the cmd readiness probe has no command"
		}
		test = append([]string{"CMD"}, strings.Split(p.Cmd, " ")...)
	default:
		return nil, fmt.Sprintf("readiness probe scheme %s: the platform runs no such probe (only tcp, http, cmd)", quote(p.Scheme))
	}
	return &composeCheck{test: test, interval: max(p.PeriodSecond, 0), timeout: max(p.TimeoutSecond, 0),
		startPeriod: max(p.InitialDelaySecond, 0), retries: max(p.FailureThreshold, 0)}, ""
}

// sameHealthcheck compares h with the healthcheck ToCompose writes for e's readiness probe
// (probeCheck): same when it is that healthcheck (or none, or disabled, when that is none);
// sameTest when its test is, whatever its timings.
func sameHealthcheck(e *Component, h *types.HealthCheckConfig) (same, sameTest bool) {
	var want *composeCheck
	if p := readinessProbe(e.Probes); p != nil {
		first := 0
		if len(e.PortMapList) > 0 {
			first = e.PortMapList[0].ContainerPort
		}
		want, _ = probeCheck(p, first)
	}
	off := h == nil || h.Disable || len(h.Test) > 0 && h.Test[0] == "NONE"
	if want == nil || off {
		return want == nil && off, want == nil && off
	}
	if !slices.Equal([]string(h.Test), want.test) {
		return false, false
	}
	wrote := func(d *types.Duration, sec int) bool {
		if sec == 0 {
			return d == nil
		}
		return d != nil && time.Duration(*d) == time.Duration(sec)*time.Second
	}
	retries := h.Retries == nil
	if want.retries > 0 {
		retries = h.Retries != nil && *h.Retries == uint64(want.retries)
	}
	return wrote(h.Interval, want.interval) && wrote(h.Timeout, want.timeout) && wrote(h.StartPeriod, want.startPeriod) &&
		h.StartInterval == nil && retries, true
}

// probeTimes sets p's timings from the healthcheck's, as the console takes them: each at least
// 1; period and timeout 30 s, failures 3 when compose sets none.
func probeTimes(h *types.HealthCheckConfig, p *Probe) {
	p.PeriodSecond = max(1, seconds(h.Interval, 30))
	p.TimeoutSecond = max(1, seconds(h.Timeout, 30))
	p.InitialDelaySecond = max(1, seconds(h.StartPeriod, 0))
	p.FailureThreshold = 3
	if h.Retries != nil && *h.Retries >= 1 {
		p.FailureThreshold = int(*h.Retries)
	}
}

// probeText names a probe in a message: its scheme and what it checks.
func probeText(p Probe) string {
	switch p.Scheme {
	case "tcp":
		return fmt.Sprintf("tcp port %d", p.Port)
	case "http":
		return fmt.Sprintf("http port %d path %s", p.Port, p.Path)
	case "cmd":
		return fmt.Sprintf("cmd %q", p.Cmd)
	}
	return "scheme " + quote(p.Scheme)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// probe maps a healthcheck to a readiness probe the platform runs as compose runs the test
// (docs/ram-format.md §8.3). The platform execs a cmd probe inside the container as
// strings.Split(cmd, " "), no shell, and the compose test ran there too, so the image has what
// it runs: a CMD test becomes its arguments joined with spaces, when none is empty or holds a
// space; a CMD-SHELL script (or CMD sh -c SCRIPT) becomes `sh -c SCRIPT` with each unquoted
// space made a tab, which the split keeps and the shell reads as the same blank (see
// shellProbe). Either must fit the console's column (maxProbeCmd). Only when neither keeps the
// test does a plain HTTP or TCP check of the container itself (curl -f, wget, nc -z on
// localhost) become an http or tcp probe, with a warning: the platform runs those from the node
// against the pod's address, not loopback. Anything else is dropped with a warning, as is a
// healthcheck that inherits the image's test.
func (c *fromCompose) probe(scope string, s types.ServiceConfig, ports []Port) *Probe {
	h := s.HealthCheck
	if h == nil || h.Disable {
		return nil
	}
	p := &Probe{Mode: "readiness", IsUsed: true, SuccessThreshold: 1}
	var notes []string
	var (
		test  any      // the test, as messages quote it
		cmd   string   // the exact form: what the platform execs
		why   string   // why there is none
		words []string // the test as plain words, for an http or tcp probe
	)
	noShell := "the platform runs a probe's command without a shell, split at every space, and "
	switch {
	case len(h.Test) == 0:
		c.warn.add(scope, "healthcheck", "no test: it runs the image's own HEALTHCHECK, which RAM cannot read; dropped")
		return nil
	case h.Test[0] == "NONE":
		return nil
	case h.Test[0] == "CMD" && len(h.Test) > 1:
		args := h.Test[1:]
		test, words = []string(h.Test), args
		switch {
		case len(args) == 3 && args[1] == "-c" && slices.Contains([]string{"sh", "/bin/sh", "bash", "/bin/bash"}, args[0]):
			var err error
			if cmd, err = shellProbe(args[0], args[2]); err != nil {
				why = noShell + err.Error()
			}
			if w, ok := plainWords(args[2]); ok {
				words = w
			}
		case slices.ContainsFunc(args, func(a string) bool { return a == "" || strings.Contains(a, " ") }):
			why = "the platform splits a probe's command at every space and runs it without a shell, so an empty argument or one holding a space cannot be given"
		default:
			cmd = strings.Join(args, " ")
		}
	case h.Test[0] == "CMD-SHELL" && len(h.Test) == 2:
		script := h.Test[1]
		test = script
		words, _ = plainWords(script)
		var err error
		if cmd, err = shellProbe("sh", script); err != nil {
			why = noShell + err.Error()
		}
	default:
		c.warn.add(scope, "healthcheck", "test %q: not a CMD or CMD-SHELL test; dropped", []string(h.Test))
		return nil
	}
	if n := utf8.RuneCountInString(cmd); n > maxProbeCmd {
		why = fmt.Sprintf("as the platform runs it, the probe's command is %d characters, more than the %d the platform stores (console ServiceProbe.cmd): put the check in a script in the image", n, maxProbeCmd)
		cmd = ""
	}
	var net Probe
	switch {
	case cmd != "":
		p.Scheme, p.Cmd = "cmd", cmd
	case netProbe(words, &net) && utf8.RuneCountInString(net.Path) <= maxProbePath:
		p.Scheme, p.Port, p.Path = net.Scheme, net.Port, net.Path
		notes = append(notes, fmt.Sprintf("test %q: %s; it is a plain check of the container itself, so it becomes %s %s probe, which the platform runs from the node against the pod's address, not loopback inside the container: the app must listen on all addresses (0.0.0.0), not only 127.0.0.1", test, why, map[string]string{"tcp": "a", "http": "an"}[p.Scheme], probeText(*p)))
	default:
		c.warn.add(scope, "healthcheck", "test %q: %s; dropped", test, why)
		return nil
	}
	if h.StartInterval != nil {
		notes = append(notes, "start_interval: RAM probes have none; dropped")
	}
	if len(notes) > 0 {
		c.warn.add(scope, "healthcheck", "%s", strings.Join(notes, "; "))
	}
	// The console refuses a probe without a port >= 1, whatever its scheme, and raises values
	// below 1; the worker ignores the port of a cmd probe.
	probeTimes(h, p)
	if p.Port == 0 {
		p.Port = 1
		if len(ports) > 0 {
			p.Port = ports[0].ContainerPort
		}
	}
	return p
}

// shellProbe is the cmd probe running script under sh -c once the platform has split it at
// spaces: "sh -c " and the script with every space the shell reads as a blank (outside quotes,
// escapes, parameter expansions and here-documents) made a tab, so that the script is one
// argument. A tab and a space are the same <blank> to the shell's tokenizer (POSIX XCU 2.3), so
// the script means what it meant. A space the shell reads literally cannot be kept: an error
// says why.
func shellProbe(shell, script string) (string, error) {
	if strings.TrimSpace(script) == "" {
		return "", fmt.Errorf("the script is empty")
	}
	if !strings.Contains(script, " ") {
		return shell + " -c " + script, nil
	}
	b := []byte(script)
	literal := func(what string) error {
		return fmt.Errorf("a space %s cannot be written without one", what)
	}
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ' ':
			b[i] = '\t'
		case '\\':
			if i+1 < len(b) && b[i+1] == ' ' {
				return "", literal("escaped with a backslash")
			}
			i++
		case '\'':
			j := strings.IndexByte(script[i+1:], '\'')
			if j < 0 {
				return "", fmt.Errorf("the script has an unterminated quote")
			}
			if strings.Contains(script[i+1:i+1+j], " ") {
				return "", literal("inside single quotes")
			}
			i += j + 1
		case '"':
			j := i + 1
			for ; j < len(b) && b[j] != '"'; j++ {
				switch {
				case b[j] == '\\':
					j++
				case b[j] == '`' || b[j] == '$' && j+1 < len(b) && b[j+1] == '(':
					return "", fmt.Errorf("a command substitution inside double quotes is not converted")
				case b[j] == ' ':
					return "", literal("inside double quotes")
				}
			}
			if j >= len(b) {
				return "", fmt.Errorf("the script has an unterminated quote")
			}
			i = j
		case '`':
			return "", fmt.Errorf("a backquoted command substitution is not converted")
		case '$':
			if i+1 < len(b) && b[i+1] == '{' {
				depth, j := 0, i+1
				for ; j < len(b); j++ {
					if b[j] == '{' {
						depth++
					} else if b[j] == '}' {
						if depth--; depth == 0 {
							break
						}
					}
				}
				if j >= len(b) {
					return "", fmt.Errorf("the script has an unterminated ${")
				}
				if strings.Contains(script[i:j], " ") {
					return "", literal("inside a ${...} expansion")
				}
				i = j
			}
		case '<':
			if i+1 < len(b) && b[i+1] == '<' {
				return "", fmt.Errorf("a here-document is not converted")
			}
		}
	}
	return shell + " -c " + string(b), nil
}

// plainWords splits a shell script that is one simple command of plain words (letters, digits
// and -_./:=@%+,? only: no quotes, expansions, redirections or operators; a "?" is a glob,
// which in a URL matches no file), optionally
// followed by "|| exit" or "|| exit N" (N not 0: the test fails all the same), into its words.
func plainWords(script string) ([]string, bool) {
	w := strings.Fields(script)
	if n := len(w); n > 2 && w[n-2] == "||" && w[n-1] == "exit" {
		w = w[:n-2]
	} else if n > 3 && w[n-3] == "||" && w[n-2] == "exit" && isNumber(w[n-1]) && strings.Trim(w[n-1], "0") != "" {
		w = w[:n-3]
	}
	for _, x := range w {
		for _, r := range x {
			if !asciiAlnum(r) && !strings.ContainsRune("-_./:=@%+,?", r) {
				return nil, false
			}
		}
	}
	return w, len(w) > 0
}

// netProbe makes p an http or tcp probe when args is plainly an HTTP check of the container
// itself (curl with -f, wget) or a TCP connect (nc -z) on localhost. The platform runs those
// from the node against the pod's address, not loopback: only the fallback when the test
// cannot be a cmd probe (see probe).
func netProbe(args []string, p *Probe) bool {
	if len(args) < 2 {
		return false
	}
	var target []string // URL, or host and port
	fail := false
	switch args[0] {
	case "curl":
		for i := 1; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "--fail" || a == "--fail-with-body":
				fail = true
			case a == "--silent" || a == "--show-error" || a == "--location":
			case (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] == "/dev/null":
				i++
			case (a == "-m" || a == "--max-time" || a == "--connect-timeout") && i+1 < len(args) && isNumber(args[i+1]):
				i++
			case len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], "fsSL") == "":
				fail = fail || strings.Contains(a, "f")
			case !strings.HasPrefix(a, "-"):
				target = append(target, a)
			default:
				return false
			}
		}
		if !fail {
			return false // without -f, curl succeeds on any HTTP response
		}
	case "wget":
		for i := 1; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "-q" || a == "--quiet" || a == "--spider" || a == "-nv" || a == "--no-verbose" || a == "-O-" || a == "-qO-":
			case (a == "-O" || a == "-qO" || a == "--output-document") && i+1 < len(args) && (args[i+1] == "/dev/null" || args[i+1] == "-"):
				i++
			case (a == "-T" || a == "-t" || a == "--timeout" || a == "--tries") && i+1 < len(args) && isNumber(args[i+1]):
				i++
			case strings.HasPrefix(a, "--timeout=") && isNumber(a[len("--timeout="):]), strings.HasPrefix(a, "--tries=") && isNumber(a[len("--tries="):]):
			case !strings.HasPrefix(a, "-"):
				target = append(target, a)
			default:
				return false
			}
		}
	case "nc":
		for i := 1; i < len(args); i++ {
			a := args[i]
			switch {
			case len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "zv") == "":
				fail = fail || strings.Contains(a, "z")
			case a == "-w" && i+1 < len(args) && isNumber(args[i+1]):
				i++
			case strings.HasPrefix(a, "-w") && isNumber(a[2:]):
			case !strings.HasPrefix(a, "-"):
				target = append(target, a)
			default:
				return false
			}
		}
		if !fail || len(target) != 2 || !loopbackHost(target[0]) {
			return false
		}
		port, err := strconv.Atoi(target[1])
		if err != nil || port < 1 || port > 65535 {
			return false
		}
		p.Scheme, p.Port = "tcp", port
		return true
	default:
		return false
	}
	if len(target) != 1 {
		return false
	}
	u, err := url.Parse(target[0])
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" || !loopbackHost(u.Hostname()) {
		return false
	}
	port := 80
	if ps := u.Port(); ps != "" {
		if port, err = strconv.Atoi(ps); err != nil || port < 1 || port > 65535 {
			return false
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	p.Scheme, p.Port, p.Path = "http", port, path
	return true
}

func loopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || h == "0.0.0.0"
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func seconds(d *types.Duration, def int) int {
	if d == nil {
		return def
	}
	return int(math.Ceil(time.Duration(*d).Seconds()))
}
