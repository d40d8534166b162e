package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	"github.com/nightshift-ml/nightshift/storage"
)

// The YAML config files of `nightshift coordinator` and `nightshift worker`
// are decoded strictly (an unknown field is an error) into the *File
// structs of coordinator_cmd.go and worker_cmd.go, which are then turned
// into coordinator.Config and worker.Config by one function each. A field
// left out keeps its default. Every error names the file, the line and the
// field.

// loadYAML reads path, expands its ${VAR}s (configenv.go) and decodes it
// strictly into into.
func loadYAML(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if data, err = expandEnv(data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return decodeYAML(path, data, into)
}

func decodeYAML(path string, data []byte, into any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(into)
	if errors.Is(err, io.EOF) {
		return nil // an empty file: every field keeps its default
	}
	if err = jobspec.WithIntegerErrors(err, data, into); err != nil {
		return fmt.Errorf("%s: %s", path, explainYAML(data, err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: line %d: a config file holds one YAML document", path, extra.Line)
	}
	return nil
}

var (
	lineRE     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	mismatchRE = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
)

// explainYAML rewrites yaml.v3's errors ("line 7: field foo not found in
// type main.coordinatorFile", "line 3: cannot unmarshal !!str `x` into
// int") so each names the field by its path in the file, and joins them on
// one line.
func explainYAML(data []byte, err error) string {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	paths := fieldLines(data)
	for i, m := range msgs {
		sub := lineRE.FindStringSubmatch(m)
		if sub == nil {
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		path, msg := paths[line], sub[2]
		switch u, mm := unknownRE.FindStringSubmatch(msg), mismatchRE.FindStringSubmatch(msg); {
		case u != nil:
			if path == "" {
				path = u[1]
			}
			msg = fmt.Sprintf("unknown field %q", path)
			if f := strings.ToLower(u[1]); strings.Contains(f, "secret") || strings.Contains(f, "access") || strings.Contains(f, "password") {
				msg += " (credentials come from the environment only: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
			}
			path = ""
		case mm != nil:
			got := mm[1]
			if mm[2] != "" {
				got = strconv.Quote(mm[2])
			}
			msg = fmt.Sprintf("want %s, got %s", goTypeWords(mm[3]), got)
		}
		if path != "" {
			msg = path + ": " + msg
		}
		msgs[i] = fmt.Sprintf("line %s: %s", sub[1], msg)
	}
	return strings.Join(msgs, "; ")
}

func goTypeWords(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "main."), strings.HasPrefix(t, "rpc."), strings.HasPrefix(t, "jobspec."):
		return "a mapping"
	}
	return t
}

// typeError reports a bad value the way yaml.v3 does, so decoding goes on
// and every bad field is reported at once.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

// yamlDuration is a Go duration string: 500ms, 10s, 1m30s.
type yamlDuration struct {
	d   time.Duration
	set bool
}

// UnmarshalYAML parses the duration.
func (y *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d < 0 {
		return typeError(n, "%q is not a duration (e.g. 500ms, 10s, 1m30s)", n.Value)
	}
	y.d, y.set = d, true
	return nil
}

func (y yamlDuration) apply(dst *time.Duration) {
	if y.set {
		*dst = y.d
	}
}

// yamlBytes is a byte size: 1073741824, 512MiB, 4GiB, 2GB.
type yamlBytes struct {
	n   int64
	set bool
}

// UnmarshalYAML parses the size.
func (y *yamlBytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseBytes(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return typeError(n, "%q is not a byte size (e.g. 512MiB, 4GiB, 2GB)", n.Value)
	}
	y.n, y.set = v, true
	return nil
}

// yamlBase64 is a key in standard base64 (`openssl rand -base64 32`).
type yamlBase64 []byte

// UnmarshalYAML decodes the key.
func (y *yamlBase64) UnmarshalYAML(n *yaml.Node) error {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(n.Value))
	if n.Kind != yaml.ScalarNode || err != nil {
		return typeError(n, "not standard base64 (make one with: openssl rand -base64 32)")
	}
	*y = b
	return nil
}

// logLevel is debug, info, warn or error.
type logLevel struct {
	level slog.Level
	set   bool
}

// UnmarshalYAML parses the level.
func (l *logLevel) UnmarshalYAML(n *yaml.Node) error {
	if err := l.level.UnmarshalText([]byte(n.Value)); n.Kind != yaml.ScalarNode || err != nil {
		return typeError(n, "%q is not a log level (debug, info, warn, error)", n.Value)
	}
	l.set = true
	return nil
}

// logFormat is text or json.
type logFormat string

// UnmarshalYAML checks the format.
func (f *logFormat) UnmarshalYAML(n *yaml.Node) error {
	if n.Value != "text" && n.Value != "json" {
		return typeError(n, "%q is not a log format (text or json)", n.Value)
	}
	*f = logFormat(n.Value)
	return nil
}

// logFile is the log section shared by both files.
type logFile struct {
	Level  logLevel  `yaml:"level"`
	Format logFormat `yaml:"format"`
}

// newLogger builds the process's one structured logger on stderr.
func (l logFile) newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if l.Level.set {
		opts.Level = l.Level.level
	}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// storageFile is the storage section shared by both files. Credentials are
// not part of it: they come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
type storageFile struct {
	S3Endpoint *string `yaml:"s3_endpoint"`
	S3Region   *string `yaml:"s3_region"`
	S3TLS      *bool   `yaml:"s3_tls"`
	FileRoot   *string `yaml:"file_root"`
}

// config starts from the environment (NIGHTSHIFT_S3_ENDPOINT, AWS_*) and
// lets the file's settings win.
func (s storageFile) config() storage.Config {
	c := storage.ConfigFromEnv()
	setIf(&c.S3.Endpoint, s.S3Endpoint)
	setIf(&c.S3.Region, s.S3Region)
	setIf(&c.S3.Secure, s.S3TLS)
	setIf(&c.FileRoot, s.FileRoot)
	if strings.HasPrefix(c.S3.Endpoint, "https://") {
		c.S3.Endpoint, c.S3.Secure = strings.TrimPrefix(c.S3.Endpoint, "https://"), true
	} else if strings.HasPrefix(c.S3.Endpoint, "http://") {
		c.S3.Endpoint, c.S3.Secure = strings.TrimPrefix(c.S3.Endpoint, "http://"), false
	}
	return c
}

// setIf copies *src into *dst when the file set it.
func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// oneLine joins errors.Join's lines for a one-line message.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
