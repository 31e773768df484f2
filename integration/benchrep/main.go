// Command benchrep benchmarks `ferry replicate` against MinIO, fauxqs (SQS)
// and PostgreSQL and prints a report. integration/bench_replicate.sh builds
// ferry and this program and runs it under integration/services.sh (make
// bench-replicate).
//
// It measures six things (and a seventh when asked), each in its own
// fresh bucket, table and pipeline (and queue, for the SQS parts;
// BENCHREP_PARTS picks which):
//
//  1. latency: `ferry replicate --poll-interval 1s` follows an empty prefix;
//     small CSV files are uploaded one at a time, 0–500 ms apart at random,
//     each with a unique id, while a watcher asks PostgreSQL every 20 ms
//     which of the uploaded ids are visible. Latency is the time the row
//     was first seen (the start of the query that saw it) minus the time
//     PutObject returned. Then SIGTERM, which must end ferry with status 0.
//
//  2. files: many 4 KiB CSV files are uploaded first (32 at a time, timed
//     apart), then ferry replicate is started with each --workers value in
//     turn and timed from its start until ferry.files shows every file done
//     for its pipeline; the table's rows are then checked (count and
//     distinct ids).
//
//  3. big: one large CSV (the snapshot benchmark's 7 columns) is generated
//     into a temporary file, uploaded (the file is then deleted) and
//     loaded; ferry's VmHWM (/proc/PID/status) is sampled every 50 ms
//     until the file is done. --inflight-bytes 64MiB is passed when
//     `ferry replicate -h` lists the flag; otherwise ferry's defaults apply
//     and the report says so.
//
//  4. sqs-files: many small gzip JSON-lines log files (50 app-log records
//     each: ts, level, msg, id, latency_ms) are uploaded first (32 at a
//     time), then one S3 ObjectCreated:Put notification per object (URL-
//     encoded key, the ETag and size PutObject gave) is sent to a fresh
//     queue, 10 to a SendMessageBatch; then `ferry replicate --sqs-queue-url
//     Q --backfill=false` is started with each --workers value in turn (a
//     fresh queue, table and pipeline each, the notifications sent again)
//     and timed from its start until ferry.files shows every file done and
//     the queue is empty (ApproximateNumberOfMessages and ...NotVisible both
//     0: every message deleted). Notifications/s and rows/s are reported;
//     the rows are checked as in part 2.
//
//  5. sqs-latency: `ferry replicate --sqs-queue-url Q --backfill=false`
//     (--sqs-wait 20s, the default) long-polls an empty queue; small gzip
//     JSON-lines files are uploaded one at a time, 0–500 ms apart at random,
//     each followed at once by its notification (SendMessage). Latency is
//     measured as in part 1, from SendMessage returning to the first query
//     that saw the file's last row. Then the queue must empty, and SIGTERM
//     must end ferry with status 0.
//
//  6. small: many small CSV files (the 7 columns of part 3, 40 rows each
//     by default) are uploaded first; then, in each of BENCHREP_SMALL_RUNS
//     runs, for each mode in turn (snapshot, polling, sqs), a fetch-only
//     baseline, then ferry. The baseline lists the prefix and GETs every
//     object with 8 requests in flight, discarding the bytes (this program,
//     a new S3 client each time, the GETs starting while the listing goes
//     on). snapshot is `ferry snapshot`, timed from start to exit (status 0
//     required); polling is `ferry replicate --poll-interval 1s`, timed
//     from start until ferry.files has every file done; sqs is `ferry
//     replicate --sqs-queue-url Q --backfill=false` with one notification
//     per object sent to a fresh queue before it starts, timed until every
//     file is done and the queue is empty. Every ferry run loads into a
//     fresh table and pipeline and its rows are checked (count, distinct
//     ids). The report gives each time and, per mode, the median over the
//     runs of ferry's time divided by the fetch-only time measured just
//     before it, against the goals of issue 10 (snapshot and polling <= 2,
//     sqs <= 3), ferry's CPU time (user+sys) and that of the PostgreSQL
//     backends of its connections (integration/internal/pgcpu: found by
//     client port, read from /proc while ferry runs).
//
//  7. leases (only when named in BENCHREP_PARTS: integration/bench_leases.sh):
//     many 4 KiB CSV files (part 2's) are uploaded first; then, in each of
//     BENCHREP_LEASE_RUNS runs, for each process count of
//     BENCHREP_LEASE_PROCS, that many `ferry replicate --poll-interval 1s`
//     are started at once on the bucket, without leases ("claims": each
//     lists, looks up and claims every file, the per-file claim decides who
//     loads it) and then with --lease-ranges BENCHREP_LEASE_RANGES
//     ("leases"), each into a fresh table and pipeline, timed from the
//     first start until ferry.files has every file done; the rows are
//     checked (count, distinct ids). The report gives files/s, their
//     ratio to one process, the files a process found claimed by another
//     (ferry_retries_total{reason="claimed"}, scraped from each process's
//     --metrics-addr) and the processes' CPU time, medians over the runs.
//     Then, for each --lease-expiry of BENCHREP_LEASE_EXPIRIES, three
//     processes with leases on a prefix of one file: once they hold their
//     shares (ferry.leases, polled every 20 ms) and half an expiry later,
//     one is killed with SIGKILL, and the time until the other two hold
//     every range is reported; then a fourth is started, and the time
//     until it holds a range and until the three hold their shares.
//
// The SQS parts (and part 6's sqs mode) need FERRY_TEST_SQS_ENDPOINT; every SQS request, the
// program's and ferry's (--sqs-endpoint), goes there.
//
// Environment:
//
//	BENCHREP_PARTS=latency,files,big,sqs-files,sqs-latency,small
//	                                    parts to run (default: all six)
//	BENCHREP_LATENCY_FILES=200          files uploaded in part 1
//	BENCHREP_FILES=10000                files in part 2
//	BENCHREP_WORKERS=2,8                --workers values for parts 2 and 4
//	BENCHREP_BIG_MB=2048                size of part 3's file in MiB
//	BENCHREP_SQS_FILES=1000             files (and notifications) in part 4
//	BENCHREP_SQS_LATENCY_FILES=200      files uploaded in part 5
//	BENCHREP_SMALL_FILES=3000           files in part 6
//	BENCHREP_SMALL_ROWS=40              rows in each of part 6's files
//	BENCHREP_SMALL_RUNS=3               runs of part 6 (each: every mode,
//	                                    each after a fetch-only baseline)
//	BENCHREP_SMALL_MODES=snapshot,polling,sqs
//	                                    part 6's ferry modes
//	BENCHREP_LEASE_FILES=3000           files in part 7
//	BENCHREP_LEASE_PROCS=1,2,3          process counts of part 7
//	BENCHREP_LEASE_RUNS=3               runs of part 7
//	BENCHREP_LEASE_RANGES=64            part 7's --lease-ranges
//	BENCHREP_LEASE_EXPIRIES=6s,30s      --lease-expiry of part 7's takeovers
//	BENCHREP_KEEP=1                     keep buckets, queues, tables, state
//	                                    rows and ferry's logs (default:
//	                                    removed after each part; a log with
//	                                    a warning or error is always kept)
//	FERRY_TEST_S3_ENDPOINT, FERRY_TEST_DATABASE_URL, AWS_*  (services.sh)
//	FERRY_TEST_SQS_ENDPOINT             (services.sh; for parts 4 and 5)
//
// Flags: -ferry PATH (default bin/ferry). Progress goes to stderr prefixed
// "benchrep:"; the report goes to stdout.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferrydata/ferry/integration/internal/pgcpu"
)

