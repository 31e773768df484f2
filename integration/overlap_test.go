//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/pusher"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	pgtarget "github.com/ferrydata/ferry/targets/postgres"
)

// TestPostgresOverlap: the async pusher writes a big file's chunks two at
// a time (AsyncConfig.Overlap) into PostgreSQL, and chunk 2's write is
// held, once it has taken its lock, until chunk 3's write has copied its
// rows and waits for chunk 2 in the server. Then chunk 2 commits, or fails
// with a bad value (a data error: the file fails), or loses its
// connection (the pusher stops). When it commits, so does chunk 3 after
// it, and the file loads whole; when it fails, chunk 3 commits nothing
// either: the file is at chunk 2's start, its rows are those of chunks 0
// and 1, once each, and a new read from there loads the rest, with no gap
// and nothing twice.
func TestPostgresOverlap(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"commits", "bad value", "connection lost"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			tbl := pgx.Identifier{newSchema(t), "t"}
			exec1(t, "CREATE TABLE "+tbl.Sanitize()+" (id bigint, name text)")
			pipeline := randomName("overlap-")
			t.Cleanup(func() { pool.Exec(context.Background(), "DELETE FROM ferry.files WHERE pipeline = $1", pipeline) })
			tpool, err := pgxpool.New(ctx, databaseURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(tpool.Close)
			st, err := pgstate.New(ctx, pool)
			if err != nil {
				t.Fatal(err)
			}
			pg, err := pgtarget.New(ctx, tpool, pgtarget.Config{Table: tbl, Pipeline: pipeline, StateInTx: true})
			if err != nil {
				t.Fatal(err)
			}
			obj := pusher.Object{Key: "big.csv", ETag: "e1", Size: 6000}
			if _, err := st.Start(ctx, pipeline, obj); err != nil {
				t.Fatal(err)
			}
			const per, n = 100, 6 // records per chunk, chunks

			held := &holdTarget{Target: pg, t: t, seq: 2, key: overlapLockKey(pipeline, obj), waited: make(chan struct{})}
			if how == "connection lost" {
				held.then = func(pid int) { exec1(t, "SELECT pg_terminate_backend($1)", pid) }
			}
			bad := int64(-1)
			if how == "bad value" {
				bad = 2*per + 50 // in chunk 2
			}
			a := pusher.NewAsync(ctx, pusher.AsyncConfig{Target: held, Pipeline: pipeline, Overlap: true, GroupBytes: 1, Linger: -1})
			res, closeErr := pushFile(ctx, a, obj, 0, n, per, bad)
			select {
			case <-held.waited:
			default:
				t.Fatal("chunk 3's write never waited for chunk 2's in the server: they did not overlap")
			}
			pos := queryInt(t, "SELECT rows FROM ferry.files WHERE pipeline = $1 AND key = $2", pipeline, obj.Key)
			switch how {
			case "commits":
				if res.Err != nil || closeErr != nil {
					t.Fatalf("file: %v; Close: %v", res.Err, closeErr)
				}
				checkOverlapRows(t, tbl, n*per)
				if pos != n*per {
					t.Fatalf("file at record %d, want %d", pos, n*per)
				}
				return
			case "bad value":
				var re *pusher.RecordError
				if !errors.As(res.Err, &re) || re.Record != bad || closeErr != nil {
					t.Fatalf("file: %v; Close: %v; want the bad record %d to fail the file only", res.Err, closeErr, bad)
				}
			case "connection lost":
				if pusher.ClassOf(closeErr) != pusher.ClassUnavailable || res.Err == nil {
					t.Fatalf("file: %v; Close: %v (class %v); want the lost connection to stop the pusher", res.Err, closeErr, pusher.ClassOf(closeErr))
				}
			}
			if pos != 2*per {
				t.Fatalf("file at record %d, want %d (chunk 2's start)", pos, 2*per)
			}
			checkOverlapRows(t, tbl, 2*per)

			// The next read resumes at the committed position.
			a = pusher.NewAsync(ctx, pusher.AsyncConfig{Target: pg, Pipeline: pipeline, Overlap: true, GroupBytes: 1, Linger: -1})
			if res, err := pushFile(ctx, a, obj, 2, n, per, -1); res.Err != nil || err != nil {
				t.Fatalf("resumed read: file %v; Close: %v", res.Err, err)
			}
			checkOverlapRows(t, tbl, n*per)
		})
	}
}

