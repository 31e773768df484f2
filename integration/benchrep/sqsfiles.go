package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

const (
	logRecordsPerFile = 50
	sqsBatch          = 10 // entries per SendMessageBatch, SQS's limit
	sqsSendParallel   = 4  // SendMessageBatch calls at a time
	queueEmptyWait    = 5 * time.Minute
)

// logDay is the day the log files' keys and timestamps are of.
var logDay = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// sqsFiles is part 4: notifications per second, for many small gzip
// JSON-lines files announced on SQS before ferry starts.
func (e *env) sqsFiles(ctx context.Context, out io.Writer) error {
	n := e.cfg.sqsFiles
	bucket := "benchrep-sqs-files-" + e.cfg.runID
	const prefix = "logs/"
	wantRows := int64(n) * logRecordsPerFile
	fmt.Fprintf(out, "\n4. SQS throughput: %s gzip JSON-lines log files (%d records each, %s rows), uploaded and announced (one S3 ObjectCreated:Put notification each) before ferry starts\n",
		thousands(int64(n)), logRecordsPerFile, thousands(wantRows))
	fmt.Fprintf(out, "   ferry replicate --sqs-queue-url Q --backfill=false (--sqs-* defaults); timed from start until ferry.files has every file done and the queue is empty\n")

	if err := e.s3.createBucket(ctx, bucket); err != nil {
		return err
	}
	if !e.cfg.keep {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := e.s3.removeBucket(ctx, bucket); err != nil {
				logf("cleanup: %v", err)
			}
		}()
	}

	logf("sqs-files: uploading %d files, %d at a time", n, uploadParallel)
	objs := make([]object, n)
	var compressed atomic.Int64
	t0 := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadParallel)
	var uploaded atomic.Int64
	for i := range n {
		g.Go(func() error {
			key := logKey(logDay, i)
			body := logFile(int64(i)*logRecordsPerFile+1, logRecordsPerFile, logDay.Add(time.Duration(i)*time.Minute))
			etag, err := e.s3.putObject(gctx, bucket, key, "application/gzip", body)
			if err != nil {
				return err
			}
			objs[i] = object{key: key, size: int64(len(body)), etag: etag}
			compressed.Add(int64(len(body)))
			if k := uploaded.Add(1); k%500 == 0 {
				logf("sqs-files: %d/%d uploaded", k, n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	up := time.Since(t0)
	fmt.Fprintf(out, "   upload: %s, %.0f files/s (%d PutObject at a time); %s bytes compressed, %s bytes a file on average\n",
		sec(up), float64(n)/up.Seconds(), uploadParallel, thousands(compressed.Load()), thousands(compressed.Load()/int64(n)))

	for _, workers := range e.cfg.workers {
		if err := e.sqsFilesRun(ctx, out, bucket, prefix, objs, workers, wantRows); err != nil {
			return fmt.Errorf("--workers %d: %w", workers, err)
		}
	}
	return nil
}

func (e *env) sqsFilesRun(ctx context.Context, out io.Writer, bucket, prefix string, objs []object, workers int, wantRows int64) error {
	n := len(objs)
	table := fmt.Sprintf("benchrep_sqs_files_w%d", workers)
	pipeline := fmt.Sprintf("benchrep-sqs-files-w%d", workers)
	queueURL, err := e.sqs.create(ctx, fmt.Sprintf("benchrep-sqs-files-%s-w%d", e.cfg.runID, workers))
	if err != nil {
		return err
	}
	defer e.removeQueue(queueURL)
	if err := e.db.freshTable(ctx, table, logColumns); err != nil {
		return err
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		return err
	}
	if !e.cfg.keep {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := e.db.dropTable(ctx, table); err != nil {
				logf("cleanup: drop table %s: %v", table, err)
			}
			if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
				logf("cleanup: %v", err)
			}
		}()
	}

	// One notification per object, 10 to a SendMessageBatch.
	t0 := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sqsSendParallel)
	for lo := 0; lo < n; lo += sqsBatch {
		batch := objs[lo:min(lo+sqsBatch, n)]
		g.Go(func() error {
			bodies := make([]string, len(batch))
			for i, o := range batch {
				bodies[i] = s3Notification(bucket, o, time.Now())
			}
			return e.sqs.sendBatch(gctx, queueURL, bodies)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	sendTook := time.Since(t0)
	v, nv, err := e.sqs.counts(ctx, queueURL)
	if err != nil {
		return err
	}
	if v != n || nv != 0 {
		return fmt.Errorf("queue holds %d visible and %d invisible messages after sending %d notifications", v, nv, n)
	}
	e.db.checkpoint(ctx)

	la := loadAvg()
	p, err := e.startFerry(e.sqsArgs("s3://"+bucket+"/"+prefix, table, pipeline, queueURL, "--workers", strconv.Itoa(workers)))
	if err != nil {
		return err
	}
	defer p.cleanup()
	logf("sqs-files: %d notifications sent in %s; ferry replicate --workers %d started (pid %d)", n, sec(sendTook), workers, p.cmd.Process.Pid)
	filesAt, err := e.waitFiles(ctx, p, pipeline, n, filesPollEvery, filesWaitTimeout)
	if err != nil {
		return err
	}
	emptyAt, err := e.waitQueueEmpty(ctx, p, queueURL, filesPollEvery, queueEmptyWait)
	if err != nil {
		return err
	}
	elapsed := emptyAt.Sub(p.started)
	took, err := p.stopChecked()
	if err != nil {
		return err
	}
	rows, distinct, err := e.db.countRows(ctx, table, true)
	if err != nil {
		return err
	}
	if rows != wantRows || distinct != rows {
		return fmt.Errorf("table %s has %d rows (%d distinct ids), want %d", table, rows, distinct, wantRows)
	}
	done, failed, _, err := e.db.fileStates(ctx, pipeline)
	if err != nil {
		return err
	}
	if done != n || failed != 0 {
		return fmt.Errorf("ferry.files has %d files done and %d failed for %s, want %d done", done, failed, pipeline, n)
	}
	fmt.Fprintf(out, "   --workers %d: %s from start to all done and queue empty (files done at %s): %.0f notifications/s, %s rows/s (load avg before: %s)\n",
		workers, sec(elapsed), sec(filesAt.Sub(p.started)), float64(n)/elapsed.Seconds(), thousands(int64(float64(rows)/elapsed.Seconds())), la)
	fmt.Fprintf(out, "      %d notifications sent in %s (SendMessageBatch of %d, %d at a time); %s rows, each id once; SIGTERM: exit 0 after %s; %s\n",
		n, sec(sendTook), sqsBatch, sqsSendParallel, thousands(rows), ms(took), p.logNote())
	return nil
}
