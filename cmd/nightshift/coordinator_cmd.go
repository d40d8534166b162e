package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/coordinator/alert"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// coordinatorFile is the YAML config file of `nightshift coordinator`.
// README.md (Configuration) lists every field with its default.
type coordinatorFile struct {
	ID                *string                     `yaml:"id"`
	DataDir           *string                     `yaml:"data_dir"`
	Bootstrap         *bool                       `yaml:"bootstrap"`
	BootstrapExpect   *int                        `yaml:"bootstrap_expect"`
	RaftAddr          *string                     `yaml:"raft_addr"`
	RaftAdvertise     *string                     `yaml:"raft_advertise"`
	GRPCAddr          *string                     `yaml:"grpc_addr"`
	GRPCAdvertise     *string                     `yaml:"grpc_advertise"`
	HTTPAddr          *string                     `yaml:"http_addr"`
	HTTPTLS           *bool                       `yaml:"http_tls"`
	GossipAddr        *string                     `yaml:"gossip_addr"`
	GossipAdvertise   *string                     `yaml:"gossip_advertise"`
	Seeds             []string                    `yaml:"seeds"`
	GossipKey         yamlBase64                  `yaml:"gossip_key"`
	GossipKeyFile     *string                     `yaml:"gossip_key_file"`
	InitialTokenFile  *string                     `yaml:"initial_token_file"`
	TLS               *rpc.TLSConfig              `yaml:"tls"`
	LoopbackOnly      *bool                       `yaml:"loopback_only"`
	Insecure          *bool                       `yaml:"insecure"`
	Tokens            *string                     `yaml:"tokens"`
	Storage           storageFile                 `yaml:"storage"`
	LeaseTTL          yamlDuration                `yaml:"lease_ttl"`
	JobGCAge          yamlDuration                `yaml:"job_gc_age"`
	JobGCInterval     yamlDuration                `yaml:"job_gc_interval"`
	SweepInterval     yamlDuration                `yaml:"sweep_interval"`
	ScheduleInterval  yamlDuration                `yaml:"schedule_interval"`
	SlotGrace         yamlDuration                `yaml:"slot_grace"`
	Alerts            alert.Config                `yaml:"alerts"`
	ClusterName       *string                     `yaml:"cluster_name"`
	HeartbeatInterval yamlDuration                `yaml:"heartbeat_interval"`
	RetryBackoff      yamlDuration                `yaml:"retry_backoff"`
	MaxRetryBackoff   yamlDuration                `yaml:"max_retry_backoff"`
	MaxAttempts       *int32                      `yaml:"max_attempts"`
	Speculation       speculationFile             `yaml:"speculation"`
	Raft              raftFile                    `yaml:"raft"`
	Autopilot         autopilotFile               `yaml:"autopilot"`
	Autoscale         coordinator.AutoscaleConfig `yaml:"autoscale"`
	Log               logFile                     `yaml:"log"`
}

type speculationFile struct {
	Multiplier *float64     `yaml:"multiplier"`
	Quantile   *float64     `yaml:"quantile"`
	MinRuntime yamlDuration `yaml:"min_runtime"`
}

type raftFile struct {
	HeartbeatTimeout  yamlDuration `yaml:"heartbeat_timeout"`
	ElectionTimeout   yamlDuration `yaml:"election_timeout"`
	LeaderLease       yamlDuration `yaml:"leader_lease"`
	CommitTimeout     yamlDuration `yaml:"commit_timeout"`
	SnapshotThreshold *uint64      `yaml:"snapshot_threshold"`
	SnapshotInterval  yamlDuration `yaml:"snapshot_interval"`
	TrailingLogs      *uint64      `yaml:"trailing_logs"`
}

