package coordinator

import (
	"errors"
	"fmt"
	"google.golang.org/protobuf/proto"
	"math"
	"slices"
	"strings"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// registerModel runs registerVersion in its own write transaction at the
// next index, as a finished training job's log entry does.
func (h *fsmHarness) registerModel(v *pb.ModelVersion, p *pb.PromotionPolicy) (*pb.ModelVersion, bool, string) {
	h.t.Helper()
	h.index++
	return registerAt(h.store, h.index, h.now, v, p)
}

// registerCompared registers v with a policy of margin 0 and the
// evaluation a job would have reported had it compared v with production
// on the same rows: v's metrics against production's own.
func (h *fsmHarness) registerCompared(v *pb.ModelVersion) (*pb.ModelVersion, bool, string) {
	h.t.Helper()
	h.index++
	return registerComparedAt(h.store, h.index, h.now, v)
}

func registerComparedAt(s *Store, index uint64, now int64, v *pb.ModelVersion) (*pb.ModelVersion, bool, string) {
	if champ := productionVersion(s.Snapshot(), v.Name); champ != nil {
		v.Evaluation = &pb.Evaluation{Metric: "logloss", Rows: 100, ChampionVersion: champ.Version, Challenger: v.Metrics, Champion: champ.Metrics}
	}
	return registerAt(s, index, now, v, &pb.PromotionPolicy{Margin: proto.Float64(0)})
}

func registerAt(s *Store, index uint64, now int64, v *pb.ModelVersion, p *pb.PromotionPolicy) (*pb.ModelVersion, bool, string) {
	txn := s.write()
	defer txn.Abort()
	a := &applier{txn: txn, index: index, now: now}
	reg, promoted, reason := a.registerVersion(v, p)
	txn.Commit()
	return reg, promoted, reason
}

func modelVersion(name, job string, metrics map[string]float64) *pb.ModelVersion {
	return &pb.ModelVersion{Name: name, Uri: "s3://b/models/" + name + "/job-" + job, JobId: job, Metrics: metrics, Family: "logistic"}
}

func setAlias(name, alias string, version int32, rollback bool) *pb.Command {
	return &pb.Command{Op: &pb.Command_SetModelAlias{SetModelAlias: &pb.SetModelAlias{
		Name: name, Alias: alias, Version: version, Rollback: rollback, Reason: "test"}}}
}

func TestRegistryPromotionPolicy(t *testing.T) {
	type m = map[string]float64
	margin := proto.Float64
	// same is the evaluation of a job that compared the challenger with
	// production v1 on the same 1000 rows.
	same := func(metric string, chall, champ m) *pb.Evaluation {
		return &pb.Evaluation{Metric: metric, Rows: 1000, ChampionVersion: 1, Challenger: chall, Champion: champ}
	}
	withCI := func(ev *pb.Evaluation, lo, hi float64) *pb.Evaluation {
		ev.GainLow, ev.GainHigh, ev.Confidence, ev.Bootstrap = lo, hi, 0.95, 1000
		return ev
	}
	withSlices := func(ev *pb.Evaluation, sl ...*pb.SliceMetrics) *pb.Evaluation {
		ev.Slices = sl
		return ev
	}
	for _, tc := range []struct {
		name     string
		champion bool // an earlier version is production
		eval     *pb.Evaluation
		policy   *pb.PromotionPolicy
		promoted bool
		reason   string
	}{
		{name: "first version is promoted", policy: &pb.PromotionPolicy{Margin: margin(0.001)},
			promoted: true, reason: "v1 promoted to production: churn had no production version"},
		{name: "first version without a policy is promoted", policy: nil,
			promoted: true, reason: "v1 promoted to production: churn had no production version"},
		{name: "no policy keeps later versions candidates", champion: true, eval: same("logloss", m{"logloss": 0.2}, m{"logloss": 0.3}),
			reason: "v2 stays candidate: the job has no promotion policy (set promotion.margin to promote automatically, or nightshift models promote churn 2)"},
		{name: "better by the margin", champion: true, eval: same("logloss", m{"logloss": 0.3012}, m{"logloss": 0.3105}),
			policy: &pb.PromotionPolicy{Margin: margin(0.001)}, promoted: true,
			reason: "v2 promoted to production: logloss 0.3012 beats v1's 0.3105 on the same 1000 rows by 0.0093 (margin 0.001)"},
		{name: "better by exactly the margin", champion: true, eval: same("logloss", m{"logloss": 0.3095}, m{"logloss": 0.3105}),
			policy: &pb.PromotionPolicy{Metric: "logloss", Margin: margin(0.001)}, promoted: true,
			reason: "v2 promoted to production: logloss 0.3095 beats v1's 0.3105 on the same 1000 rows by 0.001 (margin 0.001)"},
		{name: "better by less than the margin", champion: true, eval: same("logloss", m{"logloss": 0.3100}, m{"logloss": 0.3105}),
			policy: &pb.PromotionPolicy{Margin: margin(0.001)},
			reason: "v2 stays candidate: logloss 0.3100 does not beat v1's 0.3105 on the same 1000 rows by margin 0.001"},
		{name: "equal does not beat with margin 0", champion: true, eval: same("logloss", m{"logloss": 0.3105}, m{"logloss": 0.3105}),
			policy: &pb.PromotionPolicy{Margin: margin(0)},
			reason: "v2 stays candidate: logloss 0.3105 does not beat v1's 0.3105 on the same 1000 rows by margin 0"},
		{name: "close values get more decimals", champion: true, eval: same("logloss", m{"logloss": 0.310500}, m{"logloss": 0.310501}),
			policy: &pb.PromotionPolicy{Margin: margin(0)}, promoted: true,
			reason: "v2 promoted to production: logloss 0.310500 beats v1's 0.310501 on the same 1000 rows by 1e-06 (margin 0)"},
		{name: "manual never promotes, not even the first",
			policy: &pb.PromotionPolicy{Manual: true},
			reason: "v1 stays candidate: the promotion policy is manual (nightshift models promote churn 1)"},
		{name: "manual never promotes a better one", champion: true, eval: same("logloss", m{"logloss": 0.2}, m{"logloss": 0.5}),
			policy: &pb.PromotionPolicy{Manual: true},
			reason: "v2 stays candidate: the promotion policy is manual (nightshift models promote churn 2)"},
		{name: "no same-data evaluation", champion: true, policy: &pb.PromotionPolicy{Margin: margin(0)},
			reason: "v2 stays candidate: no comparison with production v1 on the same rows (it became production while the job ran, or the job has no holdout)"},
		{name: "production moved while the job ran", champion: true,
			eval:   &pb.Evaluation{Metric: "logloss", Rows: 10, ChampionVersion: 7, Challenger: m{"logloss": 0.1}, Champion: m{"logloss": 0.5}},
			policy: &pb.PromotionPolicy{Margin: margin(0)},
			reason: "v2 stays candidate: the job compared it with v7, but production moved to v1 while it ran (nightshift models promote churn 2 after checking)"},
		{name: "production cannot score the new rows", champion: true,
			eval:   &pb.Evaluation{Metric: "logloss", Rows: 10, ChampionVersion: 1, Challenger: m{"logloss": 0.1}, ChampionError: `column "age" is missing`},
			policy: &pb.PromotionPolicy{Margin: margin(0)},
			reason: `v2 stays candidate: production v1 could not be evaluated on these rows: column "age" is missing`},
		{name: "NaN counts as missing", champion: true, eval: same("logloss", m{"logloss": math.NaN()}, m{"logloss": 0.3}),
			policy: &pb.PromotionPolicy{Margin: margin(0)},
			reason: "v2 stays candidate: the evaluation on 1000 rows has no logloss for v2 and v1 to compare"},
		{name: "auc: higher is better", champion: true, eval: same("auc", m{"logloss": 0.5, "auc": 0.86}, m{"logloss": 0.4, "auc": 0.85}),
			policy: &pb.PromotionPolicy{Metric: "auc", Margin: margin(0.005)}, promoted: true,
			reason: "v2 promoted to production: auc 0.8600 beats v1's 0.8500 on the same 1000 rows by 0.01 (margin 0.005)"},
		{name: "auc: lower loses", champion: true, eval: same("auc", m{"auc": 0.84}, m{"auc": 0.85}),
			policy: &pb.PromotionPolicy{Metric: "auc", Margin: margin(0)},
			reason: "v2 stays candidate: auc 0.8400 does not beat v1's 0.8500 on the same 1000 rows by margin 0"},
		{name: "rmse: lower is better", champion: true, eval: same("rmse", m{"rmse": 11.25}, m{"rmse": 12.5}),
			policy: &pb.PromotionPolicy{Margin: margin(0)}, promoted: true,
			reason: "v2 promoted to production: rmse 11.2500 beats v1's 12.5000 on the same 1000 rows by 1.25 (margin 0)"},
		{name: "unknown metric never promotes", champion: true, eval: same("f1", m{"f1": 0.9}, m{"f1": 0.5}),
			policy: &pb.PromotionPolicy{Margin: margin(0)},
			reason: `v2 stays candidate: unknown promotion metric "f1" (want logloss, auc, accuracy, rmse)`},
		{name: "confident gain promotes", champion: true, eval: withCI(same("logloss", m{"logloss": 0.30}, m{"logloss": 0.32}), 0.012, 0.028),
			policy: &pb.PromotionPolicy{Margin: margin(0.01), Confidence: 0.95, Bootstrap: 1000}, promoted: true,
			reason: "v2 promoted to production: logloss 0.3000 beats v1's 0.3200 on the same 1000 rows by 0.02 (margin 0.01, 95% interval [0.012, 0.028])"},
		{name: "a gain not beyond the margin with confidence", champion: true, eval: withCI(same("logloss", m{"logloss": 0.30}, m{"logloss": 0.32}), 0.004, 0.036),
			policy: &pb.PromotionPolicy{Margin: margin(0.01), Confidence: 0.95, Bootstrap: 1000},
			reason: "v2 stays candidate: logloss 0.3000 beats v1's 0.3200 on the same 1000 rows by 0.02, but not with 95% confidence: the interval [0.004, 0.036] reaches below margin 0.01"},
		{name: "a slice that gets worse", champion: true,
			eval: withSlices(same("logloss", m{"logloss": 0.30}, m{"logloss": 0.32}),
				&pb.SliceMetrics{Column: "region", Value: "north", Rows: 400, Challenger: m{"logloss": 0.36}, Champion: m{"logloss": 0.30}},
				&pb.SliceMetrics{Column: "region", Value: "south", Rows: 20, Challenger: m{"logloss": 0.9}, Champion: m{"logloss": 0.3}},
				&pb.SliceMetrics{Column: "region", Value: "west", Rows: 580, Challenger: m{"logloss": 0.26}, Champion: m{"logloss": 0.33}}),
			policy: &pb.PromotionPolicy{Margin: margin(0), SliceGate: &pb.SliceGate{MinRows: 100, MaxRegression: 0.02}},
			reason: "v2 stays candidate: logloss 0.3000 beats v1's 0.3200 on the same 1000 rows overall, but slice region=north (400 rows) gets worse: logloss 0.3600 against 0.3000, by 0.06 > max_regression 0.02"},
		{name: "small slices are not gated", champion: true,
			eval: withSlices(same("logloss", m{"logloss": 0.30}, m{"logloss": 0.32}),
				&pb.SliceMetrics{Column: "region", Value: "south", Rows: 20, Challenger: m{"logloss": 0.9}, Champion: m{"logloss": 0.3}}),
			policy: &pb.PromotionPolicy{Margin: margin(0), SliceGate: &pb.SliceGate{MinRows: 100, MaxRegression: 0.02}}, promoted: true,
			reason: "v2 promoted to production: logloss 0.3000 beats v1's 0.3200 on the same 1000 rows by 0.02 (margin 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.champion {
				if _, ok, why := h.registerModel(modelVersion("churn", "j-champ", nil), nil); !ok {
					t.Fatalf("champion not promoted: %s", why)
				}
			}
			h.now += 1000
			ch := modelVersion("churn", "j-chall", nil)
			ch.Evaluation = tc.eval
			reg, promoted, reason := h.registerModel(ch, tc.policy)
			if promoted != tc.promoted || reason != tc.reason {
				t.Fatalf("got promoted=%v %q\nwant promoted=%v %q", promoted, reason, tc.promoted, tc.reason)
			}
			want := int32(1)
			if tc.champion {
				want = 2
			}
			if reg.Version != want || reg.CreateUnixMs != h.now || reg.Name != "churn" || reg.JobId != "j-chall" {
				t.Fatalf("registered %v", reg)
			}
			m := h.store.Snapshot().Model("churn")
			if m.Aliases[aliasCandidate] != want {
				t.Fatalf("candidate %d, want v%d", m.Aliases[aliasCandidate], want)
			}
			prod, hasProd := m.Aliases[aliasProduction]
			switch {
			case promoted && prod != want:
				t.Fatalf("promoted but production is v%d", prod)
			case !promoted && prod == want:
				t.Fatal("not promoted but production points at the challenger")
			case !promoted && !tc.champion && hasProd:
				t.Fatalf("production set to v%d though nothing was promoted", prod)
			}
			if wantHist := promoted && tc.champion; wantHist != slices.Equal(m.ProductionHistory, []int32{1}) {
				t.Fatalf("production history %v", m.ProductionHistory)
			}
			if last := m.Events[len(m.Events)-1]; last.Message != reason || last.UnixMs != h.now {
				t.Fatalf("last event %v, want the decision", last)
			}
		})
	}
}

