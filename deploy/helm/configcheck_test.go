package helm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The rendered coordinator.yaml and worker.yaml must pass the real binary's
// strict check (`--check`: decode strictly, expand ${VAR}, validate). Each
// pod is laid out the way the kubelet would lay it out, in a temp folder:
// its ConfigMap and Secret volumes become files (Secrets the values name as
// existing are made up: certificates, a gossip key, a token), its env comes
// from the downward API and envFrom, and the absolute paths in the config
// file and the arguments are moved under the folder. A path in a config
// that no volume provides fails the test before the binary runs.

const (
	envBin    = "NIGHTSHIFT_BIN"               // the nightshift binary (scripts/chart-test.sh builds it)
	envStrict = "NIGHTSHIFT_CHART_TEST_STRICT" // 1: fail instead of skipping without schemas or binary
	podIP     = "127.0.0.1"                    // status.podIP as the pods see it (a --check dials nothing)
)

func nightshiftBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(envBin)
	if bin == "" {
		msg := envBin + " is not set: the rendered configs are not checked by the binary (scripts/chart-test.sh builds it)"
		if os.Getenv(envStrict) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v", envBin, bin, err)
	}
	return bin
}

// checkConfigsWithBinary lays out the coordinator pod and one pod of every
// pool, and runs `--check` on their config files.
func checkConfigsWithBinary(t *testing.T, r rendered, w want) {
	for _, p := range podTemplates(t, r) {
		podName := p.owner.Name() + "-0"
		if p.owner.Kind() == "Deployment" {
			podName = p.owner.Name() + "-7d9f8c6b5-x2x7q"
		}
		t.Run(p.owner.Kind()+"/"+p.owner.Name(), func(t *testing.T) {
			// Laying the pod out checks that every path its config names is
			// mounted; the binary's check needs the binary.
			pod := layOutPod(t, r, p, w, podName)
			if t.Failed() {
				return
			}
			bin := nightshiftBin(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(pod.args[1:], "--check")...)
			cmd.Env = pod.env
			cmd.Dir = pod.root
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s %s --check: %v\n%s\nthe config (paths moved under %s):\n%s",
					"nightshift", strings.Join(pod.args[1:], " "), err, strings.TrimSpace(string(out)), pod.root, numbered(pod.config))
				return
			}
			t.Logf("%s: %s", p.owner, strings.TrimSpace(string(out)))
		})
	}
}

// TestPreStopCommandExists: the workers' preStop hook runs
// `nightshift worker drain --http ADDR --wait D`; the binary must have it.
func TestPreStopCommandExists(t *testing.T) {
	bin := nightshiftBin(t)
	out, err := exec.Command(bin, "worker", "drain", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("nightshift worker drain --help: %v\n%s", err, out)
	}
	for _, flag := range []string{"--http", "--wait"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("nightshift worker drain has no %s flag:\n%s", flag, out)
		}
	}
}

type laidOutPod struct {
	root   string
	env    []string
	args   []string // command and args, paths moved under root
	config string   // the config file as the binary reads it
}

func layOutPod(t *testing.T, r rendered, p podTemplate, w want, podName string) laidOutPod {
	t.Helper()
	root := t.TempDir()
	spec := p.spec.Spec
	c := spec.Containers[0]
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	var mounts []string
	for _, vm := range c.VolumeMounts {
		mounts = append(mounts, vm.MountPath)
		target := filepath.Join(root, vm.MountPath)
		v, ok := volumes[vm.Name]
		var data map[string][]byte
		var items []corev1.KeyToPath
		switch {
		case !ok || v.EmptyDir != nil: // a volume claim template or scratch
			mustMkdir(t, target)
			continue
		case v.ConfigMap != nil:
			cm := decode[corev1.ConfigMap](t, r.get(t, "ConfigMap", v.ConfigMap.Name))
			data = map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			items = v.ConfigMap.Items
		case v.Secret != nil:
			data = secretData(t, r, w, v.Secret.SecretName)
			items = v.Secret.Items
		default:
			t.Fatalf("%s: volume %s: a kind of volume this test cannot lay out", p.owner, vm.Name)
		}
		if vm.SubPath != "" {
			b, ok := data[vm.SubPath]
			if !ok {
				t.Fatalf("%s: mount %s: subPath %s is not a key of volume %s", p.owner, vm.MountPath, vm.SubPath, vm.Name)
			}
			mustWrite(t, target, b)
			continue
		}
		mustMkdir(t, target)
		if len(items) == 0 {
			for k := range data {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			mustWrite(t, filepath.Join(target, it.Path), data[it.Key])
		}
	}
	// Longest first, so /etc/nightshift/tls wins over /etc/nightshift.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	move := func(path string) (string, bool) {
		for _, m := range mounts {
			if path == m || strings.HasPrefix(path, m+"/") {
				return filepath.Join(root, path), true
			}
		}
		return path, false
	}

	// The environment: what the kubelet gives the container.
	env := []string{"HOSTNAME=" + podName, "HOME=" + root}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil:
			val := map[string]string{"metadata.name": podName, "metadata.namespace": namespace, "status.podIP": podIP}[e.ValueFrom.FieldRef.FieldPath]
			if val == "" {
				t.Fatalf("%s: env %s: fieldRef %s is not emulated", p.owner, e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env = append(env, e.Name+"="+val)
		case e.ValueFrom.SecretKeyRef != nil:
			env = append(env, e.Name+"="+string(secretData(t, r, w, e.ValueFrom.SecretKeyRef.Name)[e.ValueFrom.SecretKeyRef.Key]))
		default:
			t.Fatalf("%s: env %s: a source this test cannot emulate", p.owner, e.Name)
		}
	}
	for _, e := range c.EnvFrom {
		if e.SecretRef == nil {
			t.Fatalf("%s: envFrom other than a Secret", p.owner)
		}
		for k, v := range secretData(t, r, w, e.SecretRef.Name) {
			env = append(env, e.Prefix+k+"="+string(v))
		}
	}

	// The command: the image's /nightshift is the binary under test.
	args := append(append([]string{}, c.Command...), c.Args...)
	var configPath string
	for i, a := range args {
		if i > 0 && strings.HasPrefix(a, "/") {
			moved, ok := move(a)
			if !ok {
				t.Fatalf("%s: argument %s is a path no volume provides", p.owner, a)
			}
			args[i] = moved
			if i > 0 && args[i-1] == "--config" {
				configPath = moved
			}
		}
	}
	if configPath == "" {
		t.Fatalf("%s: no --config argument in %q", p.owner, args)
	}
	raw, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatalf("%s: the config file is not in the pod: %v", p.owner, err)
	}
	// Move the config's absolute paths under root; each must be provided
	// by a volume.
	var missing []string
	text := absPathRE.ReplaceAllStringFunc(string(raw), func(s string) string {
		sub := absPathRE.FindStringSubmatch(s)
		moved, ok := move(sub[2])
		if !ok {
			missing = append(missing, sub[2])
		}
		return sub[1] + moved
	})
	if len(missing) > 0 {
		t.Fatalf("%s: the config names %v, which no volume of the pod provides (mounts: %v)", p.owner, missing, mounts)
	}
	mustWrite(t, configPath, []byte(text))
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("%s: %v", p.owner, err)
	}
	for _, f := range fileKeys(cfg, "") {
		if _, err := os.Stat(f.path); err != nil {
			t.Errorf("%s: %s: %v (the pod mounts no such file)", p.owner, f.key, err)
		}
	}
	return laidOutPod{root: root, env: env, args: args, config: text}
}

