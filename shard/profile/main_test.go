package profile_test

import (
	"testing"

	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

// TestMain fails the package if a test leaves a goroutine behind: Shard's
// scans and their read-ahead must end with it.
func TestMain(m *testing.M) { storagetest.VerifyNoLeaks(m) }
