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
	smallFileBytes   = 4096
	smallRowBytes    = 64 // every row but the last, which pads the file to smallFileBytes
	smallHeader      = "id,note\n"
	uploadParallel   = 32
	filesPollEvery   = 100 * time.Millisecond
	filesWaitTimeout = 60 * time.Minute
)

// rowsPerSmallFile is how many rows smallFile writes.
var rowsPerSmallFile = (smallFileBytes - len(smallHeader)) / smallRowBytes

// smallFile returns file i (0-based) of part 2: smallFileBytes bytes of
// CSV, rowsPerSmallFile rows with ids unique across files.
func smallFile(i int) []byte {
	b := make([]byte, 0, smallFileBytes)
	b = append(b, smallHeader...)
	for r := range rowsPerSmallFile {
		id := int64(i*rowsPerSmallFile + r + 1)
		start := len(b)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, ",small file "...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ' ')
		size := smallRowBytes
		if r == rowsPerSmallFile-1 {
			size = smallFileBytes - start
		}
		for len(b)-start < size-1 {
			b = append(b, 'x')
		}
		b = append(b, '\n')
	}
	return b
}

// throughput is part 2: files per second for many small files.
func (e *env) throughput(ctx context.Context, out io.Writer) error {
	n := e.cfg.files
	bucket := "benchrep-files-" + e.cfg.runID
	const prefix = "small/"
	wantRows := int64(n) * int64(rowsPerSmallFile)
	fmt.Fprintf(out, "\n2. throughput: %s files of %d bytes (%d rows each, %s rows), all uploaded before ferry starts\n",
		thousands(int64(n)), smallFileBytes, rowsPerSmallFile, thousands(wantRows))

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

	logf("files: uploading %d files, %d at a time", n, uploadParallel)
	t0 := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadParallel)
	var uploaded atomic.Int64
	for i := range n {
		g.Go(func() error {
			if err := e.s3.put(gctx, bucket, fmt.Sprintf("%sf%06d.csv", prefix, i), smallFile(i)); err != nil {
				return err
			}
			if k := uploaded.Add(1); k%2000 == 0 {
				logf("files: %d/%d uploaded", k, n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	up := time.Since(t0)
	fmt.Fprintf(out, "   upload: %s, %.0f files/s (%d PutObject at a time)\n", sec(up), float64(n)/up.Seconds(), uploadParallel)

	for _, workers := range e.cfg.workers {
		if err := e.throughputRun(ctx, out, bucket, prefix, workers, n, wantRows); err != nil {
			return fmt.Errorf("--workers %d: %w", workers, err)
		}
	}
	return nil
}

func (e *env) throughputRun(ctx context.Context, out io.Writer, bucket, prefix string, workers, n int, wantRows int64) error {
	table := fmt.Sprintf("benchrep_files_w%d", workers)
	pipeline := fmt.Sprintf("benchrep-files-w%d", workers)
	if err := e.db.freshTable(ctx, table, "(id bigint, note text)"); err != nil {
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
	e.db.checkpoint(ctx)

	la := loadAvg()
	p, err := e.startFerry(e.replicateArgs("s3://"+bucket+"/"+prefix, table, pipeline, "--workers", strconv.Itoa(workers)))
	if err != nil {
		return err
	}
	defer p.cleanup()
	logf("files: ferry replicate --workers %d started (pid %d)", workers, p.cmd.Process.Pid)
	doneAt, err := e.waitFiles(ctx, p, pipeline, n, filesPollEvery, filesWaitTimeout)
	if err != nil {
		return err
	}
	elapsed := doneAt.Sub(p.started)
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
	fmt.Fprintf(out, "   --workers %d: %s from start to all done: %.0f files/s, %s rows/s (load avg before: %s)\n",
		workers, sec(elapsed), float64(n)/elapsed.Seconds(), thousands(int64(float64(rows)/elapsed.Seconds())), la)
	fmt.Fprintf(out, "      %s rows, each id once; SIGTERM: exit 0 after %s; %s\n", thousands(rows), ms(took), p.logNote())
	return nil
}
