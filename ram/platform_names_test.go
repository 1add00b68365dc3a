package ram

// The platform's rules for names, lengths and paths (docs/ram-format.md §8.2), both directions.

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDNSLabel(t *testing.T) {
	for _, c := range []struct {
		in          string
		letterFirst bool
		want        string
	}{
		{"web", true, "web"},
		{"cache_b", true, "cache-b"},
		{"Web", true, "web"},
		{"1api", true, "svc-1api"},
		{"1api", false, "1api"},
		{"a..b__c", true, "a-b-c"},
		{"服务", true, "svc"},
		{"服务", false, "component"},
		{"-x-", true, "x"},
	} {
		if got := dnsLabel(c.in, maxK8sName, c.letterFirst); got != c.want {
			t.Errorf("dnsLabel(%q, %v) = %q, want %q", c.in, c.letterFirst, got, c.want)
		}
	}
	long := strings.Repeat("a", 70)
	a, b := dnsLabel(long+"x", maxK8sName, true), dnsLabel(long+"y", maxK8sName, true)
	if len(a) != maxK8sName || len(b) != maxK8sName || a == b || !validServiceName(a) || !strings.HasPrefix(a, "aaaa") {
		t.Errorf("long names: %q %q", a, b)
	}
}

func TestNameSet(t *testing.T) {
	s := newNameSet(strings.ToUpper)
	if !s.reserve("WEB_80") || s.reserve("web_80") {
		t.Error("reserve folds case")
	}
	if got := s.take("web_80", 0, "_"); got != "web_80_2" {
		t.Errorf("take = %q", got)
	}
	n := newNameSet(nil)
	first := n.take(strings.Repeat("v", 50), maxConfigName, "-")
	second := n.take(strings.Repeat("v", 50), maxConfigName, "-")
	if utf8.RuneCountInString(first) != maxConfigName || utf8.RuneCountInString(second) != maxConfigName || first == second {
		t.Errorf("shortened unique: %q %q", first, second)
	}
	if !validVolumeName(first) || !validVolumeName(second) {
		t.Errorf("invalid: %q %q", first, second)
	}
}

func TestVolumeRules(t *testing.T) {
	for in, want := range map[string]string{"_x_": "x", "my vol": "my-vol", "nginx.conf": "nginx-conf", "__": "volume", "Data_1": "Data_1"} {
		if got := volumeName(in); got != want || !validVolumeName(got) {
			t.Errorf("volumeName(%q) = %q, want %q", in, got, want)
		}
	}
	for _, n := range []string{"_x_", "x_", "-x", "a b", "中文"} {
		if validVolumeName(n) {
			t.Errorf("%q is valid", n)
		}
	}
	// The console's is_path_legal, checked with Python against the same paths (facts §5).
	for p, ok := range map[string]bool{
		"/data": true, "/tmp": true, "/abc": true, "/a/b": true, "/app/.env": true, "/x/y.conf": true,
		"/data/": true, "/var/lib/mysql": true, "/中文/x": true,
		"/a": false, "/ab": false, "/.env": false, "/.hidden/x": false, "/ab/": false, "/x/": false, "/x.": false,
	} {
		if legalVolumePath(p) != ok {
			t.Errorf("legalVolumePath(%q) = %v", p, !ok)
		}
	}
}

func TestHasHost(t *testing.T) {
	for s, want := range map[string]bool{
		"db": true, "http://db:5432/x": true, "db:5432": true, "user@db/x": true, "a db b": true,
		"db.example.com": false, "mydb": false, "db_1": false, "db-2": false, "": false,
	} {
		if got := hasHost(s, "db"); got != want {
			t.Errorf("hasHost(%q) = %v", s, got)
		}
	}
}

const namesCompose = `
services:
  cache-b:
    image: redis
    expose: ["6379"]
  cache_b:
    image: redis
    expose: ["6379"]
  Web:
    image: web
    ports: ["5432:5432", "8080:8080", "9090:9090"]
  1api:
    image: api
    expose: ["8081"]
    ports:
      - target: 443
        published: "443"
        app_protocol: http
  db:
    image: db
    networks:
      default:
        aliases: [database]
  worker:
    image: worker
    depends_on: [db]
    environment:
      DB_HOST: db
      API_URL: http://1api:8081/
      REDIS: cache_b:6379
      OTHER: db.example.com
      SEARCH: http://search-engine-indexer-with-a-really-long-service-name-for-testing:9200
  search-engine-indexer-with-a-really-long-service-name-for-testing:
    image: search
    expose: ["9200"]
  queue_a:
    image: queue
  queue-a:
    image: queue
`

