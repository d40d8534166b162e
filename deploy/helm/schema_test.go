package helm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// This file validates manifests against the real Kubernetes schemas, the way
// `kubeconform -strict` does, offline:
//
//   - Built-in kinds: the OpenAPI v3 documents the Kubernetes API server
//     publishes, as committed in the k8s.io/kubernetes module
//     (api/openapi-spec/v3/<group>__<version>_openapi.json), one document per
//     group/version. Their components.schemas become $defs, and each kind's
//     schema is found by its x-kubernetes-group-version-kind.
//   - Custom resources: the openAPIV3Schema of the CRDs that KEDA
//     (ScaledObject) and the Prometheus Operator (ServiceMonitor, PodMonitor)
//     install, from their module zips; their metadata is checked as the
//     API server's ObjectMeta.
//
// Strictness is made explicit, since OpenAPI leaves it open: every object
// schema with properties and neither additionalProperties nor
// x-kubernetes-preserve-unknown-fields rejects unknown fields (the API
// server would drop them silently, or reject them with fieldValidation
// Strict); x-kubernetes-int-or-string becomes integer|string; nullable adds
// null. Formats are annotations (not asserted), like kubeconform.

// Environment variables naming the module directories (go mod download
// -json ... | .Dir); scripts/chart-test.sh sets all three.
const (
	envK8sDir    = "NIGHTSHIFT_SCHEMA_K8S"    // k8s.io/kubernetes
	envKedaDir   = "NIGHTSHIFT_SCHEMA_KEDA"   // github.com/kedacore/keda/v2
	envPromOpDir = "NIGHTSHIFT_SCHEMA_PROMOP" // github.com/prometheus-operator/prometheus-operator
)

const objectMetaDef = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

