package coordinator

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The console's model page (#/models/NAME): a registered model's newest
// versions with their aliases, metrics and the decision on each, its
// history of promotions and rollbacks, and one version's evaluation in
// full. The registry caps a model's events (maxModelEvents) but not its
// versions, so the page shows the newest consoleVersionsShown.

const (
	consoleVersionsShown    = 50
	consoleModelEventsShown = 50
)

type consoleModelDetail struct {
	Name       string           `json:"name"`
	Aliases    map[string]int32 `json:"aliases"`
	Production int32            `json:"production"`
	Candidate  int32            `json:"candidate"`
	// Rollback restores the last of these (newest last).
	ProductionHistory []int32             `json:"production_history"`
	Versions          []consoleVersion    `json:"versions"`
	VersionsTotal     int                 `json:"versions_total"`
	Events            []consoleModelEvent `json:"events"`
	EventsTotal       int                 `json:"events_total"`
	// The version whose evaluation the page shows in full (the one asked
	// for, else the newest) and that evaluation.
	Selected   int32              `json:"selected"`
	Evaluation *consoleEvaluation `json:"evaluation,omitempty"`
}

type consoleVersion struct {
	Version      int32              `json:"version"`
	CreateUnixMs int64              `json:"create_unix_ms"`
	Aliases      []string           `json:"aliases,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	JobID        string             `json:"job_id,omitempty"`
	URI          string             `json:"uri"`
	Family       string             `json:"family,omitempty"`
	// The registry's decision when the version was registered: the
	// sentence that says why (promoted, or why it stayed candidate); ""
	// once it left the capped event history.
	Promoted bool   `json:"promoted"`
	Decision string `json:"decision,omitempty"`
	// The compared metric and the gain over the champion, when compared.
	Metric string   `json:"metric,omitempty"`
	Gain   *float64 `json:"gain,omitempty"`
}

type consoleModelEvent struct {
	UnixMs  int64  `json:"unix_ms"`
	Message string `json:"message"`
	// Who made the change: an operator's token name, "policy" for the
	// registry's own decision, "" when the event does not say.
	Who string `json:"who,omitempty"`
}

// consoleModel is one model's page; ok is false when there is no such
// model. version selects the evaluation shown (0: the newest version).
func (s *Server) consoleModel(name string, version int32) (consoleModelDetail, bool) {
	view := s.store.Snapshot()
	m := view.Model(name)
	if m == nil {
		return consoleModelDetail{}, false
	}
	d := consoleModelDetail{Name: m.Name, Aliases: m.Aliases, Production: m.Aliases[aliasProduction], Candidate: m.Aliases[aliasCandidate],
		ProductionHistory: m.ProductionHistory[max(0, len(m.ProductionHistory)-consoleVersionsShown):],
		VersionsTotal:     len(m.Versions), EventsTotal: len(m.Events)}
	if d.Aliases == nil {
		d.Aliases = map[string]int32{}
	}
	decisions := versionDecisions(m.Events)
	byVersion := map[int32][]string{}
	for _, alias := range slices.Sorted(maps.Keys(m.Aliases)) {
		byVersion[m.Aliases[alias]] = append(byVersion[m.Aliases[alias]], alias)
	}
	var selected *pb.ModelVersion
	for _, v := range slices.Backward(m.Versions) {
		if (version == 0 && selected == nil) || v.Version == version {
			selected = v
		}
		if len(d.Versions) == consoleVersionsShown {
			continue // keep looking for the selected version only
		}
		dec := decisions[v.Version]
		// Promoted: the evaluation says so, or the decision does (versions
		// registered without an evaluation).
		d.Versions = append(d.Versions, consoleVersion{Version: v.Version, CreateUnixMs: v.CreateUnixMs, Aliases: byVersion[v.Version],
			Metrics: finiteOnly(v.Metrics), JobID: v.JobId, URI: v.Uri, Family: v.Family, Promoted: v.GetEvaluation().GetPromoted() || dec.promoted,
			Decision: dec.text, Metric: v.GetEvaluation().GetMetric(), Gain: comparedGain(v.Evaluation)})
	}
	if selected != nil {
		d.Selected = selected.Version
		// The margin is the policy of the job that trained the version,
		// while that job is still in the state.
		var policy *pb.PromotionPolicy
		if selected.JobId != "" {
			policy = view.Job(selected.JobId).GetSpec().GetTrain().GetPromotion()
		}
		d.Evaluation = consoleEvaluationOf(selected.Evaluation, selected.Version, policy, decisions[selected.Version].text)
	}
	for _, e := range slices.Backward(m.Events[max(0, len(m.Events)-consoleModelEventsShown):]) {
		d.Events = append(d.Events, consoleModelEvent{UnixMs: e.UnixMs, Message: e.Message, Who: eventActor(e.Message)})
	}
	return d, true
}

// decision is the registry's sentence on a version and what it decided.
type decision struct {
	text     string
	promoted bool
}

// versionDecisions maps each version to the registry's sentence that
// decided on it at registration (registerVersion's event: "vN promoted
// to production: …" or "vN stays candidate: …"), as decisionOf reads it.
func versionDecisions(events []*pb.ModelEvent) map[int32]decision {
	out := map[int32]decision{}
	for _, e := range events {
		head, rest, ok := strings.Cut(e.Message, " ")
		promoted := strings.HasPrefix(rest, "promoted to production:")
		if !ok || !strings.HasPrefix(head, "v") || !promoted && !strings.HasPrefix(rest, "stays candidate:") {
			continue
		}
		if n, err := strconv.Atoi(head[1:]); err == nil {
			out[int32(n)] = decision{e.Message, promoted}
		}
	}
	return out
}

// actorRE finds the operator in an alias change: setModelAlias writes
// " by NAME" after the change and before ": REASON" (and "by hand",
// which names no one).
var actorRE = regexp.MustCompile(` by ([^\s:]+)`)

// eventActor says who made a model event: "policy" for the registry's
// decision on a new version (registerVersion, checkDecay), else the
// operator the alias change names ("" when tokens were off).
func eventActor(msg string) string {
	head, rest, _ := strings.Cut(msg, " ")
	if strings.HasPrefix(rest, "promoted to production:") || strings.HasPrefix(rest, "stays candidate:") ||
		head == "production" && strings.Contains(msg, " is decaying:") {
		return "policy"
	}
	change, _, _ := strings.Cut(msg, ": ") // the reason is the operator's free text
	for _, m := range actorRE.FindAllStringSubmatch(change, -1) {
		if m[1] != "hand" {
			return m[1]
		}
	}
	return ""
}
