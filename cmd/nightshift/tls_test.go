package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

func makePKI(t *testing.T, hosts string) (string, map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	out, err := run(t, "tls", "--out", dir, "--hosts", hosts, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var files map[string]string
	if err := json.Unmarshal([]byte(out), &files); err != nil {
		t.Fatalf("tls -o json: %v\n%s", err, out)
	}
	return dir, files
}

func roleTLS(files map[string]string, role, serverName string) rpc.TLSConfig {
	return rpc.TLSConfig{CAFile: files["ca"], CertFile: files[role], KeyFile: files[role+"-key"], ServerName: serverName}
}

// handshake runs a TLS handshake between a server and a client config over
// an in-memory pipe and returns the client's error, or the server's.
func handshake(t *testing.T, server, client rpc.TLSConfig) (*x509.Certificate, error) {
	t.Helper()
	st, err := server.ServerTLS()
	if err != nil {
		t.Fatalf("ServerTLS: %v", err)
	}
	ct, err := client.ClientTLS()
	if err != nil {
		t.Fatalf("ClientTLS: %v", err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_ = a.SetDeadline(time.Now().Add(10 * time.Second))
	_ = b.SetDeadline(time.Now().Add(10 * time.Second))
	srv, cli := tls.Server(a, st), tls.Client(b, ct)
	errc := make(chan error, 1)
	var peer *x509.Certificate
	go func() {
		err := srv.Handshake()
		if err == nil && len(srv.ConnectionState().PeerCertificates) > 0 {
			peer = srv.ConnectionState().PeerCertificates[0]
		}
		if err != nil {
			a.Close() // unblock the client
		}
		errc <- err
	}()
	cerr := cli.Handshake()
	if cerr != nil {
		b.Close()
	} else {
		// With TLS 1.3 the server checks the client's certificate after the
		// client is done; read its verdict (an alert) so it is not blocked.
		go func() { _, _ = io.Copy(io.Discard, cli) }()
	}
	serr := <-errc
	if cerr != nil {
		return nil, cerr
	}
	return peer, serr
}

func TestTLSDevPKIHandshakes(t *testing.T) {
	_, files := makePKI(t, "127.0.0.1,localhost,coord.internal")
	for _, name := range []string{"ca", "ca-key", "coordinator", "coordinator-key", "worker", "worker-key", "client", "client-key"} {
		info, err := os.Stat(files[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.HasSuffix(name, "key") && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, info.Mode().Perm())
		}
	}
	// Every role can serve, and every role can call, by each host name.
	for _, serverName := range []string{"127.0.0.1", "localhost", "coord.internal"} {
		for _, pair := range [][2]string{{"coordinator", "client"}, {"coordinator", "worker"}, {"worker", "worker"}, {"coordinator", "coordinator"}} {
			peer, err := handshake(t, roleTLS(files, pair[0], ""), roleTLS(files, pair[1], serverName))
			if err != nil {
				t.Fatalf("%s serving %s as %s: %v", pair[0], pair[1], serverName, err)
			}
			if peer.Subject.CommonName != pair[1] || len(peer.Subject.OrganizationalUnit) != 1 || peer.Subject.OrganizationalUnit[0] != pair[1] {
				t.Fatalf("client certificate does not name its role %s: %v", pair[1], peer.Subject)
			}
		}
	}
	// A name not in --hosts fails verification.
	if _, err := handshake(t, roleTLS(files, "coordinator", ""), roleTLS(files, "client", "evil.example")); err == nil {
		t.Fatal("a host outside --hosts was accepted")
	}
	// The certificate is ECDSA P-256 with both extended key usages.
	b, _ := os.ReadFile(files["worker"])
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA || len(cert.ExtKeyUsage) != 2 || len(cert.IPAddresses) != 1 || len(cert.DNSNames) != 2 {
		t.Fatalf("certificate: alg %v, eku %v, ips %v, names %v", cert.PublicKeyAlgorithm, cert.ExtKeyUsage, cert.IPAddresses, cert.DNSNames)
	}
}

func TestTLSOtherCARejected(t *testing.T) {
	_, a := makePKI(t, "127.0.0.1")
	_, b := makePKI(t, "127.0.0.1")
	// A client that trusts the server but holds a certificate of another CA
	// is refused: the server requires client certificates of its own CA.
	stranger := rpc.TLSConfig{CAFile: a["ca"], CertFile: b["client"], KeyFile: b["client-key"], ServerName: "127.0.0.1"}
	if _, err := handshake(t, roleTLS(a, "coordinator", ""), stranger); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
	// A client that trusts another CA refuses the server.
	if _, err := handshake(t, roleTLS(a, "coordinator", ""), roleTLS(b, "client", "127.0.0.1")); err == nil {
		t.Fatal("a server certificate from another CA was accepted")
	}
}

func TestTLSKeepsExistingFiles(t *testing.T) {
	dir, files := makePKI(t, "127.0.0.1")
	before, _ := os.ReadFile(files["ca"])
	if _, err := run(t, "tls", "--out", dir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing files: %v", err)
	}
	if _, err := run(t, "tls", "--out", dir, "--force"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(files["ca"])
	if string(before) == string(after) {
		t.Fatal("--force did not write a new CA")
	}
}
