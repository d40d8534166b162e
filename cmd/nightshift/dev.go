package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/cmd/nightshift/internal/cluster"
	"github.com/nightshift-ml/nightshift/coordinator"
)

type devFlags struct {
	workers  int
	slots    int
	data     string
	addr     string
	logLevel string
	tokens   string
	st       storageFlags
}

func newDevCmd() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a one-process cluster on loopback (coordinator, workers, local store)",
		Long: `dev runs a whole cluster in this process: a single-voter coordinator, --workers
workers with --slots task slots each, and a local-disk object store under
--data/store for file:// URIs. It binds loopback only, uses no TLS, and runs
the same code as a real cluster. It prints the address and the environment
to export so that other nightshift commands reach it, then stays up until
SIGINT or SIGTERM, when the workers drain and everything stops.

Raft state lives under --data, so stopping and starting dev again with the
same --data keeps the jobs.`,
		Example: `  nightshift dev
  nightshift dev --workers 4 --slots 2 --data ./.dev
  # in another shell:
  export NIGHTSHIFT_ADDR=127.0.0.1:7100
  nightshift workers list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.workers, "workers", 2, "workers to start")
	fl.IntVar(&f.slots, "slots", 2, "task slots per worker")
	fl.StringVar(&f.data, "data", filepath.Join(os.TempDir(), "nightshift-dev"), "folder for Raft state and the local object store (DATA/store)")
	fl.StringVar(&f.addr, "addr", defaultCoordinator, "coordinator API address (loopback only)")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	fl.StringVar(&f.tokens, "tokens", coordinator.TokensOff, "bearer tokens on the API: off (loopback stays open) or required (try them: nightshift tokens bootstrap)")
	addStorageFlags(cmd, &f.st)
	return cmd
}

func runDev(cmd *cobra.Command, f *devFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %q is not debug, info, warn or error", f.logLevel)
	}
	data, err := filepath.Abs(f.data)
	if err != nil {
		return err
	}
	st := f.st.config()
	if st.FileRoot == "" {
		st.FileRoot = filepath.Join(data, "store")
	}
	if err := os.MkdirAll(st.FileRoot, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	ctx := cmd.Context()
	if f.tokens != coordinator.TokensOff && f.tokens != coordinator.TokensRequired {
		return fmt.Errorf("--tokens %q: want off or required", f.tokens)
	}
	dev, err := cluster.StartDev(ctx, cluster.DevOptions{Workers: f.workers, Slots: f.slots, DataDir: data,
		GRPCAddr: f.addr, Storage: st, Tokens: f.tokens, Logger: log})
	if err != nil {
		return err
	}
	printDevBanner(cmd.OutOrStdout(), dev.Addr(), f, data, st.FileRoot)
	err = runUntilSignal(ctx, log, func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})
	fmt.Fprintln(cmd.ErrOrStderr(), "stopping: draining workers")
	if cerr := dev.Close(); err == nil {
		err = cerr
	}
	return err
}

func printDevBanner(w io.Writer, addr string, f *devFlags, data, root string) {
	store := "file://" + root
	open := "loopback only, no TLS, no tokens: open to anyone on this machine"
	if f.tokens == coordinator.TokensRequired {
		open = "loopback only, no TLS, bearer tokens required: nightshift tokens bootstrap"
	}
	fmt.Fprintf(w, `nightshift dev cluster is up: 1 coordinator, %d worker(s) x %d slots (`+open+`)

  coordinator  %s
  data         %s
  file store   %s   (file:// URIs outside it are refused)

In another shell:

  export NIGHTSHIFT_ADDR=%s

  nightshift workers list
  nightshift shard --input %s/raw/ --output %s/datasets/mine --submit --wait
  nightshift score --model %s/models/mine --input %s/datasets/mine --output %s/scores --wait
  nightshift jobs list
  nightshift operator raft list-peers

Ctrl-C stops the cluster (workers drain first).
`, f.workers, f.slots, addr, data, store, addr, store, store, store, store, store)
}
