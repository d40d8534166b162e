package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
)

// A schedule file is decoded strictly into jobspec.ScheduleDoc, which
// turns it into a normalised, validated ScheduleSpec (package jobspec owns
// the rules, package cron the time rules), with the machinery of training
// job files: every error names the file, the line and the field,
// "nightly.yaml:7: pipeline.train.epochs: must be ≥ 1".

// loadScheduleFile reads a schedule file and returns its validated spec.
func loadScheduleFile(path string) (*pb.ScheduleSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schedule file: %w", err)
	}
	return parseScheduleFile(path, data)
}

// parseScheduleFile decodes, defaults and validates a schedule file; path
// names it in errors. All bad fields are reported at once, on one line.
func parseScheduleFile(path string, data []byte) (*pb.ScheduleSpec, error) {
	fields := yamlFields(data)
	var doc jobspec.ScheduleDoc
	if err := decodeDocFile(path, "schedule file", data, fields, &doc); err != nil {
		// An unquoted template in a flow list ([…{{ … }}…]) is the usual cause.
		if fields == nil && bytes.Contains(data, []byte("{{")) {
			err = fmt.Errorf("%w (in YAML, quote a value that holds a template: '…{{ … }}…')", err)
		}
		return nil, err
	}
	spec, err := doc.Spec()
	var errs jobspec.Errors
	if err != nil && !errors.As(err, &errs) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	errs = append(errs, ingestOptionErrors(doc.Pipeline)...)
	if len(errs) > 0 {
		return nil, errors.New(fields.explain(path, errs))
	}
	return spec, nil
}

// ingestOptionErrors checks the names and types of the ingest options as
// the coordinator will when the step runs (strict JSON into
// shard.Options), one option at a time so that every bad one is told now
// rather than by a failed run. jobspec cannot: package shard owns them.
func ingestOptionErrors(p *jobspec.PipelineDoc) jobspec.Errors {
	if p == nil || p.Ingest == nil {
		return nil
	}
	var errs jobspec.Errors
	for _, name := range slices.Sorted(maps.Keys(p.Ingest.Options)) {
		one, err := json.Marshal(map[string]any{name: p.Ingest.Options[name]})
		if err != nil {
			continue // the spec tells it, at pipeline.ingest.options
		}
		dec := json.NewDecoder(bytes.NewReader(one))
		dec.DisallowUnknownFields()
		var opts shard.Options
		err = dec.Decode(&opts)
		var te *json.UnmarshalTypeError
		msg := ""
		switch {
		case err == nil:
			continue
		case errors.As(err, &te):
			msg = fmt.Sprintf("want %s, got %s", goTypeWords(te.Type.Kind().String()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			msg = "unknown option (want " + strings.Join(shardOptionNames(), ", ") + ")"
		default:
			msg = err.Error()
		}
		errs = append(errs, jobspec.FieldError{Path: "pipeline.ingest.options." + name, Msg: msg})
	}
	return errs
}

// shardOptionNames are the JSON names of shard.Options, the options of
// `nightshift shard` with '_' for '-'.
func shardOptionNames() []string {
	t := reflect.TypeFor[shard.Options]()
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}
