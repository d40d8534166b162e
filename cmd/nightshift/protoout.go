package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// protoJSON is how every command prints API messages with -o json: the
// canonical proto3 JSON mapping with the .proto field names (snake_case),
// zero values included, enums as their names and 64-bit integers as
// strings. The field names are the API's, so scripts can rely on them.
var protoJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// marshalProto returns m as JSON. protojson varies its whitespace on
// purpose; writeJSON re-indents it, so what is printed is byte-stable.
func marshalProto(m proto.Message) (json.RawMessage, error) {
	b, err := protoJSON.Marshal(m)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// writeProto prints one API message as indented JSON.
func writeProto(w io.Writer, m proto.Message) error {
	raw, err := marshalProto(m)
	if err != nil {
		return err
	}
	return writeJSON(w, raw)
}

// stateName is an enum value without its prefix, lower case: "running".
func stateName[E interface{ String() string }](e E, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(e.String(), prefix))
}

func jobState(s nsv1.JobState) string       { return stateName(s, "JOB_STATE_") }
func taskState(s nsv1.TaskState) string     { return stateName(s, "TASK_STATE_") }
func workerState(s nsv1.WorkerState) string { return stateName(s, "WORKER_STATE_") }

// parseJobStates reads "running,failed" (any case, with or without the
// JOB_STATE_ prefix).
func parseJobStates(list []string) ([]nsv1.JobState, error) {
	return parseStates[nsv1.JobState](list, "JOB_STATE_", nsv1.JobState_value, "job", "pending, running, finalizing, succeeded, failed or cancelled")
}

// parseStates reads a list of enum words (any case, with or without the
// prefix); what and want name the enum and its words in errors.
func parseStates[E ~int32](list []string, prefix string, values map[string]int32, what, want string) ([]E, error) {
	var out []E
	for _, s := range list {
		name := strings.ToUpper(strings.TrimSpace(s))
		if name == "" {
			continue
		}
		if !strings.HasPrefix(name, prefix) {
			name = prefix + name
		}
		v, ok := values[name]
		if !ok || v == 0 {
			return nil, fmt.Errorf("unknown %s state %q (want %s)", what, s, want)
		}
		out = append(out, E(v))
	}
	return out, nil
}

// terminal reports whether a job will change no more.
func terminal(s nsv1.JobState) bool {
	return s == nsv1.JobState_JOB_STATE_SUCCEEDED || s == nsv1.JobState_JOB_STATE_FAILED || s == nsv1.JobState_JOB_STATE_CANCELLED
}

func unixMs(ms int64) time.Time { return time.UnixMilli(ms) }

// jobElapsed is the job's run time so far (or in all, once it ended).
func jobElapsed(j *nsv1.Job) time.Duration {
	start := j.GetStartUnixMs()
	if start == 0 {
		start = j.GetCreateUnixMs()
	}
	if start == 0 {
		return 0
	}
	end := time.Now()
	if j.GetEndUnixMs() != 0 {
		end = unixMs(j.GetEndUnixMs())
	}
	return max(0, end.Sub(unixMs(start)))
}

// ago formats how long before now t was: "3m12s ago".
func ago(ms int64) string {
	if ms == 0 {
		return "-"
	}
	d := time.Since(unixMs(ms))
	if d < 0 {
		d = 0
	}
	return roundDur(d) + " ago"
}

// roundDur keeps durations short: 850ms, 12.3s, 4m10s, 3h2m0s.
func roundDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// jobRow is a job's line in `jobs list`. PROGRESS is rows done of total,
// or the step of a training job.
func jobRow(j *nsv1.Job) []string {
	progress := "-"
	switch {
	case j.GetSpec().GetTrain() != nil:
		progress = trainProgressText(j)
	case j.GetRowsTotal() > 0:
		progress = fmt.Sprintf("%s/%s rows", si(float64(j.GetRowsDone())), si(float64(j.GetRowsTotal())))
	case j.GetRowsDone() > 0:
		progress = si(float64(j.GetRowsDone())) + " rows"
	}
	return []string{j.GetId(), dash(j.GetSpec().GetName()), jobspec.Kind(j.GetSpec()), jobState(j.GetState()),
		fmt.Sprintf("%d/%d", j.GetTasksSucceeded(), j.GetTasksTotal()), progress, dash(j.GetSpec().GetPool()),
		ago(j.GetCreateUnixMs())}
}

var jobHeader = []string{"ID", "NAME", "KIND", "STATE", "TASKS", "PROGRESS", "POOL", "CREATED"}

// jobDetail is the key/value view of one job (`jobs get`, the --wait summary).
func jobDetail(j *nsv1.Job) [][2]string {
	el := jobElapsed(j)
	rows := [][2]string{
		{"id", j.GetId()},
		{"name", dash(j.GetSpec().GetName())},
		{"kind", jobspec.Kind(j.GetSpec())},
		{"state", jobState(j.GetState())},
		{"pool", dash(j.GetSpec().GetPool())},
		{"tasks", fmt.Sprintf("%d/%d succeeded, %d retries, %d speculative", j.GetTasksSucceeded(), j.GetTasksTotal(), j.GetRetries(), j.GetSpeculative())},
	}
	if j.GetSpec().GetTrain() == nil {
		rows = append(rows, [2]string{"rows", rowsText(j)})
	}
	rows = append(rows, [2]string{"elapsed", roundDur(el)})
	if j.GetRowsDone() > 0 && el > 0 && j.GetSpec().GetTrain() == nil {
		rows = append(rows, [2]string{"throughput", rate(float64(j.GetRowsDone()), el, "rows")})
	}
	result := j.GetResultUri()
	switch k := j.GetSpec().GetKind().(type) {
	case *nsv1.JobSpec_Score:
		model := k.Score.GetModel()
		if ref := j.GetModelRef(); ref != "" {
			model = ref + ": " + model // the registry version a reference resolved to, and its artifact
		}
		rows = append(rows, [2]string{"model", model}, [2]string{"input", k.Score.GetInput()})
	case *nsv1.JobSpec_Shard:
		rows = append(rows, [2]string{"sources", strings.Join(k.Shard.GetSources(), ", ")})
	case *nsv1.JobSpec_Train:
		rows = append(rows, trainDetail(j)...)
		if result == j.GetTrain().GetArtifactUri() {
			result = "" // shown as the artifact
		}
	}
	for _, kv := range [][2]string{{"output_dir", j.GetOutputDir()}, {"result", result},
		{"dataset", j.GetDatasetFingerprint()}, {"summary", string(j.GetSummaryJson())}, {"error", j.GetError()}} {
		if kv[1] != "" {
			rows = append(rows, kv)
		}
	}
	rows = append(rows, [2]string{"created", unixMs(j.GetCreateUnixMs()).Format(time.RFC3339)})
	return rows
}

func rowsText(j *nsv1.Job) string {
	if j.GetRowsTotal() > 0 {
		return fmt.Sprintf("%d of %d", j.GetRowsDone(), j.GetRowsTotal())
	}
	return fmt.Sprint(j.GetRowsDone())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// labelsText prints a label map as k=v,k=v in key order.
func labelsText(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}
