package compose

import (
	"bytes"
	"sort"

	"go.yaml.in/yaml/v4"
)

// topLevelOrder is the order of the compose file's sections; anything else
// (x-* extensions) follows, sorted. Keys below the top level are sorted by
// the encoder, so the same model always gives the same bytes.
var topLevelOrder = []string{"name", "services", "networks", "volumes", "configs", "secrets", "models"}

func marshalModel(model map[string]any) ([]byte, error) {
	rank := map[string]int{}
	for i, k := range topLevelOrder {
		rank[k] = i
	}
	keys := sortedKeys(model)
	sort.SliceStable(keys, func(i, j int) bool {
		ri, oki := rank[keys[i]]
		rj, okj := rank[keys[j]]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return false
	})
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range keys {
		var v yaml.Node
		if err := v.Encode(model[k]); err != nil {
			return nil, err
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &v)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
