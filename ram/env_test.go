package ram

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// Every row of the platform's substitution table (facts §4, rainbond util/comman.go
// ParseVariable), and what follows from the algorithm.
func TestSubstitute(t *testing.T) {
	vars := map[string]string{"A": "va", "EMPTY": "", "B": "${A}", "URL": "http://x:1"}
	for _, c := range []struct{ in, want string }{
		{"${A}", "va"},
		{"${X}", "${X}"},
		{"${X:def}", "def"},
		{"${X:}", "${X:}"},
		{"${EMPTY:def}", ""},
		{"${X:-def}", "-def"},
		{"${URL:http://h:80/x}", "http://x:1"},
		{"${NOPE:http://h:80/x}", "http"},
		{"$${A}", "$va"},
		{`\${A}`, `\va`},
		{"${B}", "${A}"},
		{"${ A }", "${ A }"},
		{"${a}", "${a}"},
		{"${A\n}", "${A\n}"},
		{"${{A}}", "${{A}}"},
		// Each reference found in the original text is replaced everywhere, in turn.
		{"${B} ${A}", "va va"},
		{"${A}${A}-${A:x}", "vava-va"},
		{"${}", "${}"},
		{`"${PORT:-8080}"`, `"-8080"`},
	} {
		if got := Substitute(c.in, vars); got != c.want {
			t.Errorf("Substitute(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestGroupSecret(t *testing.T) {
	for _, c := range []struct {
		in    string
		group string
		ok    bool
	}{
		{"**None:db**", "db", true},
		{"**None:**", "", true},
		{"**None:a:b**", "a:b", true},
		{"**None**", "", false},
		{" **None:db**", "", false},
		{"**None:db** ", "", false},
		{"x**None:db**", "", false},
		{"**None:db*", "", false},
	} {
		if g, ok := GroupSecret(c.in); g != c.group || ok != c.ok {
			t.Errorf("GroupSecret(%q) = %q, %v", c.in, g, ok)
		}
	}
}

// One generated value per group, shared by every variable of every component naming it; a
// config group's "**None:<group>**" is literal (the console resolves the component lists only).
func TestToComposeGroupSecret(t *testing.T) {
	tpl := templateOf(
		testComponent("db", "kdb", func(c *Component) {
			c.ServiceConnectInfoMapList = []Env{{AttrName: "DB_PASS", AttrValue: "**None:db**"}}
			c.ServiceEnvMapList = []Env{{AttrName: "MYSQL_ROOT_PASSWORD", AttrValue: "**None:db**"}, {AttrName: "OTHER", AttrValue: "**None:other**"}}
		}),
		testComponent("web", "kweb", func(c *Component) {
			c.ServiceEnvMapList = []Env{{AttrName: "ADMIN_PASS", AttrValue: "**None:db**"}, {AttrName: "SPACED", AttrValue: " **None:db**"}}
		}),
	)
	tpl.AppConfigGroups = []AppConfigGroup{{Name: "g", InjectionType: "env", ConfigItems: map[string]string{"G": "**None:db**"}, ComponentKeys: []string{"kweb"}}}
	c := convertToCompose(t, tpl, ToComposeOptions{})
	v := c.env["NONE_GROUP_DB"]
	if !secretShape.MatchString(v) {
		t.Fatalf(".env NONE_GROUP_DB = %q\n%s", v, c.p.DotEnv)
	}
	for _, x := range []struct{ svc, name, want string }{
		{"db", "DB_PASS", v}, {"db", "MYSQL_ROOT_PASSWORD", v}, {"web", "ADMIN_PASS", v},
		{"web", "SPACED", " **None:db**"}, {"web", "G", "**None:db**"},
	} {
		if got, _ := c.envOf(t, x.svc, x.name); got != x.want {
			t.Errorf("%s %s = %q, want %q", x.svc, x.name, got, x.want)
		}
	}
	if o := c.env["NONE_GROUP_OTHER"]; o == "" || o == v {
		t.Errorf("group other: %q", o)
	}
	if !strings.Contains(c.yaml, "ADMIN_PASS: ${NONE_GROUP_DB}") {
		t.Errorf("not a reference to .env:\n%s", c.yaml)
	}

	// Back to RAM: the placeholder, never the value.
	back, _ := convertFromCompose(t, c.proj, FromComposeOptions{})
	eq(t, "db env", appNamed(t, back, "db").ServiceEnvMapList, tpl.Apps[0].ServiceEnvMapList)
	eq(t, "web env", appNamed(t, back, "web").ServiceEnvMapList, tpl.Apps[1].ServiceEnvMapList)

	// A new variable holding a group's value is written as the group's placeholder.
	web := c.proj.Services["web"]
	web.Environment["NEW"] = &v
	c.proj.Services["web"] = web
	back, _ = convertFromCompose(t, c.proj, FromComposeOptions{})
	found := false
	for _, e := range appNamed(t, back, "web").ServiceEnvMapList {
		if e.AttrName == "NEW" {
			found = e.AttrValue == "**None:db**"
		}
	}
	if !found {
		t.Errorf("NEW: %+v", appNamed(t, back, "web").ServiceEnvMapList)
	}
}

// Env values, cmd and config files arrive as the platform gives them: substituted with the
// component's variables (one pass), then cmd and files with the substituted values; generated
// values stay references to .env.
func TestToComposeSubstitution(t *testing.T) {
	tpl := templateOf(
		testComponent("db", "kdb", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 5432}}
			c.ServiceConnectInfoMapList = []Env{{AttrName: "DB_PASS", AttrValue: RandomValue}, {AttrName: "DB_USER", AttrValue: "app"}}
		}),
		testComponent("web", "kweb", func(c *Component) {
			c.DepServiceMapList = []Dependency{{DepServiceKey: ShareUUID("kdb", "kdb")}}
			c.Cmd = "serve --url ${DSN} --port ${PORT:9000} --x $${HOME}"
			c.ServiceEnvMapList = []Env{
				{AttrName: "DSN", AttrValue: "pg://${DB_USER}:${DB_PASS}@db/x"},
				{AttrName: "NESTED", AttrValue: "${DSN}"},
				{AttrName: "DEF", AttrValue: "${NOPE:-x}"},
				{AttrName: "KEEP", AttrValue: "${NOPE}"},
			}
			c.ServiceVolumeMapList = []Volume{{VolumeName: "conf", VolumePath: "/etc/app.conf", VolumeType: VolumeConfigFile,
				FileContent: "dsn=${DSN}\nnested=${NESTED}\n"}}
		}),
	)
	c := convertToCompose(t, tpl, ToComposeOptions{})
	pass := c.env["DB_DB_PASS"]
	if pass == "" {
		t.Fatalf(".env:\n%s", c.p.DotEnv)
	}
	dsn := "pg://app:" + pass + "@db/x"
	for name, want := range map[string]string{"DSN": dsn, "NESTED": "pg://${DB_USER}:${DB_PASS}@db/x", "DEF": "-x", "KEEP": "${NOPE}"} {
		if got, _ := c.envOf(t, "web", name); got != want {
			t.Errorf("web %s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(c.yaml, "DSN: pg://app:${DB_DB_PASS}@db/x") {
		t.Errorf("the generated value is no .env reference:\n%s", c.yaml)
	}
	if got := strings.Join(c.service(t, "web").Command, " "); got != "serve --url "+dsn+" --port 9000 --x $"+"${HOME}" {
		t.Errorf("command %q", got)
	}
	// Files get the substituted values, as the platform's worker renders them (createVolumes
	// gets the container's final envs).
	if got := c.files["files/web/etc/app.conf"]; got != "dsn="+dsn+"\nnested=pg://${DB_USER}:${DB_PASS}@db/x\n" {
		t.Errorf("config file %q", got)
	}

	// Back to RAM: the template's own values and cmd.
	back, warnings := convertFromCompose(t, c.proj, FromComposeOptions{})
	w := appNamed(t, back, "web")
	eq(t, "web env", w.ServiceEnvMapList, tpl.Apps[1].ServiceEnvMapList)
	eq(t, "web cmd", w.Cmd, tpl.Apps[1].Cmd)
	eq(t, "web conf", w.ServiceVolumeMapList[0].FileContent, tpl.Apps[1].ServiceVolumeMapList[0].FileContent)
	if len(warnings) != 0 {
		t.Errorf("warnings about the template's own references: %q", warnings)
	}
}

// A component's own 127.0.0.1:PORT is the dependency with that port (the platform's mesh).
func TestToComposeOwnLoopback(t *testing.T) {
	tpl := templateOf(
		testComponent("db", "kdb", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 3306}} }),
		testComponent("cache", "kc", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 6379}, {ContainerPort: 8080}} }),
		testComponent("cache2", "kc2", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 6379}} }),
		testComponent("web", "kweb", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 8080}}
			c.DepServiceMapList = []Dependency{{DepServiceKey: "kdb"}, {DepServiceKey: "kc"}, {DepServiceKey: "kc2"}}
			c.ServiceEnvMapList = []Env{
				{AttrName: "DB_URL", AttrValue: "jdbc:mysql://127.0.0.1:3306/app"},
				{AttrName: "DB_ADDR", AttrValue: "localhost:3306"},
				{AttrName: "REDIS", AttrValue: "127.0.0.1:6379"},
				{AttrName: "SELF", AttrValue: "http://127.0.0.1:8080/"},
				{AttrName: "NOBODY", AttrValue: "127.0.0.1:9999"},
				{AttrName: "BARE", AttrValue: "127.0.0.1"},
				{AttrName: "OTHER", AttrValue: "10.127.0.0.1:3306"},
			}
		}),
	)
	c := convertToCompose(t, tpl, ToComposeOptions{})
	for name, want := range map[string]string{
		"DB_URL": "jdbc:mysql://db:3306/app", "DB_ADDR": "db:3306", "REDIS": "127.0.0.1:6379",
		"SELF": "http://127.0.0.1:8080/", "NOBODY": "127.0.0.1:9999", "BARE": "127.0.0.1", "OTHER": "10.127.0.0.1:3306",
	} {
		if got, _ := c.envOf(t, "web", name); got != want {
			t.Errorf("web %s = %q, want %q", name, got, want)
		}
	}
	w := strings.Join(c.p.Warnings, "\n")
	for _, want := range []string{
		`REDIS: 127.0.0.1:6379 could be cache, cache2`,
		`SELF: 127.0.0.1:8080 could be cache and the component itself`,
		`NOBODY: 127.0.0.1:9999 is no port of its dependencies nor its own`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
	back, _ := convertFromCompose(t, c.proj, FromComposeOptions{})
	eq(t, "web env back", appNamed(t, back, "web").ServiceEnvMapList, tpl.Apps[3].ServiceEnvMapList)
}

