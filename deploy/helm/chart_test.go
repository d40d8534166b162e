package helm

import (
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// chartCase is one set of values the chart is rendered with, and what the
// rendered cluster must then look like.
type chartCase struct {
	name   string
	values string
	want   want
}

// want is what a case's values ask for; the checks compare the manifests
// against it.
type want struct {
	coordinators    int
	tls             bool
	tokens          bool // an initial admin token is configured and mounted
	gossip          bool
	podDeletionCost bool
	serviceMonitor  bool
	pools           map[string]wantPool
	// Secrets the values name but the chart does not create (they exist in
	// the cluster): name -> keys the pods read.
	externalSecrets map[string][]string
}

type wantPool struct {
	replicas   int    // when not autoscaled
	autoscaler string // "", "keda" or "hpa"
	min, max   int    // when autoscaled
	drainSecs  int64
	graceSecs  int64
}

var chartCases = []chartCase{
	{
		name:   "defaults",
		values: ``,
		want: want{
			coordinators: 3, tokens: true, gossip: true, podDeletionCost: true,
			pools: map[string]wantPool{"default": {replicas: 2, drainSecs: 300, graceSecs: 330}},
		},
	},
	{
		name: "five coordinators, TLS, existing secrets, ServiceMonitor",
		values: `
coordinator:
  replicas: 5
  updatePartition: 2
  httpTLS: true
  persistence: {size: 50Gi, storageClass: fast-ssd}
  podLabels: {team: ml}
  extraConfig: {max_attempts: 6}
tls:
  enabled: true
  existingSecret: nightshift-coordinator-tls
  workerExistingSecret: nightshift-worker-tls
  serverName: nightshift
gossip: {existingSecret: nightshift-gossip-key}
tokens: {mode: required, existingSecret: nightshift-admin-token}
storage:
  s3Endpoint: s3.example.com:443
  s3Region: eu-west-1
  credentialsSecret: nightshift-s3
metrics:
  serviceMonitor: {enabled: true, labels: {release: prometheus}, scrapeTimeout: 10s}
`,
		want: want{
			coordinators: 5, tls: true, tokens: true, gossip: true, podDeletionCost: true, serviceMonitor: true,
			pools: map[string]wantPool{"default": {replicas: 2, drainSecs: 300, graceSecs: 330}},
			externalSecrets: map[string][]string{
				"nightshift-coordinator-tls": {"ca.crt", "tls.crt", "tls.key"},
				"nightshift-worker-tls":      {"ca.crt", "tls.crt", "tls.key"},
				"nightshift-gossip-key":      {"key"},
				"nightshift-admin-token":     {"token"},
				"nightshift-s3":              {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
			},
		},
	},
	{
		name: "two autoscaled pools, KEDA and HPA",
		values: `
autoscaling:
  prometheus:
    serverAddress: http://prometheus-operated.monitoring.svc:9090
    querySelector: namespace="ml"
pools:
  - name: cpu
    slots: 8
    labels: {tier: cpu}
    resources: {requests: {cpu: "8", memory: 16Gi}}
    autoscaling: {enabled: true, kind: keda, minReplicas: 0, maxReplicas: 20, pollingInterval: 15, cooldownPeriod: 600}
  - name: gpu
    slots: 1
    labels: {accelerator: a100}
    memoryBytes: 64GiB
    nodeSelector: {nvidia.com/gpu.present: "true"}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    resources: {limits: {nvidia.com/gpu: 1}}
    drainGrace: 15m
    autoscaling: {enabled: true, kind: hpa, minReplicas: 1, maxReplicas: 4}
`,
		want: want{
			coordinators: 3, tokens: true, gossip: true, podDeletionCost: true,
			pools: map[string]wantPool{
				"cpu": {autoscaler: "keda", min: 0, max: 20, drainSecs: 300, graceSecs: 330},
				"gpu": {autoscaler: "hpa", min: 1, max: 4, drainSecs: 900, graceSecs: 930},
			},
		},
	},
	{
		name: "fixed pools, explicit grace, no deletion cost, tokens off, gossip key given",
		values: `
worker: {podDeletionCost: false, tmpSizeLimit: 20Gi}
gossip: {key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
tokens: {mode: off}   # YAML 1.1: false, read as off
pools:
  - name: batch
    replicas: 7
    drainGrace: 1h30m
    terminationGracePeriodSeconds: 6000
    env: [{name: GOMAXPROCS, value: "4"}]
    extraConfig: {lease_wait: 5s}
  - name: small
    replicas: 0
    drainGrace: 45
    autoscaling: {enabled: false, kind: hpa}
`,
		want: want{
			coordinators: 3, gossip: true,
			pools: map[string]wantPool{
				"batch": {replicas: 7, drainSecs: 5400, graceSecs: 6000},
				"small": {replicas: 0, drainSecs: 45, graceSecs: 75},
			},
		},
	},
	{
		name: "one coordinator, no pools, gossip unencrypted",
		values: `
coordinator: {replicas: 1}
gossip: {enabled: false}
pools: []
`,
		want: want{coordinators: 1, tokens: true, podDeletionCost: true, pools: map[string]wantPool{}},
	},
}

// TestChart renders every case and checks each manifest against the
// Kubernetes schemas, the cluster's wiring and the case's values.
func TestChart(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			r := mustRender(t, c.values)
			t.Run("schemas", func(t *testing.T) {
				v := k8sValidator(t)
				for _, m := range r.Manifests {
					if err := v.validateJSON(m.JSON); err != nil {
						t.Errorf("%s does not match its schema: %v\n%s", m, err, numbered(string(m.YAML)))
					}
				}
			})
			t.Run("objects", func(t *testing.T) { checkObjects(t, r, c.want) })
			t.Run("coordinators", func(t *testing.T) { checkCoordinators(t, r, c.want) })
			t.Run("workers", func(t *testing.T) { checkWorkers(t, r, c.want) })
			t.Run("secrets", func(t *testing.T) { checkSecrets(t, r, c.want) })
			t.Run("notes", func(t *testing.T) { checkNotes(t, r, c.want) })
			t.Run("config check", func(t *testing.T) { checkConfigsWithBinary(t, r, c.want) })
		})
	}
}

