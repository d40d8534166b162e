package coordinator

import (
	"context"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator/alert"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// alertBatch is how many outbox alerts one round delivers.
const alertBatch = 64

// alertLoop delivers the outbox (fsm_alert.go) to the webhooks and
// acknowledges what was delivered in Raft. The FSM wrote each alert with
// the state it reports, so a restart loses none; an acknowledged alert is
// never sent again, by this leader or the next. The one duplicate left is
// an alert posted by a leader that died before its acknowledgement
// committed: receivers drop it by its Idempotency-Key.
func (s *Server) alertLoop(ctx context.Context) {
	sender := alert.NewSender(s.cfg.Alerts.Webhooks, alert.Options{Cluster: s.cfg.ClusterName, Logger: s.log.With("component", "alerts")})
	every(ctx, s.cfg.ScheduleInterval, func() bool {
		pending := s.store.Snapshot().PendingAlerts(alertBatch)
		var done []string
		for _, a := range pending {
			if err := sender.Deliver(ctx, a); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("alert not delivered yet; retrying", "alert", a.Id, "err", err)
				}
				break // in order: the next round starts here again
			}
			done = append(done, a.Id)
		}
		if len(done) > 0 {
			if _, err := s.apply(ctx, &pb.Command{Op: &pb.Command_AckAlerts{AckAlerts: &pb.AckAlerts{Ids: done, UnixMs: time.Now().UnixMilli()}}}); err == nil {
				s.metrics.alertsDelivered.Add(float64(len(done)))
			}
		}
		return ctx.Err() == nil
	})
}