// Compose -> RAM: each ${...} the platform would replace is reported, naming the service and
// the variable, the command or the file.
func TestFromComposeSubstitutionWarnings(t *testing.T) {
	p, dir := loadProject(t, map[string]string{
		"compose.yaml": `
name: shop
services:
  web:
    image: web:1
    ports: ["8080:8080"]
    command: serve --port $${PORT:-8080}
    environment:
      PORT: "8080"
      GREETING: hello $${PORT}
      LITERAL: $${UNKNOWN}
      ESCAPED: $${UNKNOWN:-x}
      UPSTREAM: $${DB_PASS}
    depends_on: [db]
    volumes:
      - ./start.sh:/app/start.sh
  db:
    image: db:1
    environment:
      DB_PASS: s
`,
		"start.sh": "#!/bin/sh\nexec serve --port \"${PORT:-8080}\" --name ${NAME}\n",
	})
	_, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	w := strings.Join(warnings, "\n")
	for _, want := range []string{
		`service web: command: ${PORT:-8080} becomes the value of PORT on the platform (it substitutes ${NAME:default} with no escape)`,
		`GREETING: ${PORT} becomes the value of PORT on the platform (it substitutes ${NAME} with no escape)`,
		`ESCAPED: ${UNKNOWN:-x} becomes "-x" on the platform (it substitutes ${NAME:default} with no escape): define UNKNOWN in the service's environment, or write ${UNKNOWN-x}`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
	// The file's ${PORT:-8080} gets PORT's value, the one the shell gives it at run time:
	// nothing changes, nothing to report.
	for _, not := range []string{"LITERAL", "${NAME}", "UPSTREAM", "start.sh"} {
		if strings.Contains(w, not+":") || strings.Contains(w, not+" becomes") {
			t.Errorf("warning about %s:\n%s", not, w)
		}
	}

	// A file whose ${PORT:-8080} names no variable: the default.
	p, dir = loadProject(t, map[string]string{
		"compose.yaml": "name: shop\nservices:\n  web:\n    image: web:1\n    volumes: [./start.sh:/app/start.sh]\n",
		"start.sh":     "exec serve --port \"${PORT:-8080}\"\n",
	})
	_, warnings = convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	if w := strings.Join(warnings, "\n"); !strings.Contains(w, `service web: config file /app/start.sh: ${PORT:-8080} becomes "-8080" on the platform (it substitutes ${NAME:default} with no escape): define PORT in the service's environment, or write ${PORT-8080}`) {
		t.Errorf("warnings:\n%s", w)
	}

	// A file's reference to a variable set but empty (the shell's :- gives the default, the
	// platform the empty value), or to one the platform gives but compose did not (a
	// dependency's port variable), is reported; ${X-d} is suggested only where the platform
	// leaves it (no colon in the default).
	p, dir = loadProject(t, map[string]string{
		"compose.yaml": `
name: shop
services:
  web:
    image: web:1
    environment: {EMPTY: ""}
    depends_on: [db]
    volumes: [./start.sh:/app/start.sh]
  db:
    image: db:1
    expose: ["5432"]
`,
		"start.sh": "a=${EMPTY:-x} b=${DB_5432_HOST} c=${URL:-http://h/}\n",
	})
	_, warnings = convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	w = strings.Join(warnings, "\n")
	for _, want := range []string{
		`${EMPTY:-x} becomes the value of EMPTY on the platform (it substitutes ${NAME:default} with no escape): write ${EMPTY-x} to leave it to the shell`,
		`${DB_5432_HOST} becomes the value of DB_5432_HOST on the platform (it substitutes ${NAME} with no escape)`,
		`${URL:-http://h/} becomes "-http" on the platform (it substitutes ${NAME:default} with no escape): define URL in the service's environment;`,
	} {
		if !strings.Contains(w+";", want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
}

// A component's own variable that is exactly a bare loopback host names a dependency when the
// component has one, or when its name or a *_PORT sibling pairs it with exactly one dependency's
// port; else, with dependencies, it is left with a warning saying what to set.
func TestToComposeBareLoopback(t *testing.T) {
	tpl := templateOf(
		testComponent("pg", "kpg", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 5432, PortAlias: "PG"}} }),
		testComponent("redis", "kr", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 6379, PortAlias: "CACHE"}} }),
		testComponent("one", "k1", func(c *Component) {
			c.DepServiceMapList = []Dependency{{DepServiceKey: "kpg"}}
			c.ServiceEnvMapList = []Env{
				{AttrName: "KONG_PG_HOST", AttrValue: "127.0.0.1"},
				{AttrName: "OTHER_HOST", AttrValue: "localhost"},
				{AttrName: "ADMIN_LISTEN", AttrValue: "127.0.0.1"}, // its own address
				{AttrName: "NOT_BARE", AttrValue: " 127.0.0.1"},
			}
		}),
		testComponent("two", "k2", func(c *Component) {
			c.DepServiceMapList = []Dependency{{DepServiceKey: "kpg"}, {DepServiceKey: "kr"}}
			c.ServiceEnvMapList = []Env{
				{AttrName: "DB_HOST", AttrValue: "127.0.0.1"}, {AttrName: "DB_PORT", AttrValue: "5432"}, // sibling port
				{AttrName: "CACHE_HOST", AttrValue: "localhost"}, // a dependency's port alias
				{AttrName: "SOME_HOST", AttrValue: "127.0.0.1"},  // nothing pairs it
			}
		}),
		testComponent("alone", "ka", func(c *Component) {
			c.ServiceEnvMapList = []Env{{AttrName: "SELF_HOST", AttrValue: "127.0.0.1"}}
		}),
	)
	c := convertToCompose(t, tpl, ToComposeOptions{})
	for _, x := range []struct{ svc, name, want string }{
		{"one", "KONG_PG_HOST", "pg"}, {"one", "OTHER_HOST", "pg"}, {"one", "ADMIN_LISTEN", "127.0.0.1"},
		{"one", "NOT_BARE", " 127.0.0.1"},
		{"two", "DB_HOST", "pg"}, {"two", "CACHE_HOST", "redis"}, {"two", "SOME_HOST", "127.0.0.1"},
		{"alone", "SELF_HOST", "127.0.0.1"},
	} {
		if got, _ := c.envOf(t, x.svc, x.name); got != x.want {
			t.Errorf("%s %s = %q, want %q", x.svc, x.name, got, x.want)
		}
	}
	w := strings.Join(c.p.Warnings, "\n")
	for _, want := range []string{
		`component "one" (apps[2]): ADMIN_LISTEN=127.0.0.1 is the container itself under compose`,
		`component "two" (apps[3]): SOME_HOST=127.0.0.1 is the container itself under compose`,
		"set it to the service name of the dependency it means (pg, redis)",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
	for _, not := range []string{"SELF_HOST", "KONG_PG_HOST", "DB_HOST", "CACHE_HOST", "NOT_BARE"} {
		if strings.Contains(w, not) {
			t.Errorf("warning about %s:\n%s", not, w)
		}
	}
	// Back to RAM: the template's 127.0.0.1 and localhost.
	back, _ := convertFromCompose(t, c.proj, FromComposeOptions{})
	eq(t, "one env back", appNamed(t, back, "one").ServiceEnvMapList, tpl.Apps[2].ServiceEnvMapList)
	eq(t, "two env back", appNamed(t, back, "two").ServiceEnvMapList, tpl.Apps[3].ServiceEnvMapList)
}