func TestRegistryIdempotentByJobID(t *testing.T) {
	h := newHarness(t)
	h.registerCompared(modelVersion("churn", "j1", map[string]float64{"logloss": 0.31}))
	first, promoted, reason := h.registerCompared(modelVersion("churn", "j2", map[string]float64{"logloss": 0.30}))
	h.now += 5000
	again, promotedAgain, reasonAgain := h.registerCompared(modelVersion("churn", "j2", map[string]float64{"logloss": 0.10}))
	if again.Version != 2 || again.CreateUnixMs != first.CreateUnixMs || again.Metrics["logloss"] != 0.30 ||
		promotedAgain != promoted || !promoted || reasonAgain != reason {
		t.Fatalf("retried registration: %v %v %q, first %v %v %q", again, promotedAgain, reasonAgain, first, promoted, reason)
	}
	m := h.store.Snapshot().Model("churn")
	if len(m.Versions) != 2 || len(m.Events) != 2 {
		t.Fatalf("a retried registration changed the model: %v", m)
	}
	// After a later version took production the retry reports it is not production any more.
	h.registerCompared(modelVersion("churn", "j3", map[string]float64{"logloss": 0.20}))
	if _, p, _ := h.registerModel(modelVersion("churn", "j2", nil), nil); p {
		t.Fatal("v2 reported production after v3 replaced it")
	}
	// Versions without a job ID are never deduplicated; the returned
	// version is a copy, not the stored object.
	a, _, _ := h.registerModel(modelVersion("churn", "", nil), &pb.PromotionPolicy{Manual: true})
	b, _, _ := h.registerModel(modelVersion("churn", "", nil), &pb.PromotionPolicy{Manual: true})
	if a.Version != 4 || b.Version != 5 {
		t.Fatalf("versions %d, %d", a.Version, b.Version)
	}
	b.Uri = "mutated"
	if h.store.Snapshot().Model("churn").Versions[4].Uri == "mutated" {
		t.Fatal("registerVersion returned the stored object")
	}
	if v, p, why := h.registerModel(&pb.ModelVersion{}, nil); v != nil || p || why == "" {
		t.Fatalf("a version without a name: %v %v %q", v, p, why)
	}
}

