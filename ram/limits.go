package ram

// Column lengths: the most characters the platform stores of each template value
// (docs/ram-format.md §8.2). A longer value fails the install (the console's MySQL runs with
// STRICT_TRANS_TABLES: "Data too long") or is cut (a non-strict region database). One table,
// used when writing a template (FromCompose, WritePackage: before anything is written) and by
// InspectPackage to report a platform package's problems.

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The binding limits, in characters (Django max_length and MySQL varchar count characters).
const (
	maxGroupName     = 64   // console RainbondCenterApp.app_name
	maxGroupVersion  = 32   // console RainbondCenterAppVersion.version
	maxKey           = 32   // console TenantServiceInfo.service_key, ServiceSourceInfo.group_key
	maxDeployVersion = 20   // console TenantServiceInfo.deploy_version
	maxCname         = 100  // console TenantServiceInfo.service_cname
	maxShareImage    = 200  // console TenantServiceInfo.image
	maxCmd           = 2048 // console TenantServiceInfo.cmd, region version_info.cmd
	maxK8sName       = 63   // a Kubernetes DNS label; console port k8s_service_name column
	maxPortAlias     = 64   // console TenantServicesPort.port_alias
	maxVolumeName    = 40   // region tenant_services_volume.volume_name
	maxConfigName    = 32   // console TenantServiceConfigurationFile.volume_name
	maxVolumePath    = 255  // region tenant_services_volume.volume_path varchar(255)
	maxAttrName      = 1024 // console TenantServiceEnvVar.attr_name, region size 1024
	maxProbeCmd      = 1024 // console ServiceProbe.cmd
	maxProbePath     = 200  // console ServiceProbe.path
	maxProbeHeader   = 300  // console ServiceProbe.http_header
	maxConfigGroup   = 64   // console ConfigGroup name

	// maxComponentName is the length airpack gives a k8s_component_name it derives: the worker
	// names the workload (and a stateful component's headless Service) <k8s_app>-<name>, which
	// must stay a 63-character DNS label too.
	maxComponentName = 40
)

// fieldLimit is one row of the table.
type fieldLimit struct {
	key    string // the template key, as messages name it
	max    int
	column string // the column that binds
	fix    string // what to do about a longer value (the user's: airpack shortens its own names)
	// each calls emit with every value of the key in t: the component's index (-1 for a
	// template-level value) and a path below it, "" for the key itself.
	each func(t *Template, emit func(app int, sub, value string))
}

// perApp is each for a component key with one value.
func perApp(get func(a *Component) string) func(*Template, func(int, string, string)) {
	return func(t *Template, emit func(int, string, string)) {
		for i := range t.Apps {
			emit(i, "", get(&t.Apps[i]))
		}
	}
}