// The platform's own Kong template: kong's KONG_PG_HOST=127.0.0.1 (no port) means its one
// dependency, kong-postgres; converting back gives 127.0.0.1 again.
func TestToComposePlatformKongDatabase(t *testing.T) {
	raw, err := os.ReadFile("testdata/platform/kong-rainbond-oam.json")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := DecodeMetadata(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := convertToCompose(t, tpl, ToComposeOptions{})
	if got, _ := c.envOf(t, "kong", "KONG_PG_HOST"); got != "kong-postgres" {
		t.Errorf("kong KONG_PG_HOST = %q, want kong-postgres (the service of its one dependency)", got)
	}
	back, _ := convertFromCompose(t, c.proj, FromComposeOptions{})
	for _, e := range appNamed(t, back, "kong").ServiceEnvMapList {
		if e.AttrName == "KONG_PG_HOST" && e.AttrValue != "127.0.0.1" {
			t.Errorf("back to RAM: KONG_PG_HOST = %q", e.AttrValue)
		}
	}
}

// A dependant gets each dependency's port variables (<PORT_ALIAS>_HOST = its service name,
// _PORT), as the console writes them, so that ${DB_HOST} resolves as on the platform; the
// template's own values win. A ${...} naming a variable only the platform's worker defines is
// left, with a warning.
func TestToComposePortVariables(t *testing.T) {
	tpl := templateOf(
		testComponent("db", "kdb", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 5432, PortAlias: "db", K8sServiceName: "db"}, {ContainerPort: 9187}}
		}),
		testComponent("cache", "kc", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 6379, PortAlias: "CACHE"}} }),
		testComponent("app", "kapp", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 8080, IsOuterService: true}}
			c.DepServiceMapList = []Dependency{{DepServiceKey: "kdb"}, {DepServiceKey: "kc"}}
			c.Cmd = "serve --db ${DB_HOST} --mem ${MEMORY_SIZE}"
			c.ServiceEnvMapList = []Env{
				{AttrName: "DATABASE_URL", AttrValue: "postgres://${DB_HOST}:${DB_PORT}/x"},
				{AttrName: "CACHE_PORT", AttrValue: "7000"},
				{AttrName: "ME", AttrValue: "${_POD_IP}"},
			}
			c.ServiceVolumeMapList = []Volume{{VolumeName: "conf", VolumePath: "/etc/app.conf", VolumeType: VolumeConfigFile,
				FileContent: "db=${DB_HOST}:${DB_PORT}\nurl=${DOMAIN_8080}\n"}}
		}),
	)
	c := convertToCompose(t, tpl, ToComposeOptions{})
	for name, want := range map[string]string{
		"DB_HOST": "db", "DB_PORT": "5432", "CACHE_HOST": "cache", "CACHE_PORT": "7000",
		"DATABASE_URL": "postgres://db:5432/x", "ME": "${_POD_IP}",
	} {
		if got, _ := c.envOf(t, "app", name); got != want {
			t.Errorf("app %s = %q, want %q", name, got, want)
		}
	}
	for name := range c.service(t, "app").Environment {
		if strings.Contains(name, "9187") {
			t.Errorf("a variable for a port without port_alias (the platform names it after a service_alias it makes at install): %s", name)
		}
	}
	if got := strings.Join(c.service(t, "app").Command, " "); got != "serve --db db --mem ${MEMORY_SIZE}" {
		t.Errorf("command %q", got)
	}
	if got := c.files["files/app/etc/app.conf"]; got != "db=db:5432\nurl=${DOMAIN_8080}\n" {
		t.Errorf("config file %q", got)
	}
	w := strings.Join(c.p.Warnings, "\n")
	for _, want := range []string{
		`component "app" (apps[2]): ME: ${_POD_IP} is left as is: the platform defines _POD_IP, compose does not`,
		`component "app" (apps[2]): command: ${MEMORY_SIZE} is left as is: the platform defines MEMORY_SIZE, compose does not`,
		`component "app" (apps[2]): config file /etc/app.conf: ${DOMAIN_8080} is left as is: the platform defines DOMAIN_8080, compose does not`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
	if strings.Contains(w, "CACHE_PORT") {
		t.Errorf("a warning about the template's own CACHE_PORT:\n%s", w)
	}
	// Back to RAM: the port variables are the platform's, not the component's.
	back, _ := convertFromCompose(t, c.proj, FromComposeOptions{})
	eq(t, "app env back", appNamed(t, back, "app").ServiceEnvMapList, tpl.Apps[2].ServiceEnvMapList)
	eq(t, "app cmd back", appNamed(t, back, "app").Cmd, tpl.Apps[2].Cmd)
}

