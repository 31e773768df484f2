//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrydata/ferry/state"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// leaseHeld returns the ranges each owner holds unexpired, by owner.
func leaseHeld(t *testing.T, pipeline string) map[string][]int {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT owner, range FROM ferry.leases
		WHERE pipeline = $1 AND owner IS NOT NULL AND expires_at > now() ORDER BY range`, pipeline)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]int{}
	for rows.Next() {
		var o string
		var r int
		if err := rows.Scan(&o, &r); err != nil {
			t.Fatal(err)
		}
		out[o] = append(out[o], r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestPostgresLeases: two owners (two processes' pools) share a
// pipeline's ranges: join, heartbeat, fair share, release, takeover once
// a lease expired, the loser's next beat finding the range gone, a third
// with another range count refused, leave; and the status shows them.
func TestPostgresLeases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := claimStore(t), claimStore(t)
	pipeline := randomName("leases-")
	const expiry = 2 * time.Second
	if err := a.LeaseJoin(ctx, pipeline, "a", 8, expiry); err != nil {
		t.Fatal(err)
	}
	hb, err := a.LeaseBeat(ctx, pipeline, "a", 8, expiry)
	if err != nil || len(hb.Held) != 0 || hb.Owners != 1 || hb.Rank != 0 {
		t.Fatalf("a's first beat: %+v, %v; want nothing held, 1 owner", hb, err)
	}
	got, err := a.LeaseAcquire(ctx, pipeline, "a", 8, expiry)
	if err != nil || !slices.Equal(got, seq(0, 8)) {
		t.Fatalf("a acquires %v, %v; want all 8", got, err)
	}

	if err := b.LeaseJoin(ctx, pipeline, "b", 8, expiry); err != nil {
		t.Fatal(err)
	}
	if got, err := b.LeaseAcquire(ctx, pipeline, "b", 4, expiry); err != nil || len(got) != 0 {
		t.Fatalf("b acquires %v, %v while a holds everything", got, err)
	}
	hb, err = a.LeaseBeat(ctx, pipeline, "a", 8, expiry)
	if err != nil || !slices.Equal(hb.Held, seq(0, 8)) || hb.Owners != 2 || hb.Rank != 0 {
		t.Fatalf("a's beat with b joined: %+v, %v", hb, err)
	}
	if hb, err := b.LeaseBeat(ctx, pipeline, "b", 8, expiry); err != nil || hb.Owners != 2 || hb.Rank != 1 {
		t.Fatalf("b's beat: %+v, %v; want 2 owners, rank 1", hb, err)
	}
	if err := a.LeaseRelease(ctx, pipeline, "a", seq(4, 8)); err != nil {
		t.Fatal(err)
	}
	if err := b.LeaseRelease(ctx, pipeline, "b", []int{0}); err != nil { // not b's: nothing happens
		t.Fatal(err)
	}
	if got, err := b.LeaseAcquire(ctx, pipeline, "b", 4, expiry); err != nil || !slices.Equal(got, seq(4, 8)) {
		t.Fatalf("b acquires %v, %v; want 4-7, released by a", got, err)
	}
	held := leaseHeld(t, pipeline)
	if !slices.Equal(held["a"], seq(0, 4)) || !slices.Equal(held["b"], seq(4, 8)) {
		t.Fatalf("leases %v", held)
	}

	// Another range count is refused while a and b are alive.
	c := claimStore(t)
	if err := c.LeaseJoin(ctx, pipeline, "c", 16, expiry); !errors.Is(err, state.ErrLeaseRanges) {
		t.Fatalf("join with 16 ranges beside 8: %v, want ErrLeaseRanges", err)
	}
	if _, err := c.LeaseBeat(ctx, pipeline, "c", 16, expiry); !errors.Is(err, state.ErrLeaseRanges) {
		t.Fatalf("beat with 16 ranges beside 8: %v, want ErrLeaseRanges", err)
	}

	// The status shows both.
	sum, err := a.Summary(ctx, pipeline, 0)
	if err != nil || sum.Leases == nil || sum.Leases.Ranges != 8 || sum.Leases.Free != 0 || len(sum.Leases.Owners) != 2 ||
		sum.Leases.Owners[0].Ranges != 4 || !sum.Leases.Owners[1].Alive {
		t.Fatalf("Summary leases %+v, %v", sum.Leases, err)
	}

	// a stops beating: once its leases expire (the database's clock), b
	// takes them; a's next beat finds them gone.
	if got, err := b.LeaseAcquire(ctx, pipeline, "b", 4, expiry); err != nil || len(got) != 0 {
		t.Fatalf("b took %v, %v before a's leases expired", got, err)
	}
	deadline := time.Now().Add(expiry + 10*time.Second)
	var taken []int
	for len(taken) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("b took only %v of a's ranges %v after the expiry", taken, expiry)
		}
		time.Sleep(100 * time.Millisecond)
		if _, err := b.LeaseBeat(ctx, pipeline, "b", 8, expiry); err != nil {
			t.Fatal(err)
		}
		got, err := b.LeaseAcquire(ctx, pipeline, "b", 4-len(taken), expiry)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, got...)
	}
	slices.Sort(taken)
	if !slices.Equal(taken, seq(0, 4)) {
		t.Fatalf("b took %v, want 0-3", taken)
	}
	hb, err = a.LeaseBeat(ctx, pipeline, "a", 8, expiry)
	if err != nil || len(hb.Held) != 0 || hb.Owners != 2 {
		t.Fatalf("a's beat after the takeover: %+v, %v; want nothing held", hb, err)
	}

	// b leaves: everything is free for a at once.
	if err := b.LeaseLeave(ctx, pipeline, "b"); err != nil {
		t.Fatal(err)
	}
	if hb, err := a.LeaseBeat(ctx, pipeline, "a", 8, expiry); err != nil || hb.Owners != 1 {
		t.Fatalf("a's beat after b left: %+v, %v; want 1 owner", hb, err)
	}
	if got, err := a.LeaseAcquire(ctx, pipeline, "a", 8, expiry); err != nil || !slices.Equal(got, seq(0, 8)) {
		t.Fatalf("a acquires %v, %v after b left; want all 8", got, err)
	}
}

// TestPostgresLeaseAcquireRace: owners acquiring at once from the same
// free ranges take each range once (SKIP LOCKED), and all of them.
func TestPostgresLeaseAcquireRace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pipeline := randomName("lease-race-")
	const ranges, owners = 256, 6
	stores := make([]*pgstate.Store, owners)
	for i := range stores {
		stores[i] = claimStore(t)
		if err := stores[i].LeaseJoin(ctx, pipeline, fmt.Sprint("o", i), ranges, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		var mu sync.Mutex
		var all []int
		var wg sync.WaitGroup
		for i, st := range stores {
			wg.Go(func() {
				for range 8 {
					got, err := st.LeaseAcquire(ctx, pipeline, fmt.Sprint("o", i), ranges/owners/4+1, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					all = append(all, got...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(all)
		if len(slices.Compact(slices.Clone(all))) != len(all) {
			t.Fatalf("round %d: a range acquired twice: %v", round, all)
		}
		if len(all) != ranges {
			t.Fatalf("round %d: %d ranges acquired of %d free", round, len(all), ranges)
		}
		for i, st := range stores {
			if err := st.LeaseLeave(ctx, pipeline, fmt.Sprint("o", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPostgresLeaseTablesUpgrade: a state schema made before leases gets
// the lease tables at Open; read as it is (Inspect), it shows no leases.
func TestPostgresLeaseTablesUpgrade(t *testing.T) {
	sc := stateSchema(t)
	name := string(sc)
	st, err := sc.Open(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, `DROP TABLE `+name+`.leases, `+name+`.lease_owners`)
	ro, err := sc.Inspect(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := ro.Summary(t.Context(), "p", 0); err != nil || sum.Leases != nil {
		t.Fatalf("Summary without lease tables: %+v, %v", sum.Leases, err)
	}
	if _, err := sc.Open(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN ('leases', 'lease_owners')`, name); n != 2 {
		t.Fatalf("%d lease tables after Open, want 2", n)
	}
	if err := st.LeaseJoin(t.Context(), "p", "x", 4, time.Second); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, `SELECT count(*) FROM `+name+`.leases WHERE pipeline = 'p'`); n != 4 {
		t.Fatalf("%d lease rows in schema %s, want 4", n, name)
	}
	sum, err := st.Summary(context.Background(), "p", 0)
	if err != nil || sum.Leases == nil || sum.Leases.Ranges != 4 || sum.Leases.Free != 4 || len(sum.Leases.Owners) != 1 {
		t.Fatalf("Summary %+v, %v", sum.Leases, err)
	}
}
