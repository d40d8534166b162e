package helm

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// The semantic checks: what the schemas cannot see. Built-in kinds are
// decoded strictly into the k8s.io/api types; custom resources are read as
// maps.

const clusterDomain = "cluster.local"

func decode[T any](t *testing.T, m manifest) *T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict(m.JSON, &v); err != nil {
		t.Fatalf("%s: decode as %T: %v", m, v, err)
	}
	return &v
}

// podTemplate is a workload's pod template with where it came from.
type podTemplate struct {
	owner    manifest
	selector map[string]string
	spec     corev1.PodTemplateSpec
	claims   []string // volumeClaimTemplates' names
}

func podTemplates(t *testing.T, r rendered) []podTemplate {
	var out []podTemplate
	for _, m := range r.byKind("StatefulSet") {
		s := decode[appsv1.StatefulSet](t, m)
		var claims []string
		for _, c := range s.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		out = append(out, podTemplate{m, s.Spec.Selector.MatchLabels, s.Spec.Template, claims})
	}
	for _, m := range r.byKind("Deployment") {
		d := decode[appsv1.Deployment](t, m)
		out = append(out, podTemplate{m, d.Spec.Selector.MatchLabels, d.Spec.Template, nil})
	}
	return out
}

// checkObjects: names, labels, and every reference between objects resolves.
func checkObjects(t *testing.T, r rendered, w want) {
	seen := map[string]manifest{}
	secrets := map[string]map[string]bool{}
	configMaps := map[string]map[string]bool{}
	serviceAccounts := map[string]bool{}
	for _, m := range r.Manifests {
		key := m.Kind() + "/" + m.Name()
		if prev, dup := seen[key]; dup {
			t.Errorf("%s and %s have the same kind and name", m, prev)
		}
		seen[key] = m
		md, _ := m.Obj["metadata"].(map[string]any)
		if ns, _ := md["namespace"].(string); ns != namespace {
			t.Errorf("%s: namespace %q, want the release's %q", m, ns, namespace)
		}
		for _, msg := range validation.IsDNS1123Subdomain(m.Name()) {
			t.Errorf("%s: name: %s", m, msg)
		}
		if m.Kind() == "Service" {
			for _, msg := range validation.IsDNS1035Label(m.Name()) {
				t.Errorf("%s: a Service name must be a DNS-1035 label: %s", m, msg)
			}
		}
		lbls, _ := md["labels"].(map[string]any)
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if lbls[k] == nil {
				t.Errorf("%s: label %s missing", m, k)
			}
		}
		checkLabels(t, m.String()+" metadata.labels", lbls)
		switch m.Kind() {
		case "Secret":
			s := decode[corev1.Secret](t, m)
			secrets[s.Name] = map[string]bool{}
			for k, v := range s.Data {
				secrets[s.Name][k] = true
				if len(v) == 0 {
					t.Errorf("%s: key %s is empty", m, k)
				}
			}
		case "ConfigMap":
			c := decode[corev1.ConfigMap](t, m)
			configMaps[c.Name] = map[string]bool{}
			for k := range c.Data {
				configMaps[c.Name][k] = true
			}
		case "ServiceAccount":
			serviceAccounts[m.Name()] = true
		}
	}
	for name, keys := range w.externalSecrets {
		if _, ok := secrets[name]; ok {
			t.Errorf("Secret %s is named in the values as existing, but the chart renders it too", name)
		}
		secrets[name] = map[string]bool{}
		for _, k := range keys {
			secrets[name][k] = true
		}
	}

	pods := podTemplates(t, r)
	for _, p := range pods {
		where := p.owner.String()
		sel := labels.SelectorFromSet(p.selector)
		if len(p.selector) == 0 || !sel.Matches(labels.Set(p.spec.Labels)) {
			t.Errorf("%s: selector %v does not match its pod labels %v", where, p.selector, p.spec.Labels)
		}
		checkLabels(t, where+" pod labels", toAnyMap(p.spec.Labels))
		for _, other := range pods {
			if other.owner.Name() != p.owner.Name() && sel.Matches(labels.Set(other.spec.Labels)) {
				t.Errorf("%s: selector %v also selects the pods of %s", where, p.selector, other.owner)
			}
		}
		ps := p.spec.Spec
		if ps.ServiceAccountName == "" || !serviceAccounts[ps.ServiceAccountName] {
			t.Errorf("%s: serviceAccountName %q is not a rendered ServiceAccount", where, ps.ServiceAccountName)
		}
		if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot || ps.SecurityContext.RunAsUser == nil || *ps.SecurityContext.RunAsUser == 0 {
			t.Errorf("%s: pods must run as a numeric non-root user (the image has no user)", where)
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range ps.Volumes {
			volumes[v.Name] = v
			switch {
			case v.ConfigMap != nil:
				keys, ok := configMaps[v.ConfigMap.Name]
				if !ok {
					t.Errorf("%s: volume %s: ConfigMap %s is not rendered", where, v.Name, v.ConfigMap.Name)
				}
				for _, it := range v.ConfigMap.Items {
					if !keys[it.Key] {
						t.Errorf("%s: volume %s: ConfigMap %s has no key %s", where, v.Name, v.ConfigMap.Name, it.Key)
					}
				}
			case v.Secret != nil:
				keys, ok := secrets[v.Secret.SecretName]
				if !ok {
					t.Errorf("%s: volume %s: Secret %s is neither rendered nor named in the values as existing", where, v.Name, v.Secret.SecretName)
				}
				for _, it := range v.Secret.Items {
					if !keys[it.Key] {
						t.Errorf("%s: volume %s: Secret %s has no key %s", where, v.Name, v.Secret.SecretName, it.Key)
					}
				}
			}
		}
		if len(ps.Containers) != 1 {
			t.Errorf("%s: %d containers, want 1", where, len(ps.Containers))
			continue
		}
		c := ps.Containers[0]
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem ||
			c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
			t.Errorf("%s: container must have a read-only root file system and no privilege escalation", where)
		}
		if len(c.Command) == 0 || c.Command[0] != "/nightshift" {
			t.Errorf("%s: command %q, want the image's /nightshift", where, c.Command)
		}
		for _, vm := range c.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok && !slices.Contains(p.claims, vm.Name) {
				t.Errorf("%s: volumeMount %s has no volume", where, vm.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				if _, ok := secrets[e.SecretRef.Name]; !ok {
					t.Errorf("%s: envFrom Secret %s is neither rendered nor named as existing", where, e.SecretRef.Name)
				}
			}
		}
		ports := map[string]int32{}
		for _, cp := range c.Ports {
			ports[cp.Name] = cp.ContainerPort
		}
		for name, pr := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
			if pr != nil && pr.HTTPGet != nil && pr.HTTPGet.Port.StrVal != "" {
				if _, ok := ports[pr.HTTPGet.Port.StrVal]; !ok {
					t.Errorf("%s: %s probe names port %q, which the container does not have", where, name, pr.HTTPGet.Port.StrVal)
				}
			}
		}
		envs := map[string]string{}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				envs[e.Name] = e.ValueFrom.FieldRef.FieldPath
			}
		}
		for name, path := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace", "POD_IP": "status.podIP"} {
			if envs[name] != path {
				t.Errorf("%s: env %s must come from the downward API's %s (the config expands ${%s}), got %q", where, name, path, name, envs[name])
			}
		}
	}

	// Services select pods, and their named target ports exist there.
	for _, m := range r.byKind("Service") {
		s := decode[corev1.Service](t, m)
		var selected []podTemplate
		for _, p := range pods {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.spec.Labels)) {
				selected = append(selected, p)
			}
		}
		if len(selected) == 0 {
			t.Errorf("%s: selects no pods", m)
			continue
		}
		for _, sp := range s.Spec.Ports {
			for _, p := range selected {
				if !containerHasPort(p.spec.Spec.Containers[0], sp.TargetPort.StrVal, sp.TargetPort.IntVal, sp.Protocol) {
					t.Errorf("%s: port %s targets %v/%s, which %s's container lacks", m, sp.Name, sp.TargetPort.String(), sp.Protocol, p.owner)
				}
			}
		}
	}

	// RBAC holds together.
	for _, m := range r.byKind("RoleBinding") {
		b := decode[rbacv1.RoleBinding](t, m)
		if _, ok := r.find(b.RoleRef.Kind, b.RoleRef.Name); !ok {
			t.Errorf("%s: roleRef %s/%s is not rendered", m, b.RoleRef.Kind, b.RoleRef.Name)
		}
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && (!serviceAccounts[s.Name] || s.Namespace != namespace) {
				t.Errorf("%s: subject %s/%s is not a rendered ServiceAccount", m, s.Namespace, s.Name)
			}
		}
	}

	// The Prometheus Operator's monitors select what exists.
	if got := len(r.byKind("ServiceMonitor")) + len(r.byKind("PodMonitor")); w.serviceMonitor != (got == 2) {
		t.Errorf("ServiceMonitor and PodMonitor rendered: %d, want them: %v", got, w.serviceMonitor)
	}
	for _, m := range r.byKind("ServiceMonitor") {
		sel := labels.SelectorFromSet(toStringMap(dig(m.Obj, "spec", "selector", "matchLabels")))
		var hits []string
		for _, s := range r.byKind("Service") {
			if sel.Matches(labels.Set(toStringMap(dig(s.Obj, "metadata", "labels")))) {
				hits = append(hits, s.Name())
			}
		}
		if want := []string{releaseName + "-coordinator-headless"}; !slices.Equal(hits, want) {
			t.Errorf("%s selects Services %v, want %v (the headless one: not-ready coordinators are scraped too)", m, hits, want)
		}
		if port := dig(m.Obj, "spec", "endpoints", 0, "port"); port != "http" {
			t.Errorf("%s: endpoint port %v, want http", m, port)
		}
	}
	for _, m := range r.byKind("PodMonitor") {
		sel := labels.SelectorFromSet(toStringMap(dig(m.Obj, "spec", "selector", "matchLabels")))
		n := 0
		for _, p := range pods {
			if sel.Matches(labels.Set(p.spec.Labels)) {
				n++
				if p.owner.Kind() != "Deployment" {
					t.Errorf("%s selects %s", m, p.owner)
				}
				if !containerHasPort(p.spec.Spec.Containers[0], "http", 0, corev1.ProtocolTCP) {
					t.Errorf("%s: %s has no http port", m, p.owner)
				}
			}
		}
		if n != len(w.pools) {
			t.Errorf("%s selects %d pod templates, want the %d pools", m, n, len(w.pools))
		}
	}
}

