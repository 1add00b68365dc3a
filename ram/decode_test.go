package ram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// jsonType names the JSON type of a generic value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// sameShape reports every key of want missing from got or of another JSON type. A null in want
// matches anything present: airpack writes [] where upstream writes null.
func sameShape(path string, want, got any) []string {
	if want == nil {
		return nil
	}
	if jsonType(want) != jsonType(got) {
		return []string{fmt.Sprintf("%s: %s in the sample, %s re-encoded", path, jsonType(want), jsonType(got))}
	}
	var bad []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				bad = append(bad, path+"."+k+": missing")
				continue
			}
			bad = append(bad, sameShape(path+"."+k, wv, gv)...)
		}
	case []any:
		g := got.([]any)
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %d elements in the sample, %d re-encoded", path, len(w), len(g))}
		}
		for i := range w {
			bad = append(bad, sameShape(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
	}
	return bad
}

func TestDecodeSampleReencodes(t *testing.T) {
	in := sampleBytes(t)
	tpl, err := DecodeMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Apps) != 2 || tpl.Apps[1].ServiceCname != "db" || tpl.Apps[0].PortMapList[0].ContainerPort != 80 {
		t.Fatalf("decoded %+v", tpl)
	}
	if got := tpl.Apps[0].ServiceVolumeMapList[1].FileContent; !strings.Contains(got, "proxy_pass") {
		t.Errorf("config file content %q", got)
	}
	if tpl.FindComponent(tpl.Apps[0].DepServiceMapList[0].DepServiceKey) != &tpl.Apps[1] {
		t.Errorf("dependency of web does not resolve to db")
	}
	if tpl.FindComponent(tpl.Apps[1].ServiceKey) != &tpl.Apps[1] {
		t.Errorf("a bare service_key does not resolve")
	}
	out, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	json.Unmarshal(in, &want)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for _, b := range sameShape("", want, got) {
		t.Error(b)
	}
	// The sample's nulls (report, component_monitors, ...) are lists: written as [].
	if bytes.Contains(out, []byte("null")) {
		t.Errorf("re-encoded sample holds a null: %s", out)
	}

	// Round trip: decode(encode(decode(x))) == decode(x).
	again, err := DecodeMetadata(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tpl, again) {
		t.Errorf("round trip differs:\n%+v\n%+v", tpl, again)
	}
}

