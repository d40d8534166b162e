package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one agent's Prometheus metrics, on a registry of its own so
// that several agents can live in one process (dev mode, tests). Every
// series carries the worker's ID.
type metrics struct {
	reg                                           *prometheus.Registry
	started, succeeded, failed, aborted, released *prometheus.CounterVec
	rejected                                      prometheus.Counter
	running                                       prometheus.Gauge
	seconds                                       *prometheus.HistogramVec
	// rows counts the rows of succeeded attempts (scored, ingested,
	// profiled, trained on), by kind; trainSteps the training steps this
	// worker's group members applied.
	rows       *prometheus.CounterVec
	trainSteps prometheus.Counter
}

func newMetrics(workerID string) *metrics {
	labels := prometheus.Labels{"worker": workerID}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nightshift", Subsystem: "worker", Name: name, Help: help, ConstLabels: labels,
		}, []string{"kind"})
	}
	m := &metrics{
		reg:       prometheus.NewRegistry(),
		started:   counter("tasks_started_total", "Attempts started, by job kind."),
		succeeded: counter("tasks_succeeded_total", "Attempts that succeeded, by job kind."),
		failed:    counter("tasks_failed_total", "Attempts that failed, by job kind."),
		aborted:   counter("tasks_aborted_total", "Attempts the coordinator aborted, by job kind."),
		released:  counter("tasks_released_total", "Attempts handed back unfinished when a drain's grace ran out, by job kind."),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "nightshift", Subsystem: "worker", Name: "reports_rejected_total",
			Help: "Reports the coordinator rejected as stale.", ConstLabels: labels,
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "nightshift", Subsystem: "worker", Name: "running",
			Help: "Attempts running now.", ConstLabels: labels,
		}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "nightshift", Subsystem: "worker", Name: "task_seconds",
			Help: "Wall time of attempts, by job kind.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12), // 1 ms … ~70 min
		}, []string{"kind"}),
		rows: counter("rows_total", "Rows of the attempts that succeeded (scored, ingested, profiled; a training member's samples), by job kind."),
		trainSteps: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "nightshift", Subsystem: "worker", Name: "train_steps_total",
			Help: "Training steps applied by this worker's group members.", ConstLabels: labels,
		}),
	}
	m.reg.MustRegister(m.started, m.succeeded, m.failed, m.aborted, m.released, m.rejected, m.running, m.seconds, m.rows, m.trainSteps)
	return m
}

// finished records an attempt that ended with outcome ("succeeded",
// "failed", "aborted", "released" or "killed"), leaving running attempts;
// rows are a success's rows.
func (m *metrics) finished(kind, outcome string, took time.Duration, running int, rows int64) {
	m.running.Set(float64(running))
	m.seconds.WithLabelValues(kind).Observe(took.Seconds())
	switch outcome {
	case "succeeded":
		m.succeeded.WithLabelValues(kind).Inc()
		m.rows.WithLabelValues(kind).Add(float64(max(rows, 0)))
	case "failed":
		m.failed.WithLabelValues(kind).Inc()
	case "aborted":
		m.aborted.WithLabelValues(kind).Inc()
	case "released":
		m.released.WithLabelValues(kind).Inc()
	}
}

// Metrics returns the agent's Prometheus registry, for a process that
// serves several agents' metrics on one endpoint.
func (a *Agent) Metrics() *prometheus.Registry { return a.metrics.reg }

// MetricsDescriptions describes every series a worker exports (Describe,
// without an agent): dashboards are checked against it.
func MetricsDescriptions() prometheus.Collector { return newMetrics("").reg }
