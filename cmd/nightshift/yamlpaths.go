package main

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// The YAML documents the CLI reads (config files, job files) name their
// fields by dotted paths ("storage.s3_endpoint", "features[1].kind") in
// errors; these helpers find a path's line and a line's path.

// yamlField is one key (or sequence item) of a YAML document.
type yamlField struct {
	path  string
	line  int
	value *yaml.Node
	// flowItem marks a scalar item of a flow list ("hidden: [8, 16]"),
	// which shares its line with the list.
	flowItem bool
}

// yamlFieldList is a document's fields in document order.
type yamlFieldList []yamlField

// yamlFields lists the fields of a YAML document by their dotted paths
// ("optimizer.lr", "features[1].kind"), with the line of each key.
func yamlFields(data []byte) yamlFieldList {
	var out yamlFieldList
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + p
				}
				out = append(out, yamlField{path: p, line: k.Line, value: v})
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				flow := c.Kind == yaml.ScalarNode && c.Line == n.Line && n.Line != 0
				out = append(out, yamlField{path: p, line: c.Line, value: c, flowItem: flow})
				walk(c, p)
			}
		}
	}
	walk(&doc, "")
	return out
}

// fieldLines maps each line of a YAML document to the dotted path of the
// deepest field on it ("storage.s3_endpoint", "seeds[1]"); an item of a
// flow list is named by the list.
func fieldLines(data []byte) map[int]string {
	out := map[int]string{}
	for _, f := range yamlFields(data) {
		if f.flowItem {
			continue
		}
		out[f.line] = f.path
		out[f.value.Line] = f.path
	}
	return out
}
