package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/worker/collective"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/train"
)

// groupFit fits the same problem the way a training job does: n members
// (train.Trainer, optimiser lbfgs), each computing the gradient of its
// share of the rows, summed by the ring all-reduce over gRPC between
// loopback servers in this process. It returns rank 0's parameters, the
// iterations, the loss evaluations and the fit time.
func groupFit(n int, spec model.Spec, trX, trY []float32, dim int, l2, gtol float64) ([]float32, int64, int64, time.Duration, error) {
	var addrs []string
	var hubs []*collective.Hub
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, 0, 0, 0, err
		}
		h, stop, err := collective.Serve(ln, rpc.TLSConfig{})
		if err != nil {
			return nil, 0, 0, 0, err
		}
		defer stop()
		addrs, hubs = append(addrs, ln.Addr().String()), append(hubs, h)
	}
	sp := &pb.TrainSpec{Model: &pb.ModelConfig{Family: "logistic", L2: l2},
		Optimizer:  &pb.OptimizerConfig{Name: "lbfgs", MaxIterations: 10000, Tolerance: gtol},
		MinMembers: int32(n), MaxMembers: int32(n), Seed: 1}
	trainers := make([]*train.Trainer, n)
	for r := range trainers {
		d, err := train.FromMatrix(trX, trY, dim, spec)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		trainers[r] = train.NewTrainer(sp, d)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := hubs[r].Join(context.Background(), collective.Config{Group: "lbfgs", Generation: 1, Rank: r, Addrs: addrs})
			if err != nil {
				errs[r] = err
				return
			}
			defer g.Close()
			errs[r] = trainers[r].Generation(context.Background(), g, 1, addrs, 0, train.Hooks{})
		}()
	}
	wg.Wait()
	el := time.Since(start)
	for r, err := range errs {
		if err != nil {
			return nil, 0, 0, 0, fmt.Errorf("member %d: %w", r, err)
		}
	}
	st := trainers[0].State()
	return st.Params, st.Step, st.Samples / int64(len(trY)), el, nil
}
