package cluster

import (
	"context"
	"log/slog"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/storage"
)

// DevOptions configures a one-process development cluster.
type DevOptions struct {
	// Workers to start (default 2), each with Slots task slots (default 2).
	Workers int
	Slots   int
	// DataDir holds the coordinator's Raft state.
	DataDir string
	// GRPCAddr is the coordinator API address (default 127.0.0.1:7100).
	GRPCAddr string
	// Storage reaches the object store: file:// URIs on the local disk
	// (the embedded default) or an S3 endpoint.
	Storage storage.Config
	// Tokens is the coordinator's token mode ("": auto, which is off on
	// loopback; coordinator.TokensRequired to try tokens).
	Tokens string
	Logger *slog.Logger
}

// Dev is a running development cluster: one single-voter coordinator and
// its workers on loopback, the same code paths as a real cluster.
type Dev struct {
	*Cluster
}

// StartDev starts a development cluster and returns once the coordinator
// leads and every worker registered.
func StartDev(ctx context.Context, opts DevOptions) (*Dev, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.GRPCAddr == "" {
		opts.GRPCAddr = "127.0.0.1:7100"
	}
	c, err := Start(ctx, Options{Coordinators: 1, Workers: opts.Workers, Slots: opts.Slots, DataDir: opts.DataDir,
		GRPCAddr: opts.GRPCAddr, Storage: opts.Storage, Logger: opts.Logger,
		Coordinator: func(_ int, cfg *coordinator.Config) { cfg.Tokens = opts.Tokens }})
	if err != nil {
		return nil, err
	}
	return &Dev{Cluster: c}, nil
}
