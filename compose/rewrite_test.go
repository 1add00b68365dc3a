package compose

import (
	"bytes"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRewriteBindsEnvFilesConfigsSecrets(t *testing.T) {
	cleanEnv(t, fixtureVars...)
	dir := fixture(t, "binds")
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{Name: "shop", Images: map[string]string{
		"web":    "registry.example/web:1.0",
		"worker": "registry.example/worker:1.0",
	}})
	doc := parseYAML(t, out.ComposeYAML)

	if got := at(t, doc, "name"); got != "shop" {
		t.Errorf("name = %v, want shop", got)
	}
	web := at(t, doc, "services", "web")
	if got := at(t, web, "image"); got != "registry.example/web:1.0" {
		t.Errorf("web image = %v", got)
	}
	volumes := []struct {
		typ, source, target string
		readOnly            bool
	}{
		{"bind", "./files/conf/app.conf", "/etc/app/app.conf", true}, // short syntax, :ro
		{"bind", "./files/data", "/srv/data", false},                 // long syntax, a directory
		{"volume", "cache", "/var/cache/app", false},                 // named volume: unchanged
		{"tmpfs", "", "/tmp", false},
	}
	for i, want := range volumes {
		v := at(t, web, "volumes", i)
		if got := at(t, v, "type"); got != want.typ {
			t.Errorf("web volume %d type = %v, want %s", i, got, want.typ)
		}
		if want.source != "" {
			if got := at(t, v, "source"); got != want.source {
				t.Errorf("web volume %d source = %v, want %s", i, got, want.source)
			}
		} else if has(v, "source") {
			t.Errorf("web volume %d has a source: %v", i, v)
		}
		if got := at(t, v, "target"); got != want.target {
			t.Errorf("web volume %d target = %v, want %s", i, got, want.target)
		}
		if ro, _ := v.(map[string]any)["read_only"].(bool); ro != want.readOnly {
			t.Errorf("web volume %d read_only = %v, want %v", i, ro, want.readOnly)
		}
	}
	wantEnvFiles := []any{"./files/web.env", map[string]any{"path": "./files/optional-missing.env", "required": false},
		map[string]any{"path": "./files/optional.env", "required": false}}
	if got := at(t, web, "env_file"); !reflect.DeepEqual(got, wantEnvFiles) {
		t.Errorf("web env_file = %v, want %v (the missing optional one kept, for the target to add)", got, wantEnvFiles)
	}
	wantWarnings := []string{"service web: env_file ./optional-missing.env (required: false) does not exist: the bundle names it " +
		"./files/optional-missing.env, which docker compose skips until the operator adds it on the target"}
	if !reflect.DeepEqual(out.Warnings, wantWarnings) {
		t.Errorf("warnings = %q, want %q", out.Warnings, wantWarnings)
	}
	if got := at(t, doc, "services", "worker", "volumes", 0, "source"); got != "./files/data/sub" {
		t.Errorf("worker volume source = %v, want ./files/data/sub", got)
	}
	if got := at(t, doc, "configs", "app_conf", "file"); got != "./files/conf/extra.conf" {
		t.Errorf("config app_conf file = %v", got)
	}
	if got := at(t, doc, "configs", "inline_conf", "content"); got != "inline=1\n" {
		t.Errorf("config inline_conf content = %q, want it unchanged", got)
	}
	if has(at(t, doc, "configs"), "unused_conf") {
		t.Errorf("config unused_conf is used by no service and should be left out")
	}
	if got := at(t, doc, "secrets", "db_password", "file"); got != "./files/secrets/db_password.txt" {
		t.Errorf("secret db_password file = %v", got)
	}
	if got := at(t, doc, "volumes"); !reflect.DeepEqual(got, map[string]any{"cache": map[string]any{}}) {
		t.Errorf("top-level volumes = %v, want cache unchanged", got)
	}

	wantFiles := []FileCopy{
		{Src: filepath.Join(dir, "conf/app.conf"), Dst: "files/conf/app.conf", Mode: 0o644},
		{Src: filepath.Join(dir, "conf/extra.conf"), Dst: "files/conf/extra.conf", Mode: 0o644},
		{Src: filepath.Join(dir, "data"), Dst: "files/data", Dir: true},
		{Src: filepath.Join(dir, "data/a.txt"), Dst: "files/data/a.txt", Mode: 0o755},
		{Src: filepath.Join(dir, "data/sub"), Dst: "files/data/sub", Dir: true},
		{Src: filepath.Join(dir, "data/sub/b.txt"), Dst: "files/data/sub/b.txt", Mode: 0o644},
		{Src: filepath.Join(dir, "optional.env"), Dst: "files/optional.env", Mode: 0o644},
		{Src: filepath.Join(dir, "secrets/db_password.txt"), Dst: "files/secrets/db_password.txt", Mode: 0o644},
		{Src: filepath.Join(dir, "web.env"), Dst: "files/web.env", Mode: 0o644},
	}
	// git keeps only the executable bit: compare what the checkout has (and its owner)
	for i := range wantFiles {
		info, err := os.Stat(wantFiles[i].Src)
		if err != nil {
			t.Fatal(err)
		}
		wantFiles[i].Mode = info.Mode()
		wantFiles[i].Uid, wantFiles[i].Gid = owner(info)
	}
	if !reflect.DeepEqual(out.Files, wantFiles) {
		t.Errorf("Files =\n%v\nwant\n%v", out.Files, wantFiles)
	}
	if len(out.DotEnv) != 0 {
		t.Errorf(".env = %q, want empty: the file references no variable", out.DotEnv)
	}
}

