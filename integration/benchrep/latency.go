package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	watchEvery  = 20 * time.Millisecond
	maxSpacing  = 500 * time.Millisecond
	latencyWait = 60 * time.Second // for the warm-up row, and for the last rows after the last upload
)

// latency is part 1: upload → row visible, one small file at a time.
func (e *env) latency(ctx context.Context, out io.Writer) error {
	n := e.cfg.latencyFiles
	bucket := "benchrep-latency-" + e.cfg.runID
	const table, pipeline = "benchrep_latency", "benchrep-latency"
	fmt.Fprintf(out, "\n1. latency from upload to row visible: %d files, one at a time, 0-%d ms apart at random\n", n, maxSpacing.Milliseconds())
	fmt.Fprintf(out, "   ferry replicate --poll-interval 1s; PostgreSQL asked every %d ms; latency = first query that saw the row (its start) - PutObject returned\n", watchEvery.Milliseconds())

	if err := e.s3.createBucket(ctx, bucket); err != nil {
		return err
	}
	if err := e.db.freshTable(ctx, table, "(id bigint, note text)"); err != nil {
		return err
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		return err
	}
	defer e.cleanupPart(bucket, table, pipeline)

	p, err := e.startFerry(e.replicateArgs("s3://"+bucket+"/in/", table, pipeline))
	if err != nil {
		return err
	}
	defer p.cleanup()
	logf("latency: ferry replicate started (pid %d)", p.cmd.Process.Pid)

	w := &watcher{table: table, put: map[int64]time.Time{}, seen: map[int64]time.Time{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	conn, err := e.db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	go func() {
		w.err = w.run(wctx, conn.Conn())
		close(w.done)
	}()
	defer func() {
		stopWatch()
		<-w.done
		conn.Release()
	}()

	// Warm-up: id 0 shows that ferry runs, has polled and can load; the
	// timed files follow.
	t0 := time.Now()
	if err := e.s3.put(ctx, bucket, "in/warmup.csv", []byte("id,note\n0,warm-up\n")); err != nil {
		return err
	}
	w.uploaded(0, time.Now())
	if err := w.waitSeen(ctx, p, 1, latencyWait); err != nil {
		return fmt.Errorf("warm-up row: %w", err)
	}
	logf("latency: warm-up row visible %s after ferry started; uploading %d files", sec(time.Since(t0)), n)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for i := 1; i <= n; i++ {
		body := fmt.Appendf(nil, "id,note\n%d,latency file %d\n", i, i)
		if err := e.s3.put(ctx, bucket, fmt.Sprintf("in/lat-%06d.csv", i), body); err != nil {
			return err
		}
		w.uploaded(int64(i), time.Now())
		if i < n {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-w.done:
				return w.stopped()
			case <-p.done:
				return p.exitError()
			case <-time.After(time.Duration(rng.Int64N(int64(maxSpacing) + 1))):
			}
		}
		if i%50 == 0 {
			logf("latency: %d/%d uploaded", i, n)
		}
	}
	if err := w.waitSeen(ctx, p, n+1, latencyWait); err != nil {
		return err
	}
	took, err := p.stopChecked()
	if err != nil {
		return err
	}
	rows, distinct, err := e.db.countRows(ctx, table, true)
	if err != nil {
		return err
	}
	if rows != int64(n+1) || distinct != rows {
		return fmt.Errorf("table %s has %d rows (%d distinct ids), want %d", table, rows, distinct, n+1)
	}

	lat := w.latencies(1, int64(n))
	fmt.Fprintf(out, "   p50 %d ms   p90 %d ms   p99 %d ms   max %d ms   (min %d ms, mean %d ms, n=%d)\n",
		pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1], lat[0], mean(lat), len(lat))
	fmt.Fprintf(out, "   SIGTERM: exit status 0 after %s; table holds %d rows, each id once (+1 warm-up row); %s\n", ms(took), n, p.logNote())
	return nil
}

// watcher asks PostgreSQL which uploaded ids are visible.
type watcher struct {
	table string
	mu    sync.Mutex
	put   map[int64]time.Time // id → when PutObject returned
	seen  map[int64]time.Time // id → start of the first query that saw it
	wake  chan struct{}       // signalled when seen grows
	done  chan struct{}       // closed when run returned
	err   error               // run's result, valid after done
}

// stopped is the error to report when the watcher ended early.
func (w *watcher) stopped() error {
	if w.err != nil {
		return fmt.Errorf("watcher: %w", w.err)
	}
	return fmt.Errorf("watcher stopped")
}

func (w *watcher) uploaded(id int64, at time.Time) {
	w.mu.Lock()
	w.put[id] = at
	w.mu.Unlock()
}

func (w *watcher) run(ctx context.Context, conn *pgx.Conn) error {
	q := "SELECT id FROM " + pgx.Identifier{w.table}.Sanitize() + " WHERE id = ANY($1)"
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	var pending []int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		pending = pending[:0]
		w.mu.Lock()
		for id := range w.put {
			if _, ok := w.seen[id]; !ok {
				pending = append(pending, id)
			}
		}
		w.mu.Unlock()
		if len(pending) == 0 {
			continue
		}
		at := time.Now()
		rows, err := conn.Query(ctx, q, pending)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(ids) == 0 {
			continue
		}
		w.mu.Lock()
		for _, id := range ids {
			if _, ok := w.seen[id]; !ok {
				w.seen[id] = at
			}
		}
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// waitSeen waits until want ids have been seen.
func (w *watcher) waitSeen(ctx context.Context, p *ferryProc, want int, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		n := len(w.seen)
		w.mu.Unlock()
		if n >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.done:
			return w.stopped()
		case <-p.done:
			return p.exitError()
		case <-timer.C:
			return fmt.Errorf("only %d of %d rows visible %v after the last upload\n%s", n, want, timeout, p.tail(30))
		case <-w.wake:
		}
	}
}

// latencies returns seen-put in milliseconds for ids lo..hi, sorted.
func (w *watcher) latencies(lo, hi int64) []int64 {
	var ids []int64
	for id := lo; id <= hi; id++ {
		ids = append(ids, id)
	}
	return w.latenciesOf(ids)
}

// latenciesOf returns seen-put in milliseconds for ids, sorted.
func (w *watcher) latenciesOf(ids []int64) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	ms := make([]int64, 0, len(ids))
	for _, id := range ids {
		ms = append(ms, w.seen[id].Sub(w.put[id]).Milliseconds())
	}
	slices.Sort(ms)
	return ms
}

// pct is the nearest-rank percentile of sorted values.
func pct(sorted []int64, p float64) int64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func mean(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s / int64(len(v))
}
