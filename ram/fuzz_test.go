package ram

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The seed corpus under testdata/fuzz is made by TestWriteFuzzCorpus (run it with
// RAM_WRITE_FUZZ_CORPUS=1 after changing what it writes).

func FuzzDecodeMetadata(f *testing.F) {
	f.Add(sampleBytes(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		tpl, err := DecodeMetadata(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if !strings.HasPrefix(err.Error(), "metadata.json") {
				t.Fatalf("error does not name metadata.json: %v", err)
			}
			return
		}
		// What decodes re-encodes to the same template.
		out, err := json.Marshal(tpl)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := DecodeMetadata(out)
		if err != nil {
			t.Fatalf("decode of the re-encoded template: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(tpl, again) {
			t.Fatalf("round trip differs:\n%#v\n%#v", tpl, again)
		}
	})
}

func FuzzReadPackage(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkg := filepath.Join(t.TempDir(), "p.tar.gz")
		if err := os.WriteFile(pkg, b, 0o644); err != nil {
			t.Fatal(err)
		}
		work := t.TempDir()
		p, err := ReadPackage(context.Background(), pkg, ReadOptions{WorkDir: work, MaxSize: 4 << 20})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if !strings.HasPrefix(err.Error(), pkg) {
				t.Fatalf("error does not name the file: %v", err)
			}
			if tree := listTree(t, work); len(tree) != 0 {
				t.Fatalf("left behind after %v: %v", err, tree)
			}
			return
		}
		defer p.Remove()
		for _, file := range append(append([]string{p.ComponentImages, p.PluginImages}, mapValues(p.LegacyImages)...), mapValues(p.LegacyPluginImages)...) {
			if file != "" && !inside(p.Root, file) {
				t.Fatalf("%s is outside %s", file, p.Root)
			}
		}
		if !inside(work, p.Root) {
			t.Fatalf("root %s is outside %s", p.Root, work)
		}
		if p.Template == nil || p.Template.Validate() != nil {
			t.Fatalf("invalid template returned")
		}
	})
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestFuzzCorpusUpToDate checks the seed corpus in testdata/fuzz holds the seeds below;
// RAM_WRITE_FUZZ_CORPUS=1 rewrites it.
func TestFuzzCorpusUpToDate(t *testing.T) {
	rewrite := os.Getenv("RAM_WRITE_FUZZ_CORPUS") != ""
	write := func(fuzzer, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if !rewrite {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || string(got) != body {
				t.Errorf("seed %s/%s is missing or stale: run RAM_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpusUpToDate ./ram", fuzzer, name)
			}
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	sample := sampleBytes(t)
	write("FuzzDecodeMetadata", "sample", sample)
	mutate := func(path string, v any) []byte {
		doc := sampleDoc(t)
		set(t, doc, path, v)
		return marshal(t, doc)
	}
	write("FuzzDecodeMetadata", "wrong-type-port", mutate("apps.1.port_map_list.0.container_port", "80"))
	write("FuzzDecodeMetadata", "wrong-type-bool", mutate("apps.0.port_map_list.0.is_outer_service", "yes"))
	write("FuzzDecodeMetadata", "object-for-list", mutate("apps.0.probes", map[string]any{}))
	write("FuzzDecodeMetadata", "nulls", mutate("apps.0", map[string]any{"share_image": "a:1", "probes": nil, "memory": nil, "labels": map[string]any{"k": "v"}}))
	write("FuzzDecodeMetadata", "empty-apps", []byte(`{"group_name":"x","apps":[]}`))
	write("FuzzDecodeMetadata", "k8s-only", []byte(`{"apps":null,"k8s_resources":[{"name":"a","kind":"ConfigMap","content":""}],"plugins":[]}`))
	write("FuzzDecodeMetadata", "plugins-and-attrs", []byte(`{"apps":[{"share_image":"a:1","service_related_plugin_config":[{"attr":[{"k":1.5e3,"n":null,"l":[true]}]}]}],"plugins":[{"share_image":"p:1","config_groups":[{"options":[]}]}],"platform_plugin":{"inject_position":[]},"Annotations":{}}`))
	write("FuzzDecodeMetadata", "syntax-error", sample[:len(sample)/2])
	write("FuzzDecodeMetadata", "overflow", []byte(`{"apps":[{"share_image":"a","service_env_map_list":[{"container_port":1e10}],"memory":-0}],"ingress_stream_routes":[{"port":-1}]}`))

	images := imagesTar(t, 1, webImage, dbImage)
	valid := gzipTar(t, dir("app-delivery-1.0-ram/"), file("app-delivery-1.0-ram/metadata.json", sample), file("app-delivery-1.0-ram/component-images.tar", images))
	write("FuzzReadPackage", "valid", valid)
	write("FuzzReadPackage", "legacy-zip", legacyZip(t))
	write("FuzzReadPackage", "truncated", valid[:len(valid)/2])
	write("FuzzReadPackage", "flat", gzipTar(t, file("metadata.json", sample)))
	write("FuzzReadPackage", "dot-dot", gzipTar(t, file("app/../../evil.tar", []byte("x"))))
	write("FuzzReadPackage", "symlink", gzipTar(t, symlink("app/x", "/etc"), file("app/x/passwd", []byte("x"))))
	write("FuzzReadPackage", "missing-image", gzipTar(t, file("app/metadata.json", sample), file("app/component-images.tar", imagesTar(t, 1, webImage))))
	write("FuzzReadPackage", "plain-tar", rawTar(t, file("app/metadata.json", sample)))
	write("FuzzReadPackage", "not-an-archive", []byte("hello"))
	if rewrite {
		fmt.Println("fuzz corpus written")
	}
}