func TestRewriteBuildAndProfiles(t *testing.T) {
	cleanEnv(t, fixtureVars...)
	t.Run("build removed, image set, pull_policy build dropped", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "build")})
		out := mustRewrite(t, p, RewriteOptions{Name: "shop", Images: map[string]string{"api": "shop-api:1.0", "web": "example/web:1.0"}})
		doc := parseYAML(t, out.ComposeYAML)
		want := map[string]any{
			"api": map[string]any{"image": "shop-api:1.0", "platform": "linux/arm64"},
			"web": map[string]any{"image": "example/web:1.0"},
		}
		if got := at(t, doc, "services"); !reflect.DeepEqual(got, want) {
			t.Errorf("services = %v, want %v", got, want)
		}
	})
	t.Run("a service without an image is refused", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "build")})
		_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: map[string]string{"web": "example/web:1.0"}})
		if want := "rewrite compose project: service api: no image given for the service"; err == nil || err.Error() != want {
			t.Errorf("error = %v, want %q", err, want)
		}
	})
	t.Run("invalid name", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "build")})
		_, err := p.Rewrite(RewriteOptions{Name: "Shop!", Images: defaultImages(p)})
		if err == nil || !strings.HasPrefix(err.Error(), `rewrite compose project: invalid project name "Shop!"`) {
			t.Errorf("error = %v, want an invalid project name", err)
		}
	})
	t.Run("only active services, all of them started by default", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "profiles")})
		doc := parseYAML(t, mustRewrite(t, p, RewriteOptions{}).ComposeYAML)
		want := map[string]any{"web": map[string]any{"image": "example/web:1.0"}} // depends_on debug (optional) dropped
		if got := at(t, doc, "services"); !reflect.DeepEqual(got, want) {
			t.Errorf("services = %v, want %v", got, want)
		}

		p = mustLoad(t, LoadOptions{WorkDir: fixture(t, "profiles"), Profiles: []string{"debug"}})
		doc = parseYAML(t, mustRewrite(t, p, RewriteOptions{}).ComposeYAML)
		for _, s := range []string{"debug", "tools", "web"} {
			if has(at(t, doc, "services", s), "profiles") {
				t.Errorf("service %s keeps its profiles: it would not start without --profile", s)
			}
		}
		if got := at(t, doc, "services", "web", "depends_on", "debug", "required"); got != false {
			t.Errorf("web depends_on debug = %v, want kept", got)
		}
	})
}

