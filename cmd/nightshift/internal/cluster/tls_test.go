package cluster

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/coordinator"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
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
	testkit.Wait(t, 10*time.Second, "the job to succeed over mTLS", func() bool {
		j, err := jobs.GetJob(ctx, &pb.GetJobRequest{Id: resp.Job.Id})
		if err != nil {
			t.Fatal(err)
		}
		return j.Job.State == pb.JobState_JOB_STATE_SUCCEEDED
	})
	// A certificate's role limits what it may call.
	roleCall := func(role string, call func(context.Context, *grpc.ClientConn) error) error {
		conn, err := rpc.Dial(c.Addr(), rpc.DevTLS(pki, role))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer ccancel()
		return call(cctx, conn)
	}
	listWorkers := func(ctx context.Context, conn *grpc.ClientConn) error {
		_, err := pb.NewAdminServiceClient(conn).ListWorkers(ctx, &pb.ListWorkersRequest{})
		return err
	}
	register := func(ctx context.Context, conn *grpc.ClientConn) error {
		_, err := pb.NewWorkerServiceClient(conn).Register(ctx, &pb.RegisterRequest{Worker: &pb.Worker{Id: "intruder", Slots: 1}})
		return err
	}
	if err := roleCall("worker", listWorkers); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a worker certificate called the admin API: %v", err)
	}
	if err := roleCall("client", register); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a client certificate registered a worker: %v", err)
	}
	if err := roleCall("client", listWorkers); err != nil {
		t.Fatalf("a client certificate may list workers: %v", err)
	}
	// The Raft transport drops a peer whose certificate is not a coordinator's.
	wtls, err := rpc.DevTLS(pki, "worker").ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	raftConn, err := tls.Dial("tcp", c.Leader().RaftAddr(), wtls)
	if err == nil {
		_ = raftConn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err = raftConn.Read(make([]byte, 1)); err == nil {
			t.Fatal("the Raft transport kept a worker's connection")
		}
		_ = raftConn.Close()
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