// absPathRE finds absolute paths that are YAML values: "key: /x" or "- /x".
var absPathRE = regexp.MustCompile(`(?m)((?::|^\s*-)[ \t]+)(/[^\s,\]#'"]*)`)

type fileKey struct{ key, path string }

// fileKeys lists the *_file and data_dir settings of a config.
func fileKeys(v any, prefix string) []fileKey {
	var out []fileKey
	m, _ := v.(map[string]any)
	for k, val := range m {
		key := strings.TrimPrefix(prefix+"."+k, ".")
		if s, ok := val.(string); ok && (strings.HasSuffix(k, "_file") || k == "data_dir") {
			out = append(out, fileKey{key, s})
		}
		out = append(out, fileKeys(val, key)...)
	}
	return out
}

// secretData is a Secret's data: the rendered one, or for a Secret the
// values name as existing, made-up contents of the right shape.
func secretData(t *testing.T, r rendered, w want, name string) map[string][]byte {
	t.Helper()
	if m, ok := r.find("Secret", name); ok {
		s := decode[corev1.Secret](t, m)
		return s.Data
	}
	keys, ok := w.externalSecrets[name]
	if !ok {
		t.Fatalf("Secret %s is neither rendered nor named as existing", name)
	}
	out := map[string][]byte{}
	for _, k := range keys {
		switch k {
		case "key":
			b := make([]byte, 32)
			rand.Read(b)
			out[k] = []byte(base64.StdEncoding.EncodeToString(b))
		case "token":
			out[k] = []byte("nst_ops_" + strings.Repeat("a1B2c3D4", 6))
		case "AWS_ACCESS_KEY_ID":
			out[k] = []byte("AKIAEXAMPLE")
		case "AWS_SECRET_ACCESS_KEY":
			out[k] = []byte("example-secret-key")
		case "ca.crt", "tls.crt", "tls.key":
			role := "coordinator"
			if strings.Contains(name, "worker") {
				role = "worker"
			}
			pki := testPKI(t)
			out["ca.crt"], out["tls.crt"], out["tls.key"] = pki.ca, pki.certs[role], pki.keys[role]
		default:
			t.Fatalf("Secret %s: no made-up value for key %s", name, k)
		}
	}
	return out
}

type pkiFiles struct {
	ca          []byte
	certs, keys map[string][]byte
}

var (
	pkiOnce sync.Once
	pkiInst pkiFiles
	pkiErr  error
)

// testPKI makes a CA and a certificate per role (its CN and OU are the
// role, as `nightshift tls` issues them), valid for the Services' names.
func testPKI(t *testing.T) pkiFiles {
	t.Helper()
	pkiOnce.Do(func() { pkiInst, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiInst
}

func makePKI() (pkiFiles, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pkiFiles{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nightshift test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return pkiFiles{}, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	out := pkiFiles{
		ca:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certs: map[string][]byte{}, keys: map[string][]byte{},
	}
	for i, role := range []string{"coordinator", "worker"} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return pkiFiles{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: role, OrganizationalUnit: []string{role}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames: []string{
				"nightshift",
				fmt.Sprintf("%s-coordinator.%s.svc.%s", releaseName, namespace, clusterDomain),
				fmt.Sprintf("*.%s-coordinator-headless.%s.svc.%s", releaseName, namespace, clusterDomain),
			},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return pkiFiles{}, err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return pkiFiles{}, err
		}
		out.certs[role] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		out.keys[role] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	return out, nil
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
