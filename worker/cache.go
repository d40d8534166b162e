package worker

import (
	"container/list"
	"context"
	"errors"
	"sync"

	"golang.org/x/sync/singleflight"
)

// cache keeps the last few loaded values (plans, datasets, models) by URI,
// so the tasks of one job load them once per worker. Concurrent misses of
// one URI share a single load. Failed loads are not cached: the next task
// tries again. Safe for concurrent use.
type cache[T any] struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element // of *cacheEntry[T]
	order *list.List               // most recently used first
	group singleflight.Group
}

type cacheEntry[T any] struct {
	key string
	val T
}

func newCache[T any](max int) *cache[T] {
	return &cache[T]{max: max, items: map[string]*list.Element{}, order: list.New()}
}

// get returns the value of key, loading it with load on a miss. The load
// runs with the context of the task that started it; when that task is
// cancelled, a waiting task whose own context is alive loads again.
func (c *cache[T]) get(ctx context.Context, key string, load func(context.Context) (T, error)) (T, error) {
	for {
		if v, ok := c.lookup(key); ok {
			return v, nil
		}
		led := false
		v, err, _ := c.group.Do(key, func() (any, error) {
			led = true
			v, err := load(ctx)
			if err == nil {
				c.add(key, v)
			}
			return v, err
		})
		if err != nil {
			if !led && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				continue // another task's load was cancelled, not ours
			}
			var zero T
			return zero, err
		}
		return v.(T), nil
	}
}

func (c *cache[T]) lookup(key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry[T]).val, true
	}
	var zero T
	return zero, false
}

func (c *cache[T]) add(key string, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*cacheEntry[T]).val = v
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry[T]{key: key, val: v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry[T]).key)
	}
}