// pushFile pushes the chunks from..n-1 of obj (per records each; the id
// of record bad is "x") as one read, then closes a, and returns the file's
// result and Close's error.
func pushFile(ctx context.Context, a *pusher.Async, obj pusher.Object, from, n, per int, bad int64) (pusher.FileResult, error) {
	got := make(chan pusher.FileResult, 1)
	var readErr error
	for i := from; i < n; i++ {
		b := &pusher.Batch{Columns: []string{"id", "name"}}
		for r := int64(i*per + 1); r <= int64((i+1)*per); r++ {
			b.StartRecord()
			if r == bad {
				b.AddField(pusher.String, []byte("x"))
			} else {
				b.AddField(pusher.Number, []byte(strconv.FormatInt(r, 10)))
			}
			b.AddField(pusher.String, []byte("name "+strconv.FormatInt(r, 10)))
		}
		c := &pusher.Chunk{File: obj, Seq: i - from, Batch: b, RejectLimit: -1, Last: i == n-1,
			Start: pusher.Position{Records: int64(i * per)}, End: pusher.Position{Records: int64((i + 1) * per)}}
		if readErr = a.Push(ctx, c); readErr != nil {
			break
		}
	}
	a.Finish(obj, readErr, func(r pusher.FileResult) { got <- r })
	err := a.Close(ctx)
	return <-got, err
}

// checkOverlapRows checks that tbl holds the records 1..n, once each.
func checkOverlapRows(t *testing.T, tbl pgx.Identifier, n int) {
	t.Helper()
	got := queryRows(t, "SELECT count(*), count(DISTINCT id), coalesce(min(id), 0), coalesce(max(id), 0), count(*) FILTER (WHERE name <> 'name ' || id) FROM "+tbl.Sanitize())
	if want := []string{fmt.Sprintf("%d|%d|%d|%d|0", n, n, min(n, 1), n)}; !slices.Equal(got, want) {
		t.Fatalf("rows (count, distinct ids, min, max, wrong names) %v, want %v", got, want)
	}
}

// overlapLockKey is the first key of the advisory locks the PostgreSQL
// target takes for a file's chunks in WriteAfter (FNV-1a of the pipeline,
// key and ETag, each followed by a zero byte), as pg_locks shows it.
func overlapLockKey(pipeline string, f pusher.Object) uint32 {
	h := fnv.New32a()
	for _, s := range []string{pipeline, f.Key, f.ETag} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

// holdTarget holds the write of chunk seq, once it has taken its
// advisory lock (its Order.Started), until the write of the next chunk
// waits for that lock in the server; then it calls then, if set, with
// the backend of chunk seq's write, and lets it go on.
type holdTarget struct {
	*pgtarget.Target
	t      *testing.T
	seq    int
	key    uint32
	then   func(pid int)
	waited chan struct{} // closed once the next chunk's write waited
}

func (h *holdTarget) WriteAfter(ctx context.Context, c *pusher.Chunk, o pusher.Order) error {
	if c.Seq == h.seq && o.Started != nil {
		started := o.Started
		o.Started = func() {
			started() // the next chunk's write may begin
			h.hold(ctx)
		}
	}
	return h.Target.WriteAfter(ctx, c, o)
}

func (h *holdTarget) hold(ctx context.Context) {
	deadline := time.Now().Add(30 * time.Second)
	var holder int
	for {
		var waiting int
		err := pool.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND NOT granted),
				(SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted AND mode = 'ExclusiveLock')`,
			h.key, h.seq).Scan(&waiting, &holder)
		if err != nil {
			h.t.Errorf("pg_locks: %v", err)
			return
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Errorf("chunk %d's write did not wait for chunk %d's in the server", h.seq+1, h.seq)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(h.waited)
	if h.then != nil {
		h.then(holder)
	}
}
