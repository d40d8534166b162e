package worker

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// leakGrace is how long the check waits for goroutines to end. memberlist
// ends a probe that was waiting for an ack only when the (health-scaled)
// probe timeout fires, up to about 2 s after Shutdown; goleak's own retries
// give up sooner.
const leakGrace = 10 * time.Second

// TestMain fails the package if a test leaves a goroutine behind: Run must
// wait for every loop, task and server it started. (Stricter than
// storagetest.VerifyNoLeaks: goroutines blocked on a socket count.)
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		var err error
		if !testkit.Poll(leakGrace, func() bool { err = goleak.Find(); return err == nil }) {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
