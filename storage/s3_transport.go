package storage

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// sharedTransports holds one HTTP transport per TLS setting, shared by every
// s3 bucket in the process, so that buckets opened per task or per shard
// reuse warm keep-alive connections instead of each dialling its own.
var sharedTransports sync.Map // bool (secure) -> *http.Transport

// s3Transport returns the process-wide transport for plain or TLS S3.
func s3Transport(secure bool) http.RoundTripper {
	if t, ok := sharedTransports.Load(secure); ok {
		return t.(*http.Transport)
	}
	t := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: time.Minute,
		// Bulk transfers: bigger socket-side buffers mean fewer syscalls per MB.
		ReadBufferSize:     256 << 10,
		WriteBufferSize:    256 << 10,
		DisableCompression: true, // objects are already compressed or binary
	}
	if secure {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	actual, _ := sharedTransports.LoadOrStore(secure, t)
	return actual.(*http.Transport)
}
