package testkit

import (
	"io"
	"net/http"
	"testing"
)

// Get fetches url and returns the status code and the body, failing the
// test when the request cannot be made (a /readyz or /metrics probe).
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}