func TestRegistryPromoteAndRollback(t *testing.T) {
	h := newHarness(t)
	h.registerCompared(modelVersion("churn", "j1", map[string]float64{"logloss": 0.31})) // v1 production
	h.registerCompared(modelVersion("churn", "j2", map[string]float64{"logloss": 0.30})) // v2 production
	h.registerCompared(modelVersion("churn", "j3", map[string]float64{"logloss": 0.35})) // v3 candidate
	state := func() (int32, int32, []int32) {
		m := h.store.Snapshot().Model("churn")
		return m.Aliases[aliasProduction], m.Aliases[aliasCandidate], m.ProductionHistory
	}
	if p, c, hist := state(); p != 2 || c != 3 || !slices.Equal(hist, []int32{1}) {
		t.Fatalf("before: production %d candidate %d history %v", p, c, hist)
	}
	r := h.apply(setAlias("churn", aliasProduction, 3, false))
	if r.err != nil || r.model.Aliases[aliasProduction] != 3 {
		t.Fatalf("promote v3: %+v", r)
	}
	if p, _, hist := state(); p != 3 || !slices.Equal(hist, []int32{1, 2}) {
		t.Fatalf("after promote: production %d history %v", p, hist)
	}
	events := len(h.store.Snapshot().Model("churn").Events)
	if msg := h.store.Snapshot().Model("churn").Events[events-1].Message; msg != "v3 promoted to production by hand (was v2): test" {
		t.Fatalf("event %q", msg)
	}
	// Promoting the production version again changes nothing.
	if r := h.apply(setAlias("churn", aliasProduction, 3, false)); r.err != nil || r.model.Aliases[aliasProduction] != 3 {
		t.Fatalf("promote again: %+v", r)
	}
	if _, _, hist := state(); !slices.Equal(hist, []int32{1, 2}) || len(h.store.Snapshot().Model("churn").Events) != events {
		t.Fatalf("a no-op promote pushed history %v or recorded an event", hist)
	}

	for _, tc := range []struct {
		name string
		cmd  *pb.Command
		kind error
		want string
	}{
		{"missing version", setAlias("churn", aliasProduction, 9, false), errNotFound, "model churn has no version 9"},
		{"missing model", setAlias("nope", aliasProduction, 1, false), errNotFound, "no model named nope"},
		{"no name", setAlias("", aliasProduction, 1, false), errInvalid, "without a model name"},
		{"version 0", setAlias("churn", aliasProduction, 0, false), errInvalid, "model churn: version 0"},
		{"unknown alias", setAlias("churn", "staging", 1, false), errInvalid, `model churn: alias "staging"`},
		{"rollback of the candidate", setAlias("churn", aliasCandidate, 0, true), errInvalid, "only production rolls back"},
	} {
		r := h.apply(tc.cmd)
		if !errors.Is(r.err, tc.kind) || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %v with %q", tc.name, r.err, tc.kind, tc.want)
		}
	}

	if r := h.apply(setAlias("churn", aliasCandidate, 1, false)); r.err != nil || r.model.Aliases[aliasCandidate] != 1 {
		t.Fatalf("candidate v1: %+v", r)
	}
	for _, want := range []int32{2, 1} {
		r := h.apply(setAlias("churn", "", 0, true))
		if r.err != nil || r.model.Aliases[aliasProduction] != want {
			t.Fatalf("rollback to v%d: %+v", want, r)
		}
	}
	m := h.store.Snapshot().Model("churn")
	if msg := m.Events[len(m.Events)-1].Message; msg != "production rolled back from v2 to v1: test" {
		t.Fatalf("event %q", msg)
	}
	r = h.apply(setAlias("churn", aliasProduction, 0, true))
	if !errors.Is(r.err, errFailedPrecond) || !strings.Contains(r.err.Error(), "model churn: no earlier production version to roll back to") {
		t.Fatalf("rollback with empty history: %v", r.err)
	}
	if p, c, hist := state(); p != 1 || c != 1 || len(hist) != 0 {
		t.Fatalf("end: production %d candidate %d history %v", p, c, hist)
	}
}

