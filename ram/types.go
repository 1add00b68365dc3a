package ram

import "encoding/json"

// Defaults the platform applies to a template (rainbond-oam's HandleNullValue) and airpack
// writes explicitly.
const (
	// DefaultTemplateVersion is the template_version of templates without VM components.
	DefaultTemplateVersion = "v2"
	// DefaultGovernanceMode is the governance_mode of a template that names none.
	DefaultGovernanceMode = GovernanceBuildInServiceMesh
	// DefaultArch is the arch of a component that names none.
	DefaultArch = "amd64"
)

// Governance modes (governance_mode).
const (
	GovernanceBuildInServiceMesh      = "BUILD_IN_SERVICE_MESH"
	GovernanceKubernetesNativeService = "KUBERNETES_NATIVE_SERVICE"
	GovernanceIstioServiceMesh        = "ISTIO_SERVICE_MESH"
)

// Deploy types (extend_method).
const (
	StatelessMultiple  = "stateless_multiple"
	StatelessSingleton = "stateless_singleton"
	StateMultiple      = "state_multiple"
	StateSingleton     = "state_singleton"
	Job                = "job"
	CronJob            = "cronjob"
	DaemonSet          = "daemonset"
)

// Volume types (volume_type).
const (
	VolumeShareFile  = "share-file"
	VolumeLocal      = "local"
	VolumeMemoryFS   = "memoryfs"
	VolumeConfigFile = "config-file"
)

// RandomValue as an attr_value means "generate a random value at install time".
const RandomValue = "**None**"

// Template is metadata.json: one application template ("RainbondApplicationConfig" upstream).
//
// JSON keys and types follow goodrain/rainbond-oam pkg/ram/v1alpha1/types.go. Encoding always
// writes every key that is not omitempty, with an empty list or object rather than null, and
// fills the defaults (template_version, governance_mode, arch); see Normalize.
type Template struct {
	GroupKey            string               `json:"group_key"`
	GroupName           string               `json:"group_name"`
	GroupVersion        string               `json:"group_version"`
	TemplateVersion     string               `json:"template_version"`
	Apps                []Component          `json:"apps"`
	Plugins             []Plugin             `json:"plugins,omitempty"`
	AppConfigGroups     []AppConfigGroup     `json:"app_config_groups,omitempty"`
	IngressHTTPRoutes   []IngressHTTPRoute   `json:"ingress_http_routes,omitempty"`
	IngressStreamRoutes []IngressStreamRoute `json:"ingress_stream_routes,omitempty"`
	Annotations         map[string]string    `json:"annotations,omitempty"`
	K8sResources        []K8sResource        `json:"k8s_resources,omitempty"`
	GovernanceMode      string               `json:"governance_mode"`
	HelmChart           map[string]string    `json:"helm_chart,omitempty"`
	GroupDevStatus      string               `json:"group_dev_status,omitempty"`
	PlatformPlugin      *PlatformPlugin      `json:"platform_plugin,omitempty"`
}

