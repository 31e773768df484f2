//go:build integration

package integration

import (
	"context"
	"testing"
	"time"

	"github.com/ferrydata/ferry/source"
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

func (s isolated) Lookup(ctx context.Context, p string, objs []source.Object) (map[string]state.Progress, error) {
	return s.Store.Lookup(ctx, s.prefix+p, objs)
}
func (s isolated) Start(ctx context.Context, p string, o source.Object) (state.Progress, error) {
	return s.Store.Start(ctx, s.prefix+p, o)
}
func (s isolated) Advance(ctx context.Context, p string, c *source.Chunk) error {
	return s.Store.Advance(ctx, s.prefix+p, c)
}
func (s isolated) Fail(ctx context.Context, p string, o source.Object, err error) error {
	return s.Store.Fail(ctx, s.prefix+p, o, err)
}

func (s isolated) Prune(ctx context.Context, p string, before time.Time, below string) (int64, error) {
	return s.Store.Prune(ctx, s.prefix+p, before, below)
}
func (s isolated) Anchor(ctx context.Context, p string, t time.Time) (time.Time, error) {
	return s.Store.Anchor(ctx, s.prefix+p, t)
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