func TestRewriteInterpolationKept(t *testing.T) {
	cleanEnv(t, fixtureVars...)
	p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "interp")})
	out := mustRewrite(t, p, RewriteOptions{Name: "shop", Images: map[string]string{"web": "example/web:2.0"}})
	doc := parseYAML(t, out.ComposeYAML)
	web := at(t, doc, "services", "web")
	for _, c := range []struct {
		path []any
		want any
	}{
		{[]any{"environment", "DB_URL"}, "postgres://${DB_USER}:${DB_PASS}@db/${DB_NAME:-app}"},
		{[]any{"environment", "ESCAPED"}, "$$NOT_A_VAR"},
		{[]any{"labels", "tier"}, "${TIER}"},
		{[]any{"ports", 0}, "${HTTP_PORT:-8080}:80"},
		{[]any{"read_only"}, "${READ_ONLY:-false}"},
		{[]any{"image"}, "example/web:2.0"},
		// the source came from ${CONF_DIR:-./conf}: the shipped copy is the default now, and
		// the operator may still point CONF_DIR elsewhere
		{[]any{"volumes", 0, "source"}, "${CONF_DIR:-./files/conf}"},
		{[]any{"volumes", 0, "read_only"}, true},
	} {
		if got := at(t, web, c.path...); got != c.want {
			t.Errorf("web %v = %v, want %v", c.path, got, c.want)
		}
	}
	want := strings.Join([]string{
		"API_HOST=", // only ${API_HOST:-api} in app.env: empty gives the same
		"API_PORT=", // unset when packed
		"CONF_DIR=./files/conf",
		"DB_NAME=app", // its default
		`DB_PASS="p@ss \$word \"quoted\""`,
		"DB_USER=admin",
		"HTTP_PORT=8080",
		"PASSTHROUGH=passed",
		"READ_ONLY=false",
		"TIER=front",
	}, "\n") + "\n"
	if string(out.DotEnv) != want {
		t.Errorf(".env =\n%s\nwant\n%s", out.DotEnv, want)
	}
}

func TestRewriteDotEnvUnsetVariables(t *testing.T) {
	cleanEnv(t, "U1", "U2", "U3", "U4", "U5", "U6", "U7", "SELF")
	dir := writeProject(t, map[string]string{"compose.yaml": `
services:
  app:
    image: example/app:1.0
    env_file: app.env
    environment:
      - A=${U1}
      - B=${U2:-dflt}
      - C=${U3-x}
      - D=${U3}
      - U4
      - E=${U5:+set}
`,
		// env_file values are interpolated too; variables only they use and
		// no value can stand for are left out silently
		"app.env": "F=${U6-fallback}\nSELF=1\nREF=${SELF}\nG=${U7}\n",
	})
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{})
	want := strings.Join([]string{
		"U1=",
		"U2=dflt",
		"# U3 is not set: it was unset when packed, and no value gives the same result",
		"# U4 is not set: it was unset when packed, and no value gives the same result",
		"U5=",
		"U7=",
	}, "\n") + "\n"
	if string(out.DotEnv) != want {
		t.Errorf(".env =\n%s\nwant\n%s", out.DotEnv, want)
	}
}

func TestRewriteMissingSources(t *testing.T) {
	cleanEnv(t)
	tests := []struct {
		name    string
		compose string
		want    string // with DIR for the project directory
	}{
		{
			name:    "bind mount source, long syntax",
			compose: "services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: ./data\n        target: /data\n",
			want: "rewrite compose project: service web: bind mount source ./data (DIR/data) does not exist; " +
				"create it, or use the short syntax (or bind: create_host_path: true) to have compose create it on the target",
		},
		{
			name:    "config file",
			compose: "services:\n  web:\n    image: x\n    configs: [app]\nconfigs:\n  app:\n    file: ./app.conf\n",
			want:    "rewrite compose project: config app: file ./app.conf (DIR/app.conf) does not exist",
		},
		{
			name:    "secret file",
			compose: "services:\n  web:\n    image: x\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt\n",
			want:    "rewrite compose project: secret pw: file ./pw.txt (DIR/pw.txt) does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"compose.yaml": tt.compose})
			p := mustLoad(t, LoadOptions{WorkDir: dir})
			_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: defaultImages(p)})
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Errorf("error = %v\nwant    %s", err, want)
			}
		})
	}
	// env_file and label_file are read when loading: Load reports them
	for _, c := range []struct{ compose, want string }{
		{"services:\n  web:\n    image: x\n    env_file: app.env\n",
			"load compose project: service web: env_file ./app.env (DIR/app.env) does not exist"},
		{"services:\n  web:\n    image: x\n    env_file:\n      - path: ./opt.env\n        required: false\n      - ./env/app.env\n",
			"load compose project: service web: env_file ./env/app.env (DIR/env/app.env) does not exist"},
		{"services:\n  web:\n    image: x\n    label_file: labels\n",
			"load compose project: service web: label_file ./labels (DIR/labels) does not exist"},
	} {
		dir := writeProject(t, map[string]string{"compose.yaml": c.compose})
		_, err := Load(t.Context(), LoadOptions{WorkDir: dir})
		if want := strings.ReplaceAll(c.want, "DIR", dir); err == nil || err.Error() != want {
			t.Errorf("Load error = %v\nwant              %s", err, want)
		}
	}
}