// crdFiles are the CRDs whose kinds the chart renders, relative to their
// module directories.
var crdFiles = []struct{ env, path string }{
	{envKedaDir, "config/crd/bases/keda.sh_scaledobjects.yaml"},
	{envPromOpDir, "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
	{envPromOpDir, "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml"},
}

// schemaValidator validates manifests by apiVersion and kind.
type schemaValidator struct {
	k8sDir string

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	loaded   map[string]bool               // group/version documents added to the compiler
	gvk      map[string]string             // "apps/v1 StatefulSet" -> schema URL
	compiled map[string]*jsonschema.Schema // by schema URL
}

var (
	validatorOnce sync.Once
	validatorInst *schemaValidator
	validatorErr  error
)

// k8sValidator returns the shared validator, or skips the test (fails it
// with NIGHTSHIFT_CHART_TEST_STRICT=1) when the schema modules are not named.
func k8sValidator(t *testing.T) *schemaValidator {
	t.Helper()
	var missing []string
	for _, env := range []string{envK8sDir, envKedaDir, envPromOpDir} {
		if os.Getenv(env) == "" {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("schema validation needs %s (module directories from go mod download -json; scripts/chart-test.sh sets them)", strings.Join(missing, ", "))
		if os.Getenv(envStrict) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	validatorOnce.Do(func() { validatorInst, validatorErr = newSchemaValidator(os.Getenv(envK8sDir)) })
	if validatorErr != nil {
		t.Fatalf("load schemas: %v", validatorErr)
	}
	return validatorInst
}

func newSchemaValidator(k8sDir string) (*schemaValidator, error) {
	v := &schemaValidator{
		k8sDir:   k8sDir,
		compiler: jsonschema.NewCompiler(),
		loaded:   map[string]bool{},
		gvk:      map[string]string{},
		compiled: map[string]*jsonschema.Schema{},
	}
	v.compiler.DefaultDraft(jsonschema.Draft2020)
	if _, err := os.Stat(filepath.Join(k8sDir, "api", "openapi-spec", "v3")); err != nil {
		return nil, fmt.Errorf("%s=%s holds no api/openapi-spec/v3: %v", envK8sDir, k8sDir, err)
	}
	// The CRDs' metadata is ObjectMeta, from the core group's document.
	if err := v.loadGroupVersion("v1"); err != nil {
		return nil, err
	}
	for _, f := range crdFiles {
		if err := v.loadCRD(filepath.Join(os.Getenv(f.env), f.path)); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// gvDocURL is the URL a group/version document is added under (never
// fetched: every resource is added before compiling).
func gvDocURL(apiVersion string) string {
	return "https://k8s.schemas.invalid/" + apiVersion + ".json"
}

// openAPIFile maps "v1" to api__v1_openapi.json and "apps/v1" to
// apis__apps__v1_openapi.json.
func (v *schemaValidator) openAPIFile(apiVersion string) string {
	name := "api__v1_openapi.json"
	if group, version, ok := strings.Cut(apiVersion, "/"); ok {
		name = fmt.Sprintf("apis__%s__%s_openapi.json", group, version)
	}
	return filepath.Join(v.k8sDir, "api", "openapi-spec", "v3", name)
}

// loadGroupVersion adds one group/version's OpenAPI document to the
// compiler, made strict, and indexes its kinds.
func (v *schemaValidator) loadGroupVersion(apiVersion string) error {
	if v.loaded[apiVersion] {
		return nil
	}
	path := v.openAPIFile(apiVersion)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("no Kubernetes schema for apiVersion %q: %v", apiVersion, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	comps, _ := doc.(map[string]any)["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	if len(schemas) == 0 {
		return fmt.Errorf("%s: no components.schemas", path)
	}
	for name, s := range schemas {
		sch, ok := s.(map[string]any)
		if !ok {
			continue
		}
		strictify(sch)
		gvks, _ := sch["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			g, _ := g.(map[string]any)
			group, _ := g["group"].(string)
			version, _ := g["version"].(string)
			kind, _ := g["kind"].(string)
			av := version
			if group != "" {
				av = group + "/" + version
			}
			if av == apiVersion {
				v.gvk[av+" "+kind] = gvDocURL(apiVersion) + "#/$defs/" + name
			}
		}
	}
	url := gvDocURL(apiVersion)
	if err := v.compiler.AddResource(url, map[string]any{"$defs": schemas}); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	v.loaded[apiVersion] = true
	return nil
}

// loadCRD adds the openAPIV3Schema of every served version of a CRD.
func (v *schemaValidator) loadCRD(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("CRD: %v", err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	crd, _ := doc.(map[string]any)
	spec, _ := crd["spec"].(map[string]any)
	group, _ := spec["group"].(string)
	names, _ := spec["names"].(map[string]any)
	kind, _ := names["kind"].(string)
	versions, _ := spec["versions"].([]any)
	if group == "" || kind == "" || len(versions) == 0 {
		return fmt.Errorf("%s: not a CustomResourceDefinition with group, kind and versions", path)
	}
	for _, ver := range versions {
		ver, _ := ver.(map[string]any)
		name, _ := ver["name"].(string)
		served, _ := ver["served"].(bool)
		s, _ := ver["schema"].(map[string]any)
		root, _ := s["openAPIV3Schema"].(map[string]any)
		if !served || root == nil {
			continue
		}
		strictify(root)
		// The API server validates a custom resource's metadata as
		// ObjectMeta, whatever the CRD says (usually just type: object).
		if props, ok := root["properties"].(map[string]any); ok {
			props["metadata"] = map[string]any{"$ref": gvDocURL("v1") + "#/$defs/" + objectMetaDef}
		}
		apiVersion := group + "/" + name
		url := "https://crd.schemas.invalid/" + apiVersion + "/" + kind + ".json"
		if err := v.compiler.AddResource(url, root); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		v.gvk[apiVersion+" "+kind] = url
	}
	return nil
}

// strictify rewrites one OpenAPI schema (and every schema below it) in place
// into a strict JSON Schema 2020-12 one.
func strictify(s map[string]any) {
	if ref, ok := s["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/schemas/") {
		s["$ref"] = "#/$defs/" + strings.TrimPrefix(ref, "#/components/schemas/")
	}
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			if p, ok := p.(map[string]any); ok {
				strictify(p)
			}
		}
		if _, has := s["additionalProperties"]; !has && !preserve {
			s["additionalProperties"] = false
		}
	}
	if intOrString, _ := s["x-kubernetes-int-or-string"].(bool); intOrString {
		s["type"] = []any{"integer", "string"}
	}
	if nullable, _ := s["nullable"].(bool); nullable {
		if t, ok := s["type"].(string); ok {
			s["type"] = []any{t, "null"}
		}
	}
	for _, key := range []string{"additionalProperties", "items", "not"} {
		if sub, ok := s[key].(map[string]any); ok {
			strictify(sub)
		}
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := s[key].([]any); ok {
			for _, sub := range list {
				if sub, ok := sub.(map[string]any); ok {
					strictify(sub)
				}
			}
		}
	}
}

// schemaFor returns the compiled schema of an apiVersion and kind.
func (v *schemaValidator) schemaFor(apiVersion, kind string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := apiVersion + " " + kind
	if _, ok := v.gvk[key]; !ok {
		// A built-in group/version: load its document on first use.
		if err := v.loadGroupVersion(apiVersion); err != nil {
			return nil, err
		}
	}
	url, ok := v.gvk[key]
	if !ok {
		return nil, fmt.Errorf("no schema for apiVersion %q kind %q (not a Kubernetes %s kind, nor one of the CRDs loaded)", apiVersion, kind, apiVersion)
	}
	if sch := v.compiled[url]; sch != nil {
		return sch, nil
	}
	sch, err := v.compiler.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile schema of %s: %v", key, err)
	}
	v.compiled[url] = sch
	return sch, nil
}

// validateJSON validates one manifest given as JSON.
func (v *schemaValidator) validateJSON(js []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return fmt.Errorf("not an object")
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return fmt.Errorf("apiVersion and kind are required")
	}
	sch, err := v.schemaFor(apiVersion, kind)
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// validateYAML validates one manifest given as YAML.
func (v *schemaValidator) validateYAML(doc string) error {
	js, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return err
	}
	return v.validateJSON(js)
}
