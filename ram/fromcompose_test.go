package ram

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/airpack/airpack/compose"
)

// loadProject writes files (slash paths; "compose.yaml" among them) into a new directory and loads
// the project the way docker compose does.
func loadProject(t *testing.T, files map[string]string) (*types.Project, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p.Typed(), dir
}

func convertFromCompose(t *testing.T, p *types.Project, opts FromComposeOptions) (*Template, []string) {
	t.Helper()
	tpl, warnings, err := FromCompose(p, opts)
	if err != nil {
		t.Fatalf("FromCompose: %v", err)
	}
	return tpl, warnings
}

func appNamed(t *testing.T, tpl *Template, cname string) *Component {
	t.Helper()
	for i := range tpl.Apps {
		if tpl.Apps[i].ServiceCname == cname {
			return &tpl.Apps[i]
		}
	}
	t.Fatalf("no component %s", cname)
	return nil
}

// eq reports a field that differs, by name.
func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func intPtr(i int) *int { return &i }

const shopYAML = `name: shop
services:
  web:
    image: registry.example.com/shop/web:1.0
    command: ["nginx", "-g", "daemon off;"]
    ports: ["80:80"]
    expose: ["9000"]
    environment:
      MODE: prod
      DB_URL: mysql://db:3306/${DB_NAME}
    labels:
      tier: front
    volumes:
      - ./conf/nginx.conf:/etc/nginx/nginx.conf:ro
      - data:/srv/data
    depends_on: [db]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost/"]
      interval: 10s
      timeout: 2s
      retries: 5
      start_period: 20s
    deploy:
      resources:
        limits: {memory: 256M, cpus: "0.5"}
  db:
    image: mysql:8.0
    ports:
      - target: 3306
        app_protocol: mysql
    environment:
      MYSQL_DATABASE: ${DB_NAME}
    volumes: [dbdata:/var/lib/mysql, data:/backup]
    tmpfs: /run/mysqld
    secrets: [dbpass]
    configs:
      - source: my
        target: /etc/mysql/conf.d/my.cnf
        mode: 0440
    healthcheck:
      test: mysqladmin ping -h 127.0.0.1
  worker:
    image: worker
    command: run --queue jobs
    scale: 3
volumes:
  data: {}
  dbdata: {}
secrets:
  dbpass:
    file: ./secrets/dbpass.txt
configs:
  my:
    content: |
      [mysqld]
      max_connections=50
`

func shopProject(t *testing.T) (*types.Project, string) {
	return loadProject(t, map[string]string{
		"compose.yaml":       shopYAML,
		".env":               "DB_NAME=shop\n",
		"conf/nginx.conf":    "events {}\n",
		"secrets/dbpass.txt": "s3cret\n",
	})
}

