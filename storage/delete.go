package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// deleteParallelism bounds the deletes one DeleteAll runs at once: object
// stores delete one key per request, so a folder of many objects goes
// faster in parallel.
const deleteParallelism = 16

// DeleteAll deletes every object under prefix but those keep reports
// (nil keeps none) and returns how many it deleted.
func DeleteAll(ctx context.Context, b Bucket, prefix string, keep func(key string) bool) (int, error) {
	var keys []string
	var listErr error
	for info, err := range b.List(ctx, prefix) {
		if err != nil {
			listErr = err
			break
		}
		if keep == nil || !keep(info.Key) {
			keys = append(keys, info.Key)
		}
	}
	var (
		mu     sync.Mutex
		n      int
		failed int
		first  error
	)
	var g errgroup.Group
	g.SetLimit(deleteParallelism)
	for _, k := range keys {
		g.Go(func() error {
			err := b.Delete(ctx, k)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
				return nil
			}
			n++
			return nil
		})
	}
	_ = g.Wait()
	if first != nil {
		first = fmt.Errorf("%d of %d deletes failed, the first: %w", failed, len(keys), first)
	}
	return n, errors.Join(listErr, first)
}