// TestChartRefusesBadValues: values that would make a broken cluster fail
// the render with a message that says what to change.
func TestChartRefusesBadValues(t *testing.T) {
	cases := []struct {
		name, values, want string
		skipSchema         bool // as helm --skip-schema-validation: the templates' own checks
	}{
		{"even coordinators", `coordinator: {replicas: 4}`, "coordinator.replicas must be odd and at least 1 (1, 3, 5, ...), got 4", false},
		{"two coordinators", `coordinator: {replicas: 2}`, "coordinator.replicas must be odd", false},
		{"no coordinators (schema)", `coordinator: {replicas: 0}`, "at '/coordinator/replicas': minimum", false},
		{"no coordinators", `coordinator: {replicas: 0}`, "coordinator.replicas must be odd and at least 1", true},
		{"grace equal to the drain grace", `
pools: [{name: gpu, replicas: 1, drainGrace: 5m, terminationGracePeriodSeconds: 300}]`,
			"pools[gpu].terminationGracePeriodSeconds (300) must be greater than its drainGrace (5m = 300s)", false},
		{"grace below the drain grace", `
worker: {drainGrace: 10m}
pools: [{name: cpu, replicas: 1, terminationGracePeriodSeconds: 60}]`,
			"pools[cpu].terminationGracePeriodSeconds (60) must be greater than its drainGrace (10m = 600s)", false},
		{"grace below a drain grace in seconds", `pools: [{name: cpu, drainGrace: 90, terminationGracePeriodSeconds: 89}]`,
			"pools[cpu].terminationGracePeriodSeconds (89) must be greater than its drainGrace (90 = 90s)", false},
		{"drain grace in milliseconds (schema)", `pools: [{name: cpu, drainGrace: 500ms}]`, "at '/pools/0/drainGrace'", false},
		{"drain grace in milliseconds", `pools: [{name: cpu, drainGrace: 500ms}]`, `pools[cpu].drainGrace: "500ms" is not a duration of whole hours, minutes and seconds`, true},
		{"keda without a Prometheus", `pools: [{name: cpu, autoscaling: {enabled: true, kind: keda}}]`, "pools[cpu].autoscaling.kind keda needs autoscaling.prometheus.serverAddress", false},
		{"hpa from zero", `pools: [{name: cpu, autoscaling: {enabled: true, kind: hpa, minReplicas: 0}}]`, "an HPA needs minReplicas of at least 1", false},
		{"max below min", `pools: [{name: cpu, autoscaling: {enabled: true, kind: hpa, minReplicas: 5, maxReplicas: 2}}]`, "maxReplicas (2) is below minReplicas (5)", false},
		{"unknown autoscaler", `pools: [{name: cpu, autoscaling: {enabled: true, kind: vpa}}]`, `pools[cpu].autoscaling.kind must be keda or hpa, got "vpa"`, true},
		{"two pools of one name", `pools: [{name: cpu}, {name: cpu}]`, `the name "cpu" is used twice`, false},
		{"pool name not a DNS label (schema)", `pools: [{name: GPU_Pool}]`, "at '/pools/0/name'", false},
		{"pool name not a DNS label", `pools: [{name: GPU_Pool}]`, `pools[0].name must be a DNS label`, true},
		{"TLS without its secret", `tls: {enabled: true}`, "tls.enabled needs tls.existingSecret", false},
		{"HTTP TLS without TLS", `coordinator: {httpTLS: true}`, "coordinator.httpTLS needs tls.enabled", false},
		{"gossip key not base64", `gossip: {key: "not a key"}`, "gossip.key must be standard base64 of 16, 24 or 32 bytes", false},
		{"gossip key of 20 bytes", `gossip: {key: "MDEyMzQ1Njc4OTAxMjM0NTY3ODk="}`, "gossip.key must be standard base64 of 16, 24 or 32 bytes", false},
		{"unknown value (schema)", `coordinator: {replica: 3}`, "additional properties 'replica' not allowed", false},
		{"replicas as a string (schema)", `coordinator: {replicas: "3"}`, "at '/coordinator/replicas': got string, want integer", false},
		{"unknown tokens mode (schema)", `tokens: {mode: sometimes}`, "at '/tokens/mode'", false},
		{"unknown tokens mode", `tokens: {mode: sometimes}`, `tokens.mode must be auto, required or off, got "sometimes"`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := renderOpts(t, c.values, c.skipSchema)
			if err == nil {
				t.Fatalf("rendered; want a failure saying %q\nvalues:\n%s", c.want, c.values)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("failure does not say %q:\n%v", c.want, err)
			}
		})
	}
}

// TestChartLint runs helm lint's rules (Chart.yaml, values, templates) on
// the defaults and on the richest case; warnings fail too.
func TestChartLint(t *testing.T) {
	for _, c := range []chartCase{chartCases[0], chartCases[1], chartCases[2]} {
		res := lint.RunAll(chartDir, parseValues(t, c.values), namespace)
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: lint: %v", c.name, m)
			}
		}
	}
}