func TestFromComposeMapping(t *testing.T) {
	p, dir := shopProject(t)
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{
		Version: "1.0", Dir: dir, Platform: "linux/arm64",
		Images: map[string]string{"web": "registry.example.com/shop/web:1.0", "db": "mysql:8.0", "worker": "worker:latest"},
	})

	eq(t, "group_name", tpl.GroupName, "shop")
	eq(t, "group_version", tpl.GroupVersion, "1.0")
	eq(t, "group_key", tpl.GroupKey, StableID("shop"))
	eq(t, "template_version", tpl.TemplateVersion, "v2")
	eq(t, "governance_mode", tpl.GovernanceMode, GovernanceBuildInServiceMesh)
	var names []string
	for _, a := range tpl.Apps {
		names = append(names, a.ServiceCname)
	}
	eq(t, "components", names, []string{"db", "web", "worker"})

	db, web, worker := appNamed(t, tpl, "db"), appNamed(t, tpl, "web"), appNamed(t, tpl, "worker")
	dbKey, webKey := StableID("shop", "db"), StableID("shop", "web")

	// web
	eq(t, "web service_key", web.ServiceKey, webKey)
	eq(t, "web service_id", web.ServiceID, webKey)
	eq(t, "web service_share_uuid", web.ServiceShareUUID, webKey+"+"+webKey)
	eq(t, "web k8s_component_name", web.K8sComponentName, "web")
	// A name of its own, which the importer re-tags goodrain.me/<service_id>:<group_version>.
	eq(t, "web share_image", web.ShareImage, "goodrain.me/shop/"+webKey+":1.0")
	eq(t, "web image", web.Image, "registry.example.com/shop/web:1.0")
	eq(t, "web share_type", web.ShareType, "image")
	eq(t, "web service_source", web.ServiceSource, "docker_image")
	eq(t, "web service_type", web.ServiceType, "application")
	eq(t, "web version", web.Version, "1.0")
	eq(t, "web deploy_version", web.DeployVersion, "1.0")
	eq(t, "web arch", web.Arch, "arm64")
	eq(t, "web memory", web.Memory, Some(256))
	eq(t, "web cpu", web.CPU, Some(500))
	eq(t, "web extend_method", web.ExtendMethod, StatelessMultiple)
	eq(t, "web init_memory", web.ExtendMethodMap.InitMemory, Some(256))
	eq(t, "web cmd", web.Cmd, "nginx -g daemon off;")
	eq(t, "web labels (node-scheduling labels: dropped)", web.Labels, map[string]string(nil))
	eq(t, "web ports", web.PortMapList, []Port{
		// A published port is inner too: compose reaches it on the project network, and the
		// platform creates the Service named k8s_service_name for inner ports only.
		{ContainerPort: 80, Protocol: "http", PortAlias: "WEB_80", IsOuterService: true, IsInnerService: true, K8sServiceName: "web"},
		{ContainerPort: 9000, Protocol: "tcp", PortAlias: "WEB_9000", IsInnerService: true, K8sServiceName: "web"},
	})
	eq(t, "web env", web.ServiceEnvMapList, []Env{
		{AttrName: "DB_URL", AttrValue: "mysql://db:3306/shop", IsChange: true},
		{AttrName: "MODE", AttrValue: "prod", IsChange: true},
	})
	eq(t, "web connect info", web.ServiceConnectInfoMapList, []Env{})
	eq(t, "web volumes", web.ServiceVolumeMapList, []Volume{
		{VolumeName: "nginx-conf", VolumePath: "/etc/nginx/nginx.conf", VolumeType: VolumeConfigFile, FileContent: "events {}\n", Mode: intPtr(0o644)},
	})
	// The shared volume belongs to db, the first of its users by name.
	eq(t, "web mounts", web.MntRelationList, []MountRelation{
		{ServiceShareUUID: db.ServiceShareUUID, MntName: "data", MntDir: "/srv/data"},
	})
	eq(t, "web dependencies", web.DepServiceMapList, []Dependency{{DepServiceKey: dbKey + "+" + dbKey}})
	eq(t, "web probes", web.Probes, []Probe{{
		Mode: "readiness", Scheme: "cmd", Cmd: "curl -f http://localhost/", IsUsed: true, Port: 80,
		PeriodSecond: 10, TimeoutSecond: 2, InitialDelaySecond: 20, FailureThreshold: 5, SuccessThreshold: 1,
	}})

	// db
	eq(t, "db extend_method", db.ExtendMethod, StateSingleton)
	eq(t, "db max_node", db.ExtendMethodMap.MaxNode, Some(1))
	eq(t, "db memory", db.Memory, Some(0))
	eq(t, "db version", db.Version, "8.0")
	eq(t, "db ports", db.PortMapList, []Port{
		{ContainerPort: 3306, Protocol: "mysql", PortAlias: "DB_3306", IsOuterService: true, IsInnerService: true, K8sServiceName: "db"},
	})
	eq(t, "db env", db.ServiceEnvMapList, []Env{{AttrName: "MYSQL_DATABASE", AttrValue: "shop", IsChange: true}})
	eq(t, "db volumes", db.ServiceVolumeMapList, []Volume{
		{VolumeName: "dbdata", VolumePath: "/var/lib/mysql", VolumeType: VolumeLocal, AccessMode: "RWO"},
		{VolumeName: "data", VolumePath: "/backup", VolumeType: VolumeShareFile, AccessMode: "RWX"},
		{VolumeName: "mysqld", VolumePath: "/run/mysqld", VolumeType: VolumeMemoryFS},
		{VolumeName: "my", VolumePath: "/etc/mysql/conf.d/my.cnf", VolumeType: VolumeConfigFile, FileContent: "[mysqld]\nmax_connections=50\n", Mode: intPtr(0o440)},
		{VolumeName: "dbpass", VolumePath: "/run/secrets/dbpass", VolumeType: VolumeConfigFile, FileContent: "s3cret\n", Mode: intPtr(0o644)},
	})
	eq(t, "db mounts", db.MntRelationList, []MountRelation{})
	eq(t, "db dependencies", db.DepServiceMapList, []Dependency{})
	eq(t, "db probe", db.Probes, []Probe{{
		Mode: "readiness", Scheme: "cmd", Cmd: "sh -c mysqladmin\tping\t-h\t127.0.0.1", IsUsed: true, Port: 3306,
		PeriodSecond: 30, TimeoutSecond: 30, InitialDelaySecond: 1, FailureThreshold: 3, SuccessThreshold: 1,
	}})

	// worker
	eq(t, "worker share_image", worker.ShareImage, "goodrain.me/shop/"+StableID("shop", "worker")+":1.0")
	eq(t, "worker image", worker.Image, "worker:latest")
	eq(t, "worker cmd", worker.Cmd, "run --queue jobs")
	eq(t, "worker min_node (scale)", worker.ExtendMethodMap.MinNode, Some(3))
	eq(t, "worker ports", worker.PortMapList, []Port{})
	eq(t, "worker probes", worker.Probes, []Probe{})

	eq(t, "warnings", warnings, []string{
		"service web: command: arguments with spaces or quotes are joined with spaces (RAM's cmd is one string the platform splits at spaces): their quoting is lost",
		"service web: labels: tier: compose labels are container labels, and the template's labels are the platform's node-scheduling labels (a name matching a node label would restrict the nodes the component runs on); dropped",
	})

	// The template is a valid package's: it round-trips through metadata.json.
	b, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeMetadata(b)
	if err != nil {
		t.Fatalf("the template does not decode: %v", err)
	}
	eq(t, "template through metadata.json", back, tpl)
}

