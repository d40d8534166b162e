package shard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"github.com/nightshift-ml/nightshift/storage"
)

// badRowSink applies the bad-row policy. Under "fail" the first bad row is
// the unit's error; under "quarantine" each one is written, with its reason,
// as a JSON line to a side object and counted.
type badRowSink struct {
	ctx    context.Context
	policy BadRowPolicy
	bucket storage.Bucket
	key    string // where quarantined rows go
	ow     *storage.Writer
	bw     *bufio.Writer
	count  int64
}

// quarantinedRow is one line of a quarantine object.
type quarantinedRow struct {
	Object string `json:"object"`
	Line   int64  `json:"line,omitempty"`
	Row    int64  `json:"row,omitempty"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
	Raw    string `json:"raw,omitempty"`
}

// add handles one bad row: it returns e under "fail", nil once recorded.
func (s *badRowSink) add(e *InputError, raw string) error {
	if s.policy != BadRowsQuarantine {
		return e
	}
	if s.ow == nil {
		s.ow = storage.NewWriter(s.ctx, s.bucket, s.key, storage.PutOptions{ContentType: "application/x-ndjson"})
		s.bw = bufio.NewWriterSize(s.ow, 64<<10)
	}
	line, err := json.Marshal(quarantinedRow{Object: e.Object, Line: e.Line, Row: e.Row,
		Column: e.Column, Reason: e.Reason, Raw: truncate(raw, 4096)})
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	s.bw.Write(line)
	if err := s.bw.WriteByte('\n'); err != nil {
		return fmt.Errorf("quarantine %s: %w", s.bucket.URI(s.key), err)
	}
	s.count++
	return nil
}

// close commits the quarantine object, if any; it returns its key or "".
func (s *badRowSink) close() (string, error) {
	if s.ow == nil {
		return "", nil
	}
	if err := s.bw.Flush(); err != nil {
		s.ow.Abort()
		return "", err
	}
	if _, err := s.ow.Close(); err != nil {
		return "", err
	}
	return s.key, nil
}

// abort discards the quarantine object.
func (s *badRowSink) abort() {
	if s.ow != nil {
		s.ow.Abort()
	}
}
