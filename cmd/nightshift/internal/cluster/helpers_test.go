package cluster

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// fixture is a dataset and a model in a file:// store.
type fixture struct {
	st      storage.Config
	base    string
	dataset string
	model   string
	rows    int64
	shards  int
}

// newFixture writes a sample dataset of files×rowsPerFile rows cut into
// shards of rowsPerShard rows, and the generator's true logistic model.
func newFixture(t testing.TB, files, rowsPerFile int, rowsPerShard int64) *fixture {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	f := &fixture{st: storage.Config{}, base: "file://" + root}
	spec := sample.Spec{Files: files, RowsPerFile: rowsPerFile, Features: 4, Seed: 7, Format: "arrow"}
	b, key, err := storage.Open(ctx, f.base+"/raw", f.st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Write(ctx, b, key, spec); err != nil {
		t.Fatal(err)
	}
	f.dataset = f.base + "/dataset"
	res, err := shard.Ingest(ctx, f.st, []string{f.base + "/raw/raw/"}, f.dataset,
		shard.Options{RowsPerShard: rowsPerShard, BatchRows: int(rowsPerShard), Compression: shard.CompressionNone}, shard.RunOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	f.rows, f.shards = res.Manifest.TotalRows, len(res.Manifest.Shards)
	m, err := model.FromTruth(sample.NewTruth(spec))
	if err != nil {
		t.Fatal(err)
	}
	f.model = f.base + "/models/truth"
	if err := m.Save(ctx, f.st, f.model); err != nil {
		t.Fatal(err)
	}
	return f
}

func clients(t testing.TB, addr string) (pb.JobServiceClient, pb.AdminServiceClient) {
	t.Helper()
	conn, err := rpc.Dial(addr, rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewJobServiceClient(conn), pb.NewAdminServiceClient(conn)
}

// submitScore submits a scoring job through any live coordinator, retrying
// while leadership moves.
func submitScore(t *testing.T, c *Cluster, f *fixture, key string) *pb.Job {
	t.Helper()
	return submitSpec(t, c, &pb.JobSpec{IdempotencyKey: key, Kind: &pb.JobSpec_Score{Score: &pb.ScoreSpec{
		Model: f.model, Input: f.dataset, Output: f.base + "/scored", Passthrough: []string{"id"}}}})
}

// getJob reads a job from whichever coordinator answers.
func getJob(c *Cluster, id string) (*pb.Job, error) {
	conn, err := rpc.Dial(c.Addr(), rpc.TLSConfig{})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := pb.NewJobServiceClient(conn).GetJob(ctx, &pb.GetJobRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return resp.Job, nil
}

// waitJob waits until a job is terminal and returns it; each, when set,
// sees every state read on the way.
func waitJob(t *testing.T, c *Cluster, id string, d time.Duration, each func(*pb.Job)) *pb.Job {
	t.Helper()
	var j *pb.Job
	testkit.Retry(t, d, "job "+id+" to finish", func() error {
		got, err := getJob(c, id)
		if err != nil {
			return err
		}
		if each != nil {
			each(got)
		}
		switch got.State {
		case pb.JobState_JOB_STATE_SUCCEEDED, pb.JobState_JOB_STATE_FAILED, pb.JobState_JOB_STATE_CANCELLED:
			j = got
			return nil
		}
		return fmt.Errorf("%s, %d/%d tasks succeeded", got.State, got.TasksSucceeded, got.TasksTotal)
	})
	return j
}

// checkScoreOutput reads the committed output back and checks the
// contract: _SUCCESS present, _manifest.json lists one object per shard,
// each object exists with its size and checksum, and the listed objects
// hold every input id exactly once. It returns the output folder's keys.
func checkScoreOutput(t *testing.T, f *fixture, j *pb.Job) []string {
	t.Helper()
	ctx := context.Background()
	b, dir, err := storage.Open(ctx, j.OutputDir, f.st)
	if err != nil {
		t.Fatal(err)
	}
	man, err := scoreout.ReadManifest(ctx, b, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Objects) != f.shards || man.Rows != f.rows {
		t.Fatalf("manifest lists %d objects and %d rows; want %d and %d", len(man.Objects), man.Rows, f.shards, f.rows)
	}
	seen := make([]uint8, f.rows)
	for _, o := range man.Objects {
		data := readObject(t, b, storage.JoinKey(dir, o.Key))
		if int64(len(data)) != o.Bytes || checksum(data) != o.Checksum {
			t.Fatalf("%s: %d bytes %s, manifest says %d %s", o.Key, len(data), checksum(data), o.Bytes, o.Checksum)
		}
		n := 0
		for _, id := range readIDs(t, o.Key, data) {
			if id < 0 || id >= f.rows {
				t.Fatalf("%s: id %d out of range", o.Key, id)
			}
			seen[id]++
			n++
		}
		if int64(n) != o.Rows {
			t.Fatalf("%s holds %d rows, manifest says %d", o.Key, n, o.Rows)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("row id %d appears %d times in the committed output", id, n)
		}
	}
	var keys []string
	for info, err := range b.List(ctx, dir+"/") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, strings.TrimPrefix(info.Key, dir+"/"))
	}
	return keys
}

func readObject(t *testing.T, b storage.Bucket, key string) []byte {
	t.Helper()
	data, err := storage.ReadAll(context.Background(), b, key, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readIDs returns the id column of a Parquet or Arrow IPC output object.
func readIDs(t *testing.T, name string, data []byte) []int64 {
	t.Helper()
	var recs []arrow.Record
	switch filepath.Ext(name) {
	case ".parquet":
		pf, err := file.NewParquetReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer tbl.Release()
		tr := array.NewTableReader(tbl, 1<<16)
		defer tr.Release()
		for tr.Next() {
			r := tr.Record()
			r.Retain()
			recs = append(recs, r)
		}
	case ".arrow":
		fr, err := ipc.NewFileReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer fr.Close()
		for i := range fr.NumRecords() {
			r, err := fr.Record(i)
			if err != nil {
				t.Fatal(err)
			}
			r.Retain()
			recs = append(recs, r)
		}
	default:
		t.Fatalf("unexpected output object %s", name)
	}
	var ids []int64
	for _, r := range recs {
		idx := r.Schema().FieldIndices("id")
		if len(idx) != 1 {
			t.Fatalf("%s: no id column in %s", name, r.Schema())
		}
		col := r.Column(idx[0]).(*array.Int64)
		for i := range col.Len() {
			ids = append(ids, col.Value(i))
		}
		r.Release()
	}
	return ids
}

func checksum(data []byte) string {
	return scoreout.Checksum(crc32c(data))
}
