package scoreout

import (
	"fmt"
	"strings"
	"time"
)

// Names in a job's output folder (see the package comment).
const (
	// ManifestName is the object listing the committed output.
	ManifestName = "_manifest.json"
	// SuccessMarker is the empty object written last: the folder is
	// committed once it exists.
	SuccessMarker = "_SUCCESS"
	// TemporaryDir is the folder attempts write into; nothing in it is
	// committed output, and Clean empties it after the commit.
	TemporaryDir = "_temporary"
	// QuarantineSuffix is appended to an object's key to name the object
	// that holds the rows set aside while scoring it.
	QuarantineSuffix = ".quarantine.jsonl"
)

// StaleAge bounds how long an unfinished upload (a temp file of the file
// backend, an S3 multipart upload) elsewhere in a committed output folder
// is left alone: older ones are a killed writer's and Clean removes them.
// It is far longer than any single write takes, so a copy that a second
// committer is still making is never cut short, and short enough that a
// folder does not keep a dead writer's bytes for days.
const StaleAge = time.Hour

// Output formats and their file extensions.
const (
	FormatParquet = "parquet"
	FormatArrow   = "arrow"
)

// Ext returns the file extension of the output format: "arrow" for Arrow
// IPC files, "parquet" otherwise (the default format, also for "").
func Ext(format string) string {
	if format == FormatArrow {
		return FormatArrow
	}
	return FormatParquet
}

// AttemptKey is the key, relative to the job's output folder, of the object
// attempt number attempt of shard index writes: its own, so two attempts
// never write the same object, and under TemporaryDir until the commit.
func AttemptKey(index, attempt int, format string) string {
	return fmt.Sprintf("%s/part-%05d.a%d.%s", TemporaryDir, index, attempt, Ext(format))
}

// FinalKey is the key, relative to the job's output folder, of shard
// index's committed object.
func FinalKey(index int, format string) string {
	return fmt.Sprintf("part-%05d.%s", index, Ext(format))
}

// QuarantineKey is the key of the object holding the rows set aside while
// scoring into the object at key (an attempt's or a committed one).
func QuarantineKey(key string) string { return key + QuarantineSuffix }

// isAttemptKey reports whether key, relative to the output folder, lies
// under TemporaryDir.
func isAttemptKey(key string) bool {
	return strings.HasPrefix(key, TemporaryDir+"/") && len(key) > len(TemporaryDir)+1
}

// folder is the listing prefix of the folder dir/sub ("" for the root).
func folder(dir string, sub ...string) string {
	p := strings.Trim(dir, "/")
	for _, s := range sub {
		if p != "" {
			p += "/"
		}
		p += s
	}
	if p == "" {
		return ""
	}
	return p + "/"
}

// JobDir is the output folder of score job id below the output URI the
// spec names: OUTPUT/job-<id>. Each run writes its own folder, so a rerun
// never touches a committed output.
func JobDir(output, id string) string { return strings.TrimSuffix(output, "/") + "/job-" + id }
