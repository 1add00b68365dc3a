package ram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestInspectPackage(t *testing.T) {
	top := "app-delivery-1.0-ram"
	p := writeTemp(t, top+".tar.gz", currentPackage(t, top))
	r, err := InspectPackage(context.Background(), p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "file", r.File, p)
	eq(t, "format", r.Format, "gzip tar")
	eq(t, "dir", r.Dir, top)
	eq(t, "layout", r.Layout, LayoutCurrent)
	eq(t, "group", []string{r.GroupName, r.GroupVersion, r.GroupKey, r.TemplateVersion, r.GovernanceMode},
		[]string{"app-delivery", "1.0", "2f0c1b9e8d7a46c3b5a4e3d2c1b0a998", "v2", GovernanceBuildInServiceMesh})
	eq(t, "config groups", r.ConfigGroups, []string{"common"})
	eq(t, "plugins", r.Plugins, []string(nil))
	eq(t, "images", r.Images, []ImageReport{{[]string{dbImage}, ComponentImagesFile}, {[]string{webImage}, ComponentImagesFile}})
	eq(t, "problems", r.Problems, []string{})
	eq(t, "notes", r.Notes, []string{})
	eq(t, "components", r.Components, []ComponentReport{
		{
			Cname: "web", ServiceKey: "6f0c2a1e9b8d4c7fa1b2c3d4e5f60718", ShareImage: webImage, ImageFound: true,
			ExtendMethod: StatelessMultiple, Memory: 512, CPU: 250,
			ServiceName: "web-80", Image: "registry.cn-hangzhou.aliyuncs.com/goodrain/nginx:alpine", Replicas: 1,
			Readiness: &ProbeReport{Scheme: "tcp", Port: 80},
			Ports:     []PortReport{{Port: 80, Protocol: "http", Alias: "WEB80", Outer: true}},
			Env:       2, ConnectInfo: 0, Dependencies: []string{"db"},
			Volumes: []VolumeReport{
				{Name: "data", Path: "/usr/share/nginx/html", Type: VolumeShareFile, Capacity: 1, AccessMode: "RWX"},
				{Name: "nginxconf", Path: "/etc/nginx/conf.d/default.conf", Type: VolumeConfigFile, Size: 72},
			},
		},
		{
			Cname: "db", ServiceKey: "0a1b2c3d4e5f60718293a4b5c6d7e8f9", ShareImage: dbImage, ImageFound: true,
			ExtendMethod: StateSingleton, Memory: 1024, CPU: 500,
			ServiceName: "db-3306", Image: "mysql:8.0", Replicas: 1,
			Ports: []PortReport{{Port: 3306, Protocol: "mysql", Alias: "DB", Inner: true}},
			Env:   1, ConnectInfo: 3, Dependencies: []string{},
			Volumes: []VolumeReport{{Name: "mysqldata", Path: "/var/lib/mysql", Type: VolumeLocal, Capacity: 10, AccessMode: "RWO"}},
		},
	})

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"RAM package " + p + " (gzip tar, current layout, directory " + top + ")",
		"template      app-delivery 1.0 (group_key 2f0c1b9e8d7a46c3b5a4e3d2c1b0a998",
		"80/http WEB80 (outer)",
		"3306/mysql DB (inner)",
		"depends on    db",
		"share-file data at /usr/share/nginx/html (1 GiB, RWX)",
		"environment   1 variable, 3 connection variables",
		"reached as    web-80 (k8s_service_name)",
		"image         registry.cn-hangzhou.aliyuncs.com/goodrain/nginx:alpine\n",
		"readiness     tcp port 80\n",
		"readiness     -\n",
		"images (2)\n  " + dbImage + "\n  " + webImage,
		"problems: none",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back PackageReport
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, r) {
		t.Errorf("JSON round trip: %v\n%s", err, b)
	}
}