// Component is one entry of apps[].
type Component struct {
	// Memory (MB) and CPU (millicores) may be absent, which the platform reads differently
	// from 0 (docs/ram-format.md §8.5): absent stays absent when a template is written back.
	Memory                    OptInt            `json:"memory,omitzero"`
	CPU                       OptInt            `json:"cpu,omitzero"`
	Probes                    []Probe           `json:"probes"`
	ServiceImage              ServiceImage      `json:"service_image"`
	ServiceID                 string            `json:"service_id"`
	ExtendMethod              string            `json:"extend_method"`
	ServiceKey                string            `json:"service_key"`
	ServiceShareUUID          string            `json:"service_share_uuid"`
	ShareType                 string            `json:"share_type"`
	MntRelationList           []MountRelation   `json:"mnt_relation_list"`
	ServiceSource             string            `json:"service_source"`
	DepServiceMapList         []Dependency      `json:"dep_service_map_list"`
	ServiceConnectInfoMapList []Env             `json:"service_connect_info_map_list"`
	ServiceVolumeMapList      []Volume          `json:"service_volume_map_list"`
	Version                   string            `json:"version"`
	K8sComponentName          string            `json:"k8s_component_name"`
	PortMapList               []Port            `json:"port_map_list"`
	ServiceName               string            `json:"service_name"`
	Category                  string            `json:"category"`
	ServiceEnvMapList         []Env             `json:"service_env_map_list"`
	ServiceAlias              string            `json:"service_alias"`
	DeployVersion             string            `json:"deploy_version"`
	ExtendMethodMap           ExtendMethodMap   `json:"extend_method_map"`
	ServiceType               string            `json:"service_type"`
	Arch                      string            `json:"arch"`
	Reports                   []Report          `json:"report"`
	ServiceCname              string            `json:"service_cname"`
	ShareImage                string            `json:"share_image"`
	Image                     string            `json:"image"`
	Cmd                       string            `json:"cmd"`
	Language                  string            `json:"language"`
	PluginConfigs             []PluginConfig    `json:"service_related_plugin_config,omitempty"`
	ComponentMonitors         []Monitor         `json:"component_monitors"`
	ComponentGraphs           []Graph           `json:"component_graphs"`
	Endpoints                 Endpoints         `json:"endpoints"`
	Labels                    map[string]string `json:"labels,omitempty"`
	ComponentK8sAttributes    []K8sAttribute    `json:"component_k8s_attributes"`
	// VM makes the component a virtual machine (with extend_method "vm" or service_source
	// "vm_run", see IsVM): docker compose cannot run one.
	VM *VMTemplate `json:"vm,omitempty"`
	// ServiceExtendMethod is the legacy form of extend_method_map, which the importer and the
	// console still read where extend_method_map lacks a key: kept as it is.
	ServiceExtendMethod RawJSON `json:"service_extend_method,omitempty"`
}

// VMTemplate is a VM component's vm object (rainbond-oam VMTemplate).
type VMTemplate struct {
	BootMode         string         `json:"boot_mode,omitempty"`
	MachineType      string         `json:"machine_type,omitempty"`
	BootSourceFormat string         `json:"boot_source_format,omitempty"`
	DiskLayout       []VMDiskLayout `json:"disk_layout,omitempty"`
}

// VMDiskLayout is one disk of a VM component (rainbond-oam VMDiskLayoutItem).
type VMDiskLayout struct {
	DiskKey     string `json:"disk_key,omitempty"`
	DiskName    string `json:"disk_name,omitempty"`
	DiskRole    string `json:"disk_role,omitempty"` // root, data
	DeviceType  string `json:"device_type,omitempty"`
	Bus         string `json:"bus,omitempty"`
	OrderIndex  int    `json:"order_index,omitempty"`
	VolumeName  string `json:"volume_name,omitempty"`
	RequestSize string `json:"request_size,omitempty"`
	Format      string `json:"format,omitempty"`
	SourceType  string `json:"source_type,omitempty"`
	Image       string `json:"image,omitempty"`
	Checksum    string `json:"checksum,omitempty"`
}

// IsVM reports whether c is a virtual machine as the console decides it
// (_is_vm_template_component): a vm object, extend_method "vm" or service_source "vm_run".
func (c *Component) IsVM() bool {
	return c.VM != nil || c.ExtendMethod == "vm" || c.ServiceSource == "vm_run"
}

// ServiceImage is service_image (and a plugin's plugin_image): the registry the image was
// shared to. Blank in offline packages.
type ServiceImage struct {
	HubPassword string `json:"hub_password"`
	Namespace   string `json:"namespace"`
	HubURL      string `json:"hub_url"`
	HubUser     string `json:"hub_user"`
	IsTrust     bool   `json:"is_trust"`
}