func main() {
	ferryBin := flag.String("ferry", "bin/ferry", "the ferry binary to benchmark")
	flag.Parse()

	cfg, err := loadConfig(*ferryBin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchrep: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		logf("error: %v", err)
		stop()
		os.Exit(1)
	}
}

// settings is what the environment asked for.
type settings struct {
	ferry           string
	parts           map[string]bool
	latencyFiles    int
	files           int
	workers         []int
	bigMiB          int
	sqsFiles        int
	sqsLatencyFiles int
	smallFiles      int
	smallRows       int
	smallRuns       int
	smallModes      []string
	leaseFiles      int
	leaseProcs      []int
	leaseRuns       int
	leaseRanges     int
	leaseExpiries   []time.Duration
	keep            bool
	s3Endpoint      string
	sqsEndpoint     string // only needed by the SQS parts
	dbURL           string
	runID           string // suffix of bucket and queue names: unique per run
}

var allParts = []string{"latency", "files", "big", "sqs-files", "sqs-latency", "small"}

// knownParts are allParts and those only run when named (leases:
// integration/bench_leases.sh).
var knownParts = append(slices.Clone(allParts), "leases")

// usesSQS reports whether a selected part needs the SQS endpoint.
func (c *settings) usesSQS() bool {
	return c.parts["sqs-files"] || c.parts["sqs-latency"] || (c.parts["small"] && slices.Contains(c.smallModes, "sqs"))
}