func containerHasPort(c corev1.Container, name string, number int32, proto corev1.Protocol) bool {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range c.Ports {
		pp := p.Protocol
		if pp == "" {
			pp = corev1.ProtocolTCP
		}
		if pp == proto && ((name != "" && p.Name == name) || (name == "" && p.ContainerPort == number)) {
			return true
		}
	}
	return false
}

func checkLabels(t *testing.T, where string, m map[string]any) {
	t.Helper()
	for k, v := range m {
		for _, msg := range validation.IsQualifiedName(k) {
			t.Errorf("%s: label key %q: %s", where, k, msg)
		}
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s: label %s is %T, not a string", where, k, v)
			continue
		}
		for _, msg := range validation.IsValidLabelValue(s) {
			t.Errorf("%s: label %s=%q: %s", where, k, s, msg)
		}
	}
}

// configOf parses the YAML file a ConfigMap holds under key.
func configOf(t *testing.T, r rendered, name, key string) map[string]any {
	t.Helper()
	cm := decode[corev1.ConfigMap](t, r.get(t, "ConfigMap", name))
	text, ok := cm.Data[key]
	if !ok {
		t.Fatalf("ConfigMap %s has no %s", name, key)
	}
	cfg := map[string]any{}
	if err := yaml.UnmarshalStrict([]byte(text), &cfg); err != nil {
		t.Fatalf("ConfigMap %s: %s is not YAML: %v\n%s", name, key, err, numbered(text))
	}
	return cfg
}

