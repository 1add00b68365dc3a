package ram

// Memory, cpu and replicas: what the platform installs a component with, read as it reads a
// template (docs/ram-format.md §8.5), and how that maps to compose and back.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// legacyExtend is the importer's legacyExtendMethodValueWithPresence: key in extend_method_map,
// else in the legacy service_extend_method object; ok when either has it.
func (c *Component) legacyExtend(key string) (int, bool) {
	if v, ok := c.extendRaw(key); ok {
		return v, true
	}
	var m map[string]RawJSON
	if len(c.ServiceExtendMethod) > 0 && json.Unmarshal(c.ServiceExtendMethod, &m) == nil {
		if r, ok := m[key]; ok {
			n, _ := RawJSON(nonEmptyRaw(r)).Int()
			return n, true
		}
	}
	return 0, false
}

func nonEmptyRaw(r RawJSON) RawJSON {
	if len(r) == 0 {
		return RawJSON("null")
	}
	return r
}

// extendRaw is extend_method_map[key] as the importer's raw map sees it.
func (c *Component) extendRaw(key string) (int, bool) {
	m := &c.ExtendMethodMap
	var o OptInt
	switch key {
	case "min_node":
		o = m.MinNode
	case "max_node":
		o = m.MaxNode
	case "step_node":
		o = m.StepNode
	case "min_memory":
		o = m.MinMemory
	case "max_memory":
		o = m.MaxMemory
	case "step_memory":
		o = m.StepMemory
	case "is_restart":
		o = m.IsRestart
	case "init_memory":
		o = m.InitMemory
	case "container_cpu":
		return m.ContainerCPU.Int()
	case "container_memory":
		return m.ContainerMemory.Int()
	default:
		return 0, false
	}
	return o.Int(), o.Present()
}

// legacyValue is the importer's legacyExtendMethodValue: extend_method_map's value when not 0,
// else service_extend_method's.
func (c *Component) legacyValue(key string) int {
	if v, _ := c.extendRaw(key); v != 0 {
		return v
	}
	var m map[string]RawJSON
	if len(c.ServiceExtendMethod) > 0 && json.Unmarshal(c.ServiceExtendMethod, &m) == nil {
		n, _ := nonEmptyRaw(m[key]).Int()
		return n
	}
	return 0
}

// PlatformMemory is the memory limit (MB, 0: none) the current platform installs c with from an
// offline package: the importer keeps init_memory when the key is present (0 and null: 0) and
// sets it to min_memory when absent; the console then installs init_memory.
func (c *Component) PlatformMemory() int {
	if v := c.ExtendMethodMap.InitMemory.Int(); v != 0 {
		return v
	}
	if v, ok := c.legacyExtend("init_memory"); ok {
		return v
	}
	return c.legacyValue("min_memory")
}

// PlatformCPU is the cpu limit (millicores, 0: none) the current platform installs c with from
// an offline package: cpu, or the legacy extend_method_map.container_cpu when present and cpu
// is absent (or 250, the old default).
func (c *Component) PlatformCPU() int {
	cpu, set := c.CPU.Value()
	if cpu == 250 || (cpu == 0 && !set) {
		if v, ok := c.legacyExtend("container_cpu"); ok {
			return v
		}
	}
	return cpu
}

// PlatformReplicas is the number of instances the platform starts (min_node; absent: 0); -1 for
// a daemonset, whose node scaling the importer clears (one instance per node).
func (c *Component) PlatformReplicas() int {
	if strings.EqualFold(c.ExtendMethod, DaemonSet) || strings.EqualFold(c.ServiceType, DaemonSet) {
		return -1
	}
	return c.legacyValue("min_node")
}

// composeResources is what ToCompose writes for c: the memory limit (MB), the cpu limit
// (millicores) and deploy.replicas (0: none written, compose runs one), with a warning for what
// compose cannot follow. FromCompose compares a bundle's values with these to see what changed.
func composeResources(c *Component, published bool) (mem, cpu, replicas int, notes []string) {
	mem, cpu = max(c.PlatformMemory(), 0), max(c.PlatformCPU(), 0)
	if m, ok := c.Memory.Value(); ok && m > 0 && m != mem {
		notes = append(notes, fmt.Sprintf("memory is %d MB but the platform installs init_memory (or min_memory when init_memory is absent): %s", m, mbText(mem)))
	}
	switch n := c.PlatformReplicas(); {
	case n < 0:
	case n == 0:
		notes = append(notes, "min_node is "+c.ExtendMethodMap.MinNode.String()+": the platform starts no instance; docker compose runs one")
	case n > 1 && published:
		notes = append(notes, fmt.Sprintf("min_node %d: docker compose runs one instance, since the service publishes ports on fixed host ports", n))
	case n > 1:
		replicas = n
	}
	return mem, cpu, replicas, notes
}

func mbText(mb int) string {
	if mb <= 0 {
		return "no limit"
	}
	return strconv.Itoa(mb) + " MB"
}

// cpusText is millicores as compose's cpus: 1500 → "1.5".
func cpusText(milli int) string {
	return strconv.FormatFloat(float64(milli)/1000, 'f', -1, 64)
}
