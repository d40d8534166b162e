package helm

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

// This file renders the chart the way `helm install` does, in process:
// load the chart directory, coalesce the user's values over values.yaml,
// validate them against values.schema.json, render every template with
// Helm's engine (no cluster: `lookup` finds nothing, as in `helm template`),
// and split the output into one manifest per YAML document.

const (
	chartDir    = "nightshift"
	releaseName = "nightshift"
	namespace   = "ml"
)

// manifest is one rendered YAML document.
type manifest struct {
	Source string         // the template it came from, e.g. nightshift/templates/secrets.yaml
	Index  int            // its position in that template's output
	YAML   []byte         // the document as rendered
	JSON   []byte         // the same, as JSON (duplicate keys are an error)
	Obj    map[string]any // decoded JSON
}

func (m manifest) Kind() string       { s, _ := m.Obj["kind"].(string); return s }
func (m manifest) APIVersion() string { s, _ := m.Obj["apiVersion"].(string); return s }
func (m manifest) Name() string {
	md, _ := m.Obj["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}
func (m manifest) String() string {
	return fmt.Sprintf("%s %s/%s (%s #%d)", m.APIVersion(), m.Kind(), m.Name(), m.Source, m.Index)
}

// rendered is the output of one render: the manifests and NOTES.txt.
type rendered struct {
	Manifests []manifest
	Notes     string
}

// byKind returns the manifests of one kind, in a stable order.
func (r rendered) byKind(kind string) []manifest {
	var out []manifest
	for _, m := range r.Manifests {
		if m.Kind() == kind {
			out = append(out, m)
		}
	}
	return out
}

// get returns the manifest of a kind and name, failing the test without it.
func (r rendered) get(t *testing.T, kind, name string) manifest {
	t.Helper()
	for _, m := range r.Manifests {
		if m.Kind() == kind && m.Name() == name {
			return m
		}
	}
	t.Fatalf("no %s named %q rendered", kind, name)
	return manifest{}
}

func (r rendered) find(kind, name string) (manifest, bool) {
	for _, m := range r.Manifests {
		if m.Kind() == kind && m.Name() == name {
			return m, true
		}
	}
	return manifest{}, false
}

var (
	loadedChart *chart.Chart
	docSplit    = regexp.MustCompile(`(?m)^---[ \t]*$`)
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	if loadedChart == nil {
		ch, err := loader.LoadDir(chartDir)
		if err != nil {
			t.Fatalf("load chart %s: %v", chartDir, err)
		}
		loadedChart = ch
	}
	return loadedChart
}

// parseValues reads a YAML values document (as given with helm -f).
func parseValues(t *testing.T, valuesYAML string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(valuesYAML), &vals); err != nil {
		t.Fatalf("values: %v\n%s", err, valuesYAML)
	}
	return vals
}

// render renders the chart with the given values (YAML). An error is a
// failed render: a values.schema.json violation or a template's `fail`.
func render(t *testing.T, valuesYAML string) (rendered, error) {
	t.Helper()
	return renderOpts(t, valuesYAML, false)
}

// renderOpts renders like helm --skip-schema-validation when skipSchema:
// the templates' own checks must hold without values.schema.json.
func renderOpts(t *testing.T, valuesYAML string, skipSchema bool) (rendered, error) {
	t.Helper()
	ch := loadChart(t)
	opts := common.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := util.ToRenderValuesWithSchemaValidation(ch, parseValues(t, valuesYAML), opts, common.DefaultCapabilities, skipSchema)
	if err != nil {
		return rendered{}, err
	}
	out, err := engine.Engine{}.RenderWithContext(context.Background(), ch, top)
	if err != nil {
		return rendered{}, err
	}
	var r rendered
	files := make([]string, 0, len(out))
	for name := range out {
		files = append(files, name)
	}
	sort.Strings(files)
	for _, name := range files {
		text := out[name]
		base := filepath.Base(name)
		switch {
		case base == "NOTES.txt":
			r.Notes = text
			continue
		case strings.HasPrefix(base, "_"):
			if strings.TrimSpace(text) != "" {
				t.Errorf("%s: a partial rendered output: %q", name, text)
			}
			continue
		case !strings.HasSuffix(base, ".yaml"):
			t.Errorf("%s: unexpected template file (want *.yaml, _*.tpl or NOTES.txt)", name)
			continue
		}
		for i, doc := range docSplit.Split(text, -1) {
			if isBlankYAML(doc) {
				continue
			}
			m := manifest{Source: name, Index: i, YAML: []byte(doc)}
			js, err := yaml.YAMLToJSONStrict(m.YAML)
			if err != nil {
				return rendered{}, fmt.Errorf("%s #%d is not valid YAML: %v\n%s", name, i, err, numbered(doc))
			}
			m.JSON = js
			if err := yaml.Unmarshal(js, &m.Obj); err != nil || m.Obj == nil {
				return rendered{}, fmt.Errorf("%s #%d is not a YAML mapping: %v\n%s", name, i, err, numbered(doc))
			}
			r.Manifests = append(r.Manifests, m)
		}
	}
	return r, nil
}

// mustRender renders and fails the test on an error.
func mustRender(t *testing.T, valuesYAML string) rendered {
	t.Helper()
	r, err := render(t, valuesYAML)
	if err != nil {
		t.Fatalf("render failed: %v\nvalues:\n%s", err, valuesYAML)
	}
	return r
}

// isBlankYAML reports whether a document holds only comments and blanks.
func isBlankYAML(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// numbered prefixes every line with its number, for error messages.
func numbered(doc string) string {
	var b strings.Builder
	for i, line := range strings.Split(doc, "\n") {
		fmt.Fprintf(&b, "%4d  %s\n", i+1, line)
	}
	return b.String()
}
