package coordinator

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The model registry (docs/architecture.md §8): per name its versions, the aliases
// production and candidate, the production versions before the current
// one (for rollback) and a capped history of decisions. Only the FSM
// writes it: a finished training job registers a version (and the job's
// promotion policy decides on production in the same log entry), an
// operator promotes or rolls back with SetModelAlias.

// Registry aliases and caps.
const (
	aliasProduction      = jobspec.AliasProduction
	aliasCandidate       = jobspec.AliasCandidate
	maxModelEvents       = 64
	maxProductionHistory = 64
)

// registerVersion adds a version to its model (created on first use): it
// numbers it (the highest version + 1, from 1), stamps the command's time,
// points candidate at it and applies the promotion policy. It returns a
// copy of the registered version, whether it is production now and the
// decision in a sentence, which is also the model's new event. A version
// whose non-empty job ID is registered already is returned as it is and
// nothing changes (a retried report).
func (a *applier) registerVersion(v *pb.ModelVersion, p *pb.PromotionPolicy) (reg *pb.ModelVersion, promoted bool, reason string) {
	if v == nil || v.Name == "" {
		return nil, false, "not registered: the version names no model"
	}
	old := getModel(a.txn, v.Name)
	if old != nil && v.JobId != "" {
		for _, e := range old.Versions {
			if e.JobId == v.JobId {
				return proto.Clone(e).(*pb.ModelVersion), old.Aliases[aliasProduction] == e.Version, decisionOf(old, e)
			}
		}
	}
	m := &pb.RegisteredModel{Name: v.Name}
	if old != nil {
		m = proto.Clone(old).(*pb.RegisteredModel)
	}
	if m.Aliases == nil {
		m.Aliases = map[string]int32{}
	}
	reg = proto.Clone(v).(*pb.ModelVersion)
	reg.Version, reg.CreateUnixMs = nextVersion(m), a.now
	m.Versions = append(m.Versions, reg)
	m.Aliases[aliasCandidate] = reg.Version
	promoted, reason = decide(m, reg, p)
	if promoted {
		setProduction(m, reg.Version)
	}
	if reg.Evaluation != nil {
		reg.Evaluation.Promoted = promoted
	}
	a.modelEvent(m, reason)
	if decay := checkDecay(m, reg, p); decay != "" {
		a.modelEvent(m, decay)
	}
	a.insert(tableModels, m)
	return proto.Clone(reg).(*pb.ModelVersion), promoted, reason
}

func nextVersion(m *pb.RegisteredModel) int32 {
	var n int32
	for _, v := range m.Versions {
		n = max(n, v.Version)
	}
	return n + 1
}

// decisionOf finds the sentence that decided on a version (for a retried
// registration), from the model's events.
func decisionOf(m *pb.RegisteredModel, v *pb.ModelVersion) string {
	name := fmt.Sprintf("v%d ", v.Version)
	for _, e := range slices.Backward(m.Events) {
		if strings.HasPrefix(e.Message, name+"promoted to production:") || strings.HasPrefix(e.Message, name+"stays candidate:") {
			return e.Message
		}
	}
	return fmt.Sprintf("v%d was registered already by job %s", v.Version, v.JobId)
}

// productionOf returns the production version number, 0 when none.
func productionOf(m *pb.RegisteredModel) int32 { return m.Aliases[aliasProduction] }

func findVersion(m *pb.RegisteredModel, n int32) *pb.ModelVersion {
	if n <= 0 {
		return nil
	}
	for _, v := range m.Versions {
		if v.Version == n {
			return v
		}
	}
	return nil
}

// setProduction points production at version n of a writable model; the
// version it replaces is kept for rollback.
func setProduction(m *pb.RegisteredModel, n int32) {
	if cur := productionOf(m); cur != 0 && cur != n {
		m.ProductionHistory = append(m.ProductionHistory, cur)
		if k := len(m.ProductionHistory) - maxProductionHistory; k > 0 {
			m.ProductionHistory = slices.Delete(m.ProductionHistory, 0, k)
		}
	}
	m.Aliases[aliasProduction] = n
}

func (a *applier) modelEvent(m *pb.RegisteredModel, msg string) {
	m.Events = append(m.Events, &pb.ModelEvent{UnixMs: a.now, Message: msg})
	if k := len(m.Events) - maxModelEvents; k > 0 {
		m.Events = slices.Delete(m.Events, 0, k)
	}
}

