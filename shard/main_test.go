package shard_test

import (
	"testing"

	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

// TestMain fails the package if a test leaves a goroutine behind: scans,
// their read-ahead producers and ingest workers must end with their owners.
func TestMain(m *testing.M) { storagetest.VerifyNoLeaks(m) }
