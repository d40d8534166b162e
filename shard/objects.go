package shard

import (
	"context"
	"io"

	"github.com/nightshift-ml/nightshift/storage"
)

// openObject streams a whole source object.
func openObject(ctx context.Context, st storage.Config, uri string) (io.ReadCloser, error) {
	b, key, err := storage.Open(ctx, uri, st)
	if err != nil {
		return nil, err
	}
	rc, _, err := b.Get(ctx, key)
	return rc, err
}
