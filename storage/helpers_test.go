package storage_test

import (
	"errors"

	"github.com/nightshift-ml/nightshift/storage"
)

func isInvalidKey(err error) bool { return errors.Is(err, storage.ErrInvalidKey) }
