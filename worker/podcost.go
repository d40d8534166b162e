package worker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// Pod deletion cost (Config.PodDeletionCost). When a Deployment scales
// down, its ReplicaSet deletes first the pods with the lowest
// controller.kubernetes.io/pod-deletion-cost annotation (an int32; absent
// counts as 0). The worker keeps its own pod's annotation equal to
// deletionCost of its state, so that scale-down takes draining and idle
// workers first and the members of training groups last.
//
// The loop talks to the API server with net/http: one merge PATCH of the
// worker's own pod does not justify k8s.io/client-go, whose dependency
// tree would dwarf the rest of a FROM-scratch static binary.

const (
	podCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

	// The rule (deletionCost): a draining worker costs podCostDraining;
	// any other costs podCostPerAttempt per running attempt, plus
	// podCostTraining when one of them is a member of a training group; an
	// idle one costs 0.
	podCostDraining   = -1000
	podCostPerAttempt = 100
	podCostTraining   = 10000

	// podCostInterval is the least time between two PATCHes: changes in
	// between coalesce into the value the next PATCH carries, so that a
	// stream of short tasks costs the API server nothing. A failed PATCH
	// is retried after a capped, jittered backoff from podCostInterval up
	// to podCostBackoffCap times it.
	podCostInterval   = 5 * time.Second
	podCostBackoffCap = 12
	// podCostTimeout bounds one PATCH.
	podCostTimeout = 10 * time.Second

	envPodName        = "POD_NAME"
	envPodNamespace   = "POD_NAMESPACE"
	serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// deletionCost is the pod-deletion-cost of a worker in the given state:
//
//   - draining (Drain or POST /drain, an operator's `workers drain`, or
//     stopping): podCostDraining, -1000, below every active worker, busy
//     or not. A draining worker leases nothing more, so keeping it costs
//     capacity; its running attempts still get DrainGrace when its pod is
//     deleted (the preStop hook waits, then SIGTERM drains), and a
//     training member handed back rejoins the group elsewhere.
//   - otherwise 100 × running attempts (any kind: score, shard, profile,
//     noop, train), plus 10000 when at least one is a training member,
//     whose loss makes a whole group regroup. 0 when idle.
//
// The result is clamped to int32, the annotation's type.
func deletionCost(draining bool, attempts int, training bool) int32 {
	if draining {
		return podCostDraining
	}
	c := int64(max(attempts, 0)) * podCostPerAttempt
	if training {
		c += podCostTraining
	}
	return int32(min(c, math.MaxInt32))
}

// podCostLocked is the worker's deletion cost now.
func (a *Agent) podCostLocked() int32 {
	training := false
	for _, at := range a.running {
		if at.as.GetSpec().GetTrain() != nil {
			training = true
			break
		}
	}
	return deletionCost(a.stateLocked() == stateDraining, len(a.running), training)
}

// kubeEnv says where the pod-deletion-cost loop finds the API server and
// its credentials. The zero value is production: the API server at
// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the token,
// CA and namespace files of the pod's service account; tests point it
// elsewhere.
type kubeEnv struct {
	apiURL   string        // "" → from KUBERNETES_SERVICE_HOST and _PORT
	saDir    string        // "" → serviceAccountDir (token, ca.crt, namespace)
	interval time.Duration // 0 → podCostInterval
}

// podCostLoop keeps the pod's deletion-cost annotation equal to
// podCostLocked: it PATCHes the pod when the value differs from the one
// last written (at start always once, the annotation's value being
// unknown), at most once per interval, and retries a failed PATCH with
// backoff. It ends with the agent's life.
func (a *Agent) podCostLoop() {
	log := a.base.With("subsystem", "worker-podcost")
	p := newPodPatcher(a.cfg.kube, a.cfg.Version)
	defer p.close()
	bo := rpc.Backoff{Min: p.interval, Max: podCostBackoffCap * p.interval}
	var (
		next    time.Time // no PATCH before
		written int32     // the value the annotation holds, when have
		have    bool
		failing bool
	)
	for {
		a.mu.Lock()
		cost, ch := a.podCostLocked(), a.changed
		a.mu.Unlock()
		if have && cost == written {
			if !waitChange(a.life, ch) {
				return
			}
			continue
		}
		if d := time.Until(next); d > 0 {
			// Coalesce: what changes meanwhile rides on the next PATCH.
			if !rpc.Sleep(a.life, d) {
				return
			}
			continue
		}
		err := p.patch(a.life, cost)
		if a.life.Err() != nil {
			return
		}
		if err != nil {
			d := bo.Next()
			next = time.Now().Add(d)
			failing = true
			args := []any{"cost", cost, "err", err, "retry_in", d.Round(time.Millisecond)}
			if e := (*apiError)(nil); errors.As(err, &e) {
				args = append(args, "status", e.code)
			}
			log.Warn("setting the pod-deletion-cost annotation failed", args...)
			continue
		}
		bo.Reset()
		next = time.Now().Add(p.interval)
		if !have || failing {
			log.Info("pod-deletion-cost annotation set", "pod", p.ns+"/"+p.pod, "cost", cost)
		} else {
			log.Debug("pod-deletion-cost annotation set", "cost", cost)
		}
		written, have, failing = cost, true, false
	}
}

// podPatcher PATCHes the worker's own pod. It resolves the API server,
// the namespace and the CA on first use (retrying until they resolve) and
// reads the token before every request: Kubernetes rotates projected
// service account tokens.
type podPatcher struct {
	env      kubeEnv
	interval time.Duration
	agent    string // User-Agent
	base     string // https://host:port
	ns, pod  string
	tr       *http.Transport
	client   *http.Client
}

func newPodPatcher(env kubeEnv, version string) *podPatcher {
	if env.saDir == "" {
		env.saDir = serviceAccountDir
	}
	iv := env.interval
	if iv <= 0 {
		iv = podCostInterval
	}
	return &podPatcher{env: env, interval: iv, agent: "nightshift-worker/" + version}
}

// setup resolves what does not change while the pod lives.
func (p *podPatcher) setup() error {
	if p.client != nil {
		return nil
	}
	base := p.env.apiURL
	if base == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return errors.New("not in a Kubernetes pod: env KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (pod_deletion_cost needs the in-cluster API)")
		}
		base = "https://" + net.JoinHostPort(host, port)
	}
	pod := os.Getenv(envPodName)
	if pod == "" {
		return fmt.Errorf("env %s is not set", envPodName)
	}
	ns := os.Getenv(envPodNamespace)
	if ns == "" {
		b, err := os.ReadFile(filepath.Join(p.env.saDir, "namespace"))
		if err != nil {
			return fmt.Errorf("the pod's namespace: env %s is not set and %w", envPodNamespace, err)
		}
		ns = strings.TrimSpace(string(b))
	}
	caFile := filepath.Join(p.env.saDir, "ca.crt")
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("the API server's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("the API server's CA: no PEM certificate in %s", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The API server is in the cluster: an HTTPS_PROXY set for storage
	// egress must not capture it.
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	p.base, p.ns, p.pod = strings.TrimRight(base, "/"), ns, pod
	p.tr, p.client = tr, &http.Client{Transport: tr, Timeout: podCostTimeout}
	return nil
}

