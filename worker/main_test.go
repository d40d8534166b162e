package worker

import (
	"testing"

	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

// TestMain fails the package if a test leaves a goroutine behind: Run must
// wait for every loop, task and server it started.
func TestMain(m *testing.M) { storagetest.VerifyNoLeaks(m) }
