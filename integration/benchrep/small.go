package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ferrydata/ferry/integration/internal/pgcpu"
	"golang.org/x/sync/errgroup"
)

// fetchConcurrency is how many GETs the fetch-only baseline has in flight.
const fetchConcurrency = 8

var smallModes = []string{"snapshot", "polling", "sqs"}

// smallQueues numbers part 6's queues: a fresh one for every SQS run.
var smallQueues atomic.Int64

// smallGoal is the goal for each mode, as a multiple of the
// fetch-only time.
var smallGoal = map[string]float64{"snapshot": 2, "polling": 2, "sqs": 3}

// smallEventsFile is file i of part 6: a header and rows rows of the 7
// columns, ids i*rows+1 .. (i+1)*rows.
func smallEventsFile(i, rows int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 0x5a11))
	b := make([]byte, 0, 64+rows*80)
	b = append(b, "id,ts,user_id,event,amount,ok,note\n"...)
	ts := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	for r := range rows {
		ts = ts.Add(time.Duration(rng.IntN(2600)) * time.Millisecond)
		b = appendEvent(b, rng, int64(i*rows+r+1), ts)
	}
	return b
}

// small is part 6: ferry's snapshot, polling replication and SQS
// replication of many small files, each against the time it takes just to
// list and fetch them, measured in the same run, alternating.
func (e *env) small(ctx context.Context, out io.Writer) error {
	n, rowsPer, runs := e.cfg.smallFiles, e.cfg.smallRows, e.cfg.smallRuns
	bucket := "benchrep-small-" + e.cfg.runID
	const prefix = "small/"
	wantRows := int64(n) * int64(rowsPer)
	fmt.Fprintf(out, "\n6. small files: %s CSV files of %d rows (7 columns; %s rows), uploaded before the runs; %d run(s) of:",
		thousands(int64(n)), rowsPer, thousands(wantRows), runs)
	for _, m := range e.cfg.smallModes {
		fmt.Fprintf(out, " fetch-only, %s,", m)
	}
	fmt.Fprintf(out, " each time into a fresh table and pipeline\n")
	fmt.Fprintf(out, "   fetch-only: list s3://%s/%s and GET every object, %d requests at a time, bytes discarded (benchrep itself, a new client each time)\n", bucket, prefix, fetchConcurrency)
	fmt.Fprintf(out, "   snapshot: ferry snapshot, start to exit; polling: ferry replicate (--poll-interval 1s), start until ferry.files has every file done;\n")
	fmt.Fprintf(out, "   sqs: ferry replicate --sqs-queue-url Q --backfill=false, one notification a file sent before it starts, start until every file is done and the queue is empty\n")

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
	logf("small: uploading %d files, %d at a time", n, uploadParallel)
	objs := make([]object, n)
	var size atomic.Int64
	t0 := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadParallel)
	for i := range n {
		g.Go(func() error {
			key := fmt.Sprintf("%sf%06d.csv", prefix, i)
			body := smallEventsFile(i, rowsPer)
			etag, err := e.s3.putObject(gctx, bucket, key, "text/csv", body)
			if err != nil {
				return err
			}
			objs[i] = object{key: key, size: int64(len(body)), etag: etag}
			size.Add(int64(len(body)))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	up := time.Since(t0)
	fmt.Fprintf(out, "   upload: %s, %.0f files/s; %s bytes, %s bytes a file on average\n",
		sec(up), float64(n)/up.Seconds(), thousands(size.Load()), thousands(size.Load()/int64(n)))

	fetch := map[string][]time.Duration{} // the fetch-only time before each mode's run
	took := map[string][]time.Duration{}
	cpu := map[string][]time.Duration{}
	bcpu := map[string][]time.Duration{}
	var all []time.Duration
	for run := 1; run <= runs; run++ {
		line := fmt.Sprintf("   run %d:", run)
		for _, m := range e.cfg.smallModes {
			f, err := e.fetchOnly(ctx, bucket, prefix, n)
			if err != nil {
				return fmt.Errorf("fetch-only: %w", err)
			}
			fetch[m] = append(fetch[m], f)
			all = append(all, f)
			table := fmt.Sprintf("benchrep_small_%s_%s", m, e.cfg.runID)
			pipeline := fmt.Sprintf("benchrep-small-%s-%s", m, e.cfg.runID)
			d, c, err := e.smallRun(ctx, m, bucket, prefix, objs, table, pipeline, wantRows)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", m, run, err)
			}
			took[m] = append(took[m], d)
			cpu[m] = append(cpu[m], c.ferry)
			bcpu[m] = append(bcpu[m], c.backends)
			line += fmt.Sprintf(" fetch %s, %s %s (%.1fx);", sec(f), m, sec(d), d.Seconds()/f.Seconds())
			logf("small: run %d: fetch-only %s, %s %s", run, sec(f), m, sec(d))
		}
		fmt.Fprintln(out, strings.TrimSuffix(line, ";"))
	}
	fa := median(all)
	fmt.Fprintf(out, "   fetch-only: median %s, %.0f files/s\n", sec(fa), float64(n)/fa.Seconds())
	for _, m := range e.cfg.smallModes {
		ratios := make([]float64, len(took[m]))
		for i := range took[m] {
			ratios[i] = took[m][i].Seconds() / fetch[m][i].Seconds()
		}
		r := medianF(ratios)
		verdict := "meets"
		if r > smallGoal[m] {
			verdict = "misses"
		}
		d := median(took[m])
		fmt.Fprintf(out, "   %-8s median %s, %.0f files/s; ferry/fetch-only %.2f (goal <= %g: %s it); CPU: ferry %s, its backends %s\n",
			m, sec(d), float64(n)/d.Seconds(), r, smallGoal[m], verdict, sec(median(cpu[m])), sec(median(bcpu[m])))
	}
	fmt.Fprintf(out, "   ferry/fetch-only = the median over the runs of each ferry time divided by the fetch-only time measured just before it;\n")
	fmt.Fprintf(out, "   CPU (medians) = ferry's user+sys over its whole life, and that of the PostgreSQL backends of its connections (matched by client port)\n")
	return nil
}

// cpuTimes is the CPU time of a ferry run: ferry's (user+sys) and its
// backends'.
type cpuTimes struct{ ferry, backends time.Duration }

// smallRun loads the bucket's files with ferry in mode m into a fresh table
// and pipeline, checks the rows, and returns the time and the CPU times.
func (e *env) smallRun(ctx context.Context, m, bucket, prefix string, objs []object, table, pipeline string, wantRows int64) (time.Duration, cpuTimes, error) {
	var none cpuTimes
	n := len(objs)
	if err := e.db.freshTable(ctx, table, bigColumns); err != nil {
		return 0, none, err
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		return 0, none, err
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
	source := "s3://" + bucket + "/" + prefix
	var args []string
	var queueURL string
	switch m {
	case "snapshot":
		args = []string{"snapshot", "--source", source,
			"--s3-endpoint", e.cfg.s3Endpoint, "--s3-path-style",
			"--target", e.cfg.dbURL, "--table", table, "--pipeline", pipeline,
			"--progress", "none", "--log-level", "info", "--log-format", "json"}
	case "polling":
		args = e.replicateArgs(source, table, pipeline)
	case "sqs":
		var err error
		if queueURL, err = e.sqs.create(ctx, fmt.Sprintf("benchrep-small-%s-%d", e.cfg.runID, smallQueues.Add(1))); err != nil {
			return 0, none, err
		}
		defer e.removeQueue(queueURL)
		if err := e.sendNotifications(ctx, bucket, queueURL, objs); err != nil {
			return 0, none, err
		}
		args = e.sqsArgs(source, table, pipeline, queueURL)
	}
	e.db.checkpoint(ctx)

	p, err := e.startFerry(args)
	if err != nil {
		return 0, none, err
	}
	defer p.cleanup()
	smp := pgcpu.Start(ctx, e.db.pool, e.dbPort, p.cmd.Process.Pid, "")
	var backends pgcpu.Result
	sampling := true
	stopSampling := func() {
		if sampling {
			sampling = false
			backends = smp.Stop()
		}
	}
	defer stopSampling()
	var elapsed time.Duration
	switch m {
	case "snapshot":
		select {
		case <-p.done:
		case <-ctx.Done():
			return 0, none, ctx.Err()
		case <-time.After(filesWaitTimeout):
			return 0, none, fmt.Errorf("ferry snapshot still running after %v\n%s", filesWaitTimeout, p.tail(30))
		}
		elapsed = time.Since(p.started)
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			return 0, none, fmt.Errorf("ferry snapshot exited with %v\n%s", p.cmd.ProcessState, p.tail(30))
		}
	default:
		doneAt, err := e.waitFiles(ctx, p, pipeline, n, filesPollEvery, filesWaitTimeout)
		if err != nil {
			return 0, none, err
		}
		if m == "sqs" {
			if doneAt, err = e.waitQueueEmpty(ctx, p, queueURL, filesPollEvery, queueEmptyWait); err != nil {
				return 0, none, err
			}
		}
		elapsed = doneAt.Sub(p.started)
		if _, err := p.stopChecked(); err != nil {
			return 0, none, err
		}
	}
	stopSampling()
	if backends.Err != nil || backends.Backends == 0 {
		logf("small: %s: backend CPU may be incomplete: %d backend(s) found, error: %v", m, backends.Backends, backends.Err)
	}
	cpu := cpuTimes{ferry: p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime(), backends: backends.BackendCPU}
	if n, first := p.problems(); n > 0 {
		logf("small: %s: ferry logged %d warning/error line(s), the first: %.200s", m, n, first)
	}
	rows, distinct, err := e.db.countRows(ctx, table, true)
	if err != nil {
		return 0, none, err
	}
	if rows != wantRows || distinct != rows {
		return 0, none, fmt.Errorf("table %s has %d rows (%d distinct ids), want %d", table, rows, distinct, wantRows)
	}
	return elapsed, cpu, nil
}

// sendNotifications sends one S3 ObjectCreated:Put notification per object
// to the queue, 10 to a SendMessageBatch, and checks the queue holds them.
func (e *env) sendNotifications(ctx context.Context, bucket, queueURL string, objs []object) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sqsSendParallel)
	for lo := 0; lo < len(objs); lo += sqsBatch {
		batch := objs[lo:min(lo+sqsBatch, len(objs))]
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
	v, nv, err := e.sqs.counts(ctx, queueURL)
	if err != nil {
		return err
	}
	if v != len(objs) || nv != 0 {
		return fmt.Errorf("queue holds %d visible and %d invisible messages after sending %d notifications", v, nv, len(objs))
	}
	return nil
}