func checkCoordinators(t *testing.T, r rendered, w want) {
	full := releaseName + "-coordinator"
	headless := full + "-headless"
	headlessHost := fmt.Sprintf("%s.%s.svc.%s", headless, namespace, clusterDomain)

	sts := decode[appsv1.StatefulSet](t, r.get(t, "StatefulSet", full))
	if n := len(r.byKind("StatefulSet")); n != 1 {
		t.Errorf("%d StatefulSets, want 1", n)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q, want Parallel (coordinators must start together to bootstrap)", sts.Spec.PodManagementPolicy)
	}
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != w.coordinators {
		t.Errorf("replicas %v, want %d", sts.Spec.Replicas, w.coordinators)
	}
	if sts.Spec.ServiceName != headless {
		t.Errorf("serviceName %q, want the headless Service %q", sts.Spec.ServiceName, headless)
	}
	if sts.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || sts.Spec.UpdateStrategy.RollingUpdate == nil || sts.Spec.UpdateStrategy.RollingUpdate.Partition == nil {
		t.Errorf("updateStrategy %+v, want RollingUpdate with a partition", sts.Spec.UpdateStrategy)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Fatalf("volumeClaimTemplates: want one named data")
	}
	ps := sts.Spec.Template.Spec
	if ps.TerminationGracePeriodSeconds == nil || *ps.TerminationGracePeriodSeconds != 30 {
		t.Errorf("terminationGracePeriodSeconds %v, want 30", ps.TerminationGracePeriodSeconds)
	}
	if ps.Affinity == nil || ps.Affinity.PodAntiAffinity == nil || len(ps.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
		ps.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("want the default soft pod anti-affinity by hostname, got %+v", ps.Affinity)
	}
	c := ps.Containers[0]
	port := map[string]int32{}
	for _, p := range c.Ports {
		port[p.Name] = p.ContainerPort
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want httpGet %s", name, path)
			return
		}
		got := p.HTTPGet.Port.IntVal
		if p.HTTPGet.Port.StrVal != "" {
			got = port[p.HTTPGet.Port.StrVal]
		}
		if p.HTTPGet.Path != path || got != 7103 {
			t.Errorf("%s probe: httpGet %s on %d, want %s on 7103", name, p.HTTPGet.Path, got, path)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("startup", c.StartupProbe, "/healthz")
	if c.StartupProbe != nil && int(c.StartupProbe.FailureThreshold)*int(c.StartupProbe.PeriodSeconds) < 120 {
		t.Errorf("startup probe allows %ds, want a generous one (>= 120s)", c.StartupProbe.FailureThreshold*c.StartupProbe.PeriodSeconds)
	}
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	if mounts["/data"] != "data" {
		t.Errorf("the data volume claim is not mounted at /data: %v", mounts)
	}

	// The services.
	hs := decode[corev1.Service](t, r.get(t, "Service", headless))
	if hs.Spec.ClusterIP != corev1.ClusterIPNone || !hs.Spec.PublishNotReadyAddresses {
		t.Errorf("headless Service: clusterIP %q publishNotReadyAddresses %v, want None and true", hs.Spec.ClusterIP, hs.Spec.PublishNotReadyAddresses)
	}
	if got, want := servicePorts(hs), "7100/TCP 7101/TCP 7102/TCP 7102/UDP 7103/TCP"; got != want {
		t.Errorf("headless Service ports %s, want %s", got, want)
	}
	cs := decode[corev1.Service](t, r.get(t, "Service", full))
	if cs.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Errorf("client Service must not be headless")
	}
	if got, want := servicePorts(cs), "7100/TCP 7103/TCP"; got != want {
		t.Errorf("client Service ports %s, want %s", got, want)
	}

	// The PodDisruptionBudget keeps a quorum.
	pdb := decode[policyv1.PodDisruptionBudget](t, r.get(t, "PodDisruptionBudget", full))
	wantMax := map[int]int{1: 0, 3: 1, 5: 2, 7: 3}[w.coordinators]
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != wantMax || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB maxUnavailable %v, want %d for %d voters", pdb.Spec.MaxUnavailable, wantMax, w.coordinators)
	}
	if !labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(labels.Set(sts.Spec.Template.Labels)) {
		t.Errorf("PDB selector %v does not select the coordinators", pdb.Spec.Selector.MatchLabels)
	}

	// coordinator.yaml.
	cfg := configOf(t, r, full, "coordinator.yaml")
	if got := toInt(cfg["bootstrap_expect"]); got != w.coordinators {
		t.Errorf("bootstrap_expect %v, want the replica count %d", cfg["bootstrap_expect"], w.coordinators)
	}
	if got, want := fmt.Sprint(cfg["seeds"]), fmt.Sprintf("[%s:7102]", headlessHost); got != want {
		t.Errorf("seeds %s, want the headless Service's gossip port %s", got, want)
	}
	peer := fmt.Sprintf("${POD_NAME}.%s.${POD_NAMESPACE}.svc.%s", headless, clusterDomain)
	for key, want := range map[string]any{
		"id": "${POD_NAME}", "data_dir": "/data",
		"raft_addr": "0.0.0.0:7101", "raft_advertise": peer + ":7101",
		"grpc_addr": "0.0.0.0:7100", "grpc_advertise": peer + ":7100",
		"gossip_addr": "0.0.0.0:7102", "gossip_advertise": "${POD_IP}:7102",
		"http_addr": "0.0.0.0:7103",
	} {
		if cfg[key] != want {
			t.Errorf("coordinator.yaml %s: %v, want %v", key, cfg[key], want)
		}
	}
	checkSecurityConfig(t, "coordinator.yaml", cfg, w)
	if _, has := cfg["initial_token_file"]; has != w.tokens {
		t.Errorf("coordinator.yaml initial_token_file set: %v, want %v", has, w.tokens)
	}
	var autoscaled []string
	for name, p := range w.pools {
		if p.autoscaler != "" {
			autoscaled = append(autoscaled, name)
			got := dig(cfg, "autoscale", "pools", name)
			if toInt(dig(got, "min_workers")) != p.min || toInt(dig(got, "max_workers")) != p.max {
				t.Errorf("coordinator.yaml autoscale.pools.%s = %v, want min_workers %d max_workers %d", name, got, p.min, p.max)
			}
		}
	}
	if len(autoscaled) == 0 && cfg["autoscale"] != nil {
		t.Errorf("coordinator.yaml has autoscale %v with no autoscaled pool", cfg["autoscale"])
	}
}