// ExtendMethodMap is extend_method_map: the manual scaling rules, and the memory the platform
// installs a component with (init_memory). Each key may be absent, which the importer reads
// differently from 0 (an absent init_memory becomes min_memory): absent stays absent.
type ExtendMethodMap struct {
	MinNode    OptInt `json:"min_node,omitzero"`
	StepMemory OptInt `json:"step_memory,omitzero"`
	IsRestart  OptInt `json:"is_restart,omitzero"`
	StepNode   OptInt `json:"step_node,omitzero"`
	MaxMemory  OptInt `json:"max_memory,omitzero"`
	MaxNode    OptInt `json:"max_node,omitzero"`
	MinMemory  OptInt `json:"min_memory,omitzero"`
	InitMemory OptInt `json:"init_memory,omitzero"`
	// ContainerCPU and ContainerMemory are legacy keys the importer and the console read raw
	// (any JSON type; container_cpu before cpu): kept exactly as they are.
	ContainerCPU    RawJSON `json:"container_cpu,omitempty"`
	ContainerMemory RawJSON `json:"container_memory,omitempty"`
}

// DefaultExtendMethodMap is the scaling rule airpack writes for a component it creates: every
// key explicit (docs/ram-format.md §8.5), init_memory 0 until the memory is known.
func DefaultExtendMethodMap() ExtendMethodMap {
	return ExtendMethodMap{
		MinNode: Some(1), MaxNode: Some(1024), StepNode: Some(1),
		MinMemory: Some(64), MaxMemory: Some(64 * 1024), StepMemory: Some(64),
		IsRestart: Some(0), InitMemory: Some(0),
	}
}

// Port is one entry of port_map_list.
type Port struct {
	PortAlias      string `json:"port_alias"`
	Protocol       string `json:"protocol"`
	TenantID       string `json:"tenant_id"`
	ContainerPort  int    `json:"container_port"`
	IsOuterService bool   `json:"is_outer_service"`
	IsInnerService bool   `json:"is_inner_service"`
	Name           string `json:"name"`
	K8sServiceName string `json:"k8s_service_name"`
}

// Env is one entry of service_env_map_list or service_connect_info_map_list.
type Env struct {
	AttrName  string `json:"attr_name"`
	Name      string `json:"name"` // description
	IsChange  bool   `json:"is_change"`
	AttrValue string `json:"attr_value"` // RandomValue: generated at install
	// ContainerPort binds a connection variable to a port; int32 as upstream, so a larger value
	// fails the import and fails here.
	ContainerPort int32 `json:"container_port"`
}

// Dependency is one entry of dep_service_map_list.
type Dependency struct {
	// DepServiceKey is the service_share_uuid of the component depended on (older templates use
	// its bare service_key); see Template.FindComponent.
	DepServiceKey string `json:"dep_service_key"`
}

// Volume is one entry of service_volume_map_list.
type Volume struct {
	VolumeName     string `json:"volume_name"`
	FileContent    string `json:"file_content"` // the body of a config-file volume
	VolumePath     string `json:"volume_path"`
	VolumeType     string `json:"volume_type"`
	VolumeCapacity int    `json:"volume_capacity,omitempty"` // GiB
	AccessMode     string `json:"access_mode,omitempty"`     // RWO, RWX, ROX
	SharePolicy    string `json:"share_policy,omitempty"`
	Mode           *int   `json:"mode,omitempty"`
}

// MountRelation is one entry of mnt_relation_list: a mount of another component's volume.
type MountRelation struct {
	MntName          string `json:"mnt_name"`
	MntDir           string `json:"mnt_dir"`
	ServiceShareUUID string `json:"service_share_uuid"`
}

// Probe is one entry of probes.
type Probe struct {
	ID                 int    `json:"ID"`
	InitialDelaySecond int    `json:"initial_delay_second"`
	FailureThreshold   int    `json:"failure_threshold"`
	ServiceID          string `json:"service_id"`
	HTTPHeader         string `json:"http_header"`
	Cmd                string `json:"cmd"`
	ProbeID            string `json:"probe_id"`
	Scheme             string `json:"scheme"` // tcp, http, cmd
	SuccessThreshold   int    `json:"success_threshold"`
	TimeoutSecond      int    `json:"timeout_second"`
	IsUsed             bool   `json:"is_used"`
	PeriodSecond       int    `json:"period_second"`
	Port               int    `json:"port"`
	Mode               string `json:"mode"` // readiness, liveness
	Path               string `json:"path"`
}

// Report is one entry of a component's report list.
type Report struct {
	PrimaryLink string `json:"primary_link"`
	Level       int    `json:"level"`
	Message     string `json:"message"`
	Type        string `json:"type"`
	CreateTime  string `json:"create_time"`
}

