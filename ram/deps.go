package ram

// Dependencies, both directions: dep_service_map_list <-> depends_on.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// dependencies resolves each component's dep_service_map_list to component indexes (in order,
// without repeats), and says which of them depends_on can carry: an edge that would close a
// cycle (which docker compose refuses) is left out of depends_on, with a warning, but its
// connection info still flows.
func (c *toCompose) dependencies() ([][]depEdge, error) {
	t := c.t
	out := make([][]depEdge, len(t.Apps))
	for i := range t.Apps {
		seen := map[int]bool{}
		for _, d := range t.Apps[i].DepServiceMapList {
			j := c.find(d.DepServiceKey)
			if j < 0 {
				return nil, fmt.Errorf("%s: dep_service_key %s names no component of the template (want a service_share_uuid or service_key)", c.label(i), quote(d.DepServiceKey))
			}
			if j == i {
				c.warnf("%s depends on itself: ignored", c.label(i))
				continue
			}
			if seen[j] {
				continue
			}
			seen[j] = true
			out[i] = append(out[i], depEdge{index: j})
		}
	}
	// Keep an edge i -> j only if j cannot already reach i through kept edges.
	reaches := func(from, to int) bool {
		stack, visited := []int{from}, map[int]bool{}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == to {
				return true
			}
			if visited[n] {
				continue
			}
			visited[n] = true
			for _, d := range out[n] {
				if d.order {
					stack = append(stack, d.index)
				}
			}
		}
		return false
	}
	for i := range out {
		for k := range out[i] {
			d := &out[i][k]
			if reaches(d.index, i) {
				c.warnf("%s and %s depend on each other: depends_on %s is left out (compose refuses cycles); the variables still flow", c.label(i), c.label(d.index), c.names[d.index])
				continue
			}
			d.order = true
		}
	}
	return out, nil
}

type depEdge struct {
	index int
	order bool // written to depends_on
}

func (c *fromCompose) deps(scope string, s types.ServiceConfig) []Dependency {
	var out []Dependency
	var conds []string
	for _, d := range slices.Sorted(maps.Keys(s.DependsOn)) {
		id, ok := c.ids[d]
		if !ok {
			continue // a service left out (provider, no image, or an inactive profile)
		}
		out = append(out, Dependency{DepServiceKey: id.uuid})
		if cond := s.DependsOn[d].Condition; cond != "" && cond != types.ServiceConditionStarted {
			conds = append(conds, d+" ("+cond+")")
		}
	}
	if len(conds) > 0 {
		c.warn.add(scope, "depends_on", "%s: RAM starts dependencies first but waits for no condition; condition dropped", strings.Join(conds, ", "))
	}
	var aliases []string
	for _, l := range s.Links {
		if svc, alias, ok := strings.Cut(l, ":"); ok && alias != svc {
			aliases = append(aliases, alias+" for "+svc)
		}
	}
	if len(aliases) > 0 {
		c.warn.add(scope, "links", "aliases %s: RAM reaches a component by its own name only; dropped (the dependency is kept)", strings.Join(aliases, ", "))
	}
	return out
}

// mergeDeps keeps the template's entries (as they spell the dependency) of the dependencies the
// compose file still has, and adds its new ones. A template dependency the compose file does
// not have is kept when ToCompose had to leave it out of depends_on: when the dependency
// already depends on the service, directly or not (compose refuses cycles).
func (c *fromCompose) mergeDeps(name string, ext, fresh []Dependency) []Dependency {
	serviceOf := map[string]string{} // service_share_uuid and service_key -> service
	for _, n := range c.names {
		id := c.ids[n]
		serviceOf[id.uuid], serviceOf[id.key] = n, n
	}
	want := map[string]bool{}
	for _, d := range fresh {
		want[serviceOf[d.DepServiceKey]] = true
	}
	var out []Dependency
	done := map[string]bool{}
	for _, d := range ext {
		dep, ok := serviceOf[d.DepServiceKey]
		if !ok || done[dep] || !want[dep] && !c.reaches(dep, name) {
			continue
		}
		done[dep] = true
		out = append(out, d)
	}
	for _, d := range fresh {
		if dep := serviceOf[d.DepServiceKey]; !done[dep] {
			done[dep] = true
			out = append(out, d)
		}
	}
	return out
}

// reaches reports whether service from depends on service to through compose's depends_on.
func (c *fromCompose) reaches(from, to string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		for d := range c.p.Services[n].DependsOn {
			stack = append(stack, d)
		}
	}
	return false
}