func TestRegistryRequestIDReplaysModel(t *testing.T) {
	h := newHarness(t)
	for _, job := range []string{"j1", "j2", "j3"} {
		h.registerModel(modelVersion("churn", job, map[string]float64{"logloss": 0.3}), &pb.PromotionPolicy{Manual: job != "j1"})
	}
	h.apply(setAlias("churn", aliasProduction, 2, false))
	h.apply(setAlias("churn", aliasProduction, 3, false)) // history [1 2]
	rollback := func() *pb.Command {
		c := setAlias("churn", aliasProduction, 0, true)
		c.RequestId = "req-rb"
		return c
	}
	first := h.apply(rollback())
	second := h.apply(rollback())
	if first.err != nil || second.err != nil || second.model.GetName() != "churn" || second.model.Aliases[aliasProduction] != 2 {
		t.Fatalf("retried rollback: %+v %+v", first, second)
	}
	if m := h.store.Snapshot().Model("churn"); m.Aliases[aliasProduction] != 2 || !slices.Equal(m.ProductionHistory, []int32{1}) {
		t.Fatalf("a retried rollback applied twice: production %d history %v", m.Aliases[aliasProduction], m.ProductionHistory)
	}
	// A job or worker named like the model is not confused with it.
	h.register("churn")
	reg := &pb.Command{RequestId: "req-w", Op: &pb.Command_RegisterWorker{RegisterWorker: &pb.RegisterWorker{Worker: &pb.Worker{Id: "churn"}}}}
	h.apply(reg)
	if r := h.apply(reg); r.worker.GetId() != "churn" || r.model != nil {
		t.Fatalf("worker replay: %+v", r)
	}
}

