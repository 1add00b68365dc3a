package ram

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/airpack/airpack/compose"
)

// appKeys is the raw JSON of apps[i] and of its extend_method_map, as generic maps.
func appKeys(t *testing.T, b []byte, i int) (app, emm map[string]any) {
	t.Helper()
	var doc struct {
		Apps []map[string]any `json:"apps"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	app = doc.Apps[i]
	emm, _ = app["extend_method_map"].(map[string]any)
	return app, emm
}

// Memory, cpu and the extend_method_map keys: absent, null, 0 and a number are four different
// things to the platform, and each is written back as it was read.
func TestOptionalKeysDecode(t *testing.T) {
	doc := sampleDoc(t)
	web := doc["apps"].([]any)[0].(map[string]any)
	delete(web, "cpu")                // absent
	set(t, doc, "apps.0.memory", nil) // null
	emm := web["extend_method_map"].(map[string]any)
	delete(emm, "init_memory")    // absent
	emm["min_node"] = 0           // 0
	emm["container_cpu"] = 300    // legacy, kept
	emm["container_memory"] = "x" // legacy, any type, kept
	web["service_extend_method"] = map[string]any{"min_node": 2}
	in := marshal(t, doc)

	tpl, err := DecodeMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	a := &tpl.Apps[0]
	if a.CPU.Present() || a.CPU.Int() != 0 || a.CPU.String() != "absent" {
		t.Errorf("cpu %s, want absent", a.CPU)
	}
	if _, ok := a.Memory.Value(); ok || !a.Memory.Present() || a.Memory.String() != "null" {
		t.Errorf("memory %s, want null", a.Memory)
	}
	if a.ExtendMethodMap.InitMemory.Present() {
		t.Errorf("init_memory %s, want absent", a.ExtendMethodMap.InitMemory)
	}
	if v, ok := a.ExtendMethodMap.MinNode.Value(); !ok || v != 0 {
		t.Errorf("min_node %s, want 0", a.ExtendMethodMap.MinNode)
	}
	if v, ok := a.ExtendMethodMap.MaxMemory.Value(); !ok || v != 65536 {
		t.Errorf("max_memory %s, want 65536", a.ExtendMethodMap.MaxMemory)
	}
	if string(a.ExtendMethodMap.ContainerCPU) != "300" || string(a.ExtendMethodMap.ContainerMemory) != `"x"` {
		t.Errorf("container_cpu %s, container_memory %s", a.ExtendMethodMap.ContainerCPU, a.ExtendMethodMap.ContainerMemory)
	}
	// The second component keeps every key.
	if v, ok := tpl.Apps[1].CPU.Value(); !ok || v != 500 {
		t.Errorf("db cpu %s", tpl.Apps[1].CPU)
	}

	out, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	inApp, inEMM := appKeys(t, in, 0)
	outApp, outEMM := appKeys(t, out, 0)
	for _, k := range []string{"memory", "cpu", "service_extend_method"} {
		iv, iok := inApp[k]
		ov, ook := outApp[k]
		if iok != ook || marshalString(t, iv) != marshalString(t, ov) {
			t.Errorf("%s: in %v (present %v), out %v (present %v)", k, iv, iok, ov, ook)
		}
	}
	if marshalString(t, inEMM) != marshalString(t, outEMM) {
		t.Errorf("extend_method_map: in %s, out %s", marshalString(t, inEMM), marshalString(t, outEMM))
	}
	again, err := DecodeMetadata(out)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "decoded again", again.Apps[0], tpl.Apps[0])
}

func marshalString(t *testing.T, v any) string { return string(marshal(t, v)) }

// Decoding stays strict: a wrong JSON type in the new field types fails with its key path.
func TestOptionalKeysStrict(t *testing.T) {
	for _, tc := range []struct {
		path string
		v    any
		want string
	}{
		{"apps.0.memory", "512", `metadata.json: apps[0].memory: want a number, got string "512"`},
		{"apps.1.cpu", 0.5, `metadata.json: apps[1].cpu: want an integer, got number 0.5`},
		{"apps.0.extend_method_map.init_memory", true, `metadata.json: apps[0].extend_method_map.init_memory: want a number, got boolean true`},
		{"apps.1.extend_method_map.min_node", []any{1}, `metadata.json: apps[1].extend_method_map.min_node: want a number, got a list`},
		{"apps.0.vm", map[string]any{"disk_layout": []any{map[string]any{"disk_role": "root", "order_index": "1"}}}, `metadata.json: apps[0].vm.disk_layout[0].order_index: want a number, got string "1"`},
		{"apps.0.vm", "yes", `metadata.json: apps[0].vm: want an object, got string "yes"`},
	} {
		doc := sampleDoc(t)
		set(t, doc, tc.path, tc.v)
		_, err := DecodeMetadata(marshal(t, doc))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s = %v: %v, want %s", tc.path, tc.v, err, tc.want)
		}
	}
	// Legacy keys the platform reads loosely take any type.
	doc := sampleDoc(t)
	set(t, doc, "apps.0.extend_method_map.container_cpu", "250")
	set(t, doc, "apps.0.service_extend_method", []any{1})
	if _, err := DecodeMetadata(marshal(t, doc)); err != nil {
		t.Errorf("legacy keys: %v", err)
	}
}

// What the platform installs a component with, read as the current importer and console read it.
func TestPlatformResources(t *testing.T) {
	for _, tc := range []struct {
		name               string
		c                  Component
		mem, cpu, replicas int
	}{
		{"init_memory wins over memory", Component{Memory: Some(1024), ExtendMethodMap: ExtendMethodMap{InitMemory: Some(512), MinMemory: Some(64)}}, 512, 0, 0},
		{"init_memory absent: min_memory", Component{Memory: Some(512), ExtendMethodMap: ExtendMethodMap{MinMemory: Some(64)}}, 64, 0, 0},
		{"init_memory 0: no limit", Component{Memory: Some(512), ExtendMethodMap: ExtendMethodMap{InitMemory: Some(0), MinMemory: Some(64)}}, 0, 0, 0},
		{"init_memory null: present, 0", Component{ExtendMethodMap: ExtendMethodMap{InitMemory: OptInt{state: optNull}, MinMemory: Some(64)}}, 0, 0, 0},
		{"legacy service_extend_method", Component{ServiceExtendMethod: RawJSON(`{"init_memory":256,"min_node":3}`)}, 256, 0, 3},
		{"cpu", Component{CPU: Some(500)}, 0, 500, 0},
		{"cpu absent: container_cpu", Component{ExtendMethodMap: ExtendMethodMap{ContainerCPU: RawJSON("300")}}, 0, 300, 0},
		{"cpu 250: container_cpu", Component{CPU: Some(250), ExtendMethodMap: ExtendMethodMap{ContainerCPU: RawJSON("0")}}, 0, 0, 0},
		{"cpu 0 present: kept", Component{CPU: Some(0), ExtendMethodMap: ExtendMethodMap{ContainerCPU: RawJSON("300")}}, 0, 0, 0},
		{"min_node", Component{ExtendMethodMap: ExtendMethodMap{MinNode: Some(2)}}, 0, 0, 2},
		{"daemonset", Component{ExtendMethod: DaemonSet, ExtendMethodMap: ExtendMethodMap{MinNode: Some(2)}}, 0, 0, -1},
	} {
		if got := tc.c.PlatformMemory(); got != tc.mem {
			t.Errorf("%s: memory %d, want %d", tc.name, got, tc.mem)
		}
		if got := tc.c.PlatformCPU(); got != tc.cpu {
			t.Errorf("%s: cpu %d, want %d", tc.name, got, tc.cpu)
		}
		if got := tc.c.PlatformReplicas(); got != tc.replicas {
			t.Errorf("%s: replicas %d, want %d", tc.name, got, tc.replicas)
		}
	}
}

// RAM -> compose: the memory the platform installs (init_memory), cpu as cpus, min_node as
// replicas where compose can run them, and a warning where it cannot or where memory disagrees.
func TestToComposeResources(t *testing.T) {
	tpl := templateOf(
		testComponent("web", "a1", func(c *Component) {
			c.Memory, c.CPU = Some(1024), Some(1500)
			c.ExtendMethodMap = ExtendMethodMap{InitMemory: Some(512), MinNode: Some(3)}
			c.PortMapList = []Port{{ContainerPort: 80, Protocol: "http", IsOuterService: true}}
		}),
		testComponent("worker", "b2", func(c *Component) {
			c.ExtendMethodMap = ExtendMethodMap{MinMemory: Some(256), MinNode: Some(2), ContainerCPU: RawJSON("250")}
		}),
		testComponent("idle", "c3", func(c *Component) {
			c.Labels = map[string]string{"gpu": "GPU nodes", "ssd": "SSD"}
		}),
	)
	got := convertToCompose(t, tpl, ToComposeOptions{})
	web, worker, idle := got.service(t, "web"), got.service(t, "worker"), got.service(t, "idle")
	if l := web.Deploy.Resources.Limits; l.MemoryBytes != 512<<20 || l.NanoCPUs != 1.5 || web.Deploy.Replicas != nil {
		t.Errorf("web deploy %+v %+v", web.Deploy, l)
	}
	if l := worker.Deploy.Resources.Limits; l.MemoryBytes != 256<<20 || l.NanoCPUs != 0.25 || worker.Deploy.Replicas == nil || *worker.Deploy.Replicas != 2 {
		t.Errorf("worker deploy %+v %+v", worker.Deploy, l)
	}
	if idle.Deploy != nil || len(idle.Labels) != 0 {
		t.Errorf("idle deploy %+v, labels %v", idle.Deploy, idle.Labels)
	}
	eq(t, "warnings", got.p.Warnings, []string{
		`component "web" (apps[0]): memory is 1024 MB but the platform installs init_memory (or min_memory when init_memory is absent): 512 MB`,
		`component "web" (apps[0]): min_node 3: docker compose runs one instance, since the service publishes ports on fixed host ports`,
		`component "idle" (apps[2]): min_node is absent: the platform starts no instance; docker compose runs one`,
		`component "idle" (apps[2]): labels gpu, ssd are the platform's node-scheduling labels (the nodes it may run on): docker compose does not apply them (kept in x-ram)`,
	})
}

