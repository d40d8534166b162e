package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// Join retry delays: the first retry comes after about joinRetryMin, each
// next one doubles up to joinRetryMax (Fast: the fast pair).
const (
	joinRetryMin     = 250 * time.Millisecond
	joinRetryMax     = 5 * time.Second
	fastJoinRetryMin = 20 * time.Millisecond
	fastJoinRetryMax = 500 * time.Millisecond
)

// joinState is what the join loop leaves for Joined. It is guarded by the
// node's mu.
type joinState struct {
	seeds    []string // nil: nothing to join (a new cluster)
	joined   bool     // a seed answered once
	attempts int      // rounds over the seeds finished
	last     error    // the last round's error while not joined
}

// JoinInBackground joins the seeds on a goroutine and returns at once. A
// round tries every seed; while none answers, the next round comes after a
// capped, jittered exponential backoff and the failure is logged. The loop
// ends when a seed answered, ctx ends or the node stops (Leave and Shutdown
// wait for a round in flight). Joined reports how it goes. With no seeds
// the node starts a new cluster and counts as joined. Call it once.
//
// A node whose seeds are all down at start therefore keeps running and
// joins when the first of them comes up: a cluster restarted in any order
// comes back by itself.
func (n *Node) JoinInBackground(ctx context.Context, seeds []string, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	seeds = slices.Clone(seeds)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.join.seeds = seeds
	if len(seeds) == 0 {
		return
	}
	done := make(chan struct{})
	n.joinDone = done
	go func() {
		defer close(done)
		n.joinLoop(ctx, seeds, log)
	}()
}

// Joined reports whether the node is in a cluster: it joined a seed, or
// it was given none. While it is not, the error says why, for readiness
// checks: "gossip: not joined any seed yet (…; last error: …)".
func (n *Node) Joined() (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	j := n.join
	switch {
	case len(j.seeds) == 0 || j.joined:
		return true, nil
	case j.last == nil:
		return false, fmt.Errorf("gossip: not joined any seed yet (first attempt to join %s in progress)", strings.Join(j.seeds, ", "))
	}
	return false, fmt.Errorf("gossip: not joined any seed yet (%d attempts; last error: %w)", j.attempts, j.last)
}

// joinLoop runs rounds over the seeds until one answers or it is stopped.
func (n *Node) joinLoop(ctx context.Context, seeds []string, log *slog.Logger) {
	bo := rpc.Backoff{Min: joinRetryMin, Max: joinRetryMax}
	if n.cfg.Fast {
		bo = rpc.Backoff{Min: fastJoinRetryMin, Max: fastJoinRetryMax}
	}
	for attempt := 1; ; attempt++ {
		answered, err := n.joinRound(ctx, seeds)
		if n.ended(ctx) {
			return // an aborted round says nothing about the seeds
		}
		n.mu.Lock()
		n.join.attempts = attempt
		n.join.joined, n.join.last = answered > 0, err
		n.mu.Unlock()
		if answered > 0 {
			log.Info("gossip: joined the cluster", "seeds", seeds, "answered", answered, "attempts", attempt)
			return
		}
		wait := bo.Next()
		log.Warn("gossip: no seed answered; retrying", "seeds", seeds, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		case <-n.stop:
			t.Stop()
			return
		}
	}
}

// joinRound tries each seed once and returns how many answered and, when
// none did, why. It checks between seeds whether it should stop: one
// memberlist join cannot be interrupted, and takes up to its TCP timeout.
func (n *Node) joinRound(ctx context.Context, seeds []string) (int, error) {
	answered := 0
	var errs []error
	for _, seed := range seeds {
		if n.ended(ctx) {
			break
		}
		if _, err := n.ml.Join([]string{seed}); err != nil {
			errs = append(errs, seedError(seed, err))
			continue
		}
		answered++
	}
	if answered > 0 && n.ml.NumMembers() < 2 {
		// A seed list that names this node too (a headless Service's DNS
		// name resolves to every pod, this one included) is answered by
		// the node itself: that is no cluster yet, so keep trying.
		return 0, errors.New("gossip: only this node answered")
	}
	if answered > 0 || len(errs) == 0 {
		return answered, nil
	}
	return 0, joinErrors(errs)
}

// Rejoin runs one round over the seeds JoinInBackground was given (their
// DNS names resolved again) and returns how many answered. Coordinators
// waiting to form a cluster call it: gossip islands that formed while DNS
// named only some of them merge.
func (n *Node) Rejoin(ctx context.Context) (int, error) {
	n.mu.Lock()
	seeds := n.join.seeds
	n.mu.Unlock()
	if len(seeds) == 0 {
		return 0, nil
	}
	return n.joinRound(ctx, seeds)
}

// ended reports whether the join loop should stop.
func (n *Node) ended(ctx context.Context) bool {
	select {
	case <-n.stop:
		return true
	default:
		return ctx.Err() != nil
	}
}

// stopJoining ends the join loop, if any, and waits for it.
func (n *Node) stopJoining() {
	n.signalStop()
	n.waitJoining()
}

// signalStop tells the join loop to end; it may be called more than once.
func (n *Node) signalStop() { n.stopOnce.Do(func() { close(n.stop) }) }

// waitJoining waits for the join loop, if one runs, to end.
func (n *Node) waitJoining() {
	n.mu.Lock()
	done := n.joinDone
	n.mu.Unlock()
	if done != nil {
		<-done
	}
}

// seedError unwraps memberlist's one-element multierror ("1 error
// occurred: * Failed to join …"), whose text spans lines, to its element,
// which already names the address.
func seedError(seed string, err error) error {
	var multi interface{ WrappedErrors() []error }
	if errors.As(err, &multi) {
		if ws := multi.WrappedErrors(); len(ws) == 1 {
			return ws[0]
		}
	}
	return fmt.Errorf("join %s: %w", seed, err)
}

// joinErrors is one round's failures, on one line.
type joinErrors []error

func (e joinErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e joinErrors) Unwrap() []error { return e }

// Degraded returns "" once the node joined a seed (or had none), else a
// line for a readiness report: "degraded: gossip: not joined any seed yet
// (…)\n". Not having joined does not stop a process from serving; it
// delays failure detection and discovery until a seed answers.
func (n *Node) Degraded() string {
	if ok, err := n.Joined(); !ok {
		return "degraded: " + err.Error() + "\n"
	}
	return ""
}
