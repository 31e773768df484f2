//go:build integration

package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/state/statetest"
)

// isolated gives each acceptance run its own pipelines in the shared
// ferry.files table.
type isolated struct {
	state.Store
	prefix string
}

func (s isolated) Lookup(ctx context.Context, p string, objs []pusher.Object) (map[string]state.Progress, error) {
	return s.Store.Lookup(ctx, s.prefix+p, objs)
}
func (s isolated) Start(ctx context.Context, p string, o pusher.Object) (state.Progress, error) {
	return s.Store.Start(ctx, s.prefix+p, o)
}
func (s isolated) Advance(ctx context.Context, p string, c *pusher.Chunk) error {
	return s.Store.Advance(ctx, s.prefix+p, c)
}
func (s isolated) Fail(ctx context.Context, p string, o pusher.Object, err error) error {
	return s.Store.Fail(ctx, s.prefix+p, o, err)
}

func (s isolated) Prune(ctx context.Context, p string, before time.Time, below string) (int64, error) {
	return s.Store.Prune(ctx, s.prefix+p, before, below)
}
func (s isolated) Anchor(ctx context.Context, p string, t time.Time) (time.Time, error) {
	return s.Store.Anchor(ctx, s.prefix+p, t)
}
func (s isolated) Has(ctx context.Context, p string) (bool, error) {
	return s.Store.(state.Haver).Has(ctx, s.prefix+p)
}
func (s isolated) StartAfter(ctx context.Context, p string, keep int, since time.Time) (string, error) {
	return s.Store.StartAfter(ctx, s.prefix+p, keep, since)
}

func TestPostgresStateAcceptance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) (state.Store, func() state.Store) {
		st, err := pgstate.New(t.Context(), pool)
		if err != nil {
			t.Fatal(err)
		}
		prefix := randomName("acc-")
		return isolated{st, prefix}, func() state.Store {
			st2, err := pgstate.New(t.Context(), pool)
			if err != nil {
				t.Fatal(err)
			}
			return isolated{st2, prefix}
		}
	})
}

// claimStore opens a state store on its own pool, as a process does.
func claimStore(t *testing.T) *pgstate.Store {
	ctx := t.Context()
	p, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	st, err := pgstate.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // before p.Close, which waits for the claim connection
	return st
}

// TestPostgresClaims: two stores (two processes' pools) on one database: a
// file claimed by one cannot be claimed by the other until it is released;
// released claims are freed without a round trip of their own, including a
// key claimed again before its unlock went out; closing a store frees its
// claims.
func TestPostgresClaims(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := claimStore(t), claimStore(t)
	pipeline := randomName("claims-")
	x := pusher.Object{Key: "x.csv", ETag: "e1"}
	y := pusher.Object{Key: "y.csv", ETag: "e1"}
	claim := func(st *pgstate.Store, o pusher.Object) (func(), error) {
		t.Helper()
		return st.Claim(ctx, pipeline, o)
	}
	relX, err := claim(a, x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := claim(b, x); !errors.Is(err, state.ErrClaimed) {
		t.Fatalf("b claimed x while a holds it: %v", err)
	}
	if _, err := claim(b, pusher.Object{Key: "x.csv", ETag: "e2"}); err != nil {
		t.Fatalf("another version of x: %v", err)
	}
	relX()
	relX() // twice: once only
	// The unlock rides with a's next claim, here of x again: still held once.
	relX2, err := claim(a, x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := claim(b, x); !errors.Is(err, state.ErrClaimed) {
		t.Fatalf("b claimed x while a holds it again: %v", err)
	}
	relX2()
	// No claim follows: the unlock goes out on its own, soon.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rel, err := claim(b, x)
		if err == nil {
			rel()
			break
		}
		if !errors.Is(err, state.ErrClaimed) || time.Now().After(deadline) {
			t.Fatalf("b cannot claim x after a released it: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := claim(a, y); err != nil {
		t.Fatal(err)
	}
	a.Close() // a's process ends: its claims go with it (once the server sees the disconnect)
	deadline = time.Now().Add(10 * time.Second)
	for {
		rel, err := claim(b, y)
		if err == nil {
			rel()
			break
		}
		if !errors.Is(err, state.ErrClaimed) || time.Now().After(deadline) {
			t.Fatalf("b cannot claim y after a closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresClaimGroup: a group claim takes the free files and reports
// the held ones, in one step, with the same release semantics as Claim.
func TestPostgresClaimGroup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := claimStore(t), claimStore(t)
	pipeline := randomName("claimgroup-")
	x := pusher.Object{Key: "x.csv", ETag: "e1"}
	y := pusher.Object{Key: "y.csv", ETag: "e1"}
	z := pusher.Object{Key: "z.csv", ETag: "e1"}
	relY, err := b.Claim(ctx, pipeline, y)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := a.ClaimGroup(ctx, pipeline, []pusher.Object{x, y, z})
	if err != nil {
		t.Fatal(err)
	}
	if rels[0] == nil || rels[1] != nil || rels[2] == nil {
		t.Fatalf("group claim of x, y (held by b), z: got claims %v, %v, %v; want x and z only", rels[0] != nil, rels[1] != nil, rels[2] != nil)
	}
	if _, err := b.Claim(ctx, pipeline, z); !errors.Is(err, state.ErrClaimed) {
		t.Fatalf("b claimed z while a holds it: %v", err)
	}
	relY()
	rels[2]()
	// b's unlock of y goes out on its own, soon; a's next group claim
	// (of y) carries a's unlock of z.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rels2, err := a.ClaimGroup(ctx, pipeline, []pusher.Object{y})
		if err != nil {
			t.Fatal(err)
		}
		if rels2[0] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a cannot claim y after b released it")
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		rel, err := b.Claim(ctx, pipeline, z)
		if err == nil {
			rel()
			break
		}
		if !errors.Is(err, state.ErrClaimed) || time.Now().After(deadline) {
			t.Fatalf("b cannot claim z after a released it: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