// A VM component is refused, naming it: docker compose cannot run a virtual machine.
func TestToComposeRefusesVM(t *testing.T) {
	for _, f := range []func(*Component){
		func(c *Component) { c.VM = &VMTemplate{DiskLayout: []VMDiskLayout{{DiskRole: "root"}}} },
		func(c *Component) { c.ExtendMethod = "vm" },
		func(c *Component) { c.ServiceSource = "vm_run" },
	} {
		tpl := templateOf(testComponent("web", "a1", nil), testComponent("win", "b2", f))
		_, err := ToCompose(tpl, ToComposeOptions{})
		if err == nil || !strings.Contains(err.Error(), `apps[1] (service_cname "win") is a virtual machine`) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v", err)
		}
	}
}

// Compose -> RAM: a fresh component gets every resource key explicitly; compose labels are
// dropped with a warning (they would become node selectors).
func TestFromComposeResources(t *testing.T) {
	p, dir := loadProject(t, map[string]string{"compose.yaml": `name: res
services:
  web:
    image: web:1
    labels: {tier: front}
    deploy:
      replicas: 3
      resources: {limits: {cpus: "0.5", memory: 300M}}
  plain:
    image: plain:1
`})
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	web, plain := appNamed(t, tpl, "web"), appNamed(t, tpl, "plain")
	eq(t, "web memory", web.Memory, Some(300))
	eq(t, "web cpu", web.CPU, Some(500))
	eq(t, "web init_memory", web.ExtendMethodMap.InitMemory, Some(300))
	eq(t, "web min_node", web.ExtendMethodMap.MinNode, Some(3))
	eq(t, "web labels", web.Labels, map[string]string(nil))
	// No limits: 0, written (no limit on current consoles), min_node 1.
	eq(t, "plain memory", plain.Memory, Some(0))
	eq(t, "plain cpu", plain.CPU, Some(0))
	eq(t, "plain extend_method_map", plain.ExtendMethodMap, ExtendMethodMap{
		MinNode: Some(1), MaxNode: Some(1024), StepNode: Some(1), MinMemory: Some(64), MaxMemory: Some(65536),
		StepMemory: Some(64), IsRestart: Some(0), InitMemory: Some(0),
	})
	eq(t, "warnings", warnings, []string{
		"service web: labels: tier: compose labels are container labels, and the template's labels are the platform's node-scheduling labels (a name matching a node label would restrict the nodes the component runs on); dropped",
	})
	out, _ := json.Marshal(tpl)
	for i := range tpl.Apps {
		app, emm := appKeys(t, out, i)
		for _, k := range []string{"memory", "cpu"} {
			if _, ok := app[k]; !ok {
				t.Errorf("apps[%d].%s not written", i, k)
			}
		}
		for _, k := range []string{"min_node", "max_node", "step_node", "min_memory", "max_memory", "step_memory", "init_memory", "is_restart"} {
			if _, ok := emm[k]; !ok {
				t.Errorf("apps[%d].extend_method_map.%s not written", i, k)
			}
		}
	}
}