// PluginConfig is one entry of service_related_plugin_config.
type PluginConfig struct {
	CreateTime      string           `json:"create_time"`
	PluginStatus    bool             `json:"plugin_status"`
	ServiceID       string           `json:"service_id"`
	PluginID        string           `json:"plugin_id"`
	ServiceMetaType string           `json:"service_meta_type"`
	MemoryRequired  int              `json:"memory_required"`
	CPURequired     int              `json:"cpu_required"`
	Attr            []map[string]any `json:"attr"`
	PluginKey       string           `json:"plugin_key"`
	BuildVersion    string           `json:"build_version"`
}

// Monitor is one entry of component_monitors.
type Monitor struct {
	Name            string `json:"name"`
	ServiceShowName string `json:"service_show_name"`
	Port            int    `json:"port"`
	Path            string `json:"path"`
	Interval        string `json:"interval"`
}

// Graph is one entry of component_graphs.
type Graph struct {
	ComponentID string `json:"component_id"`
	GraphID     string `json:"graph_id"`
	Title       string `json:"title"`
	PromQL      string `json:"promql"`
	Sequence    int    `json:"sequence"`
}

// Endpoints is endpoints: the addresses of a third-party component.
type Endpoints struct {
	EndpointsInfo string `json:"endpoints_info"`
	ServiceCname  string `json:"service_cname"`
	EndpointsType string `json:"endpoints_type"`
}

// K8sAttribute is one entry of component_k8s_attributes.
type K8sAttribute struct {
	ComponentID    string `json:"component_id"`
	Name           string `json:"name"`
	SaveType       string `json:"save_type"` // json, yaml, string
	AttributeValue string `json:"attribute_value"`
}

// Plugin is one entry of plugins.
type Plugin struct {
	Origin        string              `json:"origin"`
	CodeRepo      string              `json:"code_repo"`
	Image         string              `json:"image"`
	PluginAlias   string              `json:"plugin_alias"`
	PluginName    string              `json:"plugin_name"`
	CreateTime    string              `json:"create_time"`
	ShareImage    string              `json:"share_image"`
	ConfigGroups  []PluginConfigGroup `json:"config_groups,omitempty"`
	PluginKey     string              `json:"plugin_key"`
	BuildSource   string              `json:"build_source"`
	Desc          string              `json:"desc"`
	PluginID      string              `json:"plugin_id"`
	Category      string              `json:"category"`
	OriginShareID string              `json:"origin_share_id"`
	PluginImage   ServiceImage        `json:"plugin_image"`
	BuildVersion  string              `json:"build_version"`
}

// PluginConfigGroup is one entry of a plugin's config_groups.
type PluginConfigGroup struct {
	ConfigName      string               `json:"config_name"`
	Options         []PluginConfigOption `json:"options,omitempty"`
	BuildVersion    string               `json:"build_version"`
	PluginID        string               `json:"plugin_id"`
	Injection       string               `json:"injection"`
	ServiceMetaType string               `json:"service_meta_type"`
}

// PluginConfigOption is one entry of a plugin config group's options.
type PluginConfigOption struct {
	AttrAltValue     string `json:"attr_alt_value"`
	AttrType         string `json:"attr_type"`
	IsChange         bool   `json:"is_change"`
	BuildVersion     string `json:"build_version"`
	PluginID         string `json:"plugin_id"`
	ServiceMetaType  string `json:"service_meta_type"`
	AttrDefaultValue string `json:"attr_default_value"`
	AttrName         string `json:"attr_name"`
	AttrInfo         string `json:"attr_info"`
	Protocol         string `json:"protocol"`
}

// AppConfigGroup is one entry of app_config_groups: variables injected into the components
// listed by service_key.
type AppConfigGroup struct {
	Name          string            `json:"name"`
	InjectionType string            `json:"injection_type"` // env
	ConfigItems   map[string]string `json:"config_items"`
	ComponentKeys []string          `json:"component_keys"`
}