type autopilotFile struct {
	CleanupDeadServers      *bool        `yaml:"cleanup_dead_servers"`
	LastContactThreshold    yamlDuration `yaml:"last_contact_threshold"`
	MaxTrailingLogs         *uint64      `yaml:"max_trailing_logs"`
	MinQuorum               *uint        `yaml:"min_quorum"`
	ServerStabilizationTime yamlDuration `yaml:"server_stabilization_time"`
	DeadServerGrace         yamlDuration `yaml:"dead_server_grace"`
	Interval                yamlDuration `yaml:"interval"`
}

func (f autopilotFile) apply(c *coordinator.AutopilotConfig) {
	setIf(&c.CleanupDeadServers, f.CleanupDeadServers)
	f.LastContactThreshold.apply(&c.LastContactThreshold)
	setIf(&c.MaxTrailingLogs, f.MaxTrailingLogs)
	setIf(&c.MinQuorum, f.MinQuorum)
	f.ServerStabilizationTime.apply(&c.ServerStabilizationTime)
	f.DeadServerGrace.apply(&c.DeadServerGrace)
	f.Interval.apply(&c.Interval)
}

// coordinatorConfig turns the file into a coordinator.Config: the
// defaults, overridden by every field the file sets.
func coordinatorConfig(f *coordinatorFile) coordinator.Config {
	c := coordinator.DefaultConfig()
	setIf(&c.ID, f.ID)
	setIf(&c.DataDir, f.DataDir)
	setIf(&c.Bootstrap, f.Bootstrap)
	setIf(&c.BootstrapExpect, f.BootstrapExpect)
	setIf(&c.RaftAddr, f.RaftAddr)
	setIf(&c.RaftAdvertise, f.RaftAdvertise)
	setIf(&c.GRPCAddr, f.GRPCAddr)
	setIf(&c.GRPCAdvertise, f.GRPCAdvertise)
	setIf(&c.HTTPAddr, f.HTTPAddr)
	setIf(&c.HTTPTLS, f.HTTPTLS)
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
	setIf(&c.Tokens, f.Tokens)
	c.Storage = f.Storage.config()
	f.LeaseTTL.apply(&c.LeaseTTL)
	f.JobGCAge.apply(&c.JobGCAge)
	f.JobGCInterval.apply(&c.JobGCInterval)
	f.SweepInterval.apply(&c.SweepInterval)
	f.ScheduleInterval.apply(&c.ScheduleInterval)
	f.SlotGrace.apply(&c.SlotGrace)
	c.Alerts = f.Alerts
	setIf(&c.ClusterName, f.ClusterName)
	f.HeartbeatInterval.apply(&c.HeartbeatInterval)
	f.RetryBackoff.apply(&c.RetryBackoff)
	f.MaxRetryBackoff.apply(&c.MaxRetryBackoff)
	setIf(&c.MaxAttempts, f.MaxAttempts)
	setIf(&c.SpeculationMultiplier, f.Speculation.Multiplier)
	setIf(&c.SpeculationQuantile, f.Speculation.Quantile)
	f.Speculation.MinRuntime.apply(&c.SpeculationMinRuntime)
	f.Raft.HeartbeatTimeout.apply(&c.RaftHeartbeatTimeout)
	f.Raft.ElectionTimeout.apply(&c.RaftElectionTimeout)
	f.Raft.LeaderLease.apply(&c.RaftLeaderLease)
	f.Raft.CommitTimeout.apply(&c.RaftCommitTimeout)
	setIf(&c.SnapshotThreshold, f.Raft.SnapshotThreshold)
	f.Raft.SnapshotInterval.apply(&c.SnapshotInterval)
	setIf(&c.TrailingLogs, f.Raft.TrailingLogs)
	f.Autopilot.apply(&c.Autopilot)
	c.Autoscale = f.Autoscale
	c.Version = buildVersion()
	return c
}

