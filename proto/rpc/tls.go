package rpc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig names the PEM files of one endpoint's identity and of the CA
// that signs its peers. With all three set, servers require client
// certificates signed by the CA (mTLS) and clients verify the server.
type TLSConfig struct {
	CAFile   string `yaml:"ca_file" json:"ca_file,omitempty"`
	CertFile string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file" json:"key_file,omitempty"`
	// ServerName overrides the name a client checks in the server's
	// certificate (default: the host of the address dialled).
	ServerName string `yaml:"server_name" json:"server_name,omitempty"`
}

// Enabled reports whether any TLS file is configured.
func (c TLSConfig) Enabled() bool { return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" }

// Validate checks that TLS is either off or fully configured.
func (c TLSConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if c.CAFile == "" || c.CertFile == "" || c.KeyFile == "" {
		return errors.New("tls: ca_file, cert_file and key_file must all be set")
	}
	return nil
}

func (c TLSConfig) load() (tls.Certificate, *x509.CertPool, error) {
	if err := c.Validate(); err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tls: load %s: %w", c.CertFile, err)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return tls.Certificate{}, nil, fmt.Errorf("tls: %s holds no PEM certificate", c.CAFile)
	}
	return cert, pool, nil
}

// ServerTLS returns a server configuration that requires and verifies
// client certificates; nil when TLS is off.
func (c TLSConfig) ServerTLS() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cert, pool, err := c.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// ClientTLS returns a client configuration presenting this endpoint's
// certificate and verifying the server against the CA; nil when TLS is off.
func (c TLSConfig) ClientTLS() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cert, pool, err := c.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   c.ServerName,
		MinVersion:   tls.VersionTLS13,
	}, nil
}
