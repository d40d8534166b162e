package coordinator

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Alert events (docs/architecture.md §11); package coordinator/alert
// delivers them.
const (
	alertRunFailed      = "run_failed"
	alertSlotSkipped    = "slot_skipped"
	alertSlotMissed     = "slot_missed"
	alertSchedulePaused = "schedule_paused"
	alertNotPromoted    = "not_promoted"
	alertModelDecayed   = "model_decayed"
)

// maxDeliveredAlerts bounds the delivered alerts kept (to recognise a
// duplicate raise); undelivered ones are always kept.
const maxDeliveredAlerts = 1000

// raise writes a run's alert into the outbox. The ID is the run and the
// event (and the resume, so a resumed run that fails again alerts again):
// raising it twice stores it once.
func (a *applier) raise(r *pb.PipelineRun, event, format string, args ...any) {
	id := r.Id + "/" + event
	if r.Resumes > 0 {
		id = fmt.Sprintf("%s/resume-%d", id, r.Resumes)
	}
	a.insertAlert(&pb.Alert{Id: id, Event: event, Schedule: r.Schedule, RunId: r.Id, SlotUnixMs: r.SlotUnixMs, Message: fmt.Sprintf(format, args...)})
}

// raiseSchedule writes a schedule's alert, once per command.
func (a *applier) raiseSchedule(s *pb.Schedule, event, format string, args ...any) {
	id := fmt.Sprintf("%s/%s@%d", s.Spec.Name, event, a.index)
	a.insertAlert(&pb.Alert{Id: id, Event: event, Schedule: s.Spec.Name, Message: fmt.Sprintf(format, args...)})
}

func (a *applier) insertAlert(al *pb.Alert) {
	if obj, _ := a.txn.First(tableAlerts, "id", []byte(al.Id)); obj != nil {
		return
	}
	a.alerts++
	al.UnixMs, al.Seq, al.Order = a.now, a.index, a.alerts
	a.insert(tableAlerts, al)
}

// ackAlerts marks alerts delivered and forgets the oldest delivered ones
// beyond the cap.
func (a *applier) ackAlerts(c *pb.AckAlerts) *applyResult {
	for _, id := range c.Ids {
		obj, _ := a.txn.First(tableAlerts, "id", []byte(id))
		if obj == nil || obj.(*pb.Alert).Delivered {
			continue
		}
		al := proto.Clone(obj.(*pb.Alert)).(*pb.Alert)
		al.Delivered, al.DeliveredUnixMs = true, c.UnixMs
		a.insert(tableAlerts, al)
	}
	delivered := 0
	it, err := a.txn.GetReverse(tableAlerts, "seq_prefix", []byte{})
	if err != nil {
		return &applyResult{}
	}
	var old []any
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if obj.(*pb.Alert).Delivered {
			if delivered++; delivered > maxDeliveredAlerts {
				old = append(old, obj)
			}
		}
	}
	for _, o := range old {
		_ = a.txn.Delete(tableAlerts, o)
	}
	return &applyResult{}
}