func TestFromComposePlatformNames(t *testing.T) {
	p, dir := loadProject(t, map[string]string{"compose.yaml": namesCompose})
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{Name: "names", Version: "1", Dir: dir})

	for _, c := range []struct{ service, k8s, component string }{
		{"cache-b", "cache-b", "cache-b"},
		{"cache_b", "cache-b-2", "cache-b-2"},
		{"Web", "web", "web"},
		{"1api", "svc-1api", "1api"},
	} {
		a := appNamed(t, tpl, c.service)
		eq(t, c.service+" k8s_component_name", a.K8sComponentName, c.component)
		for _, port := range a.PortMapList {
			eq(t, c.service+" k8s_service_name", port.K8sServiceName, c.k8s)
		}
	}
	eq(t, "cache_b alias", appNamed(t, tpl, "cache_b").PortMapList[0].PortAlias, "CACHE_B_2_6379")
	eq(t, "cache-b alias", appNamed(t, tpl, "cache-b").PortMapList[0].PortAlias, "CACHE_B_6379")
	eq(t, "db ports", appNamed(t, tpl, "db").PortMapList, []Port{})
	if problems := TemplateProblems(tpl); len(problems) > 0 {
		t.Errorf("problems: %q", problems)
	}

	// Published http ports first: 8080 (a well-known http port), then the others in order.
	var order []string
	for _, port := range appNamed(t, tpl, "Web").PortMapList {
		order = append(order, itoa(port.ContainerPort)+"/"+port.Protocol)
	}
	eq(t, "Web ports", order, []string{"8080/http", "5432/tcp", "9090/tcp"})
	order = nil
	for _, port := range appNamed(t, tpl, "1api").PortMapList {
		order = append(order, itoa(port.ContainerPort)+"/"+port.Protocol)
	}
	eq(t, "1api ports (app_protocol http)", order, []string{"443/http", "8081/tcp"})

	want := []string{
		"service 1api: name: on the platform the component is reachable as svc-1api (its k8s_service_name), not as 1api: a Service name is a DNS-1035 label (lower case letters, digits and '-', starting with a letter); the references to 1api in worker (environment API_URL) will not resolve there: rename service 1api (e.g. to svc-1api) and update them",
		// One fact, one fix: the container's name (cache-b-2 too) adds nothing here.
		"service cache_b: name: on the platform the component is reachable as cache-b-2 (its k8s_service_name), not as cache_b: cache-b is taken by service cache-b; the references to cache_b in worker (environment REDIS) will not resolve there: rename service cache_b (e.g. to cache-b-2) and update them",
		"service search-engine-indexer-with-a-really-long-service-name-for-testing: name: on the platform the component is reachable as search-engine-indexer-with-a-really-long-service-name-fo-249b7f (its k8s_service_name), not as search-engine-indexer-with-a-really-long-service-name-for-testing: a Service name is at most 63 characters; the references to search-engine-indexer-with-a-really-long-service-name-for-testing in worker (environment SEARCH) will not resolve there: shorten the service name to at most 63 characters and update them",
		// Without ports, only the container's name differs.
		"service queue_a: name: the platform names its container queue-a-2 (k8s_component_name): queue-a is taken by service queue-a",
		"service db: networks: default: aliases database: on the platform the component is reachable by no name: it has no ports; dropped",
		"service db: ports: none: on the platform a component without ports gets no Kubernetes Service, so db does not resolve for worker (depends_on, environment DB_HOST): list the port it listens on under expose",
	}
	for _, w := range want {
		if !slices.Contains(warnings, w) {
			t.Errorf("missing warning %q in\n%q", w, warnings)
		}
	}
	for _, w := range warnings {
		if strings.HasPrefix(w, "service Web:") || strings.HasPrefix(w, "service cache-b:") {
			t.Errorf("unexpected warning %q", w)
		}
	}
}