// IngressHTTPRoute is one entry of ingress_http_routes.
type IngressHTTPRoute struct {
	DefaultDomain        bool              `json:"default_domain"`
	Location             string            `json:"location"`
	Cookies              map[string]string `json:"cookies"`
	Headers              map[string]string `json:"headers"`
	SSL                  bool              `json:"ssl"`
	LoadBalancing        string            `json:"load_balancing"`
	ConnectionTimeout    int               `json:"connection_timeout"`
	RequestTimeout       int               `json:"request_timeout"`
	ResponseTimeout      int               `json:"response_timeout"`
	RequestBodySizeLimit int               `json:"request_body_size_limit"`
	Websocket            bool              `json:"websocket"`
	ProxyBuffer          bool              `json:"proxy_buffer"`
	ProxyBufferSize      int               `json:"proxy_buffer_size"`
	ProxyBufferNumbers   int               `json:"proxy_buffer_numbers"`
	ProxyHeader          map[string]string `json:"proxy_header"`
	// The target (TargetComponent, embedded upstream; flattened here, same JSON).
	ComponentKey string `json:"component_key"`
	Port         uint32 `json:"port"`
}

// IngressStreamRoute is one entry of ingress_stream_routes.
type IngressStreamRoute struct {
	Protocol          string `json:"protocol"`
	ConnectionTimeout int    `json:"connection_timeout"`
	ComponentKey      string `json:"component_key"`
	Port              uint32 `json:"port"`
}

// K8sResource is one entry of k8s_resources: a Kubernetes object created with the application.
type K8sResource struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Content string `json:"content"` // YAML
}

// PlatformPlugin is platform_plugin.
type PlatformPlugin struct {
	IsPlatformPlugin  bool     `json:"is_platform_plugin"`
	PluginID          string   `json:"plugin_id,omitempty"`
	PluginName        string   `json:"plugin_name,omitempty"`
	PluginType        string   `json:"plugin_type,omitempty"`
	FrontendComponent string   `json:"frontend_component,omitempty"`
	EntryPath         string   `json:"entry_path,omitempty"`
	InjectPosition    []string `json:"inject_position,omitempty"`
	MenuTitle         string   `json:"menu_title,omitempty"`
	RoutePath         string   `json:"route_path,omitempty"`
}

// Normalize puts t in the canonical form encoding writes and DecodeMetadata returns: defaults
// filled (template_version, governance_mode, each component's arch), every always-written list
// or object non-nil, every omitempty one that is empty nil. Decoding what Template encodes gives
// back a deeply equal, normalized Template.
func (t *Template) Normalize() {
	t.fill()
	for i := range t.Apps {
		t.Apps[i].normalize()
	}
	for i := range t.Plugins {
		t.Plugins[i].normalize()
	}
	for i := range t.AppConfigGroups {
		t.AppConfigGroups[i].fill()
	}
	for i := range t.IngressHTTPRoutes {
		t.IngressHTTPRoutes[i].fill()
	}
	if t.PlatformPlugin != nil && len(t.PlatformPlugin.InjectPosition) == 0 {
		t.PlatformPlugin.InjectPosition = nil
	}
}

// fill normalizes t's own fields, not those of its elements.
func (t *Template) fill() {
	if t.TemplateVersion == "" {
		t.TemplateVersion = DefaultTemplateVersion
	}
	if t.GovernanceMode == "" {
		t.GovernanceMode = DefaultGovernanceMode
	}
	t.Apps = nonNil(t.Apps)
	t.Plugins = nilIfEmpty(t.Plugins)
	t.AppConfigGroups = nilIfEmpty(t.AppConfigGroups)
	t.IngressHTTPRoutes = nilIfEmpty(t.IngressHTTPRoutes)
	t.IngressStreamRoutes = nilIfEmpty(t.IngressStreamRoutes)
	t.K8sResources = nilIfEmpty(t.K8sResources)
	if len(t.Annotations) == 0 {
		t.Annotations = nil
	}
	if len(t.HelmChart) == 0 {
		t.HelmChart = nil
	}
}

func (c *Component) normalize() {
	c.fill()
	for i := range c.PluginConfigs {
		c.PluginConfigs[i].fill()
	}
}

