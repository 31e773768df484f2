package runner

import "sync"

// doneCacheSize bounds the versions a runner remembers as done.
const doneCacheSize = 100_000

// doneCache remembers object versions known to be done (looked up done, or
// loaded by this runner), so that a duplicate notification or a file
// listed again costs no state query. It forgets everything when full and
// when the state is pruned (a pruned file loads again), and a key's
// versions when they are replaced or removed (named again, they load).
type doneCache struct {
	mu   sync.Mutex
	keys map[string]map[string]struct{} // key → ETags
	n    int
}

// split returns the key and the ETag of an ID.
func split(id string) (key, etag string) {
	for i := 0; i < len(id); i++ {
		if id[i] == 0 {
			return id[:i], id[i+1:]
		}
	}
	return id, ""
}

func (c *doneCache) has(id string) bool {
	key, etag := split(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.keys[key][etag]
	return ok
}

func (c *doneCache) add(id string) {
	key, etag := split(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || c.n >= doneCacheSize {
		c.keys, c.n = make(map[string]map[string]struct{}), 0
	}
	etags := c.keys[key]
	if etags == nil {
		etags = make(map[string]struct{}, 1)
		c.keys[key] = etags
	}
	if _, ok := etags[etag]; !ok {
		etags[etag] = struct{}{}
		c.n++
	}
}

// forget forgets key's versions but keep (all of them when keep is "").
func (c *doneCache) forget(key, keep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for etag := range c.keys[key] {
		if etag != keep || keep == "" {
			delete(c.keys[key], etag)
			c.n--
		}
	}
}

func (c *doneCache) clear() {
	c.mu.Lock()
	c.keys, c.n = nil, 0
	c.mu.Unlock()
}
