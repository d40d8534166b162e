package cluster

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nightshift-ml/nightshift/storage"
)

// DevOptions configures a one-process development cluster.
type DevOptions struct {
	// Workers to start (default 2), each with Slots task slots (default 2).
	Workers int
	Slots   int
	// DataDir holds the coordinator's Raft state and the local object store
	// (file:// URIs resolve below DataDir/store when Storage.FileRoot is empty).
	DataDir string
	// GRPCAddr is the coordinator API address (default 127.0.0.1:7100).
	GRPCAddr string
	Storage  storage.Config
	Logger   *slog.Logger
}

// Dev is a running development cluster: one single-voter coordinator and
// its workers on loopback.
type Dev struct {
	addr string
}

// StartDev starts a development cluster and returns once the coordinator
// leads and every worker registered.
func StartDev(ctx context.Context, opts DevOptions) (*Dev, error) {
	return nil, errors.New("dev cluster: not wired yet")
}

// Addr returns the coordinator's gRPC address.
func (d *Dev) Addr() string { return d.addr }

// Close stops the workers (draining them) and the coordinator.
func (d *Dev) Close() error { return nil }
