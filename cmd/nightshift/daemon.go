package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// runUntilSignal runs a long-lived process (coordinator, worker, dev
// cluster) until ctx, main's signal context, ends on SIGINT or SIGTERM.
// The process then shuts down gracefully (a worker drains); a second
// signal during that exits at once.
func runUntilSignal(ctx context.Context, log *slog.Logger, run func(context.Context) error) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		log.Info("shutting down; send the signal again to exit at once")
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		select {
		case <-done:
		case s := <-sig:
			log.Warn("second signal: exiting without a graceful shutdown", "signal", s.String())
			os.Exit(130)
		}
	}()
	err := run(ctx)
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return err
}