// loadCoordinatorConfig reads, converts and validates a coordinator file.
func loadCoordinatorConfig(path string) (coordinator.Config, *coordinatorFile, error) {
	var f coordinatorFile
	if err := loadYAML(path, &f); err != nil {
		return coordinator.Config{}, nil, err
	}
	c := coordinatorConfig(&f)
	key, err := gossipKeyFrom(f.GossipKey, f.GossipKeyFile)
	if err != nil {
		return coordinator.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	c.GossipKey = key
	if f.InitialTokenFile != nil {
		if c.InitialToken, err = readSecretFile("initial_token_file", *f.InitialTokenFile); err != nil {
			return coordinator.Config{}, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return c, &f, nil
}

func newCoordinatorCmd() *cobra.Command {
	var (
		path      string
		id        string
		dataDir   string
		bootstrap bool
		check     bool
	)
	cmd := &cobra.Command{
		Use:   "coordinator --config FILE",
		Short: "Run a coordinator (a Raft voter serving the API)",
		Long: `coordinator runs one coordinator of the cluster: a Raft node with the
replicated job, task, worker and model state, the gRPC API (any coordinator
answers; followers forward writes to the leader) and, on the leader, the
scheduler. It runs until SIGINT or SIGTERM.

The YAML config file is decoded strictly: an unknown field, a bad duration or
byte size fails with the file, line and field named. Fields left out keep
their defaults (README.md, Configuration). S3 credentials come from the
environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). --id, --data-dir
and --bootstrap override the file.

A cluster forms in one of two ways. With bootstrap_expect: N in every
coordinator's file and seeds naming the others (host:port, or a DNS name such
as a headless Service that resolves to all of them), the coordinators find
each other in gossip and form the cluster by themselves once N are up, in any
start order; a coordinator started later is added by the leader, and
autopilot removes one gone longer than autopilot.dead_server_grace. Or start
the first coordinator with bootstrap: true (or --bootstrap) and add the
others with nightshift operator raft add-peer.

${VAR} in the file expands from the environment (an unset variable is an
error), so one file can serve every pod of a StatefulSet: id: ${POD_NAME}.`,
		Example: `  nightshift coordinator --config deploy/config/coordinator-1.yaml
  nightshift coordinator --config deploy/config/coordinator-2.yaml
  nightshift operator raft add-peer --id coordinator-2 --address 127.0.0.1:7111
  nightshift coordinator --config /etc/nightshift/coordinator.yaml --check
  NODE=1 nightshift coordinator --config deploy/compose/coordinator.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, f, err := loadCoordinatorConfig(path)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("id") {
				cfg.ID = id
			}
			if fl.Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			if fl.Changed("bootstrap") {
				cfg.Bootstrap = bootstrap
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("%s: %s", path, oneLine(err))
			}
			if check {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: coordinator %s, api %s, raft %s, gossip %s, bootstrap %v, bootstrap_expect %d, data %s\n",
					path, cfg.ID, cfg.GRPCAddr, cfg.RaftAddr, cfg.GossipAddr, cfg.Bootstrap, cfg.BootstrapExpect, cfg.DataDir)
				return nil
			}
			cfg.Logger = f.Log.newLogger(cmd.ErrOrStderr())
			srv, err := coordinator.New(cfg)
			if err != nil {
				return err
			}
			cfg.Logger.Info("coordinator starting", "node", cfg.ID, "version", cfg.Version, "api", cfg.GRPCAddr, "raft", cfg.RaftAddr, "gossip", cfg.GossipAddr)
			return runUntilSignal(cmd.Context(), cfg.Logger, srv.Run)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "config", "", "YAML config file")
	fl.StringVar(&id, "id", "", "node id (overrides id in the file)")
	fl.StringVar(&dataDir, "data-dir", "", "Raft state folder (overrides data_dir)")
	fl.BoolVar(&bootstrap, "bootstrap", false, "start a new cluster with this node as its only voter if it has no state (overrides bootstrap)")
	fl.BoolVar(&check, "check", false, "only check the config: load, validate, print a line and exit")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