func TestFromComposeLengths(t *testing.T) {
	long := strings.Repeat("s", 70)
	compose := `
services:
  ` + long + `a:
    image: a
    expose: ["80"]
    volumes: ["` + strings.Repeat("v", 50) + `:/data", "./` + strings.Repeat("c", 40) + `.conf:/etc/x.conf", "./` + strings.Repeat("c", 40) + `.conf:/etc/y.conf"]
    tmpfs: ["/ab"]
  ` + long + `b:
    image: b
    expose: ["80"]
volumes:
  ` + strings.Repeat("v", 50) + `: {}
`
	files := map[string]string{"compose.yaml": compose, strings.Repeat("c", 40) + ".conf": "x\n"}
	p, dir := loadProject(t, files)
	tpl, warnings := convertFromCompose(t, p, FromComposeOptions{Name: "lengths", Version: "1.0.0-rc.1-build.2025", Dir: dir})
	if problems := TemplateProblems(tpl); len(problems) != 1 || !strings.Contains(problems[0], `volume "ab" at "/ab": the console drops`) {
		t.Errorf("problems: %q", problems)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool {
		return strings.Contains(w, `volume_path: volume "ab" at "/ab": the console drops`)
	}) {
		t.Errorf("no warning for the tmpfs path: %q", warnings)
	}
	seen := map[string]bool{}
	for _, a := range tpl.Apps {
		k := a.PortMapList[0].K8sServiceName
		if len(k) > maxK8sName || !validServiceName(k) || len(a.K8sComponentName) > maxComponentName || !validComponentName(a.K8sComponentName) || len(a.PortMapList[0].PortAlias) > maxPortAlias {
			t.Errorf("%s: %q %q %q", a.ServiceCname, k, a.K8sComponentName, a.PortMapList[0].PortAlias)
		}
		if seen[k] || seen[a.K8sComponentName] || seen[a.PortMapList[0].PortAlias] {
			t.Errorf("not unique: %q %q %q", k, a.K8sComponentName, a.PortMapList[0].PortAlias)
		}
		seen[k], seen[a.K8sComponentName], seen[a.PortMapList[0].PortAlias] = true, true, true
		if len(a.DeployVersion) != maxDeployVersion || !strings.HasPrefix(a.DeployVersion, "1.0.0-rc.1") {
			t.Errorf("deploy_version %q", a.DeployVersion)
		}
	}
	var names []string
	for _, v := range tpl.Apps[0].ServiceVolumeMapList {
		max := maxVolumeName
		if v.VolumeType == VolumeConfigFile {
			max = maxConfigName
		}
		if utf8.RuneCountInString(v.VolumeName) > max || !validVolumeName(v.VolumeName) || slices.Contains(names, v.VolumeName) {
			t.Errorf("volume %q", v.VolumeName)
		}
		names = append(names, v.VolumeName)
	}
	if len(names) != 4 {
		t.Errorf("volumes %q", names)
	}
}

func TestFromComposeRefusals(t *testing.T) {
	for _, c := range []struct{ name, compose, version, want string }{
		{"cmd", "services:\n  web:\n    image: w\n    command: [\"" + strings.Repeat("x", 2049) + "\"]\n", "1",
			"service web: cmd is 2049 characters, more than the 2048 the platform stores (console TenantServiceInfo.cmd): the install fails or cuts it; move the command into a script in the image, or into its entrypoint"},
		{"volume path", "services:\n  web:\n    image: w\n    volumes: [\"data:/db\"]\nvolumes:\n  data: {}\n", "1",
			`service web: volume "data" at "/db": the console drops a volume whose path fails its check (console/utils/urlutil.py is_path_legal: a letter, digit, '_' or '-' after the '/', at least 3 characters, no '.' at the end), so the component writes its data into its container, lost when it restarts; mount it at another path`},
		{"config file path", "services:\n  web:\n    image: w\n    configs: [{source: c, target: /.env}]\nconfigs:\n  c: {content: x}\n", "1",
			`service web: volume "c" at "/.env": the console drops`},
		{"group_version", "services:\n  web:\n    image: w\n", strings.Repeat("1", 33),
			"template: group_version is 33 characters, more than the 32 the platform stores (console RainbondCenterAppVersion.version): the install fails or cuts it; choose a shorter version (--version)"},
	} {
		p, dir := loadProject(t, map[string]string{"compose.yaml": c.compose})
		_, _, err := FromCompose(p, FromComposeOptions{Name: "x", Version: c.version, Dir: dir})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %s", c.name, err, c.want)
		}
	}
	if err := CheckPackageName(strings.Repeat("n", 65), "1"); err == nil || !strings.Contains(err.Error(), "group_name is 65 characters, more than the 64") {
		t.Errorf("CheckPackageName: %v", err)
	}
}

