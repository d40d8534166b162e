package storage_test

import (
	"testing"

	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

// TestMain fails the package if a test leaves a goroutine behind: retries,
// writers and readers must end with their owners.
func TestMain(m *testing.M) { storagetest.VerifyNoLeaks(m) }