func TestInspectPackageLegacy(t *testing.T) {
	r, err := InspectPackage(context.Background(), writeTemp(t, "app-delivery-1.0.zip", legacyZip(t)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "format", r.Format, "zip")
	eq(t, "layout", r.Layout, LayoutLegacy52)
	eq(t, "images", r.Images, legacyImages())
	for _, c := range r.Components {
		if !c.ImageFound {
			t.Errorf("%s: image not found", c.Cname)
		}
	}
	eq(t, "problems", r.Problems, []string{})
}

// legacyImages are the images of legacyZip, and more, each in its own archive.
func legacyImages(more ...ImageReport) []ImageReport {
	return append([]ImageReport{
		{[]string{LegacySaveName(dbImage)}, "db/" + legacyFileName(dbImage)},
		{[]string{LegacySaveName(webImage)}, "web/" + legacyFileName(webImage)},
	}, more...)
}

func TestInspectPackageProblems(t *testing.T) {
	top := "my-plugin-1.0-ram"
	p := writeTemp(t, "x.tar.gz", gzipTar(t,
		dir(top+"/"),
		file(top+"/metadata.json", sampleBytes(t)),
		file(top+"/component-images.tar", imagesTar(t, 1, webImage)),
		symlink(top+"/link", "metadata.json"),
	))
	r, err := InspectPackage(context.Background(), p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Components[1].ImageFound || !r.Components[0].ImageFound {
		t.Errorf("image found: %v %v", r.Components[0].ImageFound, r.Components[1].ImageFound)
	}
	want := []string{
		`entry "my-plugin-1.0-ram/link" is a link`,
		`contains "plugin" and the template has no plugins`,
		`apps[1] (service_cname "db"): share_image ` + dbImage + ` is not in the package's images`,
	}
	if len(r.Problems) != len(want) {
		t.Fatalf("problems: %q", r.Problems)
	}
	for i, w := range want {
		if !strings.Contains(r.Problems[i], w) {
			t.Errorf("problem %d: %q, want %q", i, r.Problems[i], w)
		}
	}
}

func TestInspectPackageNotAPackage(t *testing.T) {
	bundleLike := gzipTar(t, dir("shop-1.0/"), file("shop-1.0/airpack.json", []byte(`{"formatVersion":1}`)), file("shop-1.0/images/images.tar", imagesTar(t, 1, "a:1")))
	for _, c := range []struct {
		name string
		path string
	}{
		{"directory", t.TempDir()},
		{"bundle", writeTemp(t, "shop-1.0.tar.gz", bundleLike)},
		{"plain tar", writeTemp(t, "x.tar", rawTar(t, dir("a/"), file("a/metadata.json", sampleBytes(t))))},
		{"no metadata", writeTemp(t, "x.tar.gz", gzipTar(t, dir("a/"), file("a/readme", []byte("hi"))))},
		{"text", writeTemp(t, "x.yaml", []byte("services: {}\n"))},
	} {
		if _, err := InspectPackage(context.Background(), c.path, ReadOptions{}); !errors.Is(err, ErrNotPackage) {
			t.Errorf("%s: %v, want ErrNotPackage", c.name, err)
		}
	}
	// A RAM package with a broken template is one: its error says what is wrong.
	doc := sampleDoc(t)
	set(t, doc, "apps.0.memory", "512")
	bad := writeTemp(t, "bad.tar.gz", gzipTar(t, dir("a/"), file("a/metadata.json", marshal(t, doc))))
	_, err := InspectPackage(context.Background(), bad, ReadOptions{})
	if err == nil || errors.Is(err, ErrNotPackage) || !strings.Contains(err.Error(), "apps[0].memory") {
		t.Errorf("bad metadata: %v", err)
	}
	// The size limit holds.
	_, err = InspectPackage(context.Background(), writeTemp(t, "p.tar.gz", currentPackage(t, "p")), ReadOptions{MaxSize: 4096})
	if err == nil || !strings.Contains(err.Error(), "size limit") && !strings.Contains(err.Error(), "max-size") {
		t.Errorf("size limit: %v", err)
	}
}

func TestInspectPackageLegacyPlugins(t *testing.T) {
	tpl := pluginTemplate(t, "app")
	r, err := InspectPackage(context.Background(), writeTemp(t, "app-1.0.zip", legacyPluginZip(t, tpl, nil)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "layout", r.Layout, LayoutLegacy52)
	eq(t, "plugins", r.Plugins, []string{"mesh"})
	eq(t, "images", r.Images, legacyImages())
	eq(t, "problems", r.Problems, []string{})
	for _, c := range r.Components {
		if !c.ImageFound {
			t.Errorf("%s: image not found", c.Cname)
		}
	}

	// Saved without a tag: found by its file name.
	untagged := rewriteManifest(t, imagesTar(t, 9, "x:1"), func(m []map[string]any) { m[0]["RepoTags"] = nil })
	r, err = InspectPackage(context.Background(), writeTemp(t, "app-1.0.zip", legacyPluginZip(t, tpl, untagged)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", r.Problems, []string{})

	// Missing.
	tpl.Plugins[0].ShareImage = "goodrain.me/plugins/other:2"
	r, err = InspectPackage(context.Background(), writeTemp(t, "app-1.0.zip", legacyPluginZip(t, pluginTemplate(t, "app"), nil)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", r.Problems, []string{})
	b := zipOf(t,
		file("app-1.0/metadata.json", marshal(t, tpl)),
		file("app-1.0/web/"+legacyFileName(webImage), imagesTar(t, 1, LegacySaveName(webImage))),
		file("app-1.0/db/"+legacyFileName(dbImage), imagesTar(t, 2, LegacySaveName(dbImage))),
		file("app-1.0/mesh/mesh--1.image.tar", imagesTar(t, 9, "mesh:1")),
	)
	r, err = InspectPackage(context.Background(), writeTemp(t, "app-1.0.zip", b), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", r.Problems, []string{`plugins[0] (plugin_name "mesh"): share_image goodrain.me/plugins/other:2 is in no plugin image archive`})
	eq(t, "images", r.Images, legacyImages(ImageReport{[]string{"mesh:1"}, "mesh/mesh--1.image.tar"}))
}

func TestInspectPackagePluginFileName(t *testing.T) {
	top := "app-delivery-1.0-ram"
	r, err := InspectPackage(context.Background(), writeTemp(t, "my-plugin.tar.gz", currentPackage(t, top)), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", r.Problems, []string{`the file name "my-plugin.tar.gz" contains "plugin" and the template has no plugins: uploaded under that name, the platform importer would skip every image tar in it; rename the file before uploading`})
}

// inspect reports the platform's name, length and path rules a template breaks (TemplateProblems).
func TestInspectPackagePlatformRules(t *testing.T) {
	doc := sampleDoc(t)
	set(t, doc, "apps.0.port_map_list.0.k8s_service_name", "Web_80")
	set(t, doc, "group_version", strings.Repeat("9", 33))
	top := "app-delivery-" + strings.Repeat("9", 33) + "-ram"
	p := writeTemp(t, "x.tar.gz", gzipTar(t,
		dir(top+"/"),
		file(top+"/metadata.json", marshal(t, doc)),
		file(top+"/component-images.tar", imagesTar(t, 1, webImage, dbImage)),
	))
	r, err := InspectPackage(context.Background(), p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"template: group_version is 33 characters, more than the 32 the platform stores (console RainbondCenterAppVersion.version): the install fails or cuts it; choose a shorter version (--version)",
		`apps[0] (service_cname "web"): k8s_service_name "Web_80" is not a DNS-1035 label (lower case letters, digits and '-', starting with a letter, at most 63 characters): the console renames the Service <service_alias>-<port>, and nothing reaches the component by "Web_80"`,
	}
	if !reflect.DeepEqual(r.Problems, want) {
		t.Errorf("problems:\n%q\nwant\n%q", r.Problems, want)
	}
}

// An image archive listing its images in manifest.json and in index.json, under names spelled
// differently (airpack-demo/web:1.0 and docker.io/airpack-demo/web:1.0): each image once, each
// name once.
func TestInspectPackageImagesOnce(t *testing.T) {
	manifest := `[{"Config":"c1","RepoTags":["airpack-demo/web:1.0","` + webImage + `"]},{"Config":"c2","RepoTags":["mysql:8.0","` + dbImage + `"]}]`
	desc := func(digest, name string) string {
		return `{"digest":"` + digest + `","annotations":{"io.containerd.image.name":"` + name + `","org.opencontainers.image.ref.name":"1.0"}}`
	}
	index := `{"schemaVersion":2,"manifests":[` + desc("sha256:1", "docker.io/airpack-demo/web:1.0") + "," + desc("sha256:1", webImage) + "," +
		desc("sha256:2", "docker.io/library/mysql:8.0") + "," + desc("sha256:2", dbImage) + "]}"
	top := "app-delivery-1.0-ram"
	p := writeTemp(t, "p.tar.gz", gzipTar(t,
		dir(top+"/"),
		file(top+"/metadata.json", sampleBytes(t)),
		file(top+"/component-images.tar", rawTar(t, file("index.json", []byte(index)), file("manifest.json", []byte(manifest)))),
	))
	r, err := InspectPackage(context.Background(), p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "images", r.Images, []ImageReport{
		{[]string{"airpack-demo/web:1.0", webImage}, ComponentImagesFile},
		{[]string{dbImage, "mysql:8.0"}, ComponentImagesFile},
	})
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if want := "images (2)\n  airpack-demo/web:1.0, " + webImage + "\n  " + dbImage + ", mysql:8.0\n"; !strings.Contains(text.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, text.String())
	}
}

// What the platform repairs or ignores is a note, apart from the problems; --json always has
// both lists. Each component shows what decides how it runs: the name others reach it by, its
// readiness probe, cmd, the image it was made from, replicas.
func TestInspectPackageNotesAndComponents(t *testing.T) {
	tpl, err := DecodeMetadata(sampleBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	web := &tpl.Apps[0]
	web.PortMapList = append(web.PortMapList, Port{PortAlias: "WEB8080", Protocol: "http", ContainerPort: 8080, K8sServiceName: "grc240e1-8080"})
	web.Probes[0] = Probe{Scheme: "http", Path: "healthz", IsUsed: true, Mode: "readiness"}
	web.Cmd = "nginx -g daemon off;"
	web.ExtendMethodMap.MinNode = Some(2)
	tpl.Apps[1].Probes = []Probe{{Scheme: "cmd", Cmd: "mysqladmin ping", IsUsed: true, Mode: "readiness"}, {Scheme: "tcp", Port: 1, IsUsed: true, Mode: "liveness"}}
	top := "app-delivery-1.0-ram"
	p := writeTemp(t, "p.tar.gz", gzipTar(t,
		dir(top+"/"),
		file(top+"/metadata.json", marshal(t, tpl)),
		file(top+"/component-images.tar", imagesTar(t, 1, webImage, dbImage)),
	))
	r, err := InspectPackage(context.Background(), p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "problems", r.Problems, []string{})
	eq(t, "notes", r.Notes, []string{`apps[0] (service_cname "web"): port_map_list[1]: k8s_service_name "grc240e1-8080" is ignored: the console gives every port the first port's, "web-80"`})
	c := r.Components[0]
	eq(t, "web", []any{c.ServiceName, c.Cmd, c.Replicas, *c.Readiness}, []any{"web-80", "nginx -g daemon off;", 2, ProbeReport{Scheme: "http", Port: 80, Path: "healthz"}})
	eq(t, "db readiness", *r.Components[1].Readiness, ProbeReport{Scheme: "cmd", Cmd: "mysqladmin ping"})

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"REPLICAS", "stateless_multiple  2 ", "250m",
		"cmd           nginx -g daemon off;\n",
		"readiness     http port 80 path /healthz\n",
		"readiness     cmd: mysqladmin ping\n",
		"problems: none\n",
		"notes (1): the platform repairs or ignores these\n  apps[0]",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"problems":[]`, `"notes":[`, `"serviceName":"web-80"`, `"replicas":2`, `"readiness":{"scheme":"http","port":80,"path":"healthz"}`, `"cmd":"nginx -g daemon off;"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
}
