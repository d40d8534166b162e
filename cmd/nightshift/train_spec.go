package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// A training job file (`nightshift train -f JOB.yaml`) is decoded strictly
// into jobspec.TrainDoc (an unknown field is an error), which turns it into
// a normalised, validated JobSpec (package jobspec owns the rules and the
// defaults). This file only maps the field paths of the errors to the
// file's lines: "job.yaml:7: optimizer.lr: must be > 0".

// trainJob is a decoded, validated job file.
type trainJob struct {
	// path names the file in errors; fields locate its lines.
	path   string
	fields yamlFieldList
	spec   *nsv1.JobSpec
}

// loadTrainFile reads a job file and returns its validated JobSpec.
func loadTrainFile(path string) (*trainJob, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	return parseTrainFile(path, data)
}

// parseTrainFile decodes, defaults and validates a job file; path names it
// in errors. All bad fields are reported at once, on one line.
func parseTrainFile(path string, data []byte) (*trainJob, error) {
	job := &trainJob{path: path, fields: yamlFields(data)}
	var f jobspec.TrainDoc
	if err := decodeDocFile(path, "job file", data, job.fields, &f); err != nil {
		return nil, err
	}
	spec, err := f.JobSpec()
	var errs jobspec.Errors
	if errors.As(err, &errs) {
		return nil, errors.New(job.fields.explain(path, errs))
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	job.spec = spec
	return job, nil
}

// decodeDocFile decodes a document file (a job file, a schedule file)
// strictly into doc: one YAML document whose every field doc knows. kind
// names the file in errors ("job file"); fields are data's.
func decodeDocFile(path, kind string, data []byte, fields yamlFieldList, doc any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(doc); errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: the %s is empty", path, kind)
	} else if err = jobspec.WithIntegerErrors(err, data, doc); err != nil {
		return errors.New(strings.Join(explainTrainYAML(path, fields, err), "; "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s:%d: a %s holds one YAML document", path, extra.Line, kind)
	}
	return nil
}

// explain writes the spec's field errors as one line, each prefixed by
// the file and the line of its field, in the file's order.
func (fs yamlFieldList) explain(file string, errs jobspec.Errors) string {
	type located struct {
		line int
		msg  string
	}
	out := make([]located, len(errs))
	for i, e := range errs {
		line, prefix := fs.at(file, e.Path)
		out[i] = located{line, prefix + e.Error()}
	}
	slices.SortStableFunc(out, func(a, b located) int { return a.line - b.line })
	msgs := make([]string, len(out))
	for i, l := range out {
		msgs[i] = l.msg
	}
	return strings.Join(msgs, "; ")
}

// at is the "file:line: " prefix of an error about path: the line of the
// field, else of its nearest enclosing field in the file (a required field
// left out of a feature names the feature's line), else just "file: ".
// It also returns the line (0 for none), to order errors by.
func (fs yamlFieldList) at(file, path string) (int, string) {
	for p := path; p != ""; p = parentPath(p) {
		for _, f := range fs {
			if f.path == p {
				return f.line, fmt.Sprintf("%s:%d: ", file, f.line)
			}
		}
	}
	return 0, file + ": "
}

// prefix is the "file:line: " prefix of an error about path.
func (fs yamlFieldList) prefix(file, path string) string {
	_, p := fs.at(file, path)
	return p
}

// parentPath drops the last element of a field path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// explainTrainYAML rewrites yaml.v3's decoding errors ("line 7: field foo
// not found in type main.trainModel", "line 3: cannot unmarshal !!str `x`
// into int32") as "job.yaml:7: model.foo: unknown field", naming each field
// by its path in the file (a job file's or a schedule file's). Several fields on one line (a flow mapping like
// `{column: age, kind: numeric}`) are told apart by the key or the value.
func explainTrainYAML(file string, fields yamlFieldList, err error) []string {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = slices.Clone(te.Errors)
	}
	for i, m := range msgs {
		sub := lineRE.FindStringSubmatch(m)
		if sub == nil {
			msgs[i] = file + ": " + strings.TrimPrefix(m, "yaml: ")
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		msg := sub[2]
		var onLine []yamlField
		for _, f := range fields {
			if f.line == line {
				onLine = append(onLine, f)
			}
		}
		path := ""
		switch u, mm := unknownRE.FindStringSubmatch(msg), mismatchRE.FindStringSubmatch(msg); {
		case u != nil:
			path = u[1]
			for _, f := range onLine {
				if f.path == u[1] || strings.HasSuffix(f.path, "."+u[1]) {
					path = f.path
				}
			}
			msg = "unknown field"
		case mm != nil:
			got := mm[1]
			if mm[2] != "" {
				got = strconv.Quote(mm[2])
			}
			for _, f := range onLine {
				if path == "" || f.value != nil && f.value.Kind == yaml.ScalarNode && f.value.Value == mm[2] {
					path = f.path
				}
			}
			msg = fmt.Sprintf("want %s, got %s", goTypeWords(strings.TrimPrefix(mm[3], "*")), got)
		}
		if path != "" {
			msg = path + ": " + msg
		}
		msgs[i] = fmt.Sprintf("%s:%d: %s", file, line, msg)
	}
	return msgs
}
