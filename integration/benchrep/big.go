package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

const (
	bigColumns     = "(id bigint, ts timestamptz, user_id int, event text, amount double precision, ok boolean, note text)"
	rssEvery       = 50 * time.Millisecond
	bigPollEvery   = 200 * time.Millisecond
	bigWaitTimeout = 60 * time.Minute
	inflightBudget = "64MiB"
	// bigRSSGoalMiB is issue 10's goal for the peak RSS at inflightBudget
	// (DESIGN.md: the budget plus about 100 MiB).
	bigRSSGoalMiB = 160
)

// big is part 3: peak RSS and speed while one big file loads.
func (e *env) big(ctx context.Context, out io.Writer) error {
	size := int64(e.cfg.bigMiB) << 20
	bucket := "benchrep-big-" + e.cfg.runID
	const key, table, pipeline = "big/events.csv", "benchrep_big", "benchrep-big"
	fmt.Fprintf(out, "\n3. one big file: %d MiB of CSV, 7 columns (the snapshot benchmark's)\n", e.cfg.bigMiB)

	var extra []string
	has, err := e.ferryHasFlag(ctx, "replicate", "inflight-bytes")
	if err != nil {
		return err
	}
	if has {
		extra = append(extra, "--inflight-bytes", inflightBudget)
		fmt.Fprintf(out, "   ferry replicate --inflight-bytes %s --poll-interval 1s\n", inflightBudget)
	} else {
		fmt.Fprintf(out, "   `ferry replicate -h` lists no --inflight-bytes: run with ferry's default in-flight budget\n")
	}

	if err := e.s3.createBucket(ctx, bucket); err != nil {
		return err
	}
	if err := e.db.freshTable(ctx, table, bigColumns); err != nil {
		return err
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		return err
	}
	defer e.cleanupPart(bucket, table, pipeline)

	rows, written, genTook, upTook, err := e.prepareBig(ctx, bucket, key, size)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %s rows, %s bytes (%.1f MB); generated in %s, uploaded in %s (%.0f MB/s)\n",
		thousands(rows), thousands(written), float64(written)/1e6, sec(genTook), sec(upTook), float64(written)/1e6/upTook.Seconds())
	e.db.checkpoint(ctx)

	la := loadAvg()
	p, err := e.startFerry(e.replicateArgs("s3://"+bucket+"/big/", table, pipeline, extra...))
	if err != nil {
		return err
	}
	defer p.cleanup()
	logf("big: ferry replicate started (pid %d)", p.cmd.Process.Pid)
	rss := sampleRSS(p.cmd.Process.Pid, rssEvery)
	doneAt, err := e.waitFiles(ctx, p, pipeline, 1, bigPollEvery, bigWaitTimeout)
	peakKiB, samples := rss.stop()
	if err != nil {
		return err
	}
	elapsed := doneAt.Sub(p.started)
	took, err := p.stopChecked()
	if err != nil {
		return err
	}
	n, _, err := e.db.countRows(ctx, table, false)
	if err != nil {
		return err
	}
	if n != rows {
		return fmt.Errorf("table %s has %d rows, want %d", table, n, rows)
	}
	fmt.Fprintf(out, "   load: %s from start to done, %.1f MB/s, %s rows/s\n",
		sec(elapsed), float64(written)/1e6/elapsed.Seconds(), thousands(int64(float64(rows)/elapsed.Seconds())))
	budget := "ferry's default in-flight budget"
	if has {
		budget = "--inflight-bytes " + inflightBudget
	}
	verdict := "meets"
	if float64(peakKiB)/1024 > bigRSSGoalMiB {
		verdict = "misses"
	}
	fmt.Fprintf(out, "   PEAK RSS: %.1f MiB with %s (goal <= %d MiB: %s it); the kernel's high-water mark (VmHWM) read every %d ms until the file was done (%d readings)\n",
		float64(peakKiB)/1024, budget, bigRSSGoalMiB, verdict, rssEvery.Milliseconds(), samples)
	fmt.Fprintf(out, "   table holds %s rows; SIGTERM: exit 0 after %s; %s (load avg before: %s)\n", thousands(n), ms(took), p.logNote(), la)
	return nil
}

// prepareBig generates the CSV into a temporary file, uploads it and
// deletes the file.
func (e *env) prepareBig(ctx context.Context, bucket, key string, size int64) (rows, written int64, gen, up time.Duration, err error) {
	f, err := os.CreateTemp("", "benchrep-big-*.csv")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	path := f.Name()
	defer os.Remove(path)
	logf("big: generating %d MiB into %s", size>>20, path)
	t0 := time.Now()
	w := bufio.NewWriterSize(f, 1<<20)
	rows, written, err = generateEvents(w, size)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("write %s: %w", path, err)
	}
	gen = time.Since(t0)
	logf("big: generated %d rows in %s; uploading to s3://%s/%s", rows, sec(gen), bucket, key)
	t0 = time.Now()
	if err := e.s3.putFile(ctx, bucket, key, path); err != nil {
		return 0, 0, 0, 0, err
	}
	return rows, written, gen, time.Since(t0), nil
}

var events = [...]string{"view", "click", "purchase", "signup", "login", "logout", "search", "share"}

// notes are CSV-encoded already, as in integration/benchgen: NULL, empty
// string, quotes, commas and multi-byte UTF-8.
var notes = [...]string{
	``, `""`, `ok`, `café`, `ñ`, `日本`, `"a,b"`, `checked out`, `"n/a, see ticket"`,
	`"say ""hi"""`, `"déjà vu, again"`, `"said ""hi"", café ñ 日本"`, `🚀`, `retry later`,
	`"1,5"`, `naïve approach`, ``,
}

// generateEvents writes the snapshot benchmark's CSV (header
// id,ts,user_id,event,amount,ok,note; rows of about 68 bytes, the format of
// integration/benchgen) until at least size bytes are written, and returns
// the rows and bytes written.
func generateEvents(w *bufio.Writer, size int64) (rows, written int64, err error) {
	rng := rand.New(rand.NewPCG(1, 0x5eed))
	const header = "id,ts,user_id,event,amount,ok,note\n"
	if _, err := w.WriteString(header); err != nil {
		return 0, 0, err
	}
	written = int64(len(header))
	line := make([]byte, 0, 256)
	ts := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for id := int64(1); written < size; id++ {
		ts = ts.Add(time.Duration(rng.IntN(2600)) * time.Millisecond)
		line = appendEvent(line[:0], rng, id, ts)
		if _, err := w.Write(line); err != nil {
			return rows, written, err
		}
		written += int64(len(line))
		rows = id
	}
	return rows, written, nil
}

// appendEvent appends one CSV row of the 7 columns, id and ts given, the
// rest drawn from rng.
func appendEvent(line []byte, rng *rand.Rand, id int64, ts time.Time) []byte {
	cents := rng.IntN(100_000)
	line = strconv.AppendInt(line, id, 10)
	line = append(line, ',')
	line = ts.AppendFormat(line, "2006-01-02T15:04:05.000Z")
	line = append(line, ',')
	line = strconv.AppendInt(line, int64(1+rng.IntN(1_000_000)), 10)
	line = append(line, ',')
	line = append(line, events[rng.IntN(len(events))]...)
	line = append(line, ',')
	line = strconv.AppendInt(line, int64(cents/100), 10)
	line = append(line, '.', byte('0'+cents/10%10), byte('0'+cents%10))
	line = append(line, ',')
	line = strconv.AppendBool(line, rng.IntN(2) == 0)
	line = append(line, ',')
	line = append(line, notes[id%int64(len(notes))]...)
	return append(line, '\n')
}