// resourceTemplate has the keys a platform export may leave out, and legacy ones.
func resourceTemplate(t *testing.T) *Template {
	doc := sampleDoc(t)
	apps := doc["apps"].([]any)
	web, db := apps[0].(map[string]any), apps[1].(map[string]any)
	delete(web, "cpu")
	webEMM := web["extend_method_map"].(map[string]any)
	delete(webEMM, "init_memory") // the platform installs min_memory: 64
	delete(webEMM, "min_node")
	webEMM["container_cpu"] = 0
	db["memory"] = nil
	dbEMM := db["extend_method_map"].(map[string]any)
	dbEMM["min_node"] = 2
	dbEMM["init_memory"] = 0
	db["labels"] = map[string]any{"ssd": "SSD nodes"}
	db["service_extend_method"] = map[string]any{"min_node": 2, "container_memory": nil}
	tpl, err := DecodeMetadata(marshal(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// composeOf writes a template as a bundle's compose project and loads it, edited by edit.
func composeOf(t *testing.T, tpl *Template, edit func(string) string) (*types.Project, string) {
	t.Helper()
	cp, err := ToCompose(tpl, ToComposeOptions{Random: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		cp.YAML = []byte(edit(string(cp.YAML)))
	}
	dir := t.TempDir()
	if err := cp.Write(dir); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatalf("load: %v\n%s", err, cp.YAML)
	}
	return p.Typed(), dir
}

// RAM -> bundle (x-ram) -> RAM keeps absent keys absent, null null, 0 0, container_cpu,
// service_extend_method and labels, although the compose file now sets the limits and replicas.
func TestXRAMResourcesRoundTrip(t *testing.T) {
	orig := resourceTemplate(t)
	p, dir := composeOf(t, orig, nil)
	web, db := p.Services["web"], p.Services["db"]
	if l := web.Deploy.Resources.Limits; l.MemoryBytes != 64<<20 || l.NanoCPUs != 0 {
		t.Errorf("web limits %+v", l)
	}
	if l := db.Deploy.Resources.Limits; l.MemoryBytes != 0 || l.NanoCPUs != 0.5 || db.Deploy.Replicas == nil || *db.Deploy.Replicas != 2 {
		t.Errorf("db deploy %+v limits %+v", db.Deploy, l)
	}
	got, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
	sameTemplate(t, got, orig)
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	a, b := marshal(t, orig), marshal(t, got)
	for i := range orig.Apps {
		j := slices.IndexFunc(got.Apps, func(c Component) bool { return c.ServiceKey == orig.Apps[i].ServiceKey })
		oa, oe := appKeys(t, a, i)
		ga, ge := appKeys(t, b, j)
		if marshalString(t, oe) != marshalString(t, ge) {
			t.Errorf("apps[%d].extend_method_map %s, want %s", i, marshalString(t, ge), marshalString(t, oe))
		}
		for _, k := range []string{"memory", "cpu", "labels", "service_extend_method"} {
			ov, ook := oa[k]
			gv, gok := ga[k]
			if ook != gok || marshalString(t, ov) != marshalString(t, gv) {
				t.Errorf("apps[%d].%s %v (present %v), want %v (present %v)", i, k, gv, gok, ov, ook)
			}
		}
	}
}

// What the bundle's compose file changes comes back changed, init_memory and container_cpu
// with memory and cpu; a compose label added to the bundle is dropped with a warning, the
// template's own labels stay.
func TestXRAMResourcesChanges(t *testing.T) {
	orig := resourceTemplate(t)
	p, dir := composeOf(t, orig, nil)
	web := p.Services["web"]
	web.Deploy.Resources.Limits.MemoryBytes = 128 << 20
	web.Deploy.Resources.Limits.NanoCPUs = 2
	web.Labels = types.Labels{"tier": "front"}
	p.Services["web"] = web
	db := p.Services["db"]
	db.Deploy.Replicas = nil
	p.Services["db"] = db
	got, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
	gw, gd := appNamed(t, got, "web"), appNamed(t, got, "db")
	eq(t, "web memory", gw.Memory, Some(128))
	eq(t, "web init_memory", gw.ExtendMethodMap.InitMemory, Some(128))
	eq(t, "web cpu", gw.CPU, Some(2000))
	eq(t, "web container_cpu", string(gw.ExtendMethodMap.ContainerCPU), "2000")
	eq(t, "web min_node (unchanged: absent)", gw.ExtendMethodMap.MinNode.Present(), false)
	eq(t, "web labels", gw.Labels, map[string]string(nil))
	eq(t, "db min_node (replicas removed: one)", gd.ExtendMethodMap.MinNode, Some(1))
	eq(t, "db labels (the template's)", gd.Labels, map[string]string{"ssd": "SSD nodes"})
	eq(t, "db memory (unchanged: null)", gd.Memory.String(), "null")
	eq(t, "warnings", warnings, []string{
		"service web: labels: tier: compose labels are container labels, and the template's labels are the platform's node-scheduling labels (a name matching a node label would restrict the nodes the component runs on); dropped",
	})
}

// A VM component in a bundle's x-ram is refused: airpack never writes one.
func TestFromComposeRefusesVM(t *testing.T) {
	orig := resourceTemplate(t)
	p, dir := composeOf(t, orig, nil)
	web := p.Services["web"]
	ext := web.Extensions[ExtensionKey].(map[string]any)
	ext["service_source"] = "vm_run"
	p.Services["web"] = web
	_, _, err := FromCompose(p, FromComposeOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), `service web: x-ram: the component is a virtual machine (service_source "vm_run")`) {
		t.Errorf("%v", err)
	}
}

// A config file over the 1 MiB a ConfigMap holds, as written or once rendered with the
// service's variables, is refused in one line naming the service, the file and the limit (the
// component would run without it); one of exactly 1 MiB stays.
func TestFromComposeConfigFileSize(t *testing.T) {
	small := strings.Repeat("a", maxConfigFileSize-10) + "${X}" // 1 MiB - 6, renders to 1 MiB + 90
	under := strings.Repeat("b", maxConfigFileSize)             // exactly 1 MiB
	over := strings.Repeat("c", maxConfigFileSize+1)
	files := map[string]string{"grows.conf": small, "under.conf": under, "over.conf": over}
	project := func(mounts string) (*types.Project, string) {
		m := map[string]string{"compose.yaml": `name: big
services:
  app:
    image: app:1
    environment:
      X: "` + strings.Repeat("x", 100) + `"
` + mounts + `
configs:
  big: {file: ./over.conf}
secrets:
  big: {file: ./over.conf}
`}
		maps.Copy(m, files)
		return loadProject(t, m)
	}
	limit := "more than the 1 MiB (1048576 bytes) a Kubernetes ConfigMap holds: the platform mounts each config file from one and could not deploy the component, which needs the file; ship the file in the image or in a volume instead"
	for _, c := range []struct{ mounts, want string }{
		{"    volumes: [./over.conf:/etc/over.conf, ./under.conf:/etc/under.conf]",
			"service app: volumes: bind mount ./over.conf at /etc/over.conf: 1048577 bytes, " + limit},
		{"    configs: [{source: big, target: /etc/big.conf}]",
			"service app: configs: big (./over.conf): 1048577 bytes, " + limit},
		{"    secrets: [big]",
			"service app: secrets: big (./over.conf): 1048577 bytes, " + limit},
		{"    volumes: [./grows.conf:/etc/grows.conf]",
			"service app: volumes: config file /etc/grows.conf: 1048666 bytes once the platform replaces its ${...} references with the service's variables (1048570 as written), " + limit + ", or make the values it includes shorter"},
	} {
		p, dir := project(c.mounts)
		_, _, err := FromCompose(p, FromComposeOptions{Dir: dir, Version: "1"})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.mounts, err, c.want)
		}
	}
	p, dir := project("    volumes: [./under.conf:/etc/under.conf]")
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	var paths []string
	for _, v := range tpl.Apps[0].ServiceVolumeMapList {
		paths = append(paths, v.VolumePath)
	}
	eq(t, "config files", paths, []string{"/etc/under.conf"})
	if len(warnings) > 0 {
		t.Errorf("warnings %q", warnings)
	}
}

