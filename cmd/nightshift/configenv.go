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

// expandEnv replaces every ${NAME} in data with the variable's value; the
// first unset one is an error naming its line.
func expandEnv(data []byte) ([]byte, error) {
	var out bytes.Buffer
	last := 0
	for _, m := range envRefRE.FindAllSubmatchIndex(data, -1) {
		out.Write(data[last:m[0]])
		last = m[1]
		if data[m[0]+1] == '$' { // $${NAME} stands for ${NAME}
			out.Write(data[m[0]+1 : m[1]])
			continue
		}
		name := string(data[m[2]:m[3]])
		v, ok := os.LookupEnv(name)
		if !ok {
			return nil, fmt.Errorf("line %d: ${%s} is not set in the environment", 1+bytes.Count(data[:m[0]], []byte("\n")), name)
		}
		out.WriteString(v)
	}
	out.Write(data[last:])
	return out.Bytes(), nil
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