func loadConfig(ferry string) (*settings, error) {
	c := &settings{
		ferry:       ferry,
		parts:       map[string]bool{},
		keep:        os.Getenv("BENCHREP_KEEP") == "1",
		s3Endpoint:  os.Getenv("FERRY_TEST_S3_ENDPOINT"),
		sqsEndpoint: os.Getenv("FERRY_TEST_SQS_ENDPOINT"),
		dbURL:       os.Getenv("FERRY_TEST_DATABASE_URL"),
		runID:       strconv.FormatInt(time.Now().Unix(), 36),
	}
	if c.s3Endpoint == "" || c.dbURL == "" {
		return nil, errors.New("FERRY_TEST_S3_ENDPOINT and FERRY_TEST_DATABASE_URL must be set; run: integration/services.sh run integration/bench_replicate.sh")
	}
	if st, err := os.Stat(ferry); err != nil || st.IsDir() {
		return nil, fmt.Errorf("no ferry binary at %s (go build -o bin/ferry ./cmd/ferry)", ferry)
	}
	parts := os.Getenv("BENCHREP_PARTS")
	if parts == "" || parts == "all" {
		parts = strings.Join(allParts, ",")
	}
	for p := range strings.SplitSeq(parts, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case "":
		case "latency", "files", "big", "sqs-files", "sqs-latency", "small", "leases":
			c.parts[p] = true
		default:
			return nil, fmt.Errorf("BENCHREP_PARTS: unknown part %q (want a comma-separated list of %s)", p, strings.Join(knownParts, ", "))
		}
	}
	if len(c.parts) == 0 {
		return nil, errors.New("BENCHREP_PARTS names no part")
	}
	modes := os.Getenv("BENCHREP_SMALL_MODES")
	if modes == "" {
		modes = strings.Join(smallModes, ",")
	}
	for m := range strings.SplitSeq(modes, ",") {
		m = strings.TrimSpace(m)
		if !slices.Contains(smallModes, m) {
			return nil, fmt.Errorf("BENCHREP_SMALL_MODES: unknown mode %q (want a comma-separated list of %s)", m, strings.Join(smallModes, ", "))
		}
		c.smallModes = append(c.smallModes, m)
	}
	if c.usesSQS() && c.sqsEndpoint == "" {
		return nil, errors.New("FERRY_TEST_SQS_ENDPOINT must be set for the parts sqs-files, sqs-latency and small's sqs mode (integration/services.sh starts fauxqs and sets it: run integration/services.sh run integration/bench_replicate.sh), or leave them out of BENCHREP_PARTS (BENCHREP_SMALL_MODES)")
	}
	var err error
	if c.smallFiles, err = envInt("BENCHREP_SMALL_FILES", 3000); err != nil {
		return nil, err
	}
	if c.smallRows, err = envInt("BENCHREP_SMALL_ROWS", 40); err != nil {
		return nil, err
	}
	if c.smallRuns, err = envInt("BENCHREP_SMALL_RUNS", 3); err != nil {
		return nil, err
	}
	if c.latencyFiles, err = envInt("BENCHREP_LATENCY_FILES", 200); err != nil {
		return nil, err
	}
	if c.files, err = envInt("BENCHREP_FILES", 10_000); err != nil {
		return nil, err
	}
	if c.bigMiB, err = envInt("BENCHREP_BIG_MB", 2048); err != nil {
		return nil, err
	}
	if c.sqsFiles, err = envInt("BENCHREP_SQS_FILES", 1000); err != nil {
		return nil, err
	}
	if c.sqsLatencyFiles, err = envInt("BENCHREP_SQS_LATENCY_FILES", 200); err != nil {
		return nil, err
	}
	if c.leaseFiles, err = envInt("BENCHREP_LEASE_FILES", 3000); err != nil {
		return nil, err
	}
	if c.leaseRuns, err = envInt("BENCHREP_LEASE_RUNS", 3); err != nil {
		return nil, err
	}
	if c.leaseRanges, err = envInt("BENCHREP_LEASE_RANGES", 64); err != nil {
		return nil, err
	}
	for p := range strings.SplitSeq(cmp.Or(os.Getenv("BENCHREP_LEASE_PROCS"), "1,2,3"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("BENCHREP_LEASE_PROCS: want positive integers separated by commas, got %q", os.Getenv("BENCHREP_LEASE_PROCS"))
		}
		c.leaseProcs = append(c.leaseProcs, n)
	}
	for d := range strings.SplitSeq(cmp.Or(os.Getenv("BENCHREP_LEASE_EXPIRIES"), "6s,30s"), ",") {
		v, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || v < time.Second {
			return nil, fmt.Errorf("BENCHREP_LEASE_EXPIRIES: want durations of 1s or more separated by commas, got %q", os.Getenv("BENCHREP_LEASE_EXPIRIES"))
		}
		c.leaseExpiries = append(c.leaseExpiries, v)
	}
	workers := os.Getenv("BENCHREP_WORKERS")
	if workers == "" {
		workers = "2,8"
	}
	for w := range strings.SplitSeq(workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("BENCHREP_WORKERS: want positive integers separated by commas, got %q", workers)
		}
		c.workers = append(c.workers, n)
	}
	return c, nil
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive integer, got %q", name, v)
	}
	return n, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchrep: "+format+"\n", args...)
}