// A platform template's names are kept when valid and unique; every port gets the first
// port's k8s_service_name (the console uses only it); a port without one gets a derived name.
func TestFromComposeTemplateNames(t *testing.T) {
	tpl := templateOf(
		testComponent("ghost", "kg", func(c *Component) {
			c.K8sComponentName = ""
			c.PortMapList = []Port{
				{ContainerPort: 2368, Protocol: "http", PortAlias: "GRC240E12368", K8sServiceName: "grc240e1-2368", IsOuterService: true},
				{ContainerPort: 3000, Protocol: "http", PortAlias: "GRC240E13000", K8sServiceName: "grc240e1-3000"},
			}
		}),
		testComponent("kong", "kk", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 8000, Protocol: "http", PortAlias: "GRB8B4BA8000"}}
		}),
	)
	tpl.Normalize()
	cp := convertToCompose(t, tpl, ToComposeOptions{})
	p, dir := loadProject(t, map[string]string{"compose.yaml": cp.yaml, ".env": string(cp.p.DotEnv)})
	got, _ := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
	ghost, kong := appNamed(t, got, "ghost"), appNamed(t, got, "kong")
	eq(t, "ghost k8s_component_name", ghost.K8sComponentName, "")
	eq(t, "ghost ports", ghost.PortMapList, []Port{
		{ContainerPort: 2368, Protocol: "http", PortAlias: "GRC240E12368", K8sServiceName: "grc240e1-2368", IsOuterService: true},
		{ContainerPort: 3000, Protocol: "http", PortAlias: "GRC240E13000", K8sServiceName: "grc240e1-2368"},
	})
	eq(t, "kong ports", kong.PortMapList, []Port{{ContainerPort: 8000, Protocol: "http", PortAlias: "GRB8B4BA8000", K8sServiceName: "kong"}})
}

func TestToComposeNetworkAliases(t *testing.T) {
	tpl := templateOf(
		testComponent("ghost", "kg", func(c *Component) {
			c.PortMapList = []Port{
				{ContainerPort: 2368, Protocol: "http", K8sServiceName: "grc240e1-2368"},
				{ContainerPort: 3000, Protocol: "http", K8sServiceName: "grc240e1-3000"},
			}
		}),
		testComponent("mysql", "km", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 3306, Protocol: "tcp", K8sServiceName: "mysql"}} // its service name: no alias
		}),
		testComponent("other", "ko", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 1, Protocol: "tcp", K8sServiceName: "ghost"}} // another's service name
		}),
		testComponent("bad", "kb", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 2, Protocol: "tcp", K8sServiceName: "Not_valid"}}
		}),
	)
	c := convertToCompose(t, tpl, ToComposeOptions{})
	aliases := func(svc string) []string {
		n := c.service(t, svc).Networks["default"]
		if n == nil {
			return nil
		}
		return n.Aliases
	}
	eq(t, "ghost aliases", aliases("ghost"), []string{"grc240e1-2368"})
	eq(t, "mysql aliases", aliases("mysql"), []string(nil))
	eq(t, "other aliases", aliases("other"), []string(nil))
	eq(t, "bad aliases", aliases("bad"), []string(nil))
	if !slices.ContainsFunc(c.p.Warnings, func(w string) bool {
		return strings.Contains(w, `component "other" (apps[2]): its k8s_service_name "ghost" is also the service name of component "ghost" (apps[0]): not added as a network alias`)
	}) {
		t.Errorf("warnings: %q", c.p.Warnings)
	}
	// The alias comes back as the k8s_service_name, with no warning about networks.
	p, dir := loadProject(t, map[string]string{"compose.yaml": c.yaml, ".env": string(c.p.DotEnv)})
	got, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir})
	eq(t, "ghost k8s_service_name", appNamed(t, got, "ghost").PortMapList[0].K8sServiceName, "grc240e1-2368")
	for _, w := range warnings {
		if strings.Contains(w, "networks") {
			t.Errorf("warning %q", w)
		}
	}
}

// Service names and .env variables stay unique after their reductions, with a warning.
func TestToComposeNameCollisions(t *testing.T) {
	port := func(c *Component) {
		c.PortMapList = []Port{{ContainerPort: 6379, Protocol: "tcp", IsOuterService: true}}
	}
	tpl := templateOf(testComponent("cache_b", "k1", port), testComponent("cache-b", "k2", port), testComponent("cache b", "k3", port))
	c := convertToCompose(t, tpl, ToComposeOptions{})
	eq(t, "services", c.proj.ServiceNames(), []string{"cache-b", "cache-b-2", "cache_b"})
	for _, k := range []string{"CACHE_B_PORT_6379", "CACHE_B_2_PORT_6379", "CACHE_B_2_2_PORT_6379"} {
		if _, ok := c.env[k]; !ok {
			t.Errorf("no %s in .env: %v", k, c.env)
		}
	}
	for _, w := range []string{
		`component "cache-b-2" (apps[2], service_cname "cache b"): the service name "cache-b" is another component's: this one is "cache-b-2"`,
		`component "cache-b" (apps[1]): its .env variables would be named like another service's (CACHE_B_…): they are named CACHE_B_2_…`,
	} {
		if !slices.Contains(c.p.Warnings, w) {
			t.Errorf("missing warning %q in %q", w, c.p.Warnings)
		}
	}
}

