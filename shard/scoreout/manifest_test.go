package scoreout_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/shard/scoreout"
)

func toJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestParseManifest: the contract's manifest decodes, fields added later
// are ignored, and an inconsistent manifest is ErrBadManifest.
func TestParseManifest(t *testing.T) {
	m, err := scoreout.ParseManifest([]byte(wantManifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 60 || m.BadRows != 2 || len(m.Objects) != 3 || m.Objects[2].Quarantine != "part-00002.parquet.quarantine.jsonl" {
		t.Errorf("decoded %+v", m)
	}
	if _, err := scoreout.ParseManifest([]byte(strings.Replace(wantManifest, `"job_id"`, `"added_later": 1, "job_id"`, 1))); err != nil {
		t.Errorf("a manifest with an added field: %v", err)
	}
	for name, edit := range map[string][2]string{
		"not JSON":          {`{`, `[`},
		"unknown version":   {`"format_version": 1`, `"format_version": 2`},
		"wrong total":       {`"rows": 60`, `"rows": 61`},
		"an attempt's key":  {`"key": "part-00001.parquet"`, `"key": "_temporary/part-00001.a2.parquet"`},
		"shard out of line": {`"shard": 1`, `"shard": 0`},
		"checksum":          {`"checksum": "crc32c:b73e5130"`, `"checksum": "md5:x"`},
		"quarantine key":    {`"quarantine": "part-00002.parquet.quarantine.jsonl"`, `"quarantine": "q.jsonl"`},
	} {
		_, err := scoreout.ParseManifest([]byte(strings.Replace(wantManifest, edit[0], edit[1], 1)))
		if !errors.Is(err, scoreout.ErrBadManifest) {
			t.Errorf("%s: %v, want ErrBadManifest", name, err)
		}
	}
}