func TestRewriteOutsideProject(t *testing.T) {
	cleanEnv(t)
	project := fixture(t, "outside/project")
	shared := filepath.Join(fixture(t, "outside"), "shared", "site.conf")
	p := mustLoad(t, LoadOptions{WorkDir: project})

	_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: defaultImages(p)})
	want := "rewrite compose project: service web: volume source " + shared + " is outside the project directory " + project +
		"; move it into the project or pass --allow-outside " + shared + " to ship a copy"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}

	out := mustRewrite(t, p, RewriteOptions{Name: "shop", Outside: []string{"/"}})
	dst := "files/_outside" + filepath.ToSlash(shared)
	if got := at(t, parseYAML(t, out.ComposeYAML), "services", "web", "volumes", 0, "source"); got != "./"+dst {
		t.Errorf("source = %v, want ./%s", got, dst)
	}
	if len(out.Files) != 1 || out.Files[0].Src != shared || out.Files[0].Dst != dst {
		t.Errorf("Files = %v, want %s shipped as %s", out.Files, shared, dst)
	}

	t.Run("env_file outside", func(t *testing.T) {
		envDir := t.TempDir()
		envFile := filepath.Join(envDir, "app.env")
		if err := os.WriteFile(envFile, []byte("A=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		dir := writeProject(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    env_file: " + envFile + "\n"})
		p := mustLoad(t, LoadOptions{WorkDir: dir})
		_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: defaultImages(p)})
		want := "rewrite compose project: service web: env_file " + envFile + " is outside the project directory " + dir +
			"; move it into the project or pass --allow-outside " + envFile + " to ship a copy"
		if err == nil || err.Error() != want {
			t.Errorf("error = %v\nwant    %s", err, want)
		}
		out := mustRewrite(t, p, RewriteOptions{Outside: []string{"/"}})
		if len(out.Files) != 1 || out.Files[0].Mode != 0o600 || out.Files[0].Dst != "files/_outside"+filepath.ToSlash(envFile) {
			t.Errorf("Files = %v", out.Files)
		}
	})
}