// setModelAlias is an operator's promote (alias production), rollback
// (restores the production version before the current one) or candidate
// change.
func (a *applier) setModelAlias(c *pb.SetModelAlias) *applyResult {
	if c.Name == "" {
		return &applyResult{err: fmt.Errorf("%w: set a model alias without a model name", errInvalid)}
	}
	old := getModel(a.txn, c.Name)
	if old == nil {
		return &applyResult{err: fmt.Errorf("%w: no model named %s", errNotFound, c.Name)}
	}
	m := proto.Clone(old).(*pb.RegisteredModel)
	if m.Aliases == nil {
		m.Aliases = map[string]int32{}
	}
	why := ""
	if c.Actor != "" {
		why = " by " + c.Actor
	}
	if c.Reason != "" {
		why += ": " + c.Reason
	}
	switch {
	case c.Rollback:
		if c.Alias != "" && c.Alias != aliasProduction {
			return &applyResult{err: fmt.Errorf("%w: model %s: only production rolls back, not %q", errInvalid, c.Name, c.Alias)}
		}
		h := m.ProductionHistory
		if len(h) == 0 {
			return &applyResult{err: fmt.Errorf("%w: model %s: no earlier production version to roll back to", errFailedPrecond, c.Name)}
		}
		prev, cur := h[len(h)-1], productionOf(m)
		m.ProductionHistory = h[:len(h)-1]
		m.Aliases[aliasProduction] = prev
		a.modelEvent(m, fmt.Sprintf("production rolled back from v%d to v%d%s", cur, prev, why))
	case c.Alias == aliasProduction || c.Alias == aliasCandidate:
		if c.Version <= 0 {
			return &applyResult{err: fmt.Errorf("%w: model %s: version %d (versions count from 1)", errInvalid, c.Name, c.Version)}
		}
		if findVersion(m, c.Version) == nil {
			return &applyResult{err: fmt.Errorf("%w: model %s has no version %d", errNotFound, c.Name, c.Version)}
		}
		cur, ok := m.Aliases[c.Alias]
		if ok && cur == c.Version {
			return &applyResult{model: old} // already so: nothing to record
		}
		was := ""
		if ok {
			was = fmt.Sprintf(" (was v%d)", cur)
		}
		if c.Alias == aliasProduction {
			setProduction(m, c.Version)
			a.modelEvent(m, fmt.Sprintf("v%d promoted to production by hand%s%s", c.Version, was, why))
		} else {
			m.Aliases[aliasCandidate] = c.Version
			a.modelEvent(m, fmt.Sprintf("v%d set as candidate by hand%s%s", c.Version, was, why))
		}
	default:
		return &applyResult{err: fmt.Errorf("%w: model %s: alias %q (want production or candidate)", errInvalid, c.Name, c.Alias)}
	}
	a.insert(tableModels, m)
	return &applyResult{model: m}
}

// modelResponsePrefix marks a remembered request's answer as a model name
// (job and worker IDs are remembered bare).
const modelResponsePrefix = "model\x00"

func modelResponse(name string) []byte { return []byte(modelResponsePrefix + name) }

// replayModel answers a retried SetModelAlias with the model's state.
func (a *applier) replayModel(resp []byte) (*pb.RegisteredModel, bool) {
	name, ok := bytes.CutPrefix(resp, []byte(modelResponsePrefix))
	if !ok {
		return nil, false
	}
	return getModel(a.txn, string(name)), true
}

// resolveModelRef reads a score job's model: an artifact URI (it holds
// "://" or starts with "/") is returned as it is, with isRef false;
// otherwise ref is NAME@ALIAS, NAME@vN or NAME (NAME@production) and
// resolves to that version's artifact URI.
func resolveModelRef(v *View, ref string) (uri string, ver *pb.ModelVersion, isRef bool, err error) {
	if !jobspec.IsModelRef(ref) {
		return ref, nil, false, nil
	}
	r, err := jobspec.ParseModelRef(ref)
	if err != nil {
		return "", nil, true, fmt.Errorf("%w: %v", errInvalid, err)
	}
	name := r.Name
	m := v.Model(name)
	if m == nil {
		return "", nil, true, fmt.Errorf("%w: no model named %s", errNotFound, name)
	}
	n := r.Version
	if r.Alias != "" {
		var ok bool
		if n, ok = m.Aliases[r.Alias]; !ok {
			return "", nil, true, fmt.Errorf("%w: model %s has no %s version", errNotFound, name, r.Alias)
		}
	}
	found := findVersion(m, n)
	if found == nil {
		return "", nil, true, fmt.Errorf("%w: model %s has no version %d", errNotFound, name, n)
	}
	return found.Uri, found, true, nil
}

// productionVersion is a model's production version, nil when it has none.
func productionVersion(v *View, name string) *pb.ModelVersion {
	m := v.Model(name)
	if m == nil {
		return nil
	}
	return findVersion(m, productionOf(m))
}
