package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Config files may name environment variables as ${NAME}: a pod's name and
// IP reach a Kubernetes container that way (the downward API), so one
// ConfigMap serves every replica. Only the braced form expands, $${ stands
// for a literal ${, and a variable that is not set is an error naming the
// line: a config never runs with a silently empty value.

var envRefRE = regexp.MustCompile(`\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces every ${NAME} in data with the variable's value.
func expandEnv(data []byte) ([]byte, error) {
	var errs []error
	out := envRefRE.ReplaceAllFunc(data, func(ref []byte) []byte {
		if bytes.HasPrefix(ref, []byte("$$")) {
			return ref[1:]
		}
		name := string(envRefRE.FindSubmatch(ref)[1])
		v, ok := os.LookupEnv(name)
		if !ok {
			errs = append(errs, fmt.Errorf("${%s} is not set in the environment", name))
		}
		return []byte(v)
	})
	if len(errs) == 0 {
		return out, nil
	}
	// Name the line of the first unset variable.
	line := 1 + bytes.Count(data[:envRefRE.FindIndex(data)[0]], []byte("\n"))
	for _, loc := range envRefRE.FindAllIndex(data, -1) {
		ref := data[loc[0]:loc[1]]
		if bytes.HasPrefix(ref, []byte("$$")) {
			continue
		}
		if _, ok := os.LookupEnv(string(envRefRE.FindSubmatch(ref)[1])); !ok {
			line = 1 + bytes.Count(data[:loc[0]], []byte("\n"))
			break
		}
	}
	return nil, fmt.Errorf("line %d: %w", line, errors.Join(errs...))
}

// readSecretFile reads a secret a config field names by path (a mounted
// Kubernetes Secret): its content without surrounding white space.
func readSecretFile(field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", field, path)
	}
	return v, nil
}

// gossipKeyFrom resolves gossip_key / gossip_key_file: at most one may be
// set; the file holds the key in standard base64.
func gossipKeyFrom(inline yamlBase64, file *string) ([]byte, error) {
	if file == nil {
		return inline, nil
	}
	if inline != nil {
		return nil, errors.New("gossip_key and gossip_key_file exclude each other")
	}
	v, err := readSecretFile("gossip_key_file", *file)
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("gossip_key_file: %s is not standard base64 (make one with: openssl rand -base64 32)", *file)
	}
	return key, nil
}