func TestRewriteHostResourcesKept(t *testing.T) {
	cleanEnv(t)
	// a real socket outside the project, like /var/run/docker.sock
	sockDir, err := os.MkdirTemp("", "airpack-sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	dir := writeProject(t, map[string]string{"compose.yaml": `
services:
  agent:
    image: example/agent:1.0
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - ` + sock + `:/agent.sock
      - /dev/null:/dev/null-copy:ro
      - /proc:/host/proc:ro
`})
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{}) // no AllowOutside
	vols := at(t, parseYAML(t, out.ComposeYAML), "services", "agent", "volumes")
	for i, want := range []string{"/var/run/docker.sock", sock, "/dev/null", "/proc"} {
		if got := at(t, vols, i, "source"); got != want {
			t.Errorf("volume %d source = %v, want the host path %s", i, got, want)
		}
	}
	if len(out.Files) != 0 {
		t.Errorf("Files = %v, want nothing copied", out.Files)
	}
}

func TestRewriteIncludeEnv(t *testing.T) {
	cleanEnv(t, "DB_NAME", "DB_USER")
	p := mustLoad(t, LoadOptions{WorkDir: fixture(t, "includeenv")})
	out := mustRewrite(t, p, RewriteOptions{})
	if want := "DB_NAME=shop\nDB_USER=postgres\n"; string(out.DotEnv) != want {
		t.Errorf(".env = %q, want %q (DB_NAME from the included project's .env)", out.DotEnv, want)
	}

	// the project itself uses DB_NAME unset: one .env cannot serve both
	dir := writeProject(t, map[string]string{
		"compose.yaml":    "include: [db/compose.yaml]\nservices:\n  web:\n    image: x\n    environment:\n      NAME: ${DB_NAME}\n",
		"db/compose.yaml": "services:\n  db:\n    image: y\n    environment:\n      NAME: ${DB_NAME}\n",
		"db/.env":         "DB_NAME=shop\n",
	})
	p = mustLoad(t, LoadOptions{WorkDir: dir})
	_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: defaultImages(p)})
	want := `rewrite compose project: the rewritten compose file does not give the packed project: services.web.environment.NAME is "shop", expected ""; ` +
		`the bundle has a single .env: a variable an included project sets in its own .env or env_file must not be used unset elsewhere`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestRewriteDeterministic(t *testing.T) {
	for _, name := range []string{"binds", "interp", "include", "extends"} {
		t.Run(name, func(t *testing.T) {
			cleanEnv(t, fixtureVars...)
			var first *Output
			for i := 0; i < 3; i++ {
				p := mustLoad(t, LoadOptions{WorkDir: fixture(t, name)})
				out := mustRewrite(t, p, RewriteOptions{})
				if again := mustRewrite(t, p, RewriteOptions{}); !reflect.DeepEqual(out, again) {
					t.Fatalf("two Rewrite calls on one project differ")
				}
				if first == nil {
					first = out
					continue
				}
				if !bytes.Equal(out.ComposeYAML, first.ComposeYAML) {
					t.Errorf("compose file differs between loads:\n%s\n---\n%s", first.ComposeYAML, out.ComposeYAML)
				}
				if !bytes.Equal(out.DotEnv, first.DotEnv) || !reflect.DeepEqual(out.Files, first.Files) {
					t.Errorf(".env or files differ between loads")
				}
			}
		})
	}
}

func TestRewriteDirectoryConflictsAndLinks(t *testing.T) {
	cleanEnv(t)
	dir := writeProject(t, map[string]string{
		"compose.yaml":      "services:\n  web:\n    image: x\n    volumes:\n      - ./site:/site\n      - ./site/index.html:/index.html\n",
		"site/index.html":   "<html/>",
		"site/pages/a.html": "a",
		"real/page.html":    "page",
	})
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, "site", name)); err != nil {
			t.Fatal(err)
		}
	}
	link("pages", "inside")                                    // relative, stays in the mount: shipped as a link
	link(".", "loop")                                          // the same
	link(filepath.Join(dir, "site", "pages", "a.html"), "abs") // absolute, inside: a copy
	link("nowhere", "broken")                                  // left out, with a warning
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{})
	var dsts []string
	for _, f := range out.Files {
		kind := ""
		switch {
		case f.Link != "":
			kind = " -> " + f.Link
		case f.Dir:
			kind = "/"
		case f.Mode&fs.ModeType != 0:
			t.Errorf("%s: mode %v is not a regular file's", f.Dst, f.Mode)
		}
		dsts = append(dsts, f.Dst+kind)
	}
	// the file mounted on its own and through its directory is listed once
	want := []string{"files/site/", "files/site/abs", "files/site/index.html", "files/site/inside -> pages", "files/site/loop -> .",
		"files/site/pages/", "files/site/pages/a.html"}
	if !reflect.DeepEqual(dsts, want) {
		t.Errorf("Files = %v, want %v", dsts, want)
	}
	wantWarn := []string{"bind mount source ./site: ./site/broken is a broken symbolic link (to nowhere): left out of the bundle"}
	if !reflect.DeepEqual(out.Warnings, wantWarn) {
		t.Errorf("Warnings = %q, want %q", out.Warnings, wantWarn)
	}

	// links that leave the mounted directory would ship this machine's files
	for _, target := range []string{"../real", "/etc/hostname", "/etc", "../.."} {
		t.Run(target, func(t *testing.T) {
			os.Remove(filepath.Join(dir, "site", "out"))
			link(target, "out")
			p := mustLoad(t, LoadOptions{WorkDir: dir})
			_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: defaultImages(p)})
			real, _ := filepath.EvalSymlinks(filepath.Join(dir, "site", "out"))
			want := "rewrite compose project: service web: bind mount source ./site: ./site/out is a symbolic link to " + target +
				", outside the mounted directory: the bundle would ship this machine's " + real +
				"; replace the link with the file, or pass --allow-outside " + real + " to ship a copy"
			if err == nil || err.Error() != want {
				t.Errorf("error = %v\nwant    %s", err, want)
			}
		})
	}
	os.Remove(filepath.Join(dir, "site", "out"))
	link("/etc/hostname", "out")
	p = mustLoad(t, LoadOptions{WorkDir: dir})
	out = mustRewrite(t, p, RewriteOptions{Outside: []string{"/etc/hostname"}})
	found := false
	for _, f := range out.Files {
		found = found || f.Dst == "files/site/out" && f.Src == filepath.Join(dir, "site", "out") && !f.Dir
	}
	if !found {
		t.Errorf("Files = %+v, want the copy of /etc/hostname as files/site/out", out.Files)
	}
	wantWarn = append(wantWarn, "bind mount source ./site: ./site/out is a symbolic link to /etc/hostname, outside the mounted directory: shipped as a copy of this machine's /etc/hostname (--allow-outside)")
	if !reflect.DeepEqual(out.Warnings, wantWarn) {
		t.Errorf("Warnings = %q, want %q", out.Warnings, wantWarn)
	}
}

// A mount source, env_file or config that is itself a link out of the project would ship this
// machine's file: refused, unless --allow-outside names the target.
func TestRewriteSourceLinkedOutside(t *testing.T) {
	cleanEnv(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("SECRET=the-packers\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(outside, "secret.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, compose, kind, link string }{
		{"bind mount source", "services:\n  web:\n    image: x\n    volumes:\n      - ./conf.txt:/conf.txt\n", "bind mount source ./conf.txt", "conf.txt"},
		{"bind mount source under a linked directory", "services:\n  web:\n    image: x\n    volumes:\n      - ./data/secret.txt:/s\n", "bind mount source ./data/secret.txt", "data"},
		{"env_file", "services:\n  web:\n    image: x\n    env_file: conf.txt\n", "env_file ./conf.txt", "conf.txt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"compose.yaml": c.compose})
			target := real
			if c.link == "data" {
				target = filepath.Dir(real)
			}
			if err := os.Symlink(target, filepath.Join(dir, c.link)); err != nil {
				t.Fatal(err)
			}
			p := mustLoad(t, LoadOptions{WorkDir: dir})
			_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: defaultImages(p)})
			want := c.kind + " is a symbolic link to " + real + ", outside the project: the bundle would ship this machine's " + real +
				"; replace the link with the file, or pass --allow-outside " + real + " to ship a copy"
			if err == nil || !strings.HasSuffix(err.Error(), want) {
				t.Fatalf("error = %v\nwant  ...%s", err, want)
			}
			out := mustRewrite(t, p, RewriteOptions{Outside: []string{filepath.Dir(real)}})
			wantWarn := c.kind + " is a symbolic link to " + real + ", outside the project: shipped as a copy of this machine's " + real + " (--allow-outside)"
			if !slices.Contains(out.Warnings, wantWarn) {
				t.Errorf("Warnings = %q, want %q", out.Warnings, wantWarn)
			}
		})
	}
}

// A bind source made of a variable only the packing machine's shell sets is the target's to
// give: the bundle keeps the variable and its default, never the packer's path.
func TestRewriteBindSourceFromShellNotShipped(t *testing.T) {
	cleanEnv(t, "DATA_DIR")
	dir := writeProject(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: x\n    volumes:\n      - ${DATA_DIR:-./data}:/data\n",
		"data/a.txt":   "a",
	})
	t.Setenv("DATA_DIR", "/srv/packer-data")
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{})
	if strings.Contains(string(out.ComposeYAML), "packer-data") || strings.Contains(string(out.DotEnv), "packer-data") {
		t.Fatalf("the packing shell's DATA_DIR reached the bundle:\n%s\n%s", out.ComposeYAML, out.DotEnv)
	}
	if !strings.Contains(string(out.ComposeYAML), "${DATA_DIR:-./files/data}") {
		t.Errorf("the bind source lost its variable:\n%s", out.ComposeYAML)
	}
	if len(out.Files) == 0 || out.Files[len(out.Files)-1].Dst != "files/data/a.txt" {
		t.Errorf("Files = %+v, want the project's ./data shipped", out.Files)
	}
}

// Absolute and ~ bind sources are the target's host paths: kept as written, listed in one
// warning; --allow-outside PATH ships a copy instead.
func TestRewriteHostPathsKept(t *testing.T) {
	cleanEnv(t, "APP_DIR")
	compose := `
services:
  web:
    image: x
    volumes:
      - /etc/localtime:/etc/localtime:ro
      - /var/lib/app:/data
      - ~/data:/home-data
      - ${APP_DIR:-/srv/app}:/app
      - type: bind
        source: /opt/conf
        target: /conf
volumes:
  shared:
    driver: local
    driver_opts: {type: none, o: bind, device: /srv/shared}
`
	dir := writeProject(t, map[string]string{"compose.yaml": compose})
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{})
	doc := parseYAML(t, out.ComposeYAML)
	vols := at(t, doc, "services", "web", "volumes")
	for i, want := range []struct {
		src    string
		create bool
	}{{"/etc/localtime", true}, {"/var/lib/app", true}, {"~/data", true}, {"/srv/app", true}, {"/opt/conf", false}} {
		if got := at(t, vols, i, "source"); got != want.src {
			t.Errorf("volume %d source = %v, want %s", i, got, want.src)
		}
		if !want.create { // the long syntax without bind: stays without (false)
			if v := at(t, vols, i); has(v, "bind") {
				t.Errorf("volume %d = %v, want no bind:", i, v)
			}
		} else if got := at(t, vols, i, "bind", "create_host_path"); got != true {
			t.Errorf("volume %d create_host_path = %v, want true", i, got)
		}
	}
	if got := at(t, doc, "volumes", "shared", "driver_opts", "device"); got != "/srv/shared" {
		t.Errorf("device = %v, want /srv/shared", got)
	}
	if len(out.Files) != 0 {
		t.Errorf("Files = %v, want nothing shipped", out.Files)
	}
	want := []string{"host paths kept as the target's, not shipped: /etc/localtime, /var/lib/app, ~/data, /srv/app, /opt/conf, /srv/shared; " +
		"the target host must provide them (airpack inspect lists them); to ship a copy of one instead, pass --allow-outside PATH"}
	if !reflect.DeepEqual(out.Warnings, want) {
		t.Errorf("Warnings = %q\nwant       %q", out.Warnings, want)
	}

	// named by --allow-outside: a copy of this machine's file, said so
	src := filepath.Join(t.TempDir(), "tz")
	if err := os.WriteFile(src, []byte("UTC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = writeProject(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    volumes:\n      - " + src + ":/etc/localtime:ro\n      - /etc/timezone:/etc/timezone:ro\n"})
	p = mustLoad(t, LoadOptions{WorkDir: dir})
	out = mustRewrite(t, p, RewriteOptions{Outside: []string{src}})
	dst := "files/_outside" + filepath.ToSlash(src)
	if got := at(t, parseYAML(t, out.ComposeYAML), "services", "web", "volumes", 0, "source"); got != "./"+dst {
		t.Errorf("source = %v, want ./%s", got, dst)
	}
	want = []string{
		"bind mount source " + src + " is outside the project: shipped as a copy (--allow-outside), as ./" + dst,
		"host paths kept as the target's, not shipped: /etc/timezone; the target host must provide them (airpack inspect lists them); to ship a copy of one instead, pass --allow-outside PATH",
	}
	if !reflect.DeepEqual(out.Warnings, want) {
		t.Errorf("Warnings = %q\nwant       %q", out.Warnings, want)
	}
}

// A missing relative source of the short syntax (create_host_path) is left for compose to create
// on the target; create_host_path is always written; sources given by a variable too.
func TestRewriteCreatedSources(t *testing.T) {
	cleanEnv(t, "DATA_DIR")
	dir := writeProject(t, map[string]string{
		"compose.yaml": "services:\n  db:\n    image: x\n    volumes:\n      - ./pgdata:/var/lib/postgresql/data\n      - ${DATA_DIR:-./data}:/data\n" +
			"      - type: bind\n        source: ./conf\n        target: /conf\n" +
			"      - type: bind\n        source: ./conf\n        target: /conf2\n        bind:\n          propagation: rshared\n",
		"data/x":    "x",
		"conf/a.cf": "a",
	})
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{})
	vols := at(t, parseYAML(t, out.ComposeYAML), "services", "db", "volumes")
	for i, want := range []struct {
		src    string
		create bool
	}{{"./files/pgdata", true}, {"${DATA_DIR:-./files/data}", true}, {"./files/conf", false}} {
		if got := at(t, vols, i, "source"); got != want.src {
			t.Errorf("volume %d source = %v, want %s", i, got, want.src)
		}
		if !want.create { // the long syntax without bind: stays without (false)
			if v := at(t, vols, i); has(v, "bind") {
				t.Errorf("volume %d = %v, want no bind:", i, v)
			}
		} else if got := at(t, vols, i, "bind", "create_host_path"); got != true {
			t.Errorf("volume %d create_host_path = %v, want true", i, got)
		}
	}
	// a bind: without create_host_path is false for the pinned compose (true for compose-go's
	// newer default): written explicitly
	if got := at(t, vols, 3, "bind"); !reflect.DeepEqual(got, map[string]any{"propagation": "rshared", "create_host_path": false}) {
		t.Errorf("volume 3 bind = %v, want propagation rshared, create_host_path false", got)
	}
	// the variable is kept: the operator may move the data in .env
	if string(out.DotEnv) != "DATA_DIR=./files/data\n" {
		t.Errorf(".env = %q, want DATA_DIR=./files/data", out.DotEnv)
	}
	want := []string{"bind mount source ./pgdata does not exist: the bundle ships none, and docker compose creates ./files/pgdata on the target as an empty directory owned by root"}
	if !reflect.DeepEqual(out.Warnings, want) {
		t.Errorf("Warnings = %q\nwant       %q", out.Warnings, want)
	}
	for _, f := range out.Files {
		if strings.HasPrefix(f.Dst, "files/pgdata") {
			t.Errorf("%s shipped", f.Dst)
		}
	}
}

// What a bundle cannot hold is refused at pack, in the words verify uses.
func TestRewriteRefusedSources(t *testing.T) {
	cleanEnv(t)
	dir := writeProject(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    volumes:\n      - ./agent.sock:/agent.sock\n"})
	l, err := net.Listen("unix", filepath.Join(dir, "agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, c := range []struct {
		name, compose string
		files         map[string]string
		want          string
	}{
		{"socket inside the project", "", nil,
			"rewrite compose project: service web: bind mount source ./agent.sock is a socket: a bundle holds only files and directories; mount the target's by its absolute path"},
		{"empty source", "services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: ''\n        target: /x\n", nil,
			"rewrite compose project: service web: bind mount source is empty: give a host path (/srv/data) or a path in the project (./data)"},
		{"newline in a name", "services:\n  web:\n    image: x\n    volumes:\n      - ./site:/site\n", map[string]string{"site/a\nb.html": "x"},
			"rewrite compose project: service web: ./site/a\nb.html: \"files/site/a\\nb.html\" has a newline in its name: SHA256SUMS cannot list it; rename it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := dir
			if c.compose != "" {
				files := map[string]string{"compose.yaml": c.compose}
				for k, v := range c.files {
					files[k] = v
				}
				d = writeProject(t, files)
			}
			p := mustLoad(t, LoadOptions{WorkDir: d})
			_, err := p.Rewrite(RewriteOptions{Name: "shop", Images: defaultImages(p)})
			if err == nil || err.Error() != c.want {
				t.Errorf("error = %v\nwant    %s", err, c.want)
			}
		})
	}
}

// Non-ASCII names ship; directories keep their mode and numeric owner, empty ones included;
// excluded paths (airpack's output) are left out, with a warning.
func TestRewriteNamesOwnersExcluded(t *testing.T) {
	cleanEnv(t)
	dir := writeProject(t, map[string]string{
		"compose.yaml":        "services:\n  web:\n    image: x\n    volumes:\n      - ./конфиг:/conf\n      - .:/app\n",
		"конфиг/設定 café.conf": "x",
		"out/shop-1.0.tar":    "old bundle",
	})
	data := filepath.Join(dir, "data", "empty")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "data"), 472, 472); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{Exclude: func(abs string) (bool, string) {
		if abs == filepath.Join(dir, "out", "shop-1.0.tar") {
			return true, "it is an airpack bundle"
		}
		return abs == filepath.Join(dir, "out", "tmp"), "" // silently
	}})
	got := map[string]FileCopy{}
	for _, f := range out.Files {
		got[f.Dst] = f
	}
	if f, ok := got["files/конфиг/設定 café.conf"]; !ok || f.Dir {
		t.Errorf("non-ASCII file not shipped: %v", out.Files)
	}
	if f := got["files/data"]; !f.Dir || f.Mode.Perm() != 0o700 || f.Uid != 472 || f.Gid != 472 {
		t.Errorf("files/data = %+v, want a 0700 directory of 472:472", f)
	}
	if f, ok := got["files/data/empty"]; !ok || !f.Dir {
		t.Errorf("empty directory not shipped: %+v", f)
	}
	if _, ok := got["files/out/shop-1.0.tar"]; ok {
		t.Errorf("the output was shipped")
	}
	if _, ok := got["files/out/tmp"]; ok {
		t.Errorf("the temporary file was shipped")
	}
	want := []string{"bind mount source .: ./out/shop-1.0.tar is left out of the bundle: it is an airpack bundle"}
	if !reflect.DeepEqual(out.Warnings, want) {
		t.Errorf("Warnings = %q\nwant       %q", out.Warnings, want)
	}
}

// The short syntax in an override file replaces a long bind with create_host_path: false at the
// same target: compose then creates the source (create_host_path: true), and so does the bundle.
func TestRewriteCreateHostPathOverridden(t *testing.T) {
	cleanEnv(t)
	dir := writeProject(t, map[string]string{
		"a.yaml": "services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: ./d\n        target: /d\n        bind:\n          create_host_path: false\n",
		"b.yaml": "services:\n  web:\n    volumes:\n      - ./d:/d\n",
		"d/f":    "f",
	})
	p := mustLoad(t, LoadOptions{WorkDir: dir, Files: []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")}})
	out := mustRewrite(t, p, RewriteOptions{})
	if !strings.Contains(string(out.ComposeYAML), "create_host_path: true") {
		t.Errorf("the override's short syntax did not make create_host_path true:\n%s", out.ComposeYAML)
	}
}
