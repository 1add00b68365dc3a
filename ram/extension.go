package ram

import (
	"encoding/json"
	"fmt"
)

// ExtensionKey is the Compose extension field that carries what a Compose file cannot express
// of a RAM template, so that RAM -> bundle -> RAM loses nothing:
//
//   - at the top level, the template's metadata without its apps (TemplateExtension);
//   - on each service, its component (ComponentExtension), with the original file_content of
//     config-file volumes only where the shipped file differs from it (see volumes.go).
//
// compose-go keeps x-* fields in types.Project.Extensions and types.ServiceConfig.Extensions,
// and airpack's bundle rewrite writes them back unchanged.
const ExtensionKey = "x-ram"

// TemplateExtension is t without apps, as a value for the top-level x-ram field.
func TemplateExtension(t *Template) (map[string]any, error) {
	c := *t
	c.Apps = nil
	m, err := toMap(c)
	if err != nil {
		return nil, err
	}
	delete(m, "apps")
	return m, nil
}

// ComponentExtension is c as a value for a service's x-ram field.
func ComponentExtension(c *Component) (map[string]any, error) { return toMap(*c) }

// TemplateFromExtension decodes a top-level x-ram value (as compose-go hands it over, any
// JSON-compatible value) with the same strict typing as metadata.json.
func TemplateFromExtension(v any) (*Template, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ExtensionKey, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%s: want an object", ExtensionKey)
	}
	m["apps"] = []any{}
	b, _ = json.Marshal(m)
	t, err := decodeTemplateNoValidate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ExtensionKey, err)
	}
	return t, nil
}

// ComponentFromExtension decodes a service's x-ram value.
func ComponentFromExtension(v any) (*Component, error) {
	b, err := json.Marshal(map[string]any{"apps": []any{v}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ExtensionKey, err)
	}
	t, err := decodeTemplateNoValidate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ExtensionKey, err)
	}
	return &t.Apps[0], nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// decodeTemplateNoValidate decodes like DecodeMetadata (strict types, paths in errors) but does
// not require components: extension fragments are parts of a template.
func decodeTemplateNoValidate(b []byte) (*Template, error) {
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, describeJSONError(b, err)
	}
	t.Normalize()
	return &t, nil
}