// TestEncodeAlwaysWritesKeys: a template that sets almost nothing still gets every key that is
// not omitempty, with the right type and the defaults, and no null anywhere.
func TestEncodeAlwaysWritesKeys(t *testing.T) {
	tpl := &Template{
		GroupName: "demo", GroupVersion: "1",
		Apps:              []Component{{ShareImage: "nginx:alpine", PluginConfigs: []PluginConfig{{}}}},
		AppConfigGroups:   []AppConfigGroup{{Name: "g"}},
		IngressHTTPRoutes: []IngressHTTPRoute{{}},
	}
	before := fmt.Sprintf("%#v", *tpl)
	out, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%#v", *tpl) != before {
		t.Errorf("MarshalJSON modified the template")
	}
	if bytes.Contains(out, []byte("null")) {
		t.Errorf("encoded template holds a null: %s", out)
	}
	var doc map[string]any
	json.Unmarshal(out, &doc)
	for k, want := range map[string]string{"group_key": "string", "template_version": "string", "apps": "list", "governance_mode": "string"} {
		if got := jsonType(doc[k]); got != want {
			t.Errorf("%s: %s, want %s", k, got, want)
		}
	}
	for _, k := range []string{"plugins", "k8s_resources", "annotations", "helm_chart", "ingress_stream_routes"} {
		if _, ok := doc[k]; ok {
			t.Errorf("omitempty key %s written", k)
		}
	}
	if doc["template_version"] != "v2" || doc["governance_mode"] != "BUILD_IN_SERVICE_MESH" {
		t.Errorf("defaults: %v %v", doc["template_version"], doc["governance_mode"])
	}
	app := doc["apps"].([]any)[0].(map[string]any)
	lists := []string{"probes", "mnt_relation_list", "dep_service_map_list", "service_connect_info_map_list",
		"service_volume_map_list", "port_map_list", "service_env_map_list", "report", "component_monitors",
		"component_graphs", "component_k8s_attributes"}
	for _, k := range lists {
		if got := jsonType(app[k]); got != "list" {
			t.Errorf("apps[0].%s: %s, want list", k, got)
		}
	}
	// memory and cpu may be absent, which the platform reads differently from 0: an absent key
	// stays absent (resources_test.go).
	for _, k := range []string{"memory", "cpu"} {
		if _, ok := app[k]; ok {
			t.Errorf("apps[0].%s written, though absent", k)
		}
	}
	for k, want := range map[string]string{"service_image": "object",
		"extend_method_map": "object", "endpoints": "object", "service_share_uuid": "string", "share_type": "string",
		"arch": "string", "cmd": "string", "service_cname": "string"} {
		if got := jsonType(app[k]); got != want {
			t.Errorf("apps[0].%s: %s, want %s", k, got, want)
		}
	}
	if app["arch"] != "amd64" {
		t.Errorf("arch %v", app["arch"])
	}
	if _, ok := app["labels"]; ok {
		t.Errorf("empty labels written")
	}
	if got := jsonType(app["service_related_plugin_config"].([]any)[0].(map[string]any)["attr"]); got != "list" {
		t.Errorf("attr: %s", got)
	}
	g := doc["app_config_groups"].([]any)[0].(map[string]any)
	if jsonType(g["config_items"]) != "object" || jsonType(g["component_keys"]) != "list" {
		t.Errorf("app config group: %v", g)
	}
	r := doc["ingress_http_routes"].([]any)[0].(map[string]any)
	for _, k := range []string{"cookies", "headers", "proxy_header"} {
		if jsonType(r[k]) != "object" {
			t.Errorf("ingress route %s: %v", k, r[k])
		}
	}
}

