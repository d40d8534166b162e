package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/worker"
)

// TestMutualTLSCluster runs a 3-voter cluster whose Raft transport and gRPC
// servers require client certificates and whose gossip is encrypted: a
// job runs end to end, a client with the CA's certificate gets in, a
// plaintext client and one with a foreign certificate do not.
func TestMutualTLSCluster(t *testing.T) {
	pki := t.TempDir()
	if _, err := rpc.WriteDevPKI(pki, []string{"127.0.0.1", "localhost"}, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	c := startCluster(t, 3, 2, func(o *Options) {
		o.Coordinator = func(_ int, cfg *coordinator.Config) { cfg.TLS, cfg.GossipKey = rpc.DevTLS(pki, "coordinator"), key }
		o.Worker = func(_ int, cfg *worker.Config) { cfg.TLS, cfg.GossipKey = rpc.DevTLS(pki, "worker"), key }
		o.ClientTLS = rpc.DevTLS(pki, "client")
	})
	conn, err := rpc.Dial(c.Addr(), rpc.DevTLS(pki, "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	jobs := pb.NewJobServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 30}}}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		j, err := jobs.GetJob(ctx, &pb.GetJobRequest{Id: resp.Job.Id})
		if err != nil {
			t.Fatal(err)
		}
		if j.Job.State == pb.JobState_JOB_STATE_SUCCEEDED {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Without a certificate, or with one from another CA, calls fail.
	other := t.TempDir()
	if _, err := rpc.WriteDevPKI(other, []string{"127.0.0.1"}, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]rpc.TLSConfig{"plaintext": {}, "foreign CA": rpc.DevTLS(other, "client")} {
		bad, err := rpc.Dial(c.Addr(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = pb.NewJobServiceClient(bad).ListJobs(cctx, &pb.ListJobsRequest{})
		ccancel()
		_ = bad.Close()
		if err == nil {
			t.Fatalf("%s client was let in", name)
		}
	}
}