// close drops the idle connections (their goroutines end with them).
func (p *podPatcher) close() {
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
}

// patch sets the pod's annotation to cost with a JSON merge patch.
func (p *podPatcher) patch(ctx context.Context, cost int32) error {
	if err := p.setup(); err != nil {
		return err
	}
	tokenFile := filepath.Join(p.env.saDir, "token")
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("the service account token: %w", err)
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		podCostAnnotation: strconv.FormatInt(int64(cost), 10)}}})
	if err != nil {
		return err
	}
	u := p.base + "/api/v1/namespaces/" + url.PathEscape(p.ns) + "/pods/" + url.PathEscape(p.pod)
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("User-Agent", p.agent)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("PATCH pod %s/%s: %w", p.ns, p.pod, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &apiError{ns: p.ns, pod: p.pod, code: resp.StatusCode, msg: statusMessage(msg)}
}

// apiError is an API server's refusal of the PATCH.
type apiError struct {
	ns, pod string
	code    int
	msg     string // the API server's message
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("PATCH pod %s/%s: %d %s: %s", e.ns, e.pod, e.code, http.StatusText(e.code), e.msg)
	switch e.code {
	case http.StatusUnauthorized:
		s += " (the service account token was refused)"
	case http.StatusForbidden:
		s += " (RBAC is missing: the worker's service account needs a Role allowing verb patch on resource pods, bound to it by a RoleBinding)"
	case http.StatusNotFound:
		s += fmt.Sprintf(" (check env %s and %s: they must name this pod)", envPodName, envPodNamespace)
	}
	return s
}

// statusMessage extracts the message of a Kubernetes Status answer, or
// returns the body itself on one short line.
func statusMessage(body []byte) string {
	var st struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		return st.Message
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// PodDeletionCost returns the worker's deletion cost now (deletionCost):
// what the pod-deletion-cost loop writes, for a controller that picks
// which worker to remove.
func (a *Agent) PodDeletionCost() int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.podCostLocked()
}
