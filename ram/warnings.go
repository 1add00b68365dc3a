package ram

// Compose -> RAM warnings: what the project and its services set that RAM cannot express.

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

func (c *fromCompose) projectWarnings() {
	var nets []string
	for _, n := range slices.Sorted(maps.Keys(c.p.Networks)) {
		cfg := c.p.Networks[n]
		if n == "default" {
			cfg.Name = ""
			if reflect.ValueOf(cfg).IsZero() {
				continue
			}
		}
		nets = append(nets, n)
	}
	if len(nets) > 0 {
		c.warn.add("", "networks", "%s: RAM has no networks (components reach each other by name); dropped", strings.Join(nets, ", "))
	}
	var vols []string
	for _, n := range slices.Sorted(maps.Keys(c.p.Volumes)) {
		v := c.p.Volumes[n]
		var what []string
		if v.Name != "" && v.Name != c.p.Name+"_"+n && v.Name != n {
			what = append(what, "name "+v.Name)
		}
		if v.Driver != "" && v.Driver != "local" || len(v.DriverOpts) > 0 {
			what = append(what, "driver")
		}
		if v.External {
			what = append(what, "external: true")
		}
		if len(v.Labels) > 0 {
			what = append(what, "labels")
		}
		if len(what) > 0 {
			vols = append(vols, fmt.Sprintf("%s: %s dropped, the volume kept", n, strings.Join(what, ", ")))
		}
	}
	if len(vols) > 0 {
		c.warn.add("", "volumes", "%s (the platform creates RAM volumes itself, empty)", strings.Join(vols, "; "))
	}
	if len(c.p.Models) > 0 {
		c.warn.add("", "models", "%s: RAM has no AI models; dropped", strings.Join(slices.Sorted(maps.Keys(c.p.Models)), ", "))
	}
	if len(c.p.Jobs) > 0 {
		c.warn.add("", "jobs", "%s: not converted; dropped", strings.Join(slices.Sorted(maps.Keys(c.p.Jobs)), ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(c.p.Extensions)) {
		if k != ExtensionKey {
			c.warn.add("", k, "extension field: RAM has no place for it; dropped")
		}
	}
}

// Every YAML key of compose-go's ServiceConfig is in exactly one of these: mapped by the
// converter (which warns about the parts it cannot map), meaningless for a RAM component, or
// dropped with a warning. A key in none of them (a field newer than this table) is dropped with
// a generic warning; a test keeps the table complete.
var (
	mappedKeys = []string{
		"name", "image", "command", "environment", "env_file", "labels", "label_file", "ports",
		"expose", "volumes", "tmpfs", "configs", "secrets", "depends_on", "links", "healthcheck",
		"deploy", "scale", "mem_limit", "cpus", "platform", "restart", "networks", "provider",
	}
	// ignoredKeys have no meaning for a component installed from a RAM package.
	ignoredKeys = map[string]string{
		"build":              "the image is shipped built",
		"dockerfile":         "the image is shipped built",
		"profiles":           "applied when the project was loaded",
		"extends":            "applied when the project was loaded",
		"develop":            "development-time file watching",
		"pull_policy":        "the image comes from the package",
		"pull_refresh_after": "the image comes from the package",
		"attach":             "docker compose's log output only",
	}
	droppedKeys = map[string]string{
		"annotations":         "RAM has no container annotations",
		"blkio_config":        "RAM has no block I/O limits",
		"cap_add":             "RAM has no Linux capabilities",
		"cap_drop":            "RAM has no Linux capabilities",
		"cgroup":              "RAM has no cgroup namespace setting",
		"cgroup_parent":       "RAM has no cgroup parent",
		"container_name":      "the platform names containers itself",
		"cpu_count":           "RAM limits cpu in millicores only (cpus)",
		"cpu_percent":         "RAM limits cpu in millicores only (cpus)",
		"cpu_period":          "RAM limits cpu in millicores only (cpus)",
		"cpu_quota":           "RAM limits cpu in millicores only (cpus)",
		"cpu_rt_period":       "RAM has no realtime scheduling",
		"cpu_rt_runtime":      "RAM has no realtime scheduling",
		"cpu_shares":          "RAM limits cpu in millicores only (cpus)",
		"cpuset":              "RAM has no cpu pinning",
		"credential_spec":     "RAM has no Windows credential specs",
		"device_cgroup_rules": "RAM has no device access",
		"devices":             "RAM has no device access",
		"dns":                 "components use the platform's DNS",
		"dns_opt":             "components use the platform's DNS",
		"dns_search":          "components use the platform's DNS",
		"domainname":          "the platform sets the host name",
		"entrypoint":          "RAM runs the image's entrypoint (cmd sets its arguments)",
		"external_links":      "RAM reaches only components of the application",
		"extra_hosts":         "RAM has no /etc/hosts entries",
		"gpus":                "RAM has no GPU requests",
		"group_add":           "RAM runs the image's user and groups",
		"hostname":            "the platform sets the host name",
		"init":                "RAM has no init process setting",
		"ipc":                 "RAM has no shared namespaces",
		"isolation":           "RAM has no isolation setting",
		"log_driver":          "the platform collects logs itself",
		"log_opt":             "the platform collects logs itself",
		"logging":             "the platform collects logs itself",
		"mac_address":         "RAM has no network settings",
		"mem_reservation":     "RAM has a memory limit only",
		"mem_swappiness":      "RAM has a memory limit only",
		"memswap_limit":       "RAM has a memory limit only",
		"models":              "RAM has no AI models",
		"net":                 "RAM has no network modes",
		"network_mode":        "RAM has no network modes: each component has its own network",
		"oom_kill_disable":    "RAM has no OOM settings",
		"oom_score_adj":       "RAM has no OOM settings",
		"pid":                 "RAM has no shared namespaces",
		"pids_limit":          "RAM has no process limit",
		"post_start":          "RAM has no lifecycle hooks",
		"pre_start":           "RAM has no lifecycle hooks",
		"pre_stop":            "RAM has no lifecycle hooks",
		"privileged":          "RAM runs no privileged containers",
		"read_only":           "RAM has no read-only root file system",
		"runtime":             "RAM has no runtime setting",
		"security_opt":        "RAM has no security options",
		"shm_size":            "RAM has no /dev/shm size",
		"stdin_open":          "RAM components have no terminal",
		"stop_grace_period":   "RAM has no stop settings",
		"stop_signal":         "RAM has no stop settings",
		"storage_opt":         "RAM has no storage options",
		"sysctls":             "RAM has no sysctls",
		"tty":                 "RAM components have no terminal",
		"ulimits":             "RAM has no ulimits",
		"umask":               "RAM has no umask setting",
		"use_api_socket":      "RAM gives components no Docker API",
		"user":                "RAM runs the image's user",
		"userns_mode":         "RAM has no user namespaces",
		"uts":                 "RAM has no shared namespaces",
		"volume_driver":       "the platform chooses volume drivers itself",
		"volumes_from":        "RAM shares volumes by name (mnt_relation_list), not by container",
		"working_dir":         "RAM runs in the image's working directory",
	}
)

// unmapped warns about every set field of s that RAM cannot express, beyond those the
// converter maps.
func (c *fromCompose) unmapped(scope string, s types.ServiceConfig) {
	for _, key := range setKeys(s) {
		if slices.Contains(mappedKeys, key) {
			continue
		}
		if _, ok := ignoredKeys[key]; ok {
			continue
		}
		why, ok := droppedKeys[key]
		if !ok {
			why = "RAM has no equivalent"
		}
		c.warn.add(scope, key, "%s; dropped", why)
	}
	var nets []string
	for _, n := range slices.Sorted(maps.Keys(s.Networks)) {
		if n != "default" || s.Networks[n] != nil && !reflect.ValueOf(onlyAliases(*s.Networks[n])).IsZero() {
			nets = append(nets, n)
		}
	}
	if len(nets) > 0 {
		c.warn.add(scope, "networks", "%s: RAM has no networks (components reach each other by name); dropped", strings.Join(nets, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Extensions)) {
		if k != ExtensionKey {
			c.warn.add(scope, k, "extension field: RAM has no place for it; dropped")
		}
	}
}

// onlyAliases is a service network without its aliases: the default network's aliases are
// compared with the component's k8s_service_name (platformNames), not dropped as a network.
func onlyAliases(n types.ServiceNetworkConfig) types.ServiceNetworkConfig {
	n.Aliases = nil
	return n
}

// setKeys lists the YAML keys of the fields set in s (inline structs flattened; extensions and
// fields without a YAML key left out).
func setKeys(s types.ServiceConfig) []string {
	var keys []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			key, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct && key == "" {
				walk(v.Field(i))
				continue
			}
			if !f.IsExported() || key == "" || key == "-" || strings.HasPrefix(key, "#") {
				continue
			}
			if isSet(v.Field(i)) {
				keys = append(keys, key)
			}
		}
	}
	walk(reflect.ValueOf(s))
	return keys
}

func isSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map, reflect.Slice:
		return v.Len() > 0
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil()
	}
	return !v.IsZero()
}

// keyedWarnings collects one warning per scope (project, or "service NAME") and compose key.
type keyedWarnings struct {
	by map[string]map[string][]string
}

func newKeyedWarnings() *keyedWarnings { return &keyedWarnings{by: map[string]map[string][]string{}} }

func serviceScope(name string) string { return "service " + name }

func (w *keyedWarnings) add(scope, key, format string, args ...any) {
	if w.by[scope] == nil {
		w.by[scope] = map[string][]string{}
	}
	w.by[scope][key] = append(w.by[scope][key], fmt.Sprintf(format, args...))
}

// list gives the warnings in a fixed order: the project's first, then by service and key.
func (w *keyedWarnings) list() []string {
	var out []string
	for _, scope := range slices.Sorted(maps.Keys(w.by)) {
		for _, key := range slices.Sorted(maps.Keys(w.by[scope])) {
			line := key + ": " + strings.Join(w.by[scope][key], "; ")
			if scope != "" {
				line = scope + ": " + line
			}
			out = append(out, line)
		}
	}
	return out
}