// The console generates "**None**" in a component's variables and connection info only: in a
// config group it installs the text, and so does compose, with a warning.
func TestToComposeConfigGroupRandomValueLiteral(t *testing.T) {
	tpl := templateOf(testComponent("web", "kweb", nil))
	tpl.AppConfigGroups = []AppConfigGroup{{Name: "secrets", InjectionType: "env", ConfigItems: map[string]string{"PASS": RandomValue, "USER": "u"}, ComponentKeys: []string{"kweb"}}}
	c := convertToCompose(t, tpl, ToComposeOptions{})
	if got, _ := c.envOf(t, "web", "PASS"); got != RandomValue {
		t.Errorf("web PASS = %q, want the literal %s", got, RandomValue)
	}
	if strings.Contains(string(c.p.DotEnv), "PASS") {
		t.Errorf("a value generated in .env:\n%s", c.p.DotEnv)
	}
	w := strings.Join(c.p.Warnings, "\n")
	if !strings.Contains(w, `config group "secrets": PASS is "**None**", which the console installs as that text in a config group`) {
		t.Errorf("warnings:\n%s", w)
	}
	back, _ := convertFromCompose(t, c.proj, FromComposeOptions{})
	eq(t, "config groups back", back.AppConfigGroups, tpl.AppConfigGroups)
}