// fetchOnly lists bucket/prefix and GETs every object, fetchConcurrency at
// a time, while the listing goes on, discarding the bytes; it returns the
// time from the start to the last byte. It uses a client of its own, so it
// opens its connections as ferry does.
func (e *env) fetchOnly(ctx context.Context, bucket, prefix string, want int) (time.Duration, error) {
	// The SDK's own client (it honours AWS_CA_BUNDLE); its connections
	// close soon after the run, since it offers no way to close them.
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = fetchConcurrency
		t.IdleConnTimeout = 2 * time.Second
	})
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(hc))
	if err != nil {
		return 0, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.cfg.s3Endpoint)
		o.UsePathStyle = true
	})

	t0 := time.Now()
	keys := make(chan string, 1000)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(keys)
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
		for pages.HasMorePages() {
			page, err := pages.NextPage(gctx)
			if err != nil {
				return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
			}
			for _, o := range page.Contents {
				select {
				case keys <- aws.ToString(o.Key):
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		return nil
	})
	var got, bytes atomic.Int64
	for range fetchConcurrency {
		g.Go(func() error {
			for key := range keys {
				obj, err := client.GetObject(gctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(key)})
				if err != nil {
					return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
				}
				k, err := io.Copy(io.Discard, obj.Body)
				obj.Body.Close()
				if err != nil {
					return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
				}
				got.Add(1)
				bytes.Add(k)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	if int(got.Load()) != want {
		return d, fmt.Errorf("fetched %d objects, want %d", got.Load(), want)
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianF(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