func TestFromComposeStableIDs(t *testing.T) {
	opts := FromComposeOptions{Version: "1.0"}
	var docs [][]byte
	for range 2 {
		p, dir := shopProject(t) // a new directory each time
		opts.Dir = dir
		tpl, _ := convertFromCompose(t, p, opts)
		b, err := json.Marshal(tpl)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Fatalf("two conversions of the same project differ:\n%s\n%s", docs[0], docs[1])
	}
	p, dir := shopProject(t)
	other, _ := convertFromCompose(t, p, FromComposeOptions{Name: "shop2", Version: "1.0", Dir: dir})
	if other.GroupKey == StableID("shop") || appNamed(t, other, "web").ServiceKey == StableID("shop", "web") {
		t.Error("another name gives the same ids")
	}
	// The version is no part of the ids: a new version of an app is the same app.
	next, _ := convertFromCompose(t, p, FromComposeOptions{Version: "2.0", Dir: dir})
	eq(t, "group_key across versions", next.GroupKey, StableID("shop"))
	eq(t, "service_key across versions", appNamed(t, next, "web").ServiceKey, StableID("shop", "web"))
}

// Every compose key RAM cannot carry gives exactly one warning, naming the service and the key.
func TestFromComposeWarnings(t *testing.T) {
	for _, c := range []struct {
		key   string
		svc   string // YAML under services.app
		top   string // more top-level YAML
		want  string // in the warning
		files map[string]string
	}{
		{key: "cap_add", svc: "cap_add: [NET_ADMIN]", want: "Linux capabilities"},
		{key: "cap_drop", svc: "cap_drop: [ALL]", want: "Linux capabilities"},
		{key: "privileged", svc: "privileged: true", want: "privileged"},
		{key: "devices", svc: "devices: [/dev/fuse]", want: "device"},
		{key: "network_mode", svc: "network_mode: host", want: "network modes"},
		{key: "networks", svc: "networks: [back]", top: "networks:\n  back: {}", want: "back: RAM has no networks"},
		{key: "pid", svc: "pid: host", want: "namespaces"},
		{key: "ipc", svc: "ipc: host", want: "namespaces"},
		{key: "security_opt", svc: "security_opt: [no-new-privileges]", want: "security options"},
		{key: "ulimits", svc: "ulimits: {nofile: 65535}", want: "ulimits"},
		{key: "sysctls", svc: "sysctls: {net.core.somaxconn: 1024}", want: "sysctls"},
		{key: "extra_hosts", svc: "extra_hosts: [\"h:10.0.0.1\"]", want: "/etc/hosts"},
		{key: "dns", svc: "dns: 8.8.8.8", want: "DNS"},
		{key: "user", svc: "user: \"1000\"", want: "user"},
		{key: "working_dir", svc: "working_dir: /app", want: "working directory"},
		{key: "entrypoint", svc: "entrypoint: [/bin/sh]", want: "entrypoint"},
		{key: "restart", svc: "restart: on-failure", want: "policy \"on-failure\": RAM always restarts"},
		{key: "logging", svc: "logging: {driver: syslog}", want: "logs"},
		{key: "container_name", svc: "container_name: app1", want: "names containers"},
		{key: "hostname", svc: "hostname: app", want: "host name"},
		{key: "read_only", svc: "read_only: true", want: "read-only"},
		{key: "stop_signal", svc: "stop_signal: SIGINT", want: "stop"},
		{key: "healthcheck", svc: "healthcheck: {interval: 5s}", want: "no test"},
		{key: "secrets", svc: "secrets: [ext]", top: "secrets:\n  ext: {external: true}", want: "ext is external"},
		{key: "configs", svc: "configs: [ext]", top: "configs:\n  ext: {external: true}", want: "ext is external"},
		{key: "volumes", svc: "volumes: [./dir:/data]", files: map[string]string{"dir/a": "a"}, want: "bind mount ./dir at /data: a directory"},
		{key: "volumes", svc: "volumes: [/scratch]", want: "anonymous volume at /scratch"},
		{key: "volumes", svc: "volumes: [/var/run/docker.sock:/var/run/docker.sock]", want: "outside the bundle"},
		{key: "volumes", svc: "volumes: [./bin.dat:/bin.dat]", files: map[string]string{"bin.dat": "\xff\xfe\x00"}, want: "binary content"},
		{key: "ports", svc: "ports: [\"8000-8001:80\"]", want: "host port range 8000-8001"},
		{key: "ports", svc: "ports: [\"127.0.0.1:80:80\"]", want: "host address 127.0.0.1"},
		{key: "ports", svc: "ports: [\"8080:80\"]", want: "published on host port 8080"},
		{key: "ports", svc: "ports: [\"53:53/udp\", \"53:53\"]", want: "listed as udp and tcp"},
		{key: "expose", svc: "expose: [\"1-65535\"]", want: "1-65535: a range of 65535 ports, more than the 100 airpack converts"},
		{key: "expose", svc: "expose: [\"http\"]", want: "http: not a port or a port range; dropped"},
		{key: "volumes", svc: "volumes: [\"logs:/logs:ro\"]", top: "volumes:\n  logs: {}", want: "volume logs at /logs: read-only dropped, the volume mounted read-write"},
		{key: "volumes", svc: "volumes: [{type: volume, source: logs, target: /logs, read_only: true, volume: {subpath: app}}]", top: "volumes:\n  logs: {}", want: "volume logs at /logs: read-only, subpath app dropped, the whole volume mounted read-write"},
		{key: "volumes", svc: "volumes: [\"logs:/logs\", \"logs:/again\"]", top: "volumes:\n  logs: {}", want: "volume logs is mounted twice: RAM mounts a volume once per component; the mount at /again dropped"},
		{key: "volumes", svc: "volumes: [{type: tmpfs, target: /run, tmpfs: {size: 1024}}]", want: "tmpfs at /run: size and mode dropped, the tmpfs kept"},
		{key: "environment", svc: "environment: [UNSET_VAR_FOR_TEST]", want: "UNSET_VAR_FOR_TEST: no value"},
		{key: "depends_on", svc: "depends_on: {db: {condition: service_healthy}}", top: "services:\n  db: {image: db}", want: "db (service_healthy)"},
		{key: "links", svc: "links: [\"db:database\"]", top: "services:\n  db: {image: db}", want: "aliases database for db"},
		{key: "deploy", svc: "deploy: {placement: {constraints: [node.role==manager]}, restart_policy: {condition: any}}", want: "restart_policy, placement"},
		{key: "tmpfs", svc: "tmpfs: [\"/run:size=64m\"]", want: "/run: options size=64m dropped, the tmpfs kept"},
		{key: "command", svc: "command: [sh, -c, \"echo hi\"]", want: "quoting is lost"},
		{key: "x-custom", svc: "x-custom: 1", want: "extension field"},
	} {
		t.Run(c.key+" "+c.want, func(t *testing.T) {
			body := "name: demo\nservices:\n  app:\n    image: app:1\n"
			for _, l := range strings.Split(c.svc, "\n") {
				body += "    " + l + "\n"
			}
			if c.top != "" {
				if rest, ok := strings.CutPrefix(c.top, "services:\n"); ok {
					body += rest + "\n"
				} else {
					body += c.top + "\n"
				}
			}
			files := map[string]string{"compose.yaml": body}
			for k, v := range c.files {
				files[k] = v
			}
			p, dir := loadProject(t, files)
			_, warnings := convertFromCompose(t, p, FromComposeOptions{Version: "1", Dir: dir})
			prefix := "service app: " + c.key + ": "
			var mine []string
			for _, w := range warnings {
				if strings.HasPrefix(w, "service app: ") {
					mine = append(mine, w)
				}
			}
			if len(mine) != 1 || !strings.HasPrefix(mine[0], prefix) || !strings.Contains(mine[0], c.want) {
				t.Errorf("want one warning %q... containing %q; got %q", prefix, c.want, warnings)
			}
		})
	}
}

