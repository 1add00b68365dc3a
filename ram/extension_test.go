package ram

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestExtensionRoundTrip(t *testing.T) {
	b, err := os.ReadFile("testdata/example-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := DecodeMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	top, err := TemplateExtension(tpl)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := top["apps"]; ok {
		t.Fatal("template extension carries apps")
	}
	back, err := TemplateFromExtension(top)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tpl.Apps {
		ext, err := ComponentExtension(&tpl.Apps[i])
		if err != nil {
			t.Fatal(err)
		}
		c, err := ComponentFromExtension(ext)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*c, tpl.Apps[i]) {
			t.Errorf("component %d changed through its extension", i)
		}
		back.Apps = append(back.Apps, *c)
	}
	if !reflect.DeepEqual(back, tpl) {
		t.Error("template changed through its extensions")
	}
	if _, err := ComponentFromExtension(map[string]any{"memory": "lots"}); err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf("wrong type in an extension: %v", err)
	}
}
