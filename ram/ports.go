package ram

// Ports, both directions: port_map_list <-> ports (published) and expose.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

type servicePort struct {
	port   int
	proto  string // tcp or udp
	envVar string // the .env variable of the host port; "" when not published
}

func (c *toCompose) ports(i int) ([]servicePort, error) {
	var out []servicePort
	seen := map[string]int{}
	for _, p := range c.t.Apps[i].PortMapList {
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			return nil, fmt.Errorf("%s: container_port %d is not a port number", c.label(i), p.ContainerPort)
		}
		proto := "tcp"
		if strings.EqualFold(p.Protocol, "udp") {
			proto = "udp"
		}
		k := strconv.Itoa(p.ContainerPort) + "/" + proto
		if j, dup := seen[k]; dup {
			if p.IsOuterService && out[j].envVar == "" {
				out[j].envVar = c.addEnv(c.envPrefix[i]+"_PORT_"+portSuffix(p.ContainerPort, proto), strconv.Itoa(p.ContainerPort))
			}
			continue
		}
		ps := servicePort{port: p.ContainerPort, proto: proto}
		if p.IsOuterService {
			ps.envVar = c.addEnv(c.envPrefix[i]+"_PORT_"+portSuffix(p.ContainerPort, proto), strconv.Itoa(p.ContainerPort))
		}
		seen[k] = len(out)
		out = append(out, ps)
	}
	return out, nil
}

func (c *fromCompose) ports(scope, name string, s types.ServiceConfig) []Port {
	var out []Port
	index := map[int]int{}
	var notes []string
	add := func(port int, proto string, published bool, portName string) {
		if i, ok := index[port]; ok {
			p := &out[i]
			if p.Protocol != proto {
				notes = append(notes, fmt.Sprintf("port %d is listed as %s and %s: RAM has one protocol per port (%s)", port, p.Protocol, proto, p.Protocol))
			}
			if published {
				p.IsOuterService = true
			}
			return
		}
		index[port] = len(out)
		// port_alias and k8s_service_name are given once every component is known
		// (platformNames). Every port is inner: compose reaches a published port on the
		// project network too, and the worker creates the Service named k8s_service_name for
		// inner ports only (rainbond worker/appm/conversion/gateway.go Build); consoles before
		// 2024-02 and Kato install the template's is_inner_service as it is.
		out = append(out, Port{
			ContainerPort:  port,
			Protocol:       proto,
			IsOuterService: published,
			IsInnerService: true,
			Name:           portName,
		})
	}
	for _, pc := range s.Ports {
		port := int(pc.Target)
		if port == 0 {
			continue
		}
		switch {
		case strings.Contains(pc.Published, "-"):
			notes = append(notes, fmt.Sprintf("port %d is published on the host port range %s: RAM publishes the container port", port, pc.Published))
		case pc.Published != "" && pc.Published != strconv.Itoa(port):
			notes = append(notes, fmt.Sprintf("port %d is published on host port %s: RAM publishes the container port, %d", port, pc.Published, port))
		}
		if pc.HostIP != "" {
			notes = append(notes, fmt.Sprintf("port %d is published on host address %s only: RAM publishes on every address", port, pc.HostIP))
		}
		// A ports entry publishes, on the host port it names or on one the engine picks.
		add(port, portProtocol(pc.Protocol, pc.AppProtocol, port, true), true, pc.Name)
	}
	if len(notes) > 0 {
		c.warn.add(scope, "ports", "%s", strings.Join(notes, "; "))
	}
	var bad []string
	for _, e := range s.Expose {
		ports, proto, problem := parseExpose(e)
		if problem != "" {
			bad = append(bad, e+": "+problem)
			continue
		}
		for _, port := range ports {
			add(port, portProtocol(proto, "", port, false), false, "")
		}
	}
	if len(bad) > 0 {
		c.warn.add(scope, "expose", "%s", strings.Join(bad, "; "))
	}
	// The console gives published http ports a default domain, in port order, up to the first
	// port that is not one.
	slices.SortStableFunc(out, func(a, b Port) int {
		return cmpBool(defaultDomain(b), defaultDomain(a))
	})
	return out
}

// defaultDomain reports whether the console gives p a default domain (when every port before
// it gets one): a published http port.
func defaultDomain(p Port) bool { return p.IsOuterService && p.Protocol == "http" }

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// httpPorts are the ports a published port is taken to serve HTTP on when compose does not say
// (app_protocol): the usual ports of web servers and application frameworks (nginx, Node,
// Flask, Django, Tomcat, Jupyter). 443 and 8443 are TLS: the console installs https as tcp.
var httpPorts = map[int]bool{80: true, 3000: true, 5000: true, 8000: true, 8008: true, 8080: true, 8081: true, 8888: true}

// portProtocol is a port's RAM protocol: the compose app_protocol (http, grpc, ...) when set,
// else udp, else http for a published port in httpPorts (the platform gives published http
// ports a default domain), else tcp. A template from a RAM package keeps its own.
func portProtocol(proto, app string, port int, published bool) string {
	switch {
	case app != "":
		return strings.ToLower(app)
	case strings.EqualFold(proto, "udp"):
		return "udp"
	case published && httpPorts[port]:
		return "http"
	}
	return "tcp"
}

// maxExposeRange is the most ports an `expose` range may hold: each becomes a port of the
// component (a port_map_list entry, a Service port, two variables for each dependant).
const maxExposeRange = 100

// parseExpose reads an `expose` entry: "80", "80/udp", "8000-8002"; or says why it is dropped.
func parseExpose(e string) (ports []int, proto, problem string) {
	spec, proto, _ := strings.Cut(e, "/")
	lo, hi, isRange := strings.Cut(spec, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a <= 0 || a > 65535 {
		return nil, "", "not a port or a port range; dropped"
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil || b < a || b > 65535 {
			return nil, "", "not a port or a port range; dropped"
		}
		if n := b - a + 1; n > maxExposeRange {
			return nil, "", fmt.Sprintf("a range of %d ports, more than the %d airpack converts (each becomes a port of the component); dropped: list the ports the service listens on", n, maxExposeRange)
		}
	}
	for p := a; p <= b; p++ {
		ports = append(ports, p)
	}
	return ports, proto, ""
}

// mergePorts keeps the template's ports, published or not as the compose file says, and adds
// the compose file's new ones. A port the compose file no longer names is kept unpublished:
// compose need not list inner ports.
func mergePorts(ext, fresh []Port) []Port {
	byPort := map[int]Port{}
	for _, p := range fresh {
		byPort[p.ContainerPort] = p
	}
	var out []Port
	seen := map[int]bool{}
	for _, p := range ext {
		seen[p.ContainerPort] = true
		f, ok := byPort[p.ContainerPort]
		p.IsOuterService = ok && f.IsOuterService
		out = append(out, p)
	}
	for _, p := range fresh {
		if !seen[p.ContainerPort] {
			out = append(out, p)
		}
	}
	return out
}