// checkSecurityConfig: TLS or insecure, and the gossip key file.
func checkSecurityConfig(t *testing.T, file string, cfg map[string]any, w want) {
	t.Helper()
	_, hasTLS := cfg["tls"]
	insecure, _ := cfg["insecure"].(bool)
	if hasTLS != w.tls || insecure == w.tls {
		t.Errorf("%s: tls %v insecure %v; want tls %v and insecure only without it", file, cfg["tls"], cfg["insecure"], w.tls)
	}
	if _, has := cfg["gossip_key_file"]; has != w.gossip {
		t.Errorf("%s: gossip_key_file set: %v, want %v", file, has, w.gossip)
	}
}

func servicePorts(s *corev1.Service) string {
	var out []string
	for _, p := range s.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, fmt.Sprintf("%d/%s", p.Port, proto))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func checkWorkers(t *testing.T, r rendered, w want) {
	clientHost := fmt.Sprintf("%s-coordinator.%s.svc.%s:7100", releaseName, namespace, clusterDomain)
	headlessHost := fmt.Sprintf("%s-coordinator-headless.%s.svc.%s:7102", releaseName, namespace, clusterDomain)
	deployments := r.byKind("Deployment")
	if len(deployments) != len(w.pools) {
		t.Errorf("%d Deployments, want one per pool (%d)", len(deployments), len(w.pools))
	}
	targets := map[string]string{} // Deployment -> the autoscaler kind that targets it
	for _, m := range r.byKind("ScaledObject") {
		spec, _ := m.Obj["spec"].(map[string]any)
		targets[fmt.Sprint(dig(spec, "scaleTargetRef", "name"))] = "keda"
	}
	for _, m := range r.byKind("HorizontalPodAutoscaler") {
		h := decode[autoscalingv2.HorizontalPodAutoscaler](t, m)
		if h.Spec.ScaleTargetRef.Kind != "Deployment" {
			t.Errorf("%s targets a %s", m, h.Spec.ScaleTargetRef.Kind)
		}
		targets[h.Spec.ScaleTargetRef.Name] = "hpa"
	}
	for name, p := range w.pools {
		dname := fmt.Sprintf("%s-worker-%s", releaseName, name)
		m, ok := r.find("Deployment", dname)
		if !ok {
			t.Errorf("pool %s: no Deployment %s", name, dname)
			continue
		}
		d := decode[appsv1.Deployment](t, m)
		cfg := configOf(t, r, dname, "worker.yaml")
		if cfg["pool"] != name || d.Spec.Template.Labels["nightshift.io/pool"] != name || d.Spec.Selector.MatchLabels["nightshift.io/pool"] != name {
			t.Errorf("pool %s: worker.yaml pool %v, pod label nightshift.io/pool %q, selector %q; want all %q",
				name, cfg["pool"], d.Spec.Template.Labels["nightshift.io/pool"], d.Spec.Selector.MatchLabels["nightshift.io/pool"], name)
		}
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("pool %s: strategy %q, want RollingUpdate", name, d.Spec.Strategy.Type)
		}
		// Replicas: absent when an autoscaler owns them.
		if targets[dname] != p.autoscaler {
			t.Errorf("pool %s: autoscaled by %q, want %q", name, targets[dname], p.autoscaler)
		}
		switch {
		case p.autoscaler != "" && d.Spec.Replicas != nil:
			t.Errorf("pool %s: autoscaled, yet the Deployment sets replicas %d (each upgrade would reset the autoscaler's choice)", name, *d.Spec.Replicas)
		case p.autoscaler == "" && (d.Spec.Replicas == nil || int(*d.Spec.Replicas) != p.replicas):
			t.Errorf("pool %s: replicas %v, want %d", name, d.Spec.Replicas, p.replicas)
		}
		// Drain before stop, within the grace period.
		drain, err := time.ParseDuration(fmt.Sprint(cfg["drain_grace"]))
		if err != nil || int64(drain.Seconds()) != p.drainSecs {
			t.Errorf("pool %s: worker.yaml drain_grace %v, want %ds", name, cfg["drain_grace"], p.drainSecs)
		}
		c := d.Spec.Template.Spec.Containers[0]
		var pre []string
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
			pre = c.Lifecycle.PreStop.Exec.Command
		}
		if len(pre) != 7 || !slices.Equal(pre[:6], []string{"/nightshift", "worker", "drain", "--http", "127.0.0.1:7203", "--wait"}) {
			t.Errorf("pool %s: preStop %q, want /nightshift worker drain --http 127.0.0.1:7203 --wait <drain grace>", name, pre)
		} else if wait, err := time.ParseDuration(pre[6]); err != nil || wait != drain {
			t.Errorf("pool %s: preStop waits %q, want the drain grace %v", name, pre[6], drain)
		}
		grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		if grace == nil || *grace <= int64(drain.Seconds()) || *grace != p.graceSecs {
			t.Errorf("pool %s: terminationGracePeriodSeconds %v, want %d (> drain grace %v)", name, grace, p.graceSecs, drain)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("pool %s: want a readiness probe on /readyz", name)
		}
		// Wiring to the coordinators.
		if got := fmt.Sprint(cfg["coordinators"]); got != "["+clientHost+"]" {
			t.Errorf("pool %s: coordinators %s, want [%s]", name, got, clientHost)
		}
		if got := fmt.Sprint(cfg["seeds"]); got != "["+headlessHost+"]" {
			t.Errorf("pool %s: seeds %s, want [%s]", name, got, headlessHost)
		}
		for key, want := range map[string]any{"id": "${POD_NAME}", "grpc_advertise": "${POD_IP}:7200", "gossip_advertise": "${POD_IP}:7202", "http_addr": "0.0.0.0:7203"} {
			if cfg[key] != want {
				t.Errorf("pool %s: worker.yaml %s %v, want %v", name, key, cfg[key], want)
			}
		}
		checkSecurityConfig(t, "pool "+name+" worker.yaml", cfg, w)
		// Pod deletion cost: the setting, the token and the RBAC go together.
		if got, _ := cfg["pod_deletion_cost"].(bool); got != w.podDeletionCost {
			t.Errorf("pool %s: pod_deletion_cost %v, want %v", name, cfg["pod_deletion_cost"], w.podDeletionCost)
		}
		automount := d.Spec.Template.Spec.AutomountServiceAccountToken
		if automount == nil || *automount != w.podDeletionCost {
			t.Errorf("pool %s: automountServiceAccountToken %v, want %v (the API token only where the worker patches its pod)", name, automount, w.podDeletionCost)
		}
	}
	role, hasRole := r.find("Role", releaseName+"-worker")
	if hasRole != w.podDeletionCost {
		t.Errorf("worker Role rendered: %v, want it with podDeletionCost: %v", hasRole, w.podDeletionCost)
	}
	if hasRole {
		ro := decode[rbacv1.Role](t, role)
		if len(ro.Rules) != 1 || !slices.Equal(ro.Rules[0].Resources, []string{"pods"}) || !slices.Equal(ro.Rules[0].Verbs, []string{"get", "patch"}) {
			t.Errorf("worker Role rules %+v, want pods get and patch only", ro.Rules)
		}
	}

	// The autoscalers ask for the pool's own gauge.
	for _, m := range r.byKind("ScaledObject") {
		spec, _ := m.Obj["spec"].(map[string]any)
		target := fmt.Sprint(dig(spec, "scaleTargetRef", "name"))
		pool := strings.TrimPrefix(target, releaseName+"-worker-")
		p := w.pools[pool]
		trig := dig(spec, "triggers", 0)
		query := fmt.Sprint(dig(trig, "metadata", "query"))
		if dig(trig, "type") != "prometheus" || dig(trig, "metricType") != "AverageValue" || dig(trig, "metadata", "threshold") != "1" ||
			!strings.HasPrefix(query, "max(nightshift_pool_desired_workers{") || !strings.Contains(query, fmt.Sprintf("pool=%q", pool)) {
			t.Errorf("%s: trigger %v, want prometheus, AverageValue, threshold \"1\", max(nightshift_pool_desired_workers{pool=%q})", m, trig, pool)
		}
		if dig(trig, "metadata", "serverAddress") == "" {
			t.Errorf("%s: no serverAddress", m)
		}
		if toInt(spec["minReplicaCount"]) != p.min || toInt(spec["maxReplicaCount"]) != p.max {
			t.Errorf("%s: replicas %v..%v, want %d..%d", m, spec["minReplicaCount"], spec["maxReplicaCount"], p.min, p.max)
		}
	}
	for _, m := range r.byKind("HorizontalPodAutoscaler") {
		h := decode[autoscalingv2.HorizontalPodAutoscaler](t, m)
		pool := strings.TrimPrefix(h.Spec.ScaleTargetRef.Name, releaseName+"-worker-")
		p := w.pools[pool]
		ok := len(h.Spec.Metrics) == 1 && h.Spec.Metrics[0].Type == autoscalingv2.ExternalMetricSourceType
		if ok {
			e := h.Spec.Metrics[0].External
			ok = e.Metric.Name == "nightshift_pool_desired_workers" && e.Metric.Selector != nil && e.Metric.Selector.MatchLabels["pool"] == pool &&
				e.Target.Type == autoscalingv2.AverageValueMetricType && e.Target.AverageValue != nil && e.Target.AverageValue.Value() == 1
		}
		if !ok {
			t.Errorf("%s: metrics %+v, want External nightshift_pool_desired_workers{pool=%q} with AverageValue 1", m, h.Spec.Metrics, pool)
		}
		if h.Spec.MinReplicas == nil || int(*h.Spec.MinReplicas) != p.min || int(h.Spec.MaxReplicas) != p.max {
			t.Errorf("%s: replicas %v..%d, want %d..%d", m, h.Spec.MinReplicas, h.Spec.MaxReplicas, p.min, p.max)
		}
	}
}