func TestFromComposeProjectWarnings(t *testing.T) {
	p, dir := loadProject(t, map[string]string{"compose.yaml": `name: demo
services:
  app:
    image: app:1
    networks: [front]
    volumes: [nfs:/data, old:/old]
networks:
  front: {driver: overlay}
volumes:
  nfs:
    driver_opts: {type: nfs}
  old:
    external: true
    name: legacy-data
x-notes: hello
`})
	_, warnings := convertFromCompose(t, p, FromComposeOptions{Version: "1", Dir: dir})
	eq(t, "warnings", warnings, []string{
		"networks: front: RAM has no networks (components reach each other by name); dropped",
		"volumes: nfs: driver dropped, the volume kept; old: name legacy-data, external: true dropped, the volume kept (the platform creates RAM volumes itself, empty)",
		"x-notes: extension field: RAM has no place for it; dropped",
		"service app: networks: front: RAM has no networks (components reach each other by name); dropped",
	})
}

// No compose key is left unclassified: mapped, meaningless for RAM, or dropped with a reason.
func TestFromComposeKeyTablesComplete(t *testing.T) {
	var keys []string
	var walk func(rt reflect.Type)
	walk = func(rt reflect.Type) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct && key == "" {
				walk(f.Type)
				continue
			}
			if f.IsExported() && key != "" && key != "-" && !strings.HasPrefix(key, "#") {
				keys = append(keys, key)
			}
		}
	}
	walk(reflect.TypeOf(types.ServiceConfig{}))
	if len(keys) < 100 {
		t.Fatalf("only %d keys found: the walk is broken", len(keys))
	}
	for _, k := range keys {
		n := 0
		if slices.Contains(mappedKeys, k) {
			n++
		}
		if _, ok := ignoredKeys[k]; ok {
			n++
		}
		if _, ok := droppedKeys[k]; ok {
			n++
		}
		if n != 1 {
			t.Errorf("compose key %s is in %d of the tables, want 1", k, n)
		}
	}
}