// inspect reports a VM component (and a VM without a root disk, which the importer refuses) and
// a config file larger than a ConfigMap holds; pack --ram refuses the VM.
func TestInspectVMAndLargeConfigFile(t *testing.T) {
	doc := sampleDoc(t)
	set(t, doc, "apps.0.vm", map[string]any{"boot_mode": "uefi", "disk_layout": []any{map[string]any{"disk_role": "data"}}})
	set(t, doc, "apps.0.service_volume_map_list.1.file_content", strings.Repeat("x", maxConfigFileSize+1))
	top := "app-delivery-1.0-ram"
	p := writeTemp(t, top+".tar.gz", gzipTar(t,
		dir(top+"/"),
		file(top+"/metadata.json", marshal(t, doc)),
		file(top+"/component-images.tar", imagesTar(t, 1, webImage, dbImage)),
	))
	r, err := InspectPackage(context.Background(), p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "web vm", r.Components[0].VM, true)
	eq(t, "web memory (init_memory)", r.Components[0].Memory, 512)
	eq(t, "problems", r.Problems, []string{
		`apps[0] (service_cname "web") is a virtual machine (it has a vm object): docker compose cannot run one (airpack pack --ram refuses the package)`,
		`apps[0] (service_cname "web"): vm.disk_layout has no root disk: the importer refuses the package`,
		`apps[0] (service_cname "web"): config file "nginxconf" (/etc/nginx/conf.d/default.conf) holds 1048577 bytes, more than the 1 MiB a Kubernetes ConfigMap holds: the platform fails to deploy it`,
	})
	tpl, err := DecodeMetadata(marshal(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "vm decoded", tpl.Apps[0].VM, &VMTemplate{BootMode: "uefi", DiskLayout: []VMDiskLayout{{DiskRole: "data"}}})
	if _, err := ToCompose(tpl, ToComposeOptions{}); err == nil || !strings.Contains(err.Error(), "virtual machine") {
		t.Errorf("ToCompose: %v", err)
	}
}

// An explicit deploy.replicas: 0 or scale: 0 (compose runs no container) becomes min_node 0 (the
// platform starts no instance), not the 1 of a service without replicas; in a bundle from a RAM
// package too.
func TestFromComposeReplicasZero(t *testing.T) {
	p, dir := loadProject(t, map[string]string{"compose.yaml": `name: zero
services:
  deployed: {image: a:1, deploy: {replicas: 0}}
  scaled: {image: b:1, scale: 0}
  plain: {image: c:1}
`})
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	eq(t, "deployed min_node", appNamed(t, tpl, "deployed").ExtendMethodMap.MinNode, Some(0))
	eq(t, "scaled min_node", appNamed(t, tpl, "scaled").ExtendMethodMap.MinNode, Some(0))
	eq(t, "plain min_node", appNamed(t, tpl, "plain").ExtendMethodMap.MinNode, Some(1))
	if len(warnings) > 0 {
		t.Errorf("warnings %q", warnings)
	}

	orig := resourceTemplate(t) // db: min_node 2; web: min_node absent (the platform starts none)
	bp, bdir := composeOf(t, orig, nil)
	for _, name := range []string{"web", "db"} {
		s := bp.Services[name]
		zero := 0
		if s.Deploy == nil {
			s.Deploy = &types.DeployConfig{}
		}
		s.Deploy.Replicas = &zero
		bp.Services[name] = s
	}
	got, _ := convertFromCompose(t, bp, FromComposeOptions{Dir: bdir})
	eq(t, "db min_node", appNamed(t, got, "db").ExtendMethodMap.MinNode, Some(0))
	eq(t, "web min_node (absent: already none)", appNamed(t, got, "web").ExtendMethodMap.MinNode.Present(), false)
}

// Compose's replicas share the service's named volume: with replicas the volume is share-file
// (one claim every instance of a stateless component mounts), not local in a state_multiple
// component (a volume per instance). A template's stateful component the compose file gives
// replicas keeps its volumes, with a warning.
func TestReplicasShareTheirVolume(t *testing.T) {
	p, dir := loadProject(t, map[string]string{"compose.yaml": `name: rep
services:
  api:
    image: api:1
    scale: 3
    volumes: [data:/var/data]
  one:
    image: one:1
    volumes: [own:/var/own]
volumes: {data: {}, own: {}}
`})
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	api, one := appNamed(t, tpl, "api"), appNamed(t, tpl, "one")
	eq(t, "api extend_method", api.ExtendMethod, StatelessMultiple)
	eq(t, "api min_node", api.ExtendMethodMap.MinNode, Some(3))
	eq(t, "api volumes", api.ServiceVolumeMapList, []Volume{{VolumeName: "data", VolumePath: "/var/data", VolumeType: VolumeShareFile, AccessMode: "RWX"}})
	eq(t, "one extend_method", one.ExtendMethod, StateSingleton)
	eq(t, "one volumes", one.ServiceVolumeMapList, []Volume{{VolumeName: "own", VolumePath: "/var/own", VolumeType: VolumeLocal, AccessMode: "RWO"}})
	if len(warnings) > 0 {
		t.Errorf("warnings %q", warnings)
	}

	orig, err := DecodeMetadata(sampleBytes(t)) // db: state_singleton, local volume mysqldata
	if err != nil {
		t.Fatal(err)
	}
	bp, bdir := composeOf(t, orig, nil)
	db := bp.Services["db"]
	three := 3
	if db.Deploy == nil {
		db.Deploy = &types.DeployConfig{}
	}
	db.Deploy.Replicas = &three
	bp.Services["db"] = db
	got, warnings := convertFromCompose(t, bp, FromComposeOptions{Dir: bdir})
	eq(t, "db min_node", appNamed(t, got, "db").ExtendMethodMap.MinNode, Some(3))
	eq(t, "warnings", warnings, []string{
		"service db: volumes: mysqldata: with 3 replicas each platform instance gets a volume of its own (the template's component is state_singleton, a StatefulSet), while compose's replicas share one; keep one replica, or in x-ram make the component stateless_multiple and the volumes share-file (one claim all instances mount)",
	})
}