// env is what the parts share: the configuration and the clients.
type env struct {
	cfg *settings
	s3  *store
	sqs *queues // nil unless an SQS part is selected
	db  *database
	// dbPort is the server's TCP port, to find ferry's backends by their
	// client ports (part 6).
	dbPort uint16
}

func run(ctx context.Context, cfg *settings, out io.Writer) error {
	st, err := newStore(ctx, cfg.s3Endpoint)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg.dbURL)
	if err != nil {
		return err
	}
	defer db.close()
	port, err := pgcpu.ServerPort(cfg.dbURL)
	if err != nil {
		logf("warning: the backends' CPU will not be measured: %v", err)
	}
	e := &env{cfg: cfg, s3: st, db: db, dbPort: port}
	if cfg.usesSQS() {
		if e.sqs, err = newQueues(ctx, cfg.sqsEndpoint); err != nil {
			return err
		}
	}

	hostname, _ := os.Hostname()
	fmt.Fprintf(out, "ferry replicate benchmark: %s, %d CPUs, %s, %s\n", hostname, runtime.NumCPU(), runtime.Version(), time.Now().Format(time.RFC3339))
	fmt.Fprintf(out, "load average at start: %s\n", loadAvg())

	var failed []string
	for _, p := range knownParts {
		if !cfg.parts[p] {
			continue
		}
		var err error
		switch p {
		case "latency":
			err = e.latency(ctx, out)
		case "files":
			err = e.throughput(ctx, out)
		case "big":
			err = e.big(ctx, out)
		case "sqs-files":
			err = e.sqsFiles(ctx, out)
		case "sqs-latency":
			err = e.sqsLatency(ctx, out)
		case "small":
			err = e.small(ctx, out)
		case "leases":
			err = e.leases(ctx, out)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			logf("%s: %v", p, err)
			fmt.Fprintf(out, "   FAILED: %v\n", err)
			failed = append(failed, p)
		}
		fmt.Fprintf(out, "   load average after: %s\n", loadAvg())
	}
	if len(failed) > 0 {
		return fmt.Errorf("part(s) failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// loadAvg is the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// sec formats a duration in seconds.
func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// thousands formats n with thin separators: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cleanupPart removes a part's bucket, table and pipeline state, unless
// BENCHREP_KEEP=1. Failures are logged, not fatal.
func (e *env) cleanupPart(bucket, table, pipeline string) {
	if e.cfg.keep {
		logf("kept s3://%s, table %s and pipeline %q (BENCHREP_KEEP=1)", bucket, table, pipeline)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := e.s3.removeBucket(ctx, bucket); err != nil {
		logf("cleanup: %v", err)
	}
	if err := e.db.dropTable(ctx, table); err != nil {
		logf("cleanup: drop table %s: %v", table, err)
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		logf("cleanup: %v", err)
	}
}