// checkSecrets: the Secrets the chart generates have the shape the binary
// reads, and are marked to survive an uninstall (the Raft state does).
func checkSecrets(t *testing.T, r rendered, w want) {
	token, hasToken := r.find("Secret", releaseName+"-token")
	if wantGenerated := w.tokens && !hasExternal(w, "token"); hasToken != wantGenerated {
		t.Errorf("token Secret generated: %v, want %v", hasToken, wantGenerated)
	}
	if hasToken {
		s := decode[corev1.Secret](t, token)
		if !tokenRE.Match(s.Data["token"]) {
			t.Errorf("generated token %q is not nst_admin_ and 48 letters and digits", s.Data["token"])
		}
		if s.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("token Secret: want helm.sh/resource-policy: keep")
		}
	}
	gossip, hasGossip := r.find("Secret", releaseName+"-gossip")
	if wantGenerated := w.gossip && !hasExternal(w, "key"); hasGossip != wantGenerated {
		t.Errorf("gossip Secret rendered: %v, want %v", hasGossip, wantGenerated)
	}
	if hasGossip {
		s := decode[corev1.Secret](t, gossip)
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(s.Data["key"])))
		if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
			t.Errorf("gossip key %q is not base64 of 16, 24 or 32 bytes", s.Data["key"])
		}
	}
}