func TestRegistryResolveModelRef(t *testing.T) {
	h := newHarness(t)
	h.registerCompared(modelVersion("churn", "j1", map[string]float64{"logloss": 0.31}))
	h.registerCompared(modelVersion("churn", "j2", map[string]float64{"logloss": 0.35})) // candidate
	h.registerModel(modelVersion("draft", "j3", nil), &pb.PromotionPolicy{Manual: true})
	v := h.store.Snapshot()
	for _, tc := range []struct {
		ref     string
		uri     string
		version int32
		isRef   bool
		kind    error
		want    string
	}{
		{ref: "s3://b/models/x", uri: "s3://b/models/x"},
		{ref: "file:///data/m", uri: "file:///data/m"},
		{ref: "/data/m", uri: "/data/m"},
		{ref: "churn", uri: "s3://b/models/churn/job-j1", version: 1, isRef: true},
		{ref: "churn@production", uri: "s3://b/models/churn/job-j1", version: 1, isRef: true},
		{ref: "churn@candidate", uri: "s3://b/models/churn/job-j2", version: 2, isRef: true},
		{ref: "churn@v2", uri: "s3://b/models/churn/job-j2", version: 2, isRef: true},
		{ref: "churn@1", uri: "s3://b/models/churn/job-j1", version: 1, isRef: true},
		{ref: "draft@v1", uri: "s3://b/models/draft/job-j3", version: 1, isRef: true},
		{ref: "churn@v7", isRef: true, kind: errNotFound, want: "model churn has no version 7"},
		{ref: "draft", isRef: true, kind: errNotFound, want: "model draft has no production version"},
		{ref: "nope@production", isRef: true, kind: errNotFound, want: "no model named nope"},
		{ref: "churn@staging", isRef: true, kind: errInvalid, want: `model churn: "staging" is neither an alias`},
		{ref: "churn@v0", isRef: true, kind: errInvalid, want: `"v0" is neither`},
		{ref: "churn@v+1", isRef: true, kind: errInvalid, want: `"v+1" is neither`},
		{ref: "churn@", isRef: true, kind: errInvalid, want: "want an artifact URI"},
		{ref: "", isRef: true, kind: errInvalid, want: "want an artifact URI"},
		{ref: "models/churn", isRef: true, kind: errInvalid, want: "want an artifact URI"},
	} {
		uri, ver, isRef, err := resolveModelRef(v, tc.ref)
		if tc.kind != nil {
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) || uri != "" || ver != nil || isRef != tc.isRef {
				t.Errorf("%q: %q %v %v %v, want %v with %q", tc.ref, uri, ver, isRef, err, tc.kind, tc.want)
			}
			continue
		}
		if err != nil || uri != tc.uri || isRef != tc.isRef || ver.GetVersion() != tc.version {
			t.Errorf("%q: %q v%d isRef=%v %v; want %q v%d isRef=%v", tc.ref, uri, ver.GetVersion(), isRef, err, tc.uri, tc.version, tc.isRef)
		}
	}
}

