package runner

import "sync"

// doneCacheSize bounds the versions a runner remembers as done.
const doneCacheSize = 100_000

// doneCache remembers object versions known to be done (looked up done, or
// loaded by this runner), so that a duplicate notification or a file
// listed again costs no state query. It forgets everything when full and
// when the state is pruned (a pruned file loads again).
type doneCache struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (c *doneCache) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ids[id]
	return ok
}

func (c *doneCache) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil || len(c.ids) >= doneCacheSize {
		c.ids = make(map[string]struct{})
	}
	c.ids[id] = struct{}{}
}

func (c *doneCache) clear() {
	c.mu.Lock()
	c.ids = nil
	c.mu.Unlock()
}