// fieldLimits is the table (sources: facts §5; console www/models/main.py, console/models/main.py,
// rainbond db/model).
var fieldLimits = []fieldLimit{
	{"group_name", maxGroupName, "console RainbondCenterApp.app_name", "choose a shorter name (--name)",
		func(t *Template, emit func(int, string, string)) { emit(-1, "", t.GroupName) }},
	{"group_version", maxGroupVersion, "console RainbondCenterAppVersion.version", "choose a shorter version (--version)",
		func(t *Template, emit func(int, string, string)) { emit(-1, "", t.GroupVersion) }},
	{"group_key", maxKey, "console ServiceSourceInfo.group_key", "use a 32-character key",
		func(t *Template, emit func(int, string, string)) { emit(-1, "", t.GroupKey) }},
	{"service_key", maxKey, "console TenantServiceInfo.service_key", "use a 32-character key",
		perApp(func(a *Component) string { return a.ServiceKey })},
	{"service_cname", maxCname, "console TenantServiceInfo.service_cname", "choose a shorter name",
		perApp(func(a *Component) string { return a.ServiceCname })},
	{"deploy_version", maxDeployVersion, "console TenantServiceInfo.deploy_version", "use a shorter version",
		perApp(func(a *Component) string { return a.DeployVersion })},
	{"share_image", maxShareImage, "console TenantServiceInfo.image", "ship the image under a shorter name",
		perApp(func(a *Component) string { return a.ShareImage })},
	{"cmd", maxCmd, "console TenantServiceInfo.cmd", "move the command into a script in the image, or into its entrypoint",
		perApp(func(a *Component) string { return a.Cmd })},
	{"k8s_component_name", maxK8sName, "Kubernetes container name", "use a shorter name",
		perApp(func(a *Component) string { return a.K8sComponentName })},
	{"k8s_service_name", maxK8sName, "Kubernetes Service name; console TenantServicesPort.k8s_service_name", "use a shorter name",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for j, p := range t.Apps[i].PortMapList {
					emit(i, "port_map_list["+itoa(j)+"]", p.K8sServiceName)
				}
			}
		}},
	{"port_alias", maxPortAlias, "console TenantServicesPort.port_alias", "use a shorter alias",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for j, p := range t.Apps[i].PortMapList {
					emit(i, "port_map_list["+itoa(j)+"]", p.PortAlias)
				}
			}
		}},
	{"attr_name", maxAttrName, "console TenantServiceEnvVar.attr_name", "use a shorter variable name",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for _, e := range t.Apps[i].ServiceEnvMapList {
					emit(i, "service_env_map_list", e.AttrName)
				}
				for _, e := range t.Apps[i].ServiceConnectInfoMapList {
					emit(i, "service_connect_info_map_list", e.AttrName)
				}
			}
		}},
	{"volume_name", maxVolumeName, "region tenant_services_volume.volume_name", "use a shorter volume name",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for _, v := range t.Apps[i].ServiceVolumeMapList {
					if v.VolumeType != VolumeConfigFile {
						emit(i, "volume "+quote(v.VolumePath), v.VolumeName)
					}
				}
			}
		}},
	{"volume_name", maxConfigName, "console TenantServiceConfigurationFile.volume_name (a config file's)", "use a shorter config file name",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for _, v := range t.Apps[i].ServiceVolumeMapList {
					if v.VolumeType == VolumeConfigFile {
						emit(i, "config file "+quote(v.VolumePath), v.VolumeName)
					}
				}
			}
		}},
	{"volume_path", maxVolumePath, "region tenant_services_volume.volume_path", "mount it at a shorter path",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for _, v := range t.Apps[i].ServiceVolumeMapList {
					emit(i, "volume "+quote(v.VolumeName), v.VolumePath)
				}
			}
		}},
	{"mnt_name", maxVolumeName, "region tenant_service_mnt_relation.mnt_name", "use a shorter volume name",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for _, m := range t.Apps[i].MntRelationList {
					emit(i, "mnt_relation_list "+quote(m.MntDir), m.MntName)
				}
			}
		}},
	{"mnt_dir", maxVolumePath, "region tenant_service_mnt_relation.mnt_dir", "mount it at a shorter path",
		func(t *Template, emit func(int, string, string)) {
			for i := range t.Apps {
				for _, m := range t.Apps[i].MntRelationList {
					emit(i, "mnt_relation_list "+quote(m.MntName), m.MntDir)
				}
			}
		}},
	{"probe cmd", maxProbeCmd, "console ServiceProbe.cmd", "put the check in a script in the image",
		func(t *Template, emit func(int, string, string)) {
			eachProbe(t, emit, func(p Probe) string { return p.Cmd })
		}},
	{"probe path", maxProbePath, "console ServiceProbe.path", "use a shorter path",
		func(t *Template, emit func(int, string, string)) {
			eachProbe(t, emit, func(p Probe) string { return p.Path })
		}},
	{"probe http_header", maxProbeHeader, "console ServiceProbe.http_header", "send fewer headers",
		func(t *Template, emit func(int, string, string)) {
			eachProbe(t, emit, func(p Probe) string { return p.HTTPHeader })
		}},
	{"app_config_groups name", maxConfigGroup, "console ApplicationConfigGroup.config_group_name", "use a shorter group name",
		func(t *Template, emit func(int, string, string)) {
			for _, g := range t.AppConfigGroups {
				emit(-1, "", g.Name)
			}
		}},
}