func TestRegistryCapsEventsAndHistory(t *testing.T) {
	h := newHarness(t)
	for i := range maxModelEvents + 10 {
		h.now++
		// Every version is better than the last: each one is promoted.
		h.registerCompared(modelVersion("churn", "", map[string]float64{"logloss": 1 - float64(i)/1000}))
	}
	m := h.store.Snapshot().Model("churn")
	if len(m.Events) != maxModelEvents || len(m.ProductionHistory) != maxProductionHistory || len(m.Versions) != maxModelEvents+10 {
		t.Fatalf("%d events, %d history, %d versions", len(m.Events), len(m.ProductionHistory), len(m.Versions))
	}
	if !strings.HasPrefix(m.Events[len(m.Events)-1].Message, "v74 promoted") || m.ProductionHistory[len(m.ProductionHistory)-1] != 73 {
		t.Fatalf("last event %q, history ends %d", m.Events[len(m.Events)-1].Message, m.ProductionHistory[len(m.ProductionHistory)-1])
	}
	h.registerModel(modelVersion("a-first", "", nil), nil)
	if names := h.store.Snapshot().Models(); len(names) != 2 || names[0].Name != "a-first" || names[1].Name != "churn" {
		t.Fatalf("Models() not by name: %v", names)
	}
}

// TestRegistryDecayGate: production's metric on each night's rows is
// kept with the evaluations; when it falls below its trailing median by
// more than max_drop the model gets a decay event even though no
// challenger wins.
func TestRegistryDecayGate(t *testing.T) {
	h := newHarness(t)
	h.registerModel(modelVersion("churn", "j0", nil), nil) // v1 production
	policy := &pb.PromotionPolicy{Margin: proto.Float64(0.01), Decay: &pb.DecayGate{Window: 3, MaxDrop: 0.05}}
	night := func(job string, prod float64) (*pb.ModelVersion, string) {
		h.now += 1000
		v := modelVersion("churn", job, nil)
		v.Evaluation = &pb.Evaluation{Metric: "logloss", Rows: 100, ChampionVersion: 1,
			Challenger: map[string]float64{"logloss": prod + 0.001}, Champion: map[string]float64{"logloss": prod}}
		reg, promoted, _ := h.registerModel(v, policy)
		if promoted {
			t.Fatalf("%s promoted", job)
		}
		m := h.store.Snapshot().Model("churn")
		return findVersion(m, reg.Version), m.Events[len(m.Events)-1].Message
	}
	for i, x := range []float64{0.50, 0.30, 0.31, 0.30} { // the first falls out of the window of 3
		if v, last := night(fmt.Sprint("j", i+1), x); v.Evaluation.Decayed || strings.Contains(last, "decaying") {
			t.Fatalf("night %d decayed: %s", i, last)
		}
	}
	v, last := night("j9", 0.36)
	want := "production v1 is decaying: its logloss on the rows of v6's job is 0.3600, worse than its trailing median 0.3000 (of 3 evaluations) by 0.06 > max_drop 0.05"
	if !v.Evaluation.Decayed || v.Evaluation.DecayMedian != 0.30 || last != want {
		t.Fatalf("decayed=%v median=%v\n got %q\nwant %q", v.Evaluation.Decayed, v.Evaluation.DecayMedian, last, want)
	}
}

// TestRegistryAliasRecordsActor: a promote or rollback made with a token
// records the token's name in the model's event.
func TestRegistryAliasRecordsActor(t *testing.T) {
	h := newHarness(t)
	h.registerModel(modelVersion("churn", "j1", nil), nil)
	h.registerModel(modelVersion("churn", "j2", nil), &pb.PromotionPolicy{Manual: true})
	if res := h.apply(&pb.Command{Op: &pb.Command_SetModelAlias{SetModelAlias: &pb.SetModelAlias{
		Name: "churn", Alias: aliasProduction, Version: 2, Reason: "checked offline", Actor: "alice"}}}); res.err != nil {
		t.Fatal(res.err)
	}
	m := h.store.Snapshot().Model("churn")
	if last := m.Events[len(m.Events)-1].Message; !strings.Contains(last, " by alice: checked offline") {
		t.Fatalf("event %q does not name alice", last)
	}
}