func (c *Component) fill() {
	if c.Arch == "" {
		c.Arch = DefaultArch
	}
	c.Probes = nonNil(c.Probes)
	c.MntRelationList = nonNil(c.MntRelationList)
	c.DepServiceMapList = nonNil(c.DepServiceMapList)
	c.ServiceConnectInfoMapList = nonNil(c.ServiceConnectInfoMapList)
	c.ServiceVolumeMapList = nonNil(c.ServiceVolumeMapList)
	c.PortMapList = nonNil(c.PortMapList)
	c.ServiceEnvMapList = nonNil(c.ServiceEnvMapList)
	c.Reports = nonNil(c.Reports)
	c.ComponentMonitors = nonNil(c.ComponentMonitors)
	c.ComponentGraphs = nonNil(c.ComponentGraphs)
	c.ComponentK8sAttributes = nonNil(c.ComponentK8sAttributes)
	c.PluginConfigs = nilIfEmpty(c.PluginConfigs)
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
}

func (p *PluginConfig) fill() { p.Attr = nonNil(p.Attr) }

func (p *Plugin) normalize() {
	p.ConfigGroups = nilIfEmpty(p.ConfigGroups)
	for i := range p.ConfigGroups {
		p.ConfigGroups[i].Options = nilIfEmpty(p.ConfigGroups[i].Options)
	}
}

func (g *AppConfigGroup) fill() {
	if g.ConfigItems == nil {
		g.ConfigItems = map[string]string{}
	}
	g.ComponentKeys = nonNil(g.ComponentKeys)
}

func (r *IngressHTTPRoute) fill() {
	for _, m := range []*map[string]string{&r.Cookies, &r.Headers, &r.ProxyHeader} {
		if *m == nil {
			*m = map[string]string{}
		}
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// The MarshalJSON methods normalize a copy of their own level (each element type normalizes
// itself in turn), so the value being encoded is never modified. Types whose only lists are
// omitempty need none: encoding/json already omits an empty list.

type (
	plainTemplate         Template
	plainComponent        Component
	plainPluginConfig     PluginConfig
	plainAppConfigGroup   AppConfigGroup
	plainIngressHTTPRoute IngressHTTPRoute
)

// MarshalJSON writes t in its normalized form (see Normalize) without modifying t.
func (t Template) MarshalJSON() ([]byte, error) {
	t.fill()
	return json.Marshal(plainTemplate(t))
}

// MarshalJSON writes c with every list present and arch defaulted, without modifying c.
func (c Component) MarshalJSON() ([]byte, error) {
	c.fill()
	return json.Marshal(plainComponent(c))
}

// MarshalJSON writes p with attr present, without modifying p.
func (p PluginConfig) MarshalJSON() ([]byte, error) {
	p.fill()
	return json.Marshal(plainPluginConfig(p))
}

// MarshalJSON writes g with config_items and component_keys present, without modifying g.
func (g AppConfigGroup) MarshalJSON() ([]byte, error) {
	g.fill()
	return json.Marshal(plainAppConfigGroup(g))
}

// MarshalJSON writes r with cookies, headers and proxy_header present, without modifying r.
func (r IngressHTTPRoute) MarshalJSON() ([]byte, error) {
	r.fill()
	return json.Marshal(plainIngressHTTPRoute(r))
}

// Label names c in messages: `apps[2] (service_cname "db")`.
func componentLabel(i int, c *Component) string {
	if c.ServiceCname == "" {
		return "apps[" + itoa(i) + "]"
	}
	return "apps[" + itoa(i) + "] (service_cname " + quote(c.ServiceCname) + ")"
}

// FindComponent returns the component a dep_service_key or service_share_uuid refers to: it
// matches service_share_uuid, or service_key (older templates), or nil.
func (t *Template) FindComponent(key string) *Component {
	if key == "" {
		return nil
	}
	for i := range t.Apps {
		if t.Apps[i].ServiceShareUUID == key {
			return &t.Apps[i]
		}
	}
	for i := range t.Apps {
		if t.Apps[i].ServiceKey == key {
			return &t.Apps[i]
		}
	}
	return nil
}