var tokenRE = regexp.MustCompile(`^nst_admin_[A-Za-z0-9]{48}$`)

// hasExternal reports whether an existing Secret provides key.
func hasExternal(w want, key string) bool {
	for _, keys := range w.externalSecrets {
		if slices.Contains(keys, key) {
			return true
		}
	}
	return false
}

func checkNotes(t *testing.T, r rendered, w want) {
	for _, s := range []string{"port-forward svc/" + releaseName + "-coordinator 7103:7103", "/ui/", "nightshift workers list"} {
		if !strings.Contains(r.Notes, s) {
			t.Errorf("NOTES.txt lacks %q:\n%s", s, r.Notes)
		}
	}
	if w.tokens != strings.Contains(r.Notes, "-o jsonpath='{.data.token}'") {
		t.Errorf("NOTES.txt: how to get the admin token shown: %v, want %v", !w.tokens, w.tokens)
	}
	if warned := strings.Contains(r.Notes, "WARNING: tls.enabled is false"); warned == w.tls {
		t.Errorf("NOTES.txt: insecure warning shown: %v with tls %v", warned, w.tls)
	}
	for name := range w.pools {
		if !strings.Contains(r.Notes, "pool "+name+":") {
			t.Errorf("NOTES.txt does not say how pool %s scales", name)
		}
	}
}

// dig walks maps and lists: dig(obj, "spec", "triggers", 0, "type").
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func toInt(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case int64:
		return int(n)
	}
	return -1
}

func toStringMap(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
