package scoreout_test

import (
	"testing"

	"github.com/nightshift-ml/nightshift/shard/scoreout"
)

// TestNames pins the names of the output contract (README "Output
// contract"): users and scripts rely on them.
func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{scoreout.AttemptKey(3, 2, "parquet"), "_temporary/part-00003.a2.parquet"},
		{scoreout.AttemptKey(12345, 1, "arrow"), "_temporary/part-12345.a1.arrow"},
		{scoreout.AttemptKey(0, 1, ""), "_temporary/part-00000.a1.parquet"},
		{scoreout.FinalKey(7, "parquet"), "part-00007.parquet"},
		{scoreout.FinalKey(7, "arrow"), "part-00007.arrow"},
		{scoreout.QuarantineKey("part-00007.parquet"), "part-00007.parquet.quarantine.jsonl"},
		{scoreout.QuarantineKey(scoreout.AttemptKey(7, 3, "arrow")), "_temporary/part-00007.a3.arrow.quarantine.jsonl"},
		{scoreout.ManifestName, "_manifest.json"},
		{scoreout.SuccessMarker, "_SUCCESS"},
		{scoreout.TemporaryDir, "_temporary"},
		{scoreout.Checksum(0xbeef), "crc32c:0000beef"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestJobDir(t *testing.T) {
	for _, out := range []string{"s3://b/scores", "s3://b/scores/"} {
		if got := scoreout.JobDir(out, "abc"); got != "s3://b/scores/job-abc" {
			t.Errorf("JobDir(%q) = %q", out, got)
		}
	}
}
