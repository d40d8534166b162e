// Command nightshift is the single binary of the nightshift cluster: the
// coordinator, the worker, the one-process dev cluster and demo, and the
// client CLI (docs/architecture.md §1). Package main holds flags,
// configuration loading, wiring and rendering; the rules it applies live
// in the packages it calls. main only wires signals and exit codes; each
// subcommand lives in its own file.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nightshift: %v\n", err)
		os.Exit(1)
	}
}
