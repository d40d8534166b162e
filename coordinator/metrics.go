package coordinator

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// metrics are one coordinator's Prometheus series, on its own registry.
type metrics struct {
	reg        *prometheus.Registry
	commands   *prometheus.CounterVec
	batchOps   prometheus.Histogram
	leader     prometheus.Gauge
	leases     prometheus.Counter
	expired    prometheus.Counter
	finalized  *prometheus.CounterVec
	heartbeats prometheus.Counter
	// Schedules: slots claimed, pipeline runs ended by state, alerts delivered.
	slotsClaimed    prometheus.Counter
	alertsDelivered prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightshift_raft_commands_applied_total", Help: "Raft commands applied to the FSM, by op.",
		}, []string{"op"}),
		batchOps: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "nightshift_task_batch_ops", Help: "Task transitions per TaskBatch log entry.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nightshift_leader", Help: "1 while this node leads."}),
		leases: prometheus.NewCounter(prometheus.CounterOpts{Name: "nightshift_leases_total", Help: "Attempts leased to workers."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nightshift_leases_expired_total", Help: "Attempts expired (lease ran out or worker died).",
		}),
		finalized: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nightshift_jobs_finalized_total", Help: "Jobs whose output the leader published, by outcome.",
		}, []string{"outcome"}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{Name: "nightshift_heartbeats_total", Help: "Worker heartbeats received."}),
		slotsClaimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nightshift_schedule_slots_decided_total", Help: "Schedule slots this leader decided (run, queued, skipped or missed).",
		}),
		alertsDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nightshift_alerts_delivered_total", Help: "Alerts this leader delivered to every webhook and acknowledged.",
		}),
	}
	m.reg.MustRegister(m.commands, m.batchOps, m.leader, m.leases, m.expired, m.finalized, m.heartbeats, m.slotsClaimed, m.alertsDelivered,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// opField is the Command oneof whose member names label the applied commands.
var opField = (&pb.Command{}).ProtoReflect().Descriptor().Oneofs().ByName("op")

func (m *metrics) observeApply(cmd *pb.Command) {
	name := "unknown"
	if fd := cmd.ProtoReflect().WhichOneof(opField); fd != nil {
		name = string(fd.Name())
	}
	m.commands.WithLabelValues(name).Inc()
}

// MetricsDescriptions describes every series a coordinator exports
// (Describe, without a server): dashboards are checked against it.
func MetricsDescriptions() prometheus.Collector {
	m := newMetrics()
	m.reg.MustRegister(newStateCollector(nil))
	return m.reg
}
