package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// Claim implements state.Claimer with a session-level advisory lock on a
// connection this store keeps for its claims: a process that dies releases
// its claims at once, with no lease to expire. If that connection breaks,
// its claims are gone while the loads go on; the guarded Advance still
// keeps rows exactly-once.
//
// Releasing costs no round trip of its own: the unlocks wait for the next
// Claim, which sends them with its lock (advisory locks count, so a key
// claimed again before its unlock went out stays held once), or go out
// within unclaimDelay when no Claim comes.
func (s *Store) Claim(ctx context.Context, pipeline string, obj pusher.Object) (func(), error) {
	key := claimKey(pipeline, obj)
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if s.claimConn == nil {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return nil, Classify(fmt.Errorf("state: claim %q: %w", obj.Key, err))
		}
		s.claimConn = c
		s.claimGen++
		s.unclaims = nil // they went with the old connection
	}
	var ok bool
	var unlocked int64
	// Two output columns: both are evaluated (an AND could stop early).
	err := s.claimConn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0)),
		(SELECT count(pg_advisory_unlock(hashtextextended(k, 0))) FROM unnest($2::text[]) AS k)`,
		key, s.unclaims).Scan(&ok, &unlocked)
	if err != nil {
		s.dropClaimConn()
		return nil, Classify(fmt.Errorf("state: claim %q: %w", obj.Key, err))
	}
	s.unclaims = s.unclaims[:0]
	if !ok {
		return nil, Classify(fmt.Errorf("state: claim %q: %w", obj.Key, state.ErrClaimed))
	}
	gen := s.claimGen
	var once sync.Once
	return func() { once.Do(func() { s.unclaim(key, gen) }) }, nil
}

// ClaimGroup implements state.GroupClaimer: Claim for several files in
// one round trip (which carries the pending unlocks too).
func (s *Store) ClaimGroup(ctx context.Context, pipeline string, objs []pusher.Object) ([]func(), error) {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = claimKey(pipeline, o)
	}
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if s.claimConn == nil {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return nil, Classify(fmt.Errorf("state: claim %d files: %w", len(objs), err))
		}
		s.claimConn = c
		s.claimGen++
		s.unclaims = nil // they went with the old connection
	}
	// The pending unlocks and one lock per key: advisory locks count
	// within the session, so a key released and claimed again stays held
	// once, whichever runs first.
	var got []bool
	err := s.claimConn.QueryRow(ctx, `WITH u AS (SELECT count(pg_advisory_unlock(hashtextextended(k, 0))) AS n FROM unnest($2::text[]) AS k)
		SELECT array_agg(pg_try_advisory_lock(hashtextextended(k.key, 0)) ORDER BY k.i) FROM u, unnest($1::text[]) WITH ORDINALITY AS k(key, i)`,
		keys, s.unclaims).Scan(&got)
	if err == nil && len(got) != len(keys) {
		err = fmt.Errorf("%d answers for %d claims", len(got), len(keys))
	}
	if err != nil {
		s.dropClaimConn()
		return nil, Classify(fmt.Errorf("state: claim %d files: %w", len(objs), err))
	}
	s.unclaims = s.unclaims[:0]
	gen := s.claimGen
	releases := make([]func(), len(objs))
	for i, ok := range got {
		if ok {
			key := keys[i]
			var once sync.Once
			releases[i] = func() { once.Do(func() { s.unclaim(key, gen) }) }
		}
	}
	return releases, nil
}

// unclaimDelay bounds how long a released claim may wait for the next
// Claim to carry its unlock.
const unclaimDelay = 500 * time.Millisecond

func (s *Store) unclaim(key string, gen int) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if s.claimConn == nil || s.claimGen != gen {
		return // the connection, and the lock with it, is gone
	}
	s.unclaims = append(s.unclaims, key)
	if len(s.unclaims) == 1 {
		time.AfterFunc(unclaimDelay, s.flushUnclaims)
	}
}

// flushUnclaims sends the unlocks no Claim has carried.
func (s *Store) flushUnclaims() {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	if s.claimConn == nil || len(s.unclaims) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.claimConn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k`, s.unclaims); err != nil {
		s.dropClaimConn()
		return
	}
	s.unclaims = s.unclaims[:0]
}

// dropClaimConn closes the claim connection (freeing its locks) rather
// than returning it to the pool with locks held.
func (s *Store) dropClaimConn() {
	if s.claimConn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.claimConn.Conn().Close(ctx) //nolint:errcheck // closing a connection we give up on
	s.claimConn.Release()
	s.claimConn = nil
	s.unclaims = nil
}

// claimKey names a file version for its advisory lock (hashed to 64 bits:
// a collision only makes two files wait for each other).
func claimKey(pipeline string, obj pusher.Object) string {
	return cleanText(pipeline + "\n" + obj.Key + "\n" + obj.ETag)
}
