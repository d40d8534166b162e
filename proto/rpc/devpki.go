package rpc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrPKIExists is returned when a file WriteDevPKI would write exists and
// overwriting was not asked for.
var ErrPKIExists = errors.New("exists")

// DevRoles are the identities WriteDevPKI issues, one certificate each.
var DevRoles = []string{"coordinator", "worker", "client"}

// DevTLS returns the TLSConfig of one role in a folder WriteDevPKI wrote.
func DevTLS(dir, role string) TLSConfig {
	return TLSConfig{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, role+".pem"), KeyFile: filepath.Join(dir, role+"-key.pem")}
}

// WriteDevPKI writes a CA and a certificate per role into dir and returns
// the paths by name: "ca", "ca-key", "<role>", "<role>-key". Keys are
// ECDSA P-256; every certificate serves as server and client for hosts;
// its subject names the role. For development and tests.
func WriteDevPKI(dir string, hosts []string, validity time.Duration, force bool) (map[string]string, error) {
	if validity <= 0 {
		return nil, errors.New("validity must be positive")
	}
	var ips []net.IP
	var names []string
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch ip := net.ParseIP(h); {
		case h == "":
		case ip != nil:
			ips = append(ips, ip)
		default:
			names = append(names, h)
		}
	}
	if len(ips)+len(names) == 0 {
		return nil, errors.New("no host given")
	}
	files := map[string]string{"ca": filepath.Join(dir, "ca.pem"), "ca-key": filepath.Join(dir, "ca-key.pem")}
	for _, r := range DevRoles {
		files[r], files[r+"-key"] = filepath.Join(dir, r+".pem"), filepath.Join(dir, r+"-key.pem")
	}
	if !force {
		for _, p := range files {
			if _, err := os.Stat(p); err == nil {
				return nil, fmt.Errorf("%s %w", p, ErrPKIExists)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now().Add(-5 * time.Minute) // tolerate small clock skew
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"nightshift"}, CommonName: "nightshift dev CA"},
		NotBefore:             now,
		NotAfter:              now.Add(2 * validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	if err := writePEM(files["ca"], "CERTIFICATE", caDER, 0o644); err != nil {
		return nil, err
	}
	if err := writeKey(files["ca-key"], caKey); err != nil {
		return nil, err
	}
	for _, role := range DevRoles {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{Organization: []string{"nightshift"}, OrganizationalUnit: []string{role}, CommonName: role},
			NotBefore:    now,
			NotAfter:     now.Add(validity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses:  ips,
			DNSNames:     names,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, err
		}
		if err := writePEM(files[role], "CERTIFICATE", der, 0o644); err != nil {
			return nil, err
		}
		if err := writeKey(files[role+"-key"], key); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

// writePEM writes one PEM block through a temp file and a rename.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
