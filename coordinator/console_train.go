package coordinator

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The console's training data: a training job's group (generation and
// members), its epochs' metrics, and the champion/challenger evaluation
// (pb.Evaluation) that the job, model and run pages all show. Every list
// is bounded: a long training keeps its newest epochs, a wide group its
// first ranks, an evaluation its worst slices.

const (
	consoleEpochsShown      = 500
	consoleMembersShown     = 100
	consoleGenerationsShown = 10
	consoleSlicesShown      = 50
)

type consoleTrain struct {
	Generation uint64          `json:"generation"`
	Members    []consoleMember `json:"members"`
	// Members in the group; Members holds the first consoleMembersShown.
	MembersTotal int                 `json:"members_total"`
	Step         int64               `json:"step"`
	TotalSteps   int64               `json:"total_steps"`
	Epoch        int32               `json:"epoch"`
	Loss         *float64            `json:"loss"`
	Restarts     int32               `json:"restarts"`
	Checkpoint   int64               `json:"checkpoint_step,omitempty"`
	History      []consoleGeneration `json:"history,omitempty"`
	// The registry's outcome, once the job finished.
	Registered string             `json:"registered,omitempty"`
	Promoted   bool               `json:"promoted"`
	Reason     string             `json:"promotion_reason,omitempty"`
	Evaluation *consoleEvaluation `json:"evaluation,omitempty"`
}

type consoleMember struct {
	Rank    int    `json:"rank"`
	Worker  string `json:"worker"`
	Task    int32  `json:"task"`
	Attempt int32  `json:"attempt"`
}

type consoleGeneration struct {
	Generation uint64   `json:"generation"`
	Workers    []string `json:"workers"`
	UnixMs     int64    `json:"unix_ms"`
	Restart    bool     `json:"restart,omitempty"`
}

// consoleEvaluation is a same-data comparison of a challenger with the
// champion, as `nightshift models show` prints it (cmd/nightshift
// evaluation.go): both models' metrics, the gain on the compared metric
// with its interval, the policy's margin, the decision and the slices,
// worst first.
type consoleEvaluation struct {
	Metric            string             `json:"metric"`
	HigherIsBetter    bool               `json:"higher_is_better"`
	Rows              int64              `json:"rows"`
	Challenger        map[string]float64 `json:"challenger"`
	ChallengerVersion int32              `json:"challenger_version,omitempty"`
	ChampionVersion   int32              `json:"champion_version,omitempty"`
	Champion          map[string]float64 `json:"champion,omitempty"`
	ChampionError     string             `json:"champion_error,omitempty"`
	// Gain is set only when both models have the metric (positive: the
	// challenger is better); the interval only with a bootstrap.
	Gain       *float64 `json:"gain,omitempty"`
	GainLow    float64  `json:"gain_low,omitempty"`
	GainHigh   float64  `json:"gain_high,omitempty"`
	Confidence float64  `json:"confidence,omitempty"`
	Bootstrap  int32    `json:"bootstrap,omitempty"`
	// The policy's margin when the page knows the policy.
	Margin      *float64       `json:"margin,omitempty"`
	Manual      bool           `json:"manual,omitempty"`
	DecayMedian float64        `json:"decay_median,omitempty"`
	Decayed     bool           `json:"decayed,omitempty"`
	Promoted    bool           `json:"promoted"`
	Decision    string         `json:"decision,omitempty"`
	Slices      []consoleSlice `json:"slices,omitempty"`
	SlicesTotal int            `json:"slices_total,omitempty"`
}

type consoleSlice struct {
	Column     string   `json:"column"`
	Value      string   `json:"value"`
	Rows       int64    `json:"rows"`
	Challenger *float64 `json:"challenger,omitempty"`
	Champion   *float64 `json:"champion,omitempty"`
	Gain       *float64 `json:"gain,omitempty"`
}

// consoleTrainOf shapes a training job's status; nil for other jobs.
func consoleTrainOf(j *pb.Job) *consoleTrain {
	t := j.Train
	if t == nil {
		return nil
	}
	c := &consoleTrain{Generation: t.Generation, MembersTotal: len(t.Members), Step: t.Step, TotalSteps: t.TotalSteps, Epoch: t.Epoch,
		Loss: finiteNum(t.Loss), Restarts: t.Restarts, Checkpoint: t.CheckpointStep, Promoted: t.Promoted, Reason: t.PromotionReason}
	for rank, m := range t.Members[:min(len(t.Members), consoleMembersShown)] {
		c.Members = append(c.Members, consoleMember{Rank: rank, Worker: m.WorkerId, Task: m.Task, Attempt: m.Attempt})
	}
	for _, g := range slices.Backward(t.History[max(0, len(t.History)-consoleGenerationsShown):]) {
		c.History = append(c.History, consoleGeneration{Generation: g.Generation, Workers: g.WorkerIds[:min(len(g.WorkerIds), consoleMembersShown)],
			UnixMs: g.UnixMs, Restart: g.Restart})
	}
	if r := t.Registered; r != nil {
		c.Registered = r.Name + "@v" + strconv.Itoa(int(r.Version))
		c.Evaluation = consoleEvaluationOf(r.Evaluation, r.Version, j.Spec.GetTrain().GetPromotion(), t.PromotionReason)
	}
	return c
}

// consoleEpochsOf is a training job's newest epochs, oldest first.
func consoleEpochsOf(t *pb.TrainStatus) []consoleEpoch {
	var out []consoleEpoch
	for _, e := range t.GetEpochs()[max(0, len(t.GetEpochs())-consoleEpochsShown):] {
		out = append(out, consoleEpoch{Epoch: e.Epoch, TrainLoss: finiteNum(e.TrainLoss), Holdout: finiteOnly(e.Holdout)})
	}
	return out
}

// consoleEvaluationOf shapes an evaluation; nil for none. policy (when
// known) gives the margin; why is the registry's sentence on it.
func consoleEvaluationOf(ev *pb.Evaluation, version int32, policy *pb.PromotionPolicy, why string) *consoleEvaluation {
	if ev == nil {
		return nil
	}
	m := ev.Metric
	higher, _ := jobspec.HigherIsBetter(m)
	c := &consoleEvaluation{Metric: m, HigherIsBetter: higher, Rows: ev.Rows, Challenger: finiteOnly(ev.Challenger), ChallengerVersion: version,
		ChampionVersion: ev.ChampionVersion, Champion: finiteOnly(ev.Champion), ChampionError: ev.ChampionError,
		Confidence: ev.Confidence, Bootstrap: ev.Bootstrap, DecayMedian: ev.DecayMedian, Decayed: ev.Decayed, Promoted: ev.Promoted,
		Decision: why, SlicesTotal: len(ev.Slices)}
	c.Gain = comparedGain(ev)
	if ev.Bootstrap > 0 && c.Gain != nil && finiteNum(ev.GainLow) != nil && finiteNum(ev.GainHigh) != nil {
		c.GainLow, c.GainHigh = ev.GainLow, ev.GainHigh
	}
	if policy != nil {
		c.Manual = policy.Manual
		if policy.Margin != nil {
			margin := policy.GetMargin()
			c.Margin = &margin
		}
	}
	// Worst slices first: the ones that can stop a promotion.
	sl := make([]consoleSlice, 0, len(ev.Slices))
	for _, s := range ev.Slices {
		cs := consoleSlice{Column: s.Column, Value: s.Value, Rows: s.Rows}
		cv, cok := finite(s.Challenger, m)
		pv, pok := finite(s.Champion, m)
		if cok {
			cs.Challenger = &cv
		}
		if pok {
			cs.Champion = &pv
		}
		if cok && pok {
			g := jobspec.Gain(m, cv, pv)
			cs.Gain = &g
		}
		sl = append(sl, cs)
	}
	slices.SortStableFunc(sl, func(a, b consoleSlice) int {
		switch {
		case a.Gain == nil || b.Gain == nil:
			return cmp.Compare(boolInt(a.Gain == nil), boolInt(b.Gain == nil))
		default:
			return cmp.Compare(*a.Gain, *b.Gain)
		}
	})
	if len(sl) > 0 {
		c.Slices = sl[:min(len(sl), consoleSlicesShown)]
	}
	return c
}

// comparedGain is an evaluation's gain when it compared both models on
// its metric (as the CLI prints it), else nil.
func comparedGain(ev *pb.Evaluation) *float64 {
	_, cok := finite(ev.GetChallenger(), ev.GetMetric())
	_, pok := finite(ev.GetChampion(), ev.GetMetric())
	if !cok || !pok || ev.GetChampionVersion() == 0 || ev.GetChampionError() != "" {
		return nil
	}
	return finiteNum(ev.GetGain())
}

// finiteOnly drops NaN and infinite metrics, which JSON cannot carry
// (encoding/json refuses them, and the whole event would be lost).
func finiteOnly(m map[string]float64) map[string]float64 {
	for _, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out := make(map[string]float64, len(m))
			for k, v := range m {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					out[k] = v
				}
			}
			return out
		}
	}
	return m
}

// finiteNum is v, or nil (JSON null) when it is NaN or infinite: a
// diverging loss must not cost the page its whole event.
func finiteNum(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