func TestFromComposeErrors(t *testing.T) {
	p, dir := loadProject(t, map[string]string{"compose.yaml": "name: demo\nservices:\n  app:\n    image: app:1\n"})
	if _, _, err := FromCompose(p, FromComposeOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("no version: %v", err)
	}
	bad, dir := loadProject(t, map[string]string{"compose.yaml": "name: demo\nservices:\n  app:\n    image: app:1\n    x-ram: {memory: lots}\n"})
	if _, _, err := FromCompose(bad, FromComposeOptions{Version: "1", Dir: dir}); err == nil || !strings.Contains(err.Error(), "service app") || !strings.Contains(err.Error(), "memory") {
		t.Errorf("a wrongly typed x-ram: %v", err)
	}
	if err := CheckPackageName("my-plugin", "1.0"); err == nil || !strings.Contains(err.Error(), "plugin") {
		t.Errorf("plugin name: %v", err)
	}
}

// sampleBundle is the sample template converted to a compose project by ToCompose, written
// and loaded back: what a bundle made from the sample RAM package holds.
func sampleBundle(t *testing.T) (*Template, *types.Project, string) {
	t.Helper()
	orig, err := DecodeMetadata(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ToCompose(orig, ToComposeOptions{Random: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := cp.Write(dir); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, cp.YAML)
	}
	return orig, p.Typed(), dir
}

// sameTemplate compares two templates key by key (components matched by service_key), naming
// each key that differs.
func sameTemplate(t *testing.T, got, want *Template) {
	t.Helper()
	toMap := func(v any) map[string]any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	g, w := *got, *want
	g.Apps, w.Apps = nil, nil
	gm, wm := toMap(g), toMap(w)
	for _, k := range union(gm, wm) {
		if !reflect.DeepEqual(gm[k], wm[k]) {
			t.Errorf("template %s:\n got  %v\n want %v", k, gm[k], wm[k])
		}
	}
	if len(got.Apps) != len(want.Apps) {
		t.Fatalf("%d components, want %d", len(got.Apps), len(want.Apps))
	}
	for i := range want.Apps {
		wa := &want.Apps[i]
		var ga *Component
		for j := range got.Apps {
			if got.Apps[j].ServiceKey == wa.ServiceKey {
				ga = &got.Apps[j]
			}
		}
		if ga == nil {
			t.Errorf("component %s (service_key %s) is missing", wa.ServiceCname, wa.ServiceKey)
			continue
		}
		gm, wm := toMap(ga), toMap(wa)
		for _, k := range union(gm, wm) {
			if !reflect.DeepEqual(gm[k], wm[k]) {
				t.Errorf("component %s: %s:\n got  %v\n want %v", wa.ServiceCname, k, gm[k], wm[k])
			}
		}
	}
}

func union(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// RAM -> bundle -> RAM keeps every key of the template.
func TestFromComposeXRAMRoundTrip(t *testing.T) {
	orig, p, dir := sampleBundle(t)
	// The generated secrets are in the compose model: the web service gets them.
	if v := p.Services["web"].Environment["ADMIN_TOKEN"]; v == nil || *v == RandomValue || *v == "" {
		t.Fatalf("the bundle's ADMIN_TOKEN is %v: want a generated value", v)
	}
	got, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
	sameTemplate(t, got, orig)
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	// Some keys in particular, for the record.
	web, db := appNamed(t, got, "web"), appNamed(t, got, "db")
	eq(t, "web env", web.ServiceEnvMapList, orig.Apps[0].ServiceEnvMapList)
	eq(t, "db connect info (**None** kept, 127.0.0.1 kept)", db.ServiceConnectInfoMapList, orig.Apps[1].ServiceConnectInfoMapList)
	eq(t, "web config file (the template, not the rendered file)", web.ServiceVolumeMapList[1].FileContent, orig.Apps[0].ServiceVolumeMapList[1].FileContent)
	rendered, err := os.ReadFile(filepath.Join(dir, "files", "web", "etc", "nginx", "conf.d", "default.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rendered), "http://db:3306") {
		t.Fatalf("the bundle's config file is not rendered: %s", rendered)
	}
}

// What the compose file changes in a bundle made from a RAM package comes back changed; the rest
// stays as the template had it.
func TestFromComposeXRAMChanges(t *testing.T) {
	orig, p, dir := sampleBundle(t)
	set := func(svc, k, v string) {
		p.Services[svc].Environment[k] = &v
	}
	set("web", "NGINX_WORKERS", "8")                       // own variable changed
	set("web", "NEW_FLAG", "on")                           // new variable
	set("web", "ADMIN_TOKEN", "typed-by-hand")             // a generated one: stays **None**
	set("web", "DB_PORT", "3307")                          // a dependency's: not the component's own
	set("web", "TZ", "UTC")                                // the config group's, for its only component
	delete(p.Services["db"].Environment, "MYSQL_DATABASE") // removed
	web := p.Services["web"]
	web.Ports = nil // no longer published
	web.Expose = []string{"80", "8080"}
	if err := os.WriteFile(filepath.Join(dir, "files", "web", "etc", "nginx", "conf.d", "default.conf"), []byte("server { listen 8080; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	web.Command = types.ShellCommand{"nginx", "-g", "daemon off;"}
	p.Services["web"] = web

	got, _ := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1.1", Images: map[string]string{"web": "nginx:1.27"}})
	eq(t, "group_version", got.GroupVersion, "1.1")
	eq(t, "group_key kept", got.GroupKey, orig.GroupKey)
	eq(t, "group_name from x-ram", got.GroupName, "app-delivery")
	eq(t, "config group value", got.AppConfigGroups[0].ConfigItems, map[string]string{"TZ": "UTC"})

	w, ow := appNamed(t, got, "web"), orig.Apps[0]
	eq(t, "web ids", []string{w.ServiceKey, w.ServiceID, w.ServiceShareUUID, w.ServiceAlias}, []string{ow.ServiceKey, ow.ServiceID, ow.ServiceShareUUID, ow.ServiceAlias})
	// A new image: a new share_image, its shape whatever the template's was.
	eq(t, "web share_image", w.ShareImage, "goodrain.me/app-delivery/"+ow.ServiceID+":1.1")
	eq(t, "web image", w.Image, "nginx:1.27")
	eq(t, "web deploy_version", w.DeployVersion, "1.1")
	eq(t, "web env", w.ServiceEnvMapList, []Env{
		{AttrName: "NGINX_WORKERS", Name: "worker count", IsChange: true, AttrValue: "8"},
		{AttrName: "ADMIN_TOKEN", Name: "random secret", IsChange: true, AttrValue: RandomValue},
		{AttrName: "NEW_FLAG", IsChange: true, AttrValue: "on"},
	})
	eq(t, "web ports", w.PortMapList, []Port{
		{PortAlias: "WEB80", Protocol: "http", ContainerPort: 80, K8sServiceName: "web-80"},
		{PortAlias: "WEB_8080", Protocol: "tcp", ContainerPort: 8080, IsInnerService: true, K8sServiceName: "web-80"}, // the first port's, as the console does
	})
	eq(t, "web config file (edited: the shipped file)", w.ServiceVolumeMapList[1].FileContent, "server { listen 8080; }\n")
	eq(t, "web volume kept", w.ServiceVolumeMapList[0], ow.ServiceVolumeMapList[0])
	eq(t, "web dependencies", w.DepServiceMapList, ow.DepServiceMapList)
	eq(t, "web cmd", w.Cmd, "nginx -g daemon off;")
	eq(t, "web probes kept", w.Probes, ow.Probes)

	d := appNamed(t, got, "db")
	eq(t, "db env", d.ServiceEnvMapList, []Env{})
	eq(t, "db connect info", d.ServiceConnectInfoMapList, orig.Apps[1].ServiceConnectInfoMapList)
}

// A dependency removed from the compose file is removed; the variables its connection info gave
// become the service's own, but never with a value the bundle generated.
func TestFromComposeXRAMDependencyRemoved(t *testing.T) {
	_, p, dir := sampleBundle(t)
	web := p.Services["web"]
	web.DependsOn = nil
	p.Services["web"] = web
	got, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
	w := appNamed(t, got, "web")
	eq(t, "web dependencies", w.DepServiceMapList, []Dependency{})
	eq(t, "web env", w.ServiceEnvMapList, []Env{
		{AttrName: "NGINX_WORKERS", Name: "worker count", IsChange: true, AttrValue: "2"},
		{AttrName: "ADMIN_TOKEN", Name: "random secret", IsChange: true, AttrValue: RandomValue},
		{AttrName: "DB_HOST", IsChange: true, AttrValue: "db"},
		{AttrName: "DB_PORT", IsChange: true, AttrValue: "3306"},
	})
	// Nothing depends on web: the new **None** goes to its connection info, which web gets too,
	// and which every console generates (those before 2026-06 install a **None** of
	// service_env_map_list literally).
	eq(t, "web connect info", w.ServiceConnectInfoMapList, []Env{
		{AttrName: "MYSQL_ROOT_PASSWORD", IsChange: true, AttrValue: RandomValue},
	})
	eq(t, "warnings", warnings, []string{"service db: name: on the platform the component is reachable as db-3306 (its k8s_service_name, from x-ram), not as db; the references to db in web (environment DB_HOST) will not resolve there: write db-3306 in them: compose resolves it too (it is the service's network alias)", "service web: environment: MYSQL_ROOT_PASSWORD (the value generated for MYSQL_ROOT_PASSWORD of db): written as **None**, never the bundle's secret; the platform generates a value of its own, not shared with the variable it was generated for: make the service depend on its provider"})
}

// The second pass (x-ram) gives the fix for a name that will not resolve too; without the network
// alias ToCompose wrote, it says to add it.
func TestFromComposeXRAMNameFix(t *testing.T) {
	_, p, dir := sampleBundle(t)
	web, db := p.Services["web"], p.Services["db"]
	web.DependsOn = nil
	p.Services["web"] = web
	if n := db.Networks["default"]; n == nil || !slices.Contains(n.Aliases, "db-3306") {
		t.Fatalf("db's networks: %+v", db.Networks)
	}
	db.Networks = nil
	p.Services["db"] = db
	_, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
	want := "service db: name: on the platform the component is reachable as db-3306 (its k8s_service_name, from x-ram), not as db; the references to db in web (environment DB_HOST) will not resolve there: write db-3306 in them, and add it to the service's networks: default: aliases so that compose resolves it too"
	if !slices.Contains(warnings, want) {
		t.Errorf("warnings %q\nlack %q", warnings, want)
	}
}

// A dependency cycle, which compose cannot express in depends_on, survives the round trip.
func TestFromComposeXRAMDependencyCycle(t *testing.T) {
	a := Component{ServiceCname: "a", ServiceKey: "ka", ServiceID: "ia", ServiceShareUUID: "ka+ia", ShareImage: "a:1"}
	b := Component{ServiceCname: "b", ServiceKey: "kb", ServiceID: "ib", ServiceShareUUID: "kb+ib", ShareImage: "b:1"}
	a.DepServiceMapList = []Dependency{{DepServiceKey: "kb+ib"}}
	b.DepServiceMapList = []Dependency{{DepServiceKey: "ka"}} // a bare service_key, as older templates
	orig := &Template{GroupKey: "g", GroupName: "cyc", GroupVersion: "1", Apps: []Component{a, b}}
	orig.Normalize()
	cp, err := ToCompose(orig, ToComposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := cp.Write(dir); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := convertFromCompose(t, p.Typed(), FromComposeOptions{Dir: dir})
	sameTemplate(t, got, orig)
}

func TestRendersTo(t *testing.T) {
	for _, c := range []struct {
		orig, shipped string
		want          bool
	}{
		{"a ${X} b", "a 1 b", true},
		{"a ${X} b ${Y:-d} c", "a 1 b zz c", true},
		{"${X}", "anything", true},
		{"a ${X} b", "a 1 B", false},
		{"a ${X} b", "x 1 b", false},
		{"no refs", "no refs", true},
		{"no refs", "changed", false},
		{"ab${X}ba", "aba", false}, // "ab" and "ba" may not overlap
	} {
		if got := rendersTo(c.orig, c.shipped); got != c.want {
			t.Errorf("rendersTo(%q, %q) = %v", c.orig, c.shipped, got)
		}
	}
}

// Compose -> RAM -> compose -> RAM gives the same template: a published port stays published
// and inner, a tmpfs stays a tmpfs (memoryfs, matched by path), not a named volume.
func TestFromComposeToComposeRoundTrip(t *testing.T) {
	p, dir := shopProject(t)
	first, _ := convertFromCompose(t, p, FromComposeOptions{Name: "shop", Version: "1.0", Dir: dir})
	cp, err := ToCompose(first, ToComposeOptions{Random: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	back := t.TempDir()
	if err := cp.Write(back); err != nil {
		t.Fatal(err)
	}
	lp, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: back})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, cp.YAML)
	}
	bundle := lp.Typed()
	db := bundle.Services["db"]
	eq(t, "db tmpfs", []string(db.Tmpfs), []string{"/run/mysqld"})
	for _, v := range db.Volumes {
		if v.Target == "/run/mysqld" {
			t.Errorf("db: /run/mysqld is a %s mount, want a tmpfs", v.Type)
		}
	}
	if _, ok := bundle.Volumes["db-mysqld"]; ok {
		t.Errorf("a named volume for the tmpfs: %v", bundle.Volumes)
	}
	if len(db.Ports) != 1 || db.Ports[0].Target != 3306 {
		t.Errorf("db ports %+v: want 3306 published", db.Ports)
	}
	second, warnings := convertFromCompose(t, bundle, FromComposeOptions{Dir: back})
	sameTemplate(t, second, first)
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	// Without x-ram, the tmpfs alone makes the memoryfs volume again.
	bundle.Extensions = nil
	for n, s := range bundle.Services {
		s.Extensions = nil
		bundle.Services[n] = s
	}
	third, _ := convertFromCompose(t, bundle, FromComposeOptions{Name: "shop", Version: "1.0", Dir: back})
	if vols := appNamed(t, third, "db").ServiceVolumeMapList; !slices.ContainsFunc(vols, func(v Volume) bool {
		return v.VolumePath == "/run/mysqld" && v.VolumeType == VolumeMemoryFS
	}) {
		t.Errorf("db volumes without x-ram: %+v", vols)
	}
}
