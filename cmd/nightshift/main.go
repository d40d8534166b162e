// Command nightshift is the single binary of the nightshift cluster: the
// client CLI, the demo, and (in later releases) the coordinator, worker and
// dev cluster. main only wires signals and exit codes; each subcommand
// lives in its own file.
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