func TestTemplateProblems(t *testing.T) {
	tpl := templateOf(
		testComponent("a", "ka", func(c *Component) {
			c.K8sComponentName = "cache_b"
			c.Cmd = strings.Repeat("x", 2049)
			c.PortMapList = []Port{
				{ContainerPort: 1, Protocol: "tcp", K8sServiceName: "a", PortAlias: "A_1"},
				{ContainerPort: 80, Protocol: "http", K8sServiceName: "a-80", IsOuterService: true, PortAlias: "A.80"},
			}
			c.ServiceVolumeMapList = []Volume{
				{VolumeName: "_x_", VolumePath: "/etc/x.conf", VolumeType: VolumeConfigFile, FileContent: "x"},
				{VolumeName: "_y_", VolumePath: "/ab", VolumeType: VolumeMemoryFS},
			}
		}),
		testComponent("b", "kb", func(c *Component) {
			c.K8sComponentName = "b"
			c.PortMapList = []Port{{ContainerPort: 1, Protocol: "tcp", K8sServiceName: "a", PortAlias: "a_1"}}
		}),
	)
	tpl.Normalize()
	want := []string{
		`apps[0] (service_cname "a"): cmd is 2049 characters, more than the 2048 the platform stores (console TenantServiceInfo.cmd): the install fails or cuts it; move the command into a script in the image, or into its entrypoint`,
		`apps[0] (service_cname "a"): k8s_component_name "cache_b" is not a DNS-1123 label (lower case letters, digits and '-', at most 63 characters): the worker names the container after it, and the deploy fails`,
		`apps[0] (service_cname "a"): port_map_list[1]: k8s_service_name "a-80" is ignored: the console gives every port the first port's, "a"`,
		`apps[0] (service_cname "a"): port_map_list[1]: published http port 80 comes after a port that is not a published http port: the console gives it no default domain`,
		`apps[0] (service_cname "a"): port_map_list[1]: port_alias "A.80" holds characters other than letters, digits, '_' and '-', which the region refuses`,
		`apps[0] (service_cname "a"): config file "/etc/x.conf": volume_name "_x_" breaks the console's rule (letters, digits and '-', '_', '.', a letter or digit at both ends): it renames the volume but not the file, which is then found by no volume and the deploy fails`,
		`apps[0] (service_cname "a"): volume "/ab": volume_name "_y_" breaks the console's rule (letters, digits and '-', '_', '.', a letter or digit at both ends): it is renamed <service_alias>-<3 hex> at install, and mounts of it by other components are dropped`,
		`apps[0] (service_cname "a"): volume "_y_" at "/ab": the console drops a volume whose path fails its check (console/utils/urlutil.py is_path_legal: a letter, digit, '_' or '-' after the '/', at least 3 characters, no '.' at the end), so the component writes there into its container instead; mount it at another path`,
		`apps[1] (service_cname "b"): k8s_service_name "a" is also the one of apps[0] (service_cname "a"): the console checks names against the team's existing ones only, and the two Services collide`,
		`apps[1] (service_cname "b"): port_map_list[0]: port_alias "a_1" is also one of apps[0] (service_cname "a"): a component depending on both gets one A_1_HOST`,
	}
	got := TemplateProblems(tpl)
	eq(t, "problems", got, want)
	if err := checkTemplate(tpl, nil); err == nil || err.Error() != want[0] {
		t.Errorf("checkTemplate: %v", err)
	}
	// WritePackage refuses before writing anything.
	out := t.TempDir() + "/x-1-ram.tar.gz"
	err := WritePackage(context.Background(), out, tpl, func(w io.Writer) error { t.Fatal("images written"); return nil }, WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "cmd is 2049 characters") {
		t.Errorf("WritePackage: %v", err)
	}
}

// The sample and the platform's own templates break no rule airpack refuses.
func TestTemplateProblemsPlatformTemplates(t *testing.T) {
	for _, f := range []string{samplePath, "testdata/platform/ghost-rainbond-console.json", "testdata/platform/kong-rainbond-oam.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := DecodeMetadata(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range platformProblems(tpl) {
			if p.refuse {
				t.Errorf("%s: %s", f, p.msg)
			}
		}
	}
}