func eachProbe(t *Template, emit func(int, string, string), get func(Probe) string) {
	for i := range t.Apps {
		for j, p := range t.Apps[i].Probes {
			emit(i, "probes["+itoa(j)+"]", get(p))
		}
	}
}

// problem is a rule of the platform a template breaks.
type problem struct {
	app int    // the component's index, -1 for the template
	key string // the template key
	msg string // what happens, without the component
	// refuse: the install fails, or the application installed is not the one packed (a name
	// others reach the component by, a config file, a volume's data lost). Otherwise the
	// platform repairs it (renames, ignores) and it is a warning.
	refuse bool
}

// lengthProblems checks every value of t against fieldLimits.
func lengthProblems(t *Template) []problem {
	var out []problem
	for _, l := range fieldLimits {
		l.each(t, func(app int, sub, v string) {
			n := utf8.RuneCountInString(v)
			if n <= l.max {
				return
			}
			what := l.key
			if sub != "" {
				what = sub + ": " + l.key
			}
			out = append(out, problem{app: app, key: l.key, refuse: true, msg: fmt.Sprintf(
				"%s is %s characters, more than the %d the platform stores (%s): the install fails or cuts it; %s",
				what, strconv.Itoa(n), l.max, l.column, l.fix)})
		})
	}
	return out
}

// TemplateProblems lists what the platform would do wrong with t at install, one line each:
// values longer than their database column, names that are not valid where the platform uses
// them, names several components share, volume paths the console drops (docs/ram-format.md
// §8.2). InspectPackage reports them; WritePackage refuses a template with any it cannot
// install as packed.
func TemplateProblems(t *Template) []string {
	var out []string
	for _, p := range platformProblems(t) {
		out = append(out, problemLine(t, p, nil))
	}
	return out
}

// platformProblems is every problem of t: lengths, then names and paths.
func platformProblems(t *Template) []problem {
	return append(lengthProblems(t), nameProblems(t)...)
}

// problemLine is p as a message; label names a component (nil: componentLabel).
func problemLine(t *Template, p problem, label func(i int) string) string {
	switch {
	case p.app < 0:
		return "template: " + p.msg
	case label != nil:
		return label(p.app) + ": " + p.msg
	}
	return componentLabel(p.app, &t.Apps[p.app]) + ": " + p.msg
}

// checkTemplate refuses t when it breaks a rule the platform does not repair: the first such
// problem, named with label (nil: componentLabel).
func checkTemplate(t *Template, label func(i int) string) error {
	for _, p := range platformProblems(t) {
		if p.refuse {
			return fmt.Errorf("%s", problemLine(t, p, label))
		}
	}
	return nil
}

// platformRules refuses what FromCompose made that the platform would not install as made (a
// value the user wrote that is too long, a volume path the console drops), naming the service;
// the rest is a warning.
func (c *fromCompose) platformRules(t *Template) error {
	label := func(i int) string { return serviceScope(c.names[i]) }
	for _, p := range platformProblems(t) {
		switch {
		case p.refuse:
			return fmt.Errorf("%s", problemLine(t, p, label))
		case p.app < 0:
			c.warn.add("", p.key, "%s", p.msg)
		default:
			c.warn.add(label(p.app), p.key, "%s", p.msg)
		}
	}
	return nil
}

// checkGroupLimits refuses a group_name or group_version longer than its column.
func checkGroupLimits(name, version string) error {
	for _, p := range lengthProblems(&Template{GroupName: name, GroupVersion: version}) {
		return fmt.Errorf("%s", problemLine(nil, p, nil))
	}
	return nil
}
