package helm

import (
	"strings"
	"testing"
)

// The validator must catch what kubeconform -strict catches: these manifests
// are each wrong in one way, and each must fail, naming the problem.
func TestValidatorRejectsBrokenManifests(t *testing.T) {
	v := k8sValidator(t)
	good := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ok
spec:
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      containers:
        - name: c
          image: busybox
          ports:
            - containerPort: 80
          readinessProbe:
            httpGet: {path: /, port: http}
`
	if err := v.validateYAML(good); err != nil {
		t.Fatalf("a valid Deployment was rejected: %v", err)
	}
	cases := []struct {
		name, doc, want string
	}{
		{"unknown field in a container", strings.Replace(good, "image: busybox", "image: busybox\n          imagePolicy: Always", 1), "imagePolicy"},
		{"unknown field at the top of spec", strings.Replace(good, "spec:\n  selector", "spec:\n  replica: 3\n  selector", 1), "replica"},
		{"unknown field in metadata", strings.Replace(good, "  name: ok", "  name: ok\n  label: {a: b}", 1), "label"},
		{"string where an integer belongs", strings.Replace(good, "containerPort: 80", `containerPort: "80"`, 1), "containerPort"},
		{"integer where a string belongs", strings.Replace(good, "image: busybox", "image: 42", 1), "image"},
		{"missing required field", strings.Replace(good, "        - name: c\n          image", "        - image", 1), "name"},
		{"string where a boolean belongs", strings.Replace(good, "    spec:\n      containers", "    spec:\n      automountServiceAccountToken: \"false\"\n      containers", 1), "automountServiceAccountToken"},
		{"wrong apiVersion", strings.Replace(good, "apps/v1", "apps/v2", 1), "apps/v2"},
		{"a list where an object belongs", strings.Replace(good, "matchLabels: {app: x}", "matchLabels: [app]", 1), "matchLabels"},
		{"unknown field in a Service port", `apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  ports:
    - port: 80
      targetport: 8080
`, "targetport"},
		{"unknown field in a ScaledObject trigger", `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so}
spec:
  scaleTargetRef: {name: d}
  triggers:
    - type: prometheus
      metricType: AverageValue
      metdata: {query: up}
`, "metdata"},
		{"string where an integer belongs in a ScaledObject", `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so}
spec:
  scaleTargetRef: {name: d}
  maxReplicaCount: "10"
  triggers:
    - type: prometheus
      metadata: {query: up}
`, "maxReplicaCount"},
		{"unknown metadata field in a ServiceMonitor", `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: sm, labls: {a: b}}
spec:
  selector: {}
  endpoints:
    - port: http
`, "labls"},
		{"unknown field in a ServiceMonitor endpoint", `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: sm}
spec:
  selector: {}
  endpoints:
    - port: http
      intervall: 30s
`, "intervall"},
		{"int-or-string given a list", strings.Replace(good, "port: http}", "port: [http]}", 1), "port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.validateYAML(c.doc)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.doc)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not name %q: %v", c.want, err)
			}
		})
	}
	// And the valid variants of the CRD kinds pass, so the failures above
	// come from the broken field and not from the schema itself.
	for _, doc := range []string{`apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so, labels: {a: b}}
spec:
  scaleTargetRef: {name: d}
  maxReplicaCount: 10
  triggers:
    - type: prometheus
      metricType: AverageValue
      metadata: {query: up, threshold: "1", serverAddress: "http://p:9090"}
`, `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: sm}
spec:
  selector: {}
  endpoints:
    - port: http
      interval: 30s
`} {
		if err := v.validateYAML(doc); err != nil {
			t.Errorf("a valid custom resource was rejected: %v\n%s", err, doc)
		}
	}
}
