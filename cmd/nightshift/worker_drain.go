package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// drainCallWait is the longest one POST /drain waits on the worker; the
// command asks again until --wait is spent, so that no HTTP client or
// proxy timeout ever cuts a long drain short. (A variable for tests.)
var drainCallWait = 30 * time.Second

func newWorkerDrainCmd() *cobra.Command {
	var (
		addr string
		wait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Drain the worker of this machine or pod (a Kubernetes preStop hook)",
		Long: `worker drain drains the worker whose http_addr is --http, from the same
machine or pod (the worker accepts POST /drain from loopback only): the worker
leases nothing more, for good, while its running tasks go on and report. It
then waits, up to --wait, until no task runs.

A running training member is a task like the others: it runs until its group
completes or the worker stops. The worker's drain_grace counts from this
drain: when SIGTERM comes after it, what still runs (a training member
included) is handed back as released at once, and a training group reforms
without it.

Exit status: 0 once the worker is idle, or when no worker answers at --http
(it is already gone: nothing to drain); 1 when tasks still run after --wait,
or on any other error. --wait 0 starts the drain, prints what still runs and
exits 0.

As a Kubernetes preStop hook, give --wait the worker's drain_grace and the
pod a terminationGracePeriodSeconds above it with room for the last reports
(the Helm chart uses drain_grace + 30s).`,
		Example: `  nightshift worker drain
  nightshift worker drain --http 127.0.0.1:7203 --wait 5m
  # Kubernetes: lifecycle.preStop.exec.command
  #   ["/nightshift", "worker", "drain", "--http", "127.0.0.1:7203", "--wait", "5m"]`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wait < 0 {
				return fmt.Errorf("--wait %s: must not be negative", wait)
			}
			target, err := drainURL(addr)
			if err != nil {
				return err
			}
			return drainWorker(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), target, wait)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "http", "127.0.0.1:7203", "the worker's http_addr (host:port); reached on loopback")
	fl.DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the running tasks to end (0: drain and exit)")
	return cmd
}

// drainURL turns --http into the URL of /drain. An unspecified host
// (0.0.0.0, ::, none: http_addr as configured) becomes loopback.
func drainURL(addr string) (string, error) {
	addr = strings.TrimPrefix(addr, "http://")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--http %q: want host:port, such as 127.0.0.1:7203", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/drain", nil
}

// drainWorker posts to /drain until the worker is idle or wait is spent.
func drainWorker(ctx context.Context, out, errOut io.Writer, target string, wait time.Duration) error {
	client := &http.Client{}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(wait)
	answered := false
	for {
		per := min(max(time.Until(deadline), 0), drainCallWait).Round(time.Millisecond)
		start := time.Now()
		code, body, err := postDrain(ctx, client, target, per)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil && isDialError(err):
			if answered {
				fmt.Fprintf(out, "worker at %s stopped while draining\n", target)
			} else {
				fmt.Fprintf(out, "no worker answers at %s (%v): nothing to drain\n", target, err)
			}
			return nil
		case err != nil:
			if time.Now().After(deadline) {
				return fmt.Errorf("drain %s: %w", target, err)
			}
			fmt.Fprintf(errOut, "drain %s: %v; trying again\n", target, err)
			if !rpc.Sleep(ctx, time.Second) {
				return ctx.Err()
			}
			continue
		}
		answered = true
		switch code {
		case http.StatusOK:
			fmt.Fprintf(out, "worker at %s drained: no task runs\n", target)
			return nil
		case http.StatusAccepted:
			if wait == 0 {
				fmt.Fprintf(out, "drain started (not waiting: --wait 0): %s\n", body)
				return nil
			}
			if !time.Now().Before(deadline) {
				return fmt.Errorf("worker at %s still busy after --wait %s: %s (it leases nothing more; on SIGTERM it hands what still runs back after drain_grace)", target, wait, body)
			}
			fmt.Fprintf(errOut, "%s\n", body)
			if time.Since(start) < per { // answered before its wait ran out: do not spin
				if !rpc.Sleep(ctx, min(time.Second, time.Until(deadline))) {
					return ctx.Err()
				}
			}
		default:
			return fmt.Errorf("drain %s: %d %s: %s", target, code, http.StatusText(code), body)
		}
	}
}

// postDrain makes one POST /drain?wait=per call; body is its one line.
func postDrain(ctx context.Context, client *http.Client, target string, per time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, per+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"?wait="+url.QueryEscape(per.String()), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// isDialError reports whether no connection could be made at all (the
// worker is not listening): nothing is there to drain.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
