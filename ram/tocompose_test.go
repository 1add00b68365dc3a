package ram

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"math/rand"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/airpack/airpack/compose"
)

// converted is a template converted, written and loaded back the way docker compose loads it.
type converted struct {
	p     *ComposeProject
	proj  *types.Project
	env   map[string]string // the .env
	yaml  string
	files map[string]string
}

func convertToCompose(t *testing.T, tpl *Template, opts ToComposeOptions) *converted {
	t.Helper()
	p, err := ToCompose(tpl, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := p.Write(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := compose.Load(context.Background(), compose.LoadOptions{WorkDir: dir})
	if err != nil {
		t.Fatalf("the compose project does not load: %v\n%s", err, p.YAML)
	}
	env, err := dotenv.UnmarshalBytesWithLookup(p.DotEnv, nil)
	if err != nil {
		t.Fatalf(".env does not parse: %v\n%s", err, p.DotEnv)
	}
	files := map[string]string{}
	for k, v := range p.Files {
		files[k] = string(v)
	}
	return &converted{p: p, proj: loaded.Typed(), env: env, yaml: string(p.YAML), files: files}
}

func (c *converted) service(t *testing.T, name string) types.ServiceConfig {
	t.Helper()
	s, ok := c.proj.Services[name]
	if !ok {
		t.Fatalf("no service %s in %v:\n%s", name, c.proj.ServiceNames(), c.yaml)
	}
	return s
}

func (c *converted) envOf(t *testing.T, svc, name string) (string, bool) {
	t.Helper()
	v, ok := c.service(t, svc).Environment[name]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

func sampleTemplate(t *testing.T) *Template {
	t.Helper()
	tpl, err := DecodeMetadata(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

var secretShape = regexp.MustCompile(`^[A-Za-z0-9]{24}$`)

func TestToComposeSample(t *testing.T) {
	tpl := sampleTemplate(t)
	c := convertToCompose(t, tpl, ToComposeOptions{})

	if got := c.proj.ServiceNames(); !reflect.DeepEqual(got, []string{"db", "web"}) {
		t.Fatalf("services %v", got)
	}
	if c.proj.Name != "app-delivery" || !strings.Contains(c.yaml, "name: app-delivery\n") {
		t.Errorf("project name %q", c.proj.Name)
	}
	web, db := c.service(t, "web"), c.service(t, "db")

	t.Run("images", func(t *testing.T) {
		if web.Image != webImage || db.Image != dbImage {
			t.Errorf("images %s, %s", web.Image, db.Image)
		}
		if len(web.Command) != 0 {
			t.Errorf("command %v for an empty cmd", web.Command)
		}
	})

	t.Run("ports", func(t *testing.T) {
		if len(web.Ports) != 1 || web.Ports[0].Target != 80 || web.Ports[0].Published != "80" || web.Ports[0].Protocol != "tcp" {
			t.Errorf("web ports %+v", web.Ports)
		}
		if !strings.Contains(c.yaml, "${WEB_PORT_80:-80}:80") || c.env["WEB_PORT_80"] != "80" {
			t.Errorf("the host port is not a .env variable: .env %v", c.env)
		}
		if len(db.Ports) != 0 || !reflect.DeepEqual([]string(db.Expose), []string{"3306"}) {
			t.Errorf("db: ports %+v expose %v, want the inner port exposed only", db.Ports, db.Expose)
		}
	})

	t.Run("shared secret", func(t *testing.T) {
		secret := c.env["DB_MYSQL_ROOT_PASSWORD"]
		if !secretShape.MatchString(secret) {
			t.Fatalf(".env DB_MYSQL_ROOT_PASSWORD = %q, want 24 random letters and digits", secret)
		}
		// Provider and dependant reference the same variable, not two values.
		if n := strings.Count(c.yaml, "MYSQL_ROOT_PASSWORD: ${DB_MYSQL_ROOT_PASSWORD}"); n != 2 {
			t.Errorf("%d services reference ${DB_MYSQL_ROOT_PASSWORD}, want 2 (db and web)", n)
		}
		for _, svc := range []string{"db", "web"} {
			if v, _ := c.envOf(t, svc, "MYSQL_ROOT_PASSWORD"); v != secret {
				t.Errorf("%s gets MYSQL_ROOT_PASSWORD %q, .env has %q", svc, v, secret)
			}
		}
		token := c.env["WEB_ADMIN_TOKEN"]
		if v, _ := c.envOf(t, "web", "ADMIN_TOKEN"); !secretShape.MatchString(token) || v != token || token == secret {
			t.Errorf("ADMIN_TOKEN %q, .env %q", v, token)
		}
		if _, ok := c.envOf(t, "db", "ADMIN_TOKEN"); ok {
			t.Error("db gets web's own ADMIN_TOKEN")
		}
	})

	t.Run("environment", func(t *testing.T) {
		for _, w := range []struct{ svc, name, want string }{
			{"web", "NGINX_WORKERS", "2"},
			{"web", "DB_HOST", "db"}, // 127.0.0.1 of a dependency: its service name
			{"web", "DB_PORT", "3306"},
			{"web", "TZ", "Asia/Shanghai"}, // config group naming web
			{"db", "DB_HOST", "127.0.0.1"},
			{"db", "MYSQL_DATABASE", "demo"},
		} {
			if v, ok := c.envOf(t, w.svc, w.name); !ok || v != w.want {
				t.Errorf("%s: %s = %q, want %q", w.svc, w.name, v, w.want)
			}
		}
		if _, ok := c.envOf(t, "db", "TZ"); ok {
			t.Error("db gets the config group of web")
		}
		if len(c.p.Warnings) != 0 {
			t.Errorf("warnings for the sampleTemplate: %q", c.p.Warnings)
		}
	})

	t.Run("config file", func(t *testing.T) {
		const file = "files/web/etc/nginx/conf.d/default.conf"
		want := "server { listen 80; location / { proxy_pass http://db:3306; } }\n"
		if got := c.files[file]; got != want {
			t.Errorf("%s = %q, want %q (rendered with web's DB_HOST)", file, got, want)
		}
		var found bool
		for _, v := range web.Volumes {
			if v.Target == "/etc/nginx/conf.d/default.conf" {
				found = true
				if v.Type != types.VolumeTypeBind || !v.ReadOnly || !strings.HasSuffix(v.Source, "/"+file) {
					t.Errorf("config file mount %+v", v)
				}
			}
		}
		if !found {
			t.Errorf("no mount of the config file: %+v", web.Volumes)
		}
	})

	t.Run("named volumes", func(t *testing.T) {
		if !hasVolume(web, "web-data", "/usr/share/nginx/html") || !hasVolume(db, "db-mysqldata", "/var/lib/mysql") {
			t.Errorf("volumes: web %+v db %+v", web.Volumes, db.Volumes)
		}
		if _, ok := c.proj.Volumes["web-data"]; !ok {
			t.Errorf("no top-level volume web-data: %v", c.proj.Volumes)
		}
	})

	t.Run("depends_on and limits", func(t *testing.T) {
		if d, ok := web.DependsOn["db"]; !ok || d.Condition != types.ServiceConditionStarted || len(web.DependsOn) != 1 {
			t.Errorf("web depends_on %+v, want db, started (never healthy)", web.DependsOn)
		}
		if web.Deploy == nil || web.Deploy.Resources.Limits == nil || web.Deploy.Resources.Limits.MemoryBytes != 512<<20 {
			t.Errorf("web deploy %+v", web.Deploy)
		}
		if db.Deploy.Resources.Limits.MemoryBytes != 1024<<20 {
			t.Errorf("db memory %d", db.Deploy.Resources.Limits.MemoryBytes)
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		hc := web.HealthCheck
		if hc == nil || len(hc.Test) != 2 || hc.Test[0] != "CMD-SHELL" || !strings.Contains(hc.Test[1], "127.0.0.1 80") {
			t.Fatalf("healthcheck %+v", hc)
		}
		if hc.Interval.String() != "3s" || hc.Timeout.String() != "5s" || hc.StartPeriod.String() != "4s" || *hc.Retries != 3 {
			t.Errorf("healthcheck timings %v %v %v %v", hc.Interval, hc.Timeout, hc.StartPeriod, *hc.Retries)
		}
		if db.HealthCheck != nil {
			t.Errorf("db has no probe but a healthcheck %+v", db.HealthCheck)
		}
		if !strings.Contains(c.yaml, "# From the readiness probe. A cmd probe runs as the platform") {
			t.Error("no comment on the healthcheck")
		}
	})

	t.Run("x-ram", func(t *testing.T) {
		top, err := TemplateFromExtension(c.proj.Extensions[ExtensionKey])
		if err != nil {
			t.Fatal(err)
		}
		want := *tpl
		want.Apps = []Component{}
		if !reflect.DeepEqual(top, &want) {
			t.Errorf("top-level x-ram decodes to\n%+v\nwant\n%+v", top, &want)
		}
		for i, name := range []string{"web", "db"} {
			testComponent, err := ComponentFromExtension(c.service(t, name).Extensions[ExtensionKey])
			if err != nil {
				t.Fatal(err)
			}
			// The rendered config file differs from the template: its x-ram keeps the template.
			if !reflect.DeepEqual(testComponent, &tpl.Apps[i]) {
				t.Errorf("%s's x-ram decodes to\n%+v\nwant\n%+v", name, testComponent, &tpl.Apps[i])
			}
		}
	})
}

func hasVolume(s types.ServiceConfig, source, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == source && v.Target == target {
			return true
		}
	}
	return false
}

func TestToComposeDeterministic(t *testing.T) {
	tpl := sampleTemplate(t)
	seeded := func() ToComposeOptions { return ToComposeOptions{Random: rand.New(rand.NewSource(1))} }
	a, err := ToCompose(tpl, seeded())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ToCompose(tpl, seeded())
	if !bytes.Equal(a.YAML, b.YAML) || !bytes.Equal(a.DotEnv, b.DotEnv) || !reflect.DeepEqual(a.Files, b.Files) {
		t.Error("the same template and random source gave different projects")
	}
	// With real randomness only the generated values differ.
	x, _ := ToCompose(tpl, ToComposeOptions{})
	y, _ := ToCompose(tpl, ToComposeOptions{})
	if !bytes.Equal(x.YAML, y.YAML) || !reflect.DeepEqual(x.Files, y.Files) {
		t.Error("compose file or files differ between two conversions")
	}
	ex, _ := dotenv.UnmarshalBytesWithLookup(x.DotEnv, nil)
	ey, _ := dotenv.UnmarshalBytesWithLookup(y.DotEnv, nil)
	if len(ex) != len(ey) {
		t.Fatalf(".env keys differ: %v %v", ex, ey)
	}
	for k, v := range ex {
		secret := strings.HasSuffix(k, "_ADMIN_TOKEN") || strings.HasSuffix(k, "_MYSQL_ROOT_PASSWORD")
		if secret == (v == ey[k]) {
			t.Errorf(".env %s: %q and %q (generated: %v)", k, v, ey[k], secret)
		}
	}
	// The template is not modified.
	if !reflect.DeepEqual(tpl, sampleTemplate(t)) {
		t.Error("ToCompose modified the template")
	}
}

// comp is a small component for table tests.
func testComponent(cname, key string, f func(*Component)) Component {
	c := Component{ServiceCname: cname, ServiceKey: key, ServiceID: key, ServiceShareUUID: ShareUUID(key, key), ShareImage: "goodrain.me/t/" + key + ":1"}
	if f != nil {
		f(&c)
	}
	return c
}

func templateOf(apps ...Component) *Template {
	t := &Template{GroupKey: "k", GroupName: "Small App", GroupVersion: "1", Apps: apps}
	t.Normalize()
	return t
}

func TestToComposeServiceNames(t *testing.T) {
	for _, c := range []struct {
		name  string
		apps  []Component
		names []string
	}{
		{"ascii", []Component{testComponent("My Web App!", "a", nil)}, []string{"my-web-app"}},
		{"diacritics", []Component{testComponent("Café Résumé", "a", nil)}, []string{"cafe-resume"}},
		{"chinese falls back to k8s_component_name", []Component{testComponent("用户服务", "a", func(c *Component) { c.K8sComponentName = "user-svc" })}, []string{"user-svc"}},
		{"then service_alias", []Component{testComponent("用户服务", "a", func(c *Component) { c.ServiceAlias = "gr1a2b3c" })}, []string{"gr1a2b3c"}},
		{"then component-N", []Component{testComponent("web", "a", nil), testComponent("数据库", "b", nil)}, []string{"web", "component-2"}},
		{"mixed keeps the ascii", []Component{testComponent("api 服务", "a", nil)}, []string{"api"}},
		{"made unique", []Component{testComponent("api", "a", nil), testComponent("API", "b", nil), testComponent("api", "c", nil)}, []string{"api", "api-2", "api-3"}},
		{"underscores kept", []Component{testComponent("_my_db_", "a", nil)}, []string{"my_db"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := convertToCompose(t, templateOf(c.apps...), ToComposeOptions{})
			want := append([]string(nil), c.names...)
			for _, n := range want {
				got.service(t, n)
			}
			if len(got.proj.Services) != len(want) {
				t.Errorf("services %v, want %v", got.proj.ServiceNames(), want)
			}
		})
	}
	if n := ProjectName(&Template{GroupName: "Mon Appli Été"}); n != "mon-appli-ete" {
		t.Errorf("project name %q", n)
	}
	if n := ProjectName(&Template{GroupName: "应用", GroupKey: "ABCDEF0123456789"}); n != "app-abcdef01" {
		t.Errorf("project name of a Chinese group name %q", n)
	}
}

func TestToComposeMapping(t *testing.T) {
	type check func(t *testing.T, c *converted)
	envIs := func(svc, name, want string) check {
		return func(t *testing.T, c *converted) {
			if v, ok := c.envOf(t, svc, name); !ok || v != want {
				t.Errorf("%s: %s = %q (set: %v), want %q", svc, name, v, ok, want)
			}
		}
	}
	warns := func(sub string) check {
		return func(t *testing.T, c *converted) {
			for _, w := range c.p.Warnings {
				if strings.Contains(w, sub) {
					return
				}
			}
			t.Errorf("no warning with %q in %q", sub, c.p.Warnings)
		}
	}
	yamlHas := func(sub string) check {
		return func(t *testing.T, c *converted) {
			if !strings.Contains(c.yaml, sub) {
				t.Errorf("compose file lacks %q:\n%s", sub, c.yaml)
			}
		}
	}
	deps := func(svc string, want ...string) check {
		return func(t *testing.T, c *converted) {
			var got []string
			for n := range c.service(t, svc).DependsOn {
				got = append(got, n)
			}
			if strings.Join(sortedCopy(got), ",") != strings.Join(want, ",") {
				t.Errorf("%s depends_on %v, want %v", svc, got, want)
			}
		}
	}
	db := func(f func(*Component)) Component {
		return testComponent("db", "dbkey", func(c *Component) {
			c.ServiceConnectInfoMapList = []Env{
				{AttrName: "DB_HOST", AttrValue: "127.0.0.1"},
				{AttrName: "DB_URL", AttrValue: "jdbc:mysql://127.0.0.1:3306/x?host=localhost"},
				{AttrName: "DB_ADDR", AttrValue: "localhost:3306"},
				{AttrName: "NOT_LOOPBACK", AttrValue: "127.0.0.10,mylocalhost,localhost.localdomain"},
				{AttrName: "DB_PASS", AttrValue: RandomValue},
			}
			if f != nil {
				f(c)
			}
		})
	}
	dependsOnDB := func(c *Component) { c.DepServiceMapList = []Dependency{{DepServiceKey: ShareUUID("dbkey", "dbkey")}} }

	cases := []struct {
		name   string
		tpl    *Template
		checks []check
	}{
		{
			name: "localhost of a dependency becomes its service name",
			tpl:  templateOf(testComponent("app", "appkey", dependsOnDB), db(nil)),
			checks: []check{
				envIs("app", "DB_HOST", "db"),
				envIs("app", "DB_URL", "jdbc:mysql://db:3306/x?host=db"),
				envIs("app", "DB_ADDR", "db:3306"),
				envIs("app", "NOT_LOOPBACK", "127.0.0.10,mylocalhost,localhost.localdomain"),
				envIs("db", "DB_URL", "jdbc:mysql://127.0.0.1:3306/x?host=localhost"),
				deps("app", "db"),
			},
		},
		{
			name: "bare service_key as dep_service_key",
			tpl: templateOf(testComponent("app", "appkey", func(c *Component) {
				c.DepServiceMapList = []Dependency{{DepServiceKey: "dbkey"}, {DepServiceKey: "dbkey"}}
			}), db(nil)),
			checks: []check{deps("app", "db"), envIs("app", "DB_HOST", "db")},
		},
		{
			name: "one generated value per provider and variable, shared by every dependant",
			tpl: templateOf(
				testComponent("app", "appkey", dependsOnDB),
				testComponent("worker", "wkey", dependsOnDB),
				db(func(c *Component) { c.ServiceEnvMapList = []Env{{AttrName: "DB_PASS", AttrValue: RandomValue}} }),
			),
			checks: []check{
				func(t *testing.T, c *converted) {
					v := c.env["DB_DB_PASS"]
					if !secretShape.MatchString(v) {
						t.Fatalf(".env DB_DB_PASS = %q", v)
					}
					for _, svc := range []string{"app", "worker", "db"} {
						envIs(svc, "DB_PASS", v)(t, c)
					}
					if len(c.env) != 1 {
						t.Errorf(".env %v: want one generated value", c.env)
					}
				},
			},
		},
		{
			name: "precedence: own env, own connection info, dependencies, config groups",
			tpl: func() *Template {
				tp := templateOf(
					testComponent("app", "appkey", func(c *Component) {
						dependsOnDB(c)
						c.ServiceEnvMapList = []Env{{AttrName: "DB_HOST", AttrValue: "mine"}, {AttrName: "A", AttrValue: "env"}}
						c.ServiceConnectInfoMapList = []Env{{AttrName: "A", AttrValue: "connect"}, {AttrName: "B", AttrValue: "connect"}}
					}),
					db(func(c *Component) {
						c.ServiceConnectInfoMapList = append(c.ServiceConnectInfoMapList, Env{AttrName: "B", AttrValue: "tcDep"}, Env{AttrName: "C", AttrValue: "tcDep"})
					}),
				)
				tp.AppConfigGroups = []AppConfigGroup{{Name: "g", InjectionType: "env", ConfigItems: map[string]string{"C": "group", "D": "group"}, ComponentKeys: []string{"appkey"}}}
				return tp
			}(),
			checks: []check{
				envIs("app", "DB_HOST", "mine"), envIs("app", "A", "env"), envIs("app", "B", "connect"),
				envIs("app", "C", "tcDep"), envIs("app", "D", "group"),
				warns("DB_HOST from the connection info of db is ignored"),
				warns("C from config group \"g\" is ignored"),
			},
		},
		{
			name: "config groups: **None** literal as on the platform, other injection types left out",
			tpl: func() *Template {
				tp := templateOf(testComponent("a", "ka", nil), testComponent("b", "kb", nil), testComponent("c", "kc", nil))
				tp.AppConfigGroups = []AppConfigGroup{
					{Name: "shared", InjectionType: "env", ConfigItems: map[string]string{"TOKEN": RandomValue, "MODE": "prod"}, ComponentKeys: []string{"ka", "kb"}},
					{Name: "files", InjectionType: "file", ConfigItems: map[string]string{"X": "1"}, ComponentKeys: []string{"kc"}},
				}
				return tp
			}(),
			checks: []check{
				func(t *testing.T, c *converted) {
					if v, ok := c.env["SHARED_TOKEN"]; ok {
						t.Fatalf(".env SHARED_TOKEN=%s: the console generates no value in a config group", v)
					}
					envIs("a", "TOKEN", RandomValue)(t, c)
					envIs("b", "TOKEN", RandomValue)(t, c)
					envIs("a", "MODE", "prod")(t, c)
					if _, ok := c.envOf(t, "c", "X"); ok {
						t.Error("a file-injected config group became env")
					}
				},
				warns(`config group "files" is injected as "file"`),
				warns(`config group "shared": TOKEN is "**None**", which the console installs as that text`),
			},
		},
		{
			name: "ports: outer published through .env, inner and unused exposed, udp",
			tpl: templateOf(testComponent("dns", "k", func(c *Component) {
				c.PortMapList = []Port{
					{ContainerPort: 53, Protocol: "udp", IsOuterService: true},
					{ContainerPort: 8080, Protocol: "http", IsOuterService: true, IsInnerService: true},
					{ContainerPort: 9090, Protocol: "grpc", IsInnerService: true},
					{ContainerPort: 9100, Protocol: "tcp"},
				}
			})),
			checks: []check{
				yamlHas(`${DNS_PORT_53_UDP:-53}:53/udp`), yamlHas(`${DNS_PORT_8080:-8080}:8080`),
				func(t *testing.T, c *converted) {
					s := c.service(t, "dns")
					if len(s.Ports) != 2 || s.Ports[0].Protocol != "udp" || s.Ports[1].Published != "8080" {
						t.Errorf("ports %+v", s.Ports)
					}
					if !reflect.DeepEqual([]string(s.Expose), []string{"9090", "9100"}) {
						t.Errorf("expose %v", s.Expose)
					}
					if c.env["DNS_PORT_53_UDP"] != "53" || c.env["DNS_PORT_8080"] != "8080" {
						t.Errorf(".env %v", c.env)
					}
				},
			},
		},
		{
			name: "two services on one host port: a warning",
			tpl: templateOf(
				testComponent("a", "ka", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 80, IsOuterService: true}} }),
				testComponent("b", "kb", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 80, IsOuterService: true}} }),
			),
			checks: []check{warns("services a, b all publish port 80/tcp")},
		},
		{
			name: "config files: rendered like the platform, template kept in x-ram only when changed",
			tpl: templateOf(testComponent("app", "k", func(c *Component) {
				c.ServiceEnvMapList = []Env{{AttrName: "PORT", AttrValue: "8080"}, {AttrName: "PASS", AttrValue: RandomValue}, {AttrName: "PRICE", AttrValue: "5$"}}
				c.ServiceVolumeMapList = []Volume{
					{VolumeName: "conf", VolumeType: VolumeConfigFile, VolumePath: "/etc/app/app.conf", FileContent: "port=${PORT} pass=${PASS} x=${UNSET} y=${UNSET:dflt} price=${PRICE} $HOME\n"},
					{VolumeName: "plain", VolumeType: VolumeConfigFile, VolumePath: "/etc/app/plain.conf", FileContent: "static\n"},
				}
			})),
			checks: []check{
				func(t *testing.T, c *converted) {
					pass := c.env["APP_PASS"]
					want := "port=8080 pass=" + pass + " x=${UNSET} y=dflt price=5$ $HOME\n"
					if got := c.files["files/app/etc/app/app.conf"]; got != want {
						t.Errorf("rendered %q, want %q", got, want)
					}
					if got := c.files["files/app/etc/app/plain.conf"]; got != "static\n" {
						t.Errorf("plain file %q", got)
					}
					envIs("app", "PRICE", "5$")(t, c)
					x, err := ComponentFromExtension(c.service(t, "app").Extensions[ExtensionKey])
					if err != nil {
						t.Fatal(err)
					}
					if got := x.ServiceVolumeMapList[0].FileContent; !strings.HasPrefix(got, "port=${PORT} pass=${PASS}") {
						t.Errorf("x-ram of a rendered file: file_content %q, want the template", got)
					}
					if got := x.ServiceVolumeMapList[1].FileContent; got != "" {
						t.Errorf("x-ram of a file shipped as is: file_content %q, want empty", got)
					}
					for _, v := range c.service(t, "app").Volumes {
						if v.Type != types.VolumeTypeBind || !v.ReadOnly {
							t.Errorf("config file mount %+v", v)
						}
					}
				},
			},
		},
		{
			name: "mnt_relation_list: the owner's named volume, or its config file rendered for the mounter",
			tpl: templateOf(
				testComponent("owner", "ko", func(c *Component) {
					c.ServiceEnvMapList = []Env{{AttrName: "WHO", AttrValue: "owner"}}
					c.ServiceVolumeMapList = []Volume{
						{VolumeName: "Shared Data", VolumeType: VolumeShareFile, VolumePath: "/data"},
						{VolumeName: "cfg", VolumeType: VolumeConfigFile, VolumePath: "/etc/who", FileContent: "${WHO}"},
					}
				}),
				testComponent("reader", "kr", func(c *Component) {
					c.ServiceEnvMapList = []Env{{AttrName: "WHO", AttrValue: "reader"}}
					c.MntRelationList = []MountRelation{
						{ServiceShareUUID: ShareUUID("ko", "ko"), MntName: "Shared Data", MntDir: "/mnt/shared"},
						{ServiceShareUUID: "ko", MntName: "cfg", MntDir: "/etc/owner-who"},
					}
				}),
			),
			checks: []check{
				func(t *testing.T, c *converted) {
					if !hasVolume(c.service(t, "owner"), "owner-shared-data", "/data") || !hasVolume(c.service(t, "reader"), "owner-shared-data", "/mnt/shared") {
						t.Errorf("shared volume: owner %+v reader %+v", c.service(t, "owner").Volumes, c.service(t, "reader").Volumes)
					}
					if c.files["files/owner/etc/who"] != "owner" || c.files["files/reader/etc/owner-who"] != "reader" {
						t.Errorf("config files %v", c.files)
					}
				},
			},
		},
		{
			name: "memoryfs: a tmpfs, not a named volume; a mount of another component's too",
			tpl: templateOf(
				testComponent("web", "kw", func(c *Component) {
					c.ServiceVolumeMapList = []Volume{
						{VolumeName: "data", VolumeType: VolumeLocal, VolumePath: "/data"},
						{VolumeName: "cache", VolumeType: VolumeMemoryFS, VolumePath: "/tmp/cache"},
						{VolumeName: "odd", VolumeType: VolumeMemoryFS, VolumePath: "/run/a:b"},
					}
				}),
				testComponent("reader", "kr", func(c *Component) {
					c.MntRelationList = []MountRelation{{ServiceShareUUID: "kw", MntName: "cache", MntDir: "/mnt/cache"}}
				}),
			),
			checks: []check{
				yamlHas("tmpfs:\n      - /tmp/cache\n"),
				func(t *testing.T, c *converted) {
					web, reader := c.service(t, "web"), c.service(t, "reader")
					if !reflect.DeepEqual([]string(web.Tmpfs), []string{"/tmp/cache"}) || !reflect.DeepEqual([]string(reader.Tmpfs), []string{"/mnt/cache"}) {
						t.Errorf("tmpfs: web %v reader %v", web.Tmpfs, reader.Tmpfs)
					}
					// A path with ':' in the long syntax: the short one reads options after it.
					if len(web.Volumes) != 2 || !hasVolume(web, "web-data", "/data") || web.Volumes[1].Type != types.VolumeTypeTmpfs || web.Volumes[1].Target != "/run/a:b" {
						t.Errorf("web volumes %+v", web.Volumes)
					}
					if len(reader.Volumes) != 0 {
						t.Errorf("reader volumes %+v", reader.Volumes)
					}
					if len(c.proj.Volumes) != 1 || c.proj.Volumes["web-data"].Name == "" {
						t.Errorf("top-level volumes %+v, want web-data only", c.proj.Volumes)
					}
				},
			},
		},
		{
			name: "dependency cycle: depends_on left out on one side, variables still flow",
			tpl: templateOf(
				testComponent("a", "ka", func(c *Component) {
					c.DepServiceMapList = []Dependency{{DepServiceKey: "kb"}}
					c.ServiceConnectInfoMapList = []Env{{AttrName: "A_HOST", AttrValue: "localhost"}}
				}),
				testComponent("b", "kb", func(c *Component) {
					c.DepServiceMapList = []Dependency{{DepServiceKey: "ka"}}
					c.ServiceConnectInfoMapList = []Env{{AttrName: "B_HOST", AttrValue: "localhost"}}
				}),
			),
			checks: []check{deps("a", "b"), deps("b"), envIs("b", "A_HOST", "a"), envIs("a", "B_HOST", "b"), warns("depend on each other")},
		},
		{
			name: "command, healthchecks and dollars",
			tpl: templateOf(
				testComponent("web", "kw", func(c *Component) {
					c.Cmd = `sh -c "echo $HOME"`
					c.PortMapList = []Port{{ContainerPort: 8080}}
					c.Probes = []Probe{
						{Mode: "liveness", Scheme: "tcp", Port: 1, IsUsed: true},
						{Mode: "readiness", Scheme: "http", Path: "health", IsUsed: true, PeriodSecond: 10},
					}
				}),
				testComponent("job", "kj", func(c *Component) {
					c.ExtendMethod = CronJob
					c.Probes = []Probe{{Mode: "readiness", Scheme: "cmd", Cmd: "test -f /tmp/$READY", IsUsed: true}}
				}),
				testComponent("off", "ko", func(c *Component) {
					c.Probes = []Probe{{Mode: "readiness", Scheme: "tcp", Port: 80, IsUsed: false}}
				}),
			),
			checks: []check{
				func(t *testing.T, c *converted) {
					web := c.service(t, "web")
					if got := strings.Join(web.Command, " "); got != "sh -c echo $HOME" {
						t.Errorf("command %q", got)
					}
					hc := web.HealthCheck
					if hc == nil || !strings.Contains(hc.Test[1], "'http://127.0.0.1:8080/health'") || hc.Interval.String() != "10s" || hc.Retries != nil {
						t.Errorf("http healthcheck %+v", hc)
					}
					if hc := c.service(t, "job").HealthCheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "test", "-f", "/tmp/$READY"}) {
						t.Errorf("cmd healthcheck %+v", hc)
					}
					if c.service(t, "off").HealthCheck != nil {
						t.Error("a probe that is not used became a healthcheck")
					}
				},
				warns("is a cronjob"),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := convertToCompose(t, tc.tpl, ToComposeOptions{})
			for _, ch := range tc.checks {
				ch(t, c)
			}
			if t.Failed() {
				t.Logf("compose file:\n%s\n.env:\n%s\nwarnings: %q", c.yaml, c.p.DotEnv, c.p.Warnings)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestToComposeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		tpl  *Template
		want []string
	}{
		{"no components", &Template{GroupName: "x", K8sResources: []K8sResource{{Name: "a"}}}, []string{"no components"}},
		{"unknown dependency", templateOf(testComponent("web", "kw", func(c *Component) { c.DepServiceMapList = []Dependency{{DepServiceKey: "nope+1"}} })),
			[]string{`component "web"`, `dep_service_key "nope+1"`}},
		{"unknown mount owner", templateOf(testComponent("web", "kw", func(c *Component) {
			c.MntRelationList = []MountRelation{{ServiceShareUUID: "gone", MntName: "v", MntDir: "/v"}}
		})), []string{`component "web"`, `"gone"`}},
		{"unknown mounted volume", templateOf(testComponent("a", "ka", nil), testComponent("web", "kw", func(c *Component) {
			c.MntRelationList = []MountRelation{{ServiceShareUUID: "ka", MntName: "v", MntDir: "/v"}}
		})), []string{`component "web"`, `has no volume named "v"`}},
		{"two mounts at one path", templateOf(testComponent("web", "kw", func(c *Component) {
			c.ServiceVolumeMapList = []Volume{{VolumeName: "a", VolumePath: "/d", VolumeType: VolumeLocal}, {VolumeName: "b", VolumePath: "/d/", VolumeType: VolumeConfigFile}}
		})), []string{`component "web"`, "both mounted at /d"}},
		{"relative volume path", templateOf(testComponent("web", "kw", func(c *Component) {
			c.ServiceVolumeMapList = []Volume{{VolumeName: "a", VolumePath: "d", VolumeType: VolumeLocal}}
		})), []string{`component "web"`, "not absolute"}},
		{"bad port", templateOf(testComponent("web", "kw", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 70000}} })), []string{"container_port 70000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ToCompose(c.tpl, ToComposeOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := ToCompose(sampleTemplate(t), ToComposeOptions{ProjectName: "Bad Name"}); err == nil {
		t.Error("invalid project name accepted")
	}
}

func TestRenderConfigFile(t *testing.T) {
	vals := map[string]string{"A": "1", "B": "${A}", "EMPTY": ""}
	for _, c := range []struct{ in, want string }{
		{"${A}", "1"},
		{"${A}${A} ${A}", "11 1"},
		{"${NOPE}", "${NOPE}"},
		{"${NOPE:d}", "d"},
		{"${NOPE:-d}", "-d"},         // the platform's default syntax is ${X:d}
		{"${NOPE:http://x}", "http"}, // its default ends at the next colon
		{"${A:d}", "1"},
		{"${EMPTY}", ""},
		{"$A ${A", "$A ${A"},
		{"${\nA}", "${\nA}"},
		{"${B}", "${A}"}, // references are found once, in the template: a value is not rendered again
	} {
		if got := Substitute(c.in, vals); got != c.want {
			t.Errorf("Substitute %q = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRandomValue(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v, err := generateValue(crand.Reader)
		if err != nil || !secretShape.MatchString(v) || seen[v] {
			t.Fatalf("random value %q %v (repeated: %v)", v, err, seen[v])
		}
		seen[v] = true
	}
}
