package scheduler

import (
	"container/list"
	"sync"
)

// boundedCache keeps the values used most recently: at most maxEntries of
// them and, when maxCost is above zero, values whose costs sum to at most
// maxCost. The leader's caches of parsed versions use it, so that a
// cluster that runs for months, pushing new versions all along, keeps the
// ones it plans with and not every one it ever parsed. It is safe for
// concurrent use.
type boundedCache[K comparable, V any] struct {
	mu         sync.Mutex
	maxEntries int
	maxCost    int64
	cost       int64
	order      *list.List // of *cacheEntry, most recently used first
	items      map[K]*list.Element
}

type cacheEntry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
}

func newBoundedCache[K comparable, V any](maxEntries int, maxCost int64) *boundedCache[K, V] {
	return &boundedCache[K, V]{maxEntries: maxEntries, maxCost: maxCost, order: list.New(), items: map[K]*list.Element{}}
}

// get returns the value kept for k and marks it used.
func (c *boundedCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// put keeps v for k, then drops the least recently used values while the
// cache is over a bound; the value just put stays even if it alone is.
func (c *boundedCache[K, V]) put(k K, v V, cost int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		old := e.Value.(*cacheEntry[K, V])
		c.cost += cost - old.cost
		old.val, old.cost = v, cost
		c.order.MoveToFront(e)
	} else {
		c.items[k] = c.order.PushFront(&cacheEntry[K, V]{key: k, val: v, cost: cost})
		c.cost += cost
	}
	for c.order.Len() > 1 && (c.order.Len() > c.maxEntries || (c.maxCost > 0 && c.cost > c.maxCost)) {
		last := c.order.Back()
		ent := last.Value.(*cacheEntry[K, V])
		c.order.Remove(last)
		delete(c.items, ent.key)
		c.cost -= ent.cost
	}
}

// size returns how many values the cache keeps and their summed cost.
func (c *boundedCache[K, V]) size() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.cost
}