// Compose -> RAM: variables the platform's worker replaces (MEMORY_SIZE, set after the
// component's own) or reads as the component's settings (ES_HOSTNETWORK) are reported.
func TestFromComposeWorkerVariables(t *testing.T) {
	p, dir := loadProject(t, map[string]string{
		"compose.yaml": `
name: shop
services:
  api:
    image: api:1
    environment:
      MEMORY_SIZE: 2g
      CUSTOM_MEMORY_SIZE: "1"
      _POD_IP: x
      ES_HOSTNETWORK: "false"
      ES_CPULIMIT: "500"
      ES_JAVA_OPTS: -Xmx1g
      PORT: "80"
`,
	})
	_, warnings := convertFromCompose(t, p, FromComposeOptions{Dir: dir, Version: "1"})
	w := strings.Join(warnings, "\n")
	for _, want := range []string{
		`service api: environment: `,
		`MEMORY_SIZE: the platform's worker sets it after the component's variables, replacing this value, with the memory's size name ("medium" for 512 MB) whenever the memory is 128, 256, 512, 1024, … or 65536 MB; rename it`,
		`CUSTOM_MEMORY_SIZE: the platform's worker sets it after the component's variables, replacing this value, with the memory in MB whenever the memory is any other`,
		`_POD_IP: the platform's worker sets it after the component's variables, replacing this value`,
		`ES_HOSTNETWORK: the platform's worker reads every variable starting with ES_ as a setting of the component: this one runs it on the node's network (whatever the value, "false" too); rename it`,
		`ES_CPULIMIT: the platform's worker reads every variable starting with ES_ as a setting of the component: this one sets its CPU limit in millicores, in place of its cpu; rename it`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
	for _, not := range []string{"ES_JAVA_OPTS", "PORT:"} {
		if strings.Contains(w, not) {
			t.Errorf("warning about %s (the worker reads no such setting):\n%s", not, w)
		}
	}
}

// Keep gives generated variables their values by .env name (an upgrade keeps its base's): a
// value .env cannot carry bare is quoted, one it cannot carry at all is replaced, with a warning;
// a variable Keep does not name gets a new value; names no variable generates are ignored.
func TestToComposeKeep(t *testing.T) {
	tpl := templateOf(
		testComponent("db", "kdb", func(c *Component) {
			c.PortMapList = []Port{{ContainerPort: 5432}}
			c.ServiceConnectInfoMapList = []Env{{AttrName: "DB_PASS", AttrValue: RandomValue}, {AttrName: "DB_ROOT", AttrValue: RandomValue}}
			c.ServiceEnvMapList = []Env{{AttrName: "ODD", AttrValue: RandomValue}, {AttrName: "BAD", AttrValue: RandomValue}, {AttrName: "GROUP", AttrValue: "**None:g**"}}
			c.ServiceVolumeMapList = []Volume{{VolumeName: "conf", VolumePath: "/etc/db.conf", VolumeType: VolumeConfigFile, FileContent: "pass=${DB_PASS} odd=${ODD}\n"}}
		}),
		testComponent("web", "kweb", func(c *Component) {
			c.DepServiceMapList = []Dependency{{DepServiceKey: ShareUUID("kdb", "kdb")}}
		}),
	)
	keep := map[string]string{
		"DB_DB_PASS":   "nd4btB1GkEBtqsBD6Un2otBp",
		"DB_ODD":       `p@ss w$rd#"x`,
		"DB_BAD":       `it's\n`,
		"NONE_GROUP_G": "groupvalue",
		"DB_GONE":      "unused",
		"DB_PORT_5432": "6543",
	}
	c := convertToCompose(t, tpl, ToComposeOptions{Keep: keep})
	for name, want := range map[string]string{"DB_DB_PASS": keep["DB_DB_PASS"], "DB_ODD": keep["DB_ODD"], "NONE_GROUP_G": "groupvalue"} {
		if got := c.env[name]; got != want {
			t.Errorf(".env %s = %q, want %q\n%s", name, got, want, c.p.DotEnv)
		}
	}
	for _, name := range []string{"DB_DB_ROOT", "DB_BAD"} {
		if !secretShape.MatchString(c.env[name]) {
			t.Errorf(".env %s = %q, want a new value", name, c.env[name])
		}
	}
	for _, name := range []string{"DB_GONE", "DB_PORT_5432"} {
		if _, ok := c.env[name]; ok {
			t.Errorf("%s, a kept name no variable generates, is in .env", name)
		}
	}
	for svc, vars := range map[string][]string{"db": {"DB_PASS", "ODD", "GROUP"}, "web": {"DB_PASS"}} {
		for _, v := range vars {
			got, _ := c.envOf(t, svc, v)
			if want := map[string]string{"DB_PASS": keep["DB_DB_PASS"], "ODD": keep["DB_ODD"], "GROUP": "groupvalue"}[v]; got != want {
				t.Errorf("%s %s = %q, want %q", svc, v, got, want)
			}
		}
	}
	if got := c.files["files/db/etc/db.conf"]; got != "pass="+keep["DB_DB_PASS"]+" odd="+keep["DB_ODD"]+"\n" {
		t.Errorf("config file %q", got)
	}
	if want := []string{"DB_ODD", "DB_BAD", "DB_DB_PASS", "DB_DB_ROOT", "NONE_GROUP_G"}; !slices.Equal(c.p.Generated, want) {
		t.Errorf("Generated %v, want %v", c.p.Generated, want)
	}
	if want := []string{"DB_ODD", "DB_DB_PASS", "NONE_GROUP_G"}; !slices.Equal(c.p.Kept, want) {
		t.Errorf("Kept %v, want %v", c.p.Kept, want)
	}
	if !slices.ContainsFunc(c.p.Warnings, func(w string) bool {
		return strings.Contains(w, "DB_BAD cannot be written to .env as it is") && strings.Contains(w, "a new one is generated")
	}) {
		t.Errorf("no warning about DB_BAD: %q", c.p.Warnings)
	}
}

// A config file's 127.0.0.1:PORT, where PORT is one dependency's port, names that dependency
// under compose (on the platform the mesh serves it there), as the component's own variables
// do; its own port stays, an unknown one is warned about; back to RAM the template's content.
func TestToComposeConfigFileLoopback(t *testing.T) {
	tpl := templateOf(
		testComponent("pg", "kpg", func(c *Component) { c.PortMapList = []Port{{ContainerPort: 5432, PortAlias: "PG"}} }),
		testComponent("app", "kapp", func(c *Component) {
			c.DepServiceMapList = []Dependency{{DepServiceKey: "kpg"}}
			c.PortMapList = []Port{{ContainerPort: 8080, PortAlias: "APP"}}
			c.ServiceVolumeMapList = []Volume{{VolumeName: "conf", VolumePath: "/etc/app.conf", VolumeType: VolumeConfigFile,
				FileContent: "db=127.0.0.1:5432\nalso=localhost:5432/x\nlisten=127.0.0.1:8080\nother=127.0.0.1:9999\n"}}
		}),
	)
	c := convertToCompose(t, tpl, ToComposeOptions{})
	if got, want := c.files["files/app/etc/app.conf"], "db=pg:5432\nalso=pg:5432/x\nlisten=127.0.0.1:8080\nother=127.0.0.1:9999\n"; got != want {
		t.Errorf("config file %q, want %q", got, want)
	}
	w := strings.Join(c.p.Warnings, "\n")
	if want := `config file "conf": 127.0.0.1:9999 is no port of its dependencies nor its own`; !strings.Contains(w, want) {
		t.Errorf("no warning %q in:\n%s", want, w)
	}
	back, _ := convertFromCompose(t, c.proj, FromComposeOptions{})
	eq(t, "app conf back", appNamed(t, back, "app").ServiceVolumeMapList[0].FileContent, tpl.Apps[1].ServiceVolumeMapList[0].FileContent)
}