func TestDecodeTypeErrors(t *testing.T) {
	tests := []struct {
		name  string
		path  string // dotted, for set; "" replaces the whole document
		value any
		raw   string // when set, the whole document
		want  string
	}{
		{name: "string for int in a nested list", path: "apps.1.port_map_list.0.container_port", value: "80",
			want: `metadata.json: apps[1].port_map_list[0].container_port: want a number, got string "80"`},
		{name: "string for bool", path: "apps.0.port_map_list.0.is_outer_service", value: "true",
			want: `metadata.json: apps[0].port_map_list[0].is_outer_service: want true or false, got string "true"`},
		{name: "bool for string", path: "apps.1.share_image", value: true,
			want: `metadata.json: apps[1].share_image: want a string, got boolean true`},
		{name: "object for list", path: "apps.0.probes", value: map[string]any{"port": 80},
			want: `metadata.json: apps[0].probes: want a list, got an object`},
		{name: "list for object", path: "apps.0.extend_method_map", value: []any{1},
			want: `metadata.json: apps[0].extend_method_map: want an object, got a list`},
		{name: "string for list at top", path: "apps", value: "web,db",
			want: `metadata.json: apps: want a list, got string "web,db"`},
		{name: "fraction for int", path: "apps.0.memory", value: 1.5,
			want: `metadata.json: apps[0].memory: want an integer, got number 1.5`},
		{name: "int32 overflow", path: "apps.1.service_connect_info_map_list.2.container_port", value: 3000000000,
			want: `metadata.json: apps[1].service_connect_info_map_list[2].container_port: want an integer from -2147483648 to 2147483647, got number 3000000000`},
		{name: "negative uint32", path: "ingress_http_routes.0.port", value: -1,
			want: `metadata.json: ingress_http_routes[0].port: want an integer from 0 to 4294967295, got number -1`},
		{name: "map value", path: "annotations.describe", value: 1,
			want: `metadata.json: annotations.describe: want a string, got number 1`},
		{name: "odd map key", path: "app_config_groups.0.config_items", value: map[string]any{"a.b c": false},
			want: `metadata.json: app_config_groups[0].config_items["a.b c"]: want a string, got boolean false`},
		{name: "deep list of lists", path: "apps.0.service_volume_map_list.1.mode", value: "0644",
			want: `metadata.json: apps[0].service_volume_map_list[1].mode: want a number, got string "0644"`},
		{name: "number for object", path: "apps.0.service_image", value: 0,
			want: `metadata.json: apps[0].service_image: want an object, got number 0`},
		{name: "plugin config attr", path: "apps.0.service_related_plugin_config", value: []any{map[string]any{"attr": "x"}},
			want: `metadata.json: apps[0].service_related_plugin_config[0].attr: want a list, got string "x"`},
		{name: "key in another case", path: "apps.0.MEMORY", value: "512",
			want: `metadata.json: apps[0].MEMORY: want a number, got string "512"`},
		{name: "whole document a list", raw: `[{"apps":[]}]`,
			want: `metadata.json: want an object, got a list`},
		{name: "syntax error", raw: "{\n  \"apps\": [\n    {,}\n  ]\n}",
			want: `metadata.json: not valid JSON: invalid character ',' looking for beginning of object key string (line 3, column 6)`},
		{name: "truncated", raw: `{"apps": [`,
			want: `metadata.json: not valid JSON: unexpected end of JSON input (line 1, column 10)`},
		{name: "empty file", raw: " \n",
			want: `metadata.json: the file is empty: want a JSON object`},
		{name: "byte order mark", raw: "\ufeff{}",
			want: `metadata.json: the file starts with a UTF-8 byte order mark`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.raw)
			if tt.raw == "" {
				doc := sampleDoc(t)
				set(t, doc, tt.path, tt.value)
				b = marshal(t, doc)
			}
			tpl, err := DecodeMetadata(b)
			if err == nil {
				t.Fatalf("decoded %+v", tpl)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var me *MetadataError
			if !errors.As(err, &me) {
				t.Errorf("error is %T, want *MetadataError", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			// The importer, like encoding/json, rejects it too.
			var probe Template
			if json.Unmarshal(b, &probe) == nil {
				t.Errorf("encoding/json accepts what DecodeMetadata refused")
			}
		})
	}
}

func TestDecodeNullIsZero(t *testing.T) {
	doc := sampleDoc(t)
	for _, p := range []string{"apps.0.probes", "apps.0.memory", "apps.0.service_image", "apps.0.port_map_list.0.is_outer_service",
		"apps.1.service_env_map_list", "annotations", "governance_mode", "template_version", "apps.0.arch",
		"apps.0.service_volume_map_list.1.mode", "app_config_groups.0.config_items", "ingress_http_routes.0.port"} {
		set(t, doc, p, nil)
	}
	tpl, err := DecodeMetadata(marshal(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	a := tpl.Apps[0]
	if a.Probes == nil || len(a.Probes) != 0 || a.Memory.Int() != 0 || a.ServiceImage != (ServiceImage{}) || a.PortMapList[0].IsOuterService {
		t.Errorf("nulls not zero: %+v", a)
	}
	if tpl.Apps[1].ServiceEnvMapList == nil || tpl.Annotations != nil || tpl.AppConfigGroups[0].ConfigItems == nil {
		t.Errorf("nulls not normalized: %+v", tpl)
	}
	if tpl.GovernanceMode != DefaultGovernanceMode || tpl.TemplateVersion != "v2" || a.Arch != "amd64" {
		t.Errorf("defaults not filled: %q %q %q", tpl.GovernanceMode, tpl.TemplateVersion, a.Arch)
	}
}

func TestDecodeValidation(t *testing.T) {
	k8sOnly := `{"group_name":"x","apps":[],"k8s_resources":[{"name":"cm","kind":"ConfigMap","content":"a: b"}]}`
	if _, err := DecodeMetadata([]byte(k8sOnly)); err != nil {
		t.Errorf("a template of Kubernetes resources only: %v", err)
	}
	tests := []struct {
		name string
		doc  func(map[string]any)
		raw  string
		want string
	}{
		{name: "apps empty", raw: `{"group_name":"x","apps":[]}`, want: "metadata.json: apps is empty: the template has no components"},
		{name: "apps missing", raw: `{"group_name":"x"}`, want: "metadata.json: apps is empty: the template has no components"},
		{name: "apps null", raw: `{"apps":null}`, want: "metadata.json: apps is empty: the template has no components"},
		{name: "share_image empty", doc: func(d map[string]any) { d["apps"].([]any)[1].(map[string]any)["share_image"] = "" },
			want: `metadata.json: apps[1] (service_cname "db"): share_image is empty`},
		{name: "share_image missing, no cname", doc: func(d map[string]any) {
			a := d["apps"].([]any)[0].(map[string]any)
			delete(a, "share_image")
			delete(a, "service_cname")
		}, want: `metadata.json: apps[0]: share_image is empty`},
		{name: "share_image not a reference", doc: func(d map[string]any) { d["apps"].([]any)[0].(map[string]any)["share_image"] = "Not An Image" },
			want: `metadata.json: apps[0] (service_cname "web"): share_image "Not An Image" is not an image reference`},
		{name: "service_key repeated", doc: func(d map[string]any) {
			apps := d["apps"].([]any)
			apps[1].(map[string]any)["service_key"] = apps[0].(map[string]any)["service_key"]
		}, want: `metadata.json: apps[1] (service_cname "db"): service_key "6f0c2a1e9b8d4c7fa1b2c3d4e5f60718" is also the service_key of apps[0] (service_cname "web"): each component needs its own`},
		{name: "plugin without share_image", doc: func(d map[string]any) {
			d["plugins"] = []any{map[string]any{"plugin_name": "mesh"}}
		}, want: `metadata.json: plugins[0] (plugin_name "mesh"): share_image is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.raw)
			if tt.doc != nil {
				doc := sampleDoc(t)
				tt.doc(doc)
				b = marshal(t, doc)
			}
			_, err := DecodeMetadata(b)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestUnknownKeysDropped(t *testing.T) {
	doc := sampleDoc(t)
	set(t, doc, "apps.0.some_future_key", map[string]any{"x": []any{1, "y"}})
	set(t, doc, "future_top", []any{})
	tpl, err := DecodeMetadata(marshal(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(tpl)
	if bytes.Contains(out, []byte("future")) {
		t.Errorf("unknown keys kept: %s", out)
	}
}

func TestStableID(t *testing.T) {
	a := StableID("project", "web")
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("StableID = %q, want 32 hex characters", a)
	}
	if a != StableID("project", "web") {
		t.Errorf("StableID is not stable")
	}
	for _, other := range [][]string{{"project", "db"}, {"projectweb"}, {"projec", "tweb"}, {"web", "project"}} {
		if StableID(other...) == a {
			t.Errorf("StableID(%q) collides with StableID(project, web)", other)
		}
	}
	if got := ShareUUID("k", "i"); got != "k+i" {
		t.Errorf("ShareUUID = %q", got)
	}
}

func TestLegacyNames(t *testing.T) {
	tests := []struct{ ref, save, file string }{
		{"goodrain.me/ns/abc:v1", "abc:v1", "abc--v1.image.tar"},
		{"goodrain.me/abc:v1", "abc:v1", "abc--v1.image.tar"},
		{"goodrain.me/a/b/c:v1", "b/c:v1", "c--v1.image.tar"},
		{"registry:5000/ns/abc", "abc:latest", "abc.image.tar"},
		{"ns/abc:2", "abc:2", "abc--2.image.tar"},
	}
	for _, tt := range tests {
		if got := LegacySaveName(tt.ref); got != tt.save {
			t.Errorf("LegacySaveName(%s) = %s, want %s", tt.ref, got, tt.save)
		}
		if got := legacyFileName(tt.ref); got != tt.file {
			t.Errorf("legacyFileName(%s) = %s, want %s", tt.ref, got, tt.file)
		}
	}
}
