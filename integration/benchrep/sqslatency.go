package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

const latencyRecordsPerFile = 10

// sqsLatency is part 5: notification sent → row visible, one small file at
// a time, with ferry long-polling an empty queue.
func (e *env) sqsLatency(ctx context.Context, out io.Writer) error {
	n := e.cfg.sqsLatencyFiles
	bucket := "benchrep-sqs-latency-" + e.cfg.runID
	const table, pipeline = "benchrep_sqs_latency", "benchrep-sqs-latency"
	fmt.Fprintf(out, "\n5. SQS latency from notification to row visible: %d gzip JSON-lines files (%d records each), one at a time, 0-%d ms apart at random\n",
		n, latencyRecordsPerFile, maxSpacing.Milliseconds())
	fmt.Fprintf(out, "   ferry replicate --sqs-queue-url Q --backfill=false (--sqs-wait 20s, the default) on an empty queue; each PutObject is followed by its notification (SendMessage);\n")
	fmt.Fprintf(out, "   PostgreSQL asked every %d ms; latency = first query that saw the file's last row (its start) - SendMessage returned\n", watchEvery.Milliseconds())

	queueURL, err := e.sqs.create(ctx, "benchrep-sqs-latency-"+e.cfg.runID)
	if err != nil {
		return err
	}
	defer e.removeQueue(queueURL)
	if err := e.s3.createBucket(ctx, bucket); err != nil {
		return err
	}
	if err := e.db.freshTable(ctx, table, logColumns); err != nil {
		return err
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		return err
	}
	defer e.cleanupPart(bucket, table, pipeline)

	p, err := e.startFerry(e.sqsArgs("s3://"+bucket+"/logs/", table, pipeline, queueURL))
	if err != nil {
		return err
	}
	defer p.cleanup()
	logf("sqs-latency: ferry replicate started (pid %d)", p.cmd.Process.Pid)

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

	// File i (0 = the warm-up) holds ids i*latencyRecordsPerFile+1 ...
	// (i+1)*latencyRecordsPerFile; the watcher looks for the last, which
	// commits with the rest of the file.
	lastID := func(i int) int64 { return int64(i+1) * latencyRecordsPerFile }
	upload := func(i int) error {
		key := logKey(logDay, i)
		body := logFile(int64(i)*latencyRecordsPerFile+1, latencyRecordsPerFile, time.Now())
		etag, err := e.s3.putObject(ctx, bucket, key, "application/gzip", body)
		if err != nil {
			return err
		}
		if err := e.sqs.send(ctx, queueURL, s3Notification(bucket, object{key: key, size: int64(len(body)), etag: etag}, time.Now())); err != nil {
			return err
		}
		w.uploaded(lastID(i), time.Now())
		return nil
	}

	// Warm-up: file 0 shows that ferry runs, receives and can load; the
	// timed files follow.
	t0 := time.Now()
	if err := upload(0); err != nil {
		return err
	}
	if err := w.waitSeen(ctx, p, 1, latencyWait); err != nil {
		return fmt.Errorf("warm-up file: %w", err)
	}
	warm := time.Since(t0)
	logf("sqs-latency: warm-up row visible %s after its notification (%s after ferry started); uploading %d files", sec(warm), sec(time.Since(p.started)), n)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for i := 1; i <= n; i++ {
		if err := upload(i); err != nil {
			return err
		}
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
			logf("sqs-latency: %d/%d uploaded and announced", i, n)
		}
	}
	if err := w.waitSeen(ctx, p, n+1, latencyWait); err != nil {
		return err
	}
	emptyAt, err := e.waitQueueEmpty(ctx, p, queueURL, watchEvery*5, latencyWait)
	if err != nil {
		return err
	}
	w.mu.Lock()
	lastSeen := w.seen[lastID(n)]
	w.mu.Unlock()
	took, err := p.stopChecked()
	if err != nil {
		return err
	}
	wantRows := int64(n+1) * latencyRecordsPerFile
	rows, distinct, err := e.db.countRows(ctx, table, true)
	if err != nil {
		return err
	}
	if rows != wantRows || distinct != rows {
		return fmt.Errorf("table %s has %d rows (%d distinct ids), want %d", table, rows, distinct, wantRows)
	}

	ids := make([]int64, n)
	for i := range ids {
		ids[i] = lastID(i + 1)
	}
	lat := w.latenciesOf(ids)
	fmt.Fprintf(out, "   p50 %d ms   p90 %d ms   p99 %d ms   max %d ms   (min %d ms, mean %d ms, n=%d)\n",
		pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1], lat[0], mean(lat), len(lat))
	fmt.Fprintf(out, "   warm-up file visible %s after its notification; queue empty %s after the last file's rows were seen\n",
		ms(warm), ms(max(emptyAt.Sub(lastSeen), 0)))
	fmt.Fprintf(out, "   SIGTERM: exit status 0 after %s; table holds %s rows, each id once (+%d warm-up rows); %s\n",
		ms(took), thousands(int64(n)*latencyRecordsPerFile), latencyRecordsPerFile, p.logNote())
	return nil
}
