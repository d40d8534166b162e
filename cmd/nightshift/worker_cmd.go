package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/worker"
)

// workerFile is the YAML config file of `nightshift worker`. README.md
// (Configuration) lists every field with its default.
type workerFile struct {
	ID              *string           `yaml:"id"`
	Pool            *string           `yaml:"pool"`
	Slots           *int              `yaml:"slots"`
	Labels          map[string]string `yaml:"labels"`
	MemoryBytes     yamlBytes         `yaml:"memory_bytes"`
	Coordinators    []string          `yaml:"coordinators"`
	GRPCAddr        *string           `yaml:"grpc_addr"`
	GRPCAdvertise   *string           `yaml:"grpc_advertise"`
	HTTPAddr        *string           `yaml:"http_addr"`
	GossipAddr      *string           `yaml:"gossip_addr"`
	GossipAdvertise *string           `yaml:"gossip_advertise"`
	Seeds           []string          `yaml:"seeds"`
	GossipKey       yamlBase64        `yaml:"gossip_key"`
	GossipKeyFile   *string           `yaml:"gossip_key_file"`
	TLS             *rpc.TLSConfig    `yaml:"tls"`
	LoopbackOnly    *bool             `yaml:"loopback_only"`
	Insecure        *bool             `yaml:"insecure"`
	Storage         storageFile       `yaml:"storage"`
	DrainGrace      yamlDuration      `yaml:"drain_grace"`
	LeaseWait       yamlDuration      `yaml:"lease_wait"`
	RPCTimeout      yamlDuration      `yaml:"rpc_timeout"`
	FlushTimeout    yamlDuration      `yaml:"flush_timeout"`
	PodDeletionCost *bool             `yaml:"pod_deletion_cost"`
	Log             logFile           `yaml:"log"`
}

// workerConfig turns the file into a worker.Config: the defaults,
// overridden by every field the file sets.
func workerConfig(f *workerFile) worker.Config {
	c := worker.DefaultConfig()
	setIf(&c.ID, f.ID)
	setIf(&c.Pool, f.Pool)
	setIf(&c.Slots, f.Slots)
	if f.Labels != nil {
		c.Labels = f.Labels
	}
	if f.MemoryBytes.set {
		c.MemoryBytes = f.MemoryBytes.n
	}
	if f.Coordinators != nil {
		c.Coordinators = f.Coordinators
	}
	setIf(&c.GRPCAddr, f.GRPCAddr)
	setIf(&c.GRPCAdvertise, f.GRPCAdvertise)
	setIf(&c.HTTPAddr, f.HTTPAddr)
	setIf(&c.GossipAddr, f.GossipAddr)
	setIf(&c.GossipAdvertise, f.GossipAdvertise)
	if f.Seeds != nil {
		c.Seeds = f.Seeds
	}
	if f.GossipKey != nil {
		c.GossipKey = f.GossipKey
	}
	setIf(&c.TLS, f.TLS)
	setIf(&c.LoopbackOnly, f.LoopbackOnly)
	setIf(&c.Insecure, f.Insecure)
	c.Storage = f.Storage.config()
	f.DrainGrace.apply(&c.DrainGrace)
	f.LeaseWait.apply(&c.LeaseWait)
	f.RPCTimeout.apply(&c.RPCTimeout)
	f.FlushTimeout.apply(&c.FlushTimeout)
	setIf(&c.PodDeletionCost, f.PodDeletionCost)
	c.Version = buildVersion()
	return c
}

// loadWorkerConfig reads and converts a worker file.
func loadWorkerConfig(path string) (worker.Config, *workerFile, error) {
	var f workerFile
	if err := loadYAML(path, &f); err != nil {
		return worker.Config{}, nil, err
	}
	c := workerConfig(&f)
	key, err := gossipKeyFrom(f.GossipKey, f.GossipKeyFile)
	if err != nil {
		return worker.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	c.GossipKey = key
	return c, &f, nil
}

func newWorkerCmd() *cobra.Command {
	var (
		path         string
		id           string
		pool         string
		slots        int
		coordinators []string
		check        bool
	)
	cmd := &cobra.Command{
		Use:   "worker --config FILE",
		Short: "Run a worker that leases and runs tasks",
		Long: `worker runs a stateless worker: it joins gossip, registers with the
coordinators, leases tasks of its pool (at most --slots at once) and runs
them against storage.

On SIGINT or SIGTERM the worker drains: it leases nothing new, lets running
tasks finish within drain_grace (default 30s), hands the rest back to the
coordinator to run elsewhere, leaves gossip and exits. A second signal exits
at once (the coordinator then requeues the worker's tasks when their leases
expire).

The YAML config file is decoded strictly: an unknown field, a bad duration or
byte size fails with the file, line and field named. Fields left out keep
their defaults (README.md, Configuration). S3 credentials come from the
environment only. --id, --pool, --slots and --coordinators override the file.`,
		Example: `  nightshift worker --config deploy/config/worker.yaml
  nightshift worker --config deploy/config/worker.yaml --id worker-2 --slots 8
  nightshift worker --config /etc/nightshift/worker.yaml --check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, f, err := loadWorkerConfig(path)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("id") {
				cfg.ID = id
			}
			if fl.Changed("pool") {
				cfg.Pool = pool
			}
			if fl.Changed("slots") {
				cfg.Slots = slots
			}
			if fl.Changed("coordinators") {
				cfg.Coordinators = coordinators
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("%s: %s", path, oneLine(err))
			}
			if check {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: worker %s, pool %s, %d slots, coordinators %s, seeds %s\n",
					path, cfg.ID, cfg.Pool, cfg.Slots, dash(strings.Join(cfg.Coordinators, ",")), dash(strings.Join(cfg.Seeds, ",")))
				return nil
			}
			cfg.Logger = f.Log.newLogger(cmd.ErrOrStderr())
			agent, err := worker.New(cfg)
			if err != nil {
				return err
			}
			cfg.Logger.Info("worker starting", "node", cfg.ID, "version", cfg.Version, "pool", cfg.Pool, "slots", cfg.Slots)
			return runUntilSignal(cmd.Context(), cfg.Logger, agent.Run)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "config", "", "YAML config file")
	fl.StringVar(&id, "id", "", "worker id (overrides id in the file)")
	fl.StringVar(&pool, "pool", "", "worker pool (overrides pool)")
	fl.IntVar(&slots, "slots", 0, "tasks run at once (overrides slots)")
	fl.StringSliceVar(&coordinators, "coordinators", nil, "coordinator gRPC addresses, comma-separated (overrides coordinators)")
	fl.BoolVar(&check, "check", false, "only check the config: load, validate, print a line and exit")
	_ = cmd.MarkFlagRequired("config")
	cmd.AddCommand(newWorkerDrainCmd())
	return cmd
}
