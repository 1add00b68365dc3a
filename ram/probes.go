package ram

// Probes, both directions: the readiness probe <-> healthcheck.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// healthcheck is the readiness probe as a compose healthcheck, nil when there is none.
func (c *toCompose) healthcheck(i int, ports []servicePort) *yaml.Node {
	var p *Probe
	for k := range c.t.Apps[i].Probes {
		if pr := &c.t.Apps[i].Probes[k]; pr.IsUsed && (pr.Mode == "readiness" || pr.Mode == "") {
			p = pr
			break
		}
	}
	if p == nil {
		return nil
	}
	port := p.Port
	if port == 0 && len(ports) > 0 {
		port = ports[0].port
	}
	var test string
	switch strings.ToLower(p.Scheme) {
	case "tcp":
		if port == 0 {
			c.warnf("%s: the tcp readiness probe names no port: no healthcheck", c.label(i))
			return nil
		}
		test = fmt.Sprintf("nc -z 127.0.0.1 %d || bash -c ': >/dev/tcp/127.0.0.1/%d'", port, port)
	case "http", "https":
		if port == 0 {
			c.warnf("%s: the http readiness probe names no port: no healthcheck", c.label(i))
			return nil
		}
		pth := p.Path
		if !strings.HasPrefix(pth, "/") {
			pth = "/" + pth
		}
		url := shellQuote(fmt.Sprintf("http://127.0.0.1:%d%s", port, pth))
		test = fmt.Sprintf("wget -q -O /dev/null %s || curl -fsS -o /dev/null %s", url, url)
	case "cmd":
		if strings.TrimSpace(p.Cmd) == "" {
			c.warnf("%s: the cmd readiness probe has no command: no healthcheck", c.label(i))
			return nil
		}
		test = p.Cmd
	default:
		c.warnf("%s: readiness probe scheme %s is not supported: no healthcheck", c.label(i), quote(p.Scheme))
		return nil
	}
	hc := yamlMap()
	yamlSet(hc, "test", yamlSeq(yamlStr("CMD-SHELL"), yamlStr(escape(test))))
	for _, d := range []struct {
		key string
		sec int
	}{{"interval", p.PeriodSecond}, {"timeout", p.TimeoutSecond}, {"start_period", p.InitialDelaySecond}} {
		if d.sec > 0 {
			yamlSet(hc, d.key, yamlStr(strconv.Itoa(d.sec)+"s"))
		}
	}
	if p.FailureThreshold > 0 {
		yamlSet(hc, "retries", yamlVal(p.FailureThreshold))
	}
	return hc
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// probe maps a healthcheck to a readiness probe: RAM runs a command probe the way a healthcheck
// runs its test. A healthcheck that inherits the image's test cannot be mapped.
func (c *fromCompose) probe(scope string, s types.ServiceConfig, ports []Port) *Probe {
	h := s.HealthCheck
	if h == nil || h.Disable {
		return nil
	}
	var cmd string
	var notes []string
	switch {
	case len(h.Test) == 0:
		c.warn.add(scope, "healthcheck", "no test: it runs the image's own HEALTHCHECK, which RAM cannot read; dropped")
		return nil
	case h.Test[0] == "NONE":
		return nil
	case h.Test[0] == "CMD" && len(h.Test) > 1:
		cmd = strings.Join(h.Test[1:], " ")
		if lostQuoting(h.Test[1:]) {
			notes = append(notes, "test arguments with spaces or quotes are joined with spaces: their quoting is lost")
		}
	case h.Test[0] == "CMD-SHELL" && len(h.Test) == 2:
		cmd = h.Test[1]
	default:
		c.warn.add(scope, "healthcheck", "test %q: not a CMD or CMD-SHELL test; dropped", []string(h.Test))
		return nil
	}
	if h.StartInterval != nil {
		notes = append(notes, "start_interval: RAM probes have none; dropped")
	}
	if len(notes) > 0 {
		c.warn.add(scope, "healthcheck", "%s", strings.Join(notes, "; "))
	}
	p := &Probe{
		Mode:               "readiness",
		Scheme:             "cmd",
		Cmd:                cmd,
		IsUsed:             true,
		PeriodSecond:       seconds(h.Interval, 30),
		TimeoutSecond:      seconds(h.Timeout, 30),
		InitialDelaySecond: seconds(h.StartPeriod, 0),
		FailureThreshold:   3,
		SuccessThreshold:   1,
	}
	if h.Retries != nil {
		p.FailureThreshold = int(*h.Retries)
	}
	if len(ports) > 0 {
		p.Port = ports[0].ContainerPort
	}
	return p
}

func seconds(d *types.Duration, def int) int {
	if d == nil {
		return def
	}
	return int(math.Ceil(time.Duration(*d).Seconds()))
}
