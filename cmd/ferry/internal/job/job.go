package job

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/discover"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/source/local"
	"github.com/ferrydata/ferry/source/s3"
	"github.com/ferrydata/ferry/source/sqs"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/targets/jsonlines"
	"github.com/ferrydata/ferry/targets/postgres"
)

// Job is an opened job: store, target and state ready.
type Job struct {
	cfg      Config
	log      zerolog.Logger
	store    source.Store
	target   pusher.Target
	state    state.Store
	pipeline string
	pools    []*pgxpool.Pool
	load     load.Config

	// Counters, read by the progress reporter.
	Listed, Skipped, Done, Failed atomic.Int64
	Vanished, Rejected, Retry     atomic.Int64
	Claimed                       atomic.Int64 // files another process was loading
	Records, ReadBytes            atomic.Int64
	listingDone                   atomic.Bool
	rejectsFile                   *os.File

	queue *sqs.Queue // --sqs-queue-url
	Queue queueCounters
}

// Open validates cfg and opens what the job needs. Unreachable stores or
// databases fail here with a clear error.
func Open(ctx context.Context, cfg Config, log zerolog.Logger) (*Job, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j := &Job{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			j.Close()
		}
	}()
	var err error
	if j.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if cfg.SQSQueueURL != "" {
		if j.queue, err = sqs.New(ctx, sqs.Config{QueueURL: cfg.SQSQueueURL, Endpoint: cfg.SQSEndpoint,
			Wait: cfg.SQSWait, Visibility: cfg.SQSVisibility}); err != nil {
			return nil, err
		}
	}
	kind, _ := targetKind(cfg.Target)
	var targetPool *pgxpool.Pool
	targetName := "stdout"
	switch kind {
	case targetStdout, targetFile:
		t := jsonlines.Stdout()
		if kind == targetFile {
			if t, err = jsonlines.File(strings.TrimPrefix(cfg.Target, "file:")); err != nil {
				return nil, err
			}
			targetName = cfg.Target
		}
		t.System = cfg.SystemColumns
		if cfg.RejectsFile != "" {
			if j.rejectsFile, err = os.OpenFile(cfg.RejectsFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
				return nil, fmt.Errorf("--rejects-file: %w", err)
			}
			t.Rejects = j.rejectsFile
		}
		j.target = t
	case targetPostgres:
		if targetPool, err = j.connect(ctx, cfg.Target, cfg.Workers+2); err != nil {
			return nil, err
		}
		ident, _ := postgres.ParseTable(cfg.Table)
		targetName = ident.Sanitize()
	}
	j.pipeline = cfg.Pipeline
	if j.pipeline == "" {
		j.pipeline = j.store.String() + " -> " + targetName
	}
	if t, ok := j.target.(*jsonlines.Target); ok {
		t.Pipeline = j.pipeline
	}

	sameTx := false
	switch {
	case cfg.State == "" && kind == targetPostgres:
		st, err := pgstate.New(ctx, targetPool)
		if err != nil {
			return nil, err
		}
		j.state, sameTx = st, true
	case isPostgresURL(cfg.State):
		pool, err := j.connect(ctx, cfg.State, cfg.Workers+2)
		if err != nil {
			return nil, err
		}
		if j.state, err = pgstate.New(ctx, pool); err != nil {
			return nil, err
		}
	default:
		dir := strings.TrimPrefix(cfg.State, "file:")
		if dir == "" {
			dir = ".ferry"
		}
		if j.state, err = filestore.New(dir); err != nil {
			return nil, err
		}
	}
	if kind == targetPostgres {
		ident, _ := postgres.ParseTable(cfg.Table)
		var cols []postgres.ColumnSpec
		if cfg.Columns != "" {
			cols, _ = postgres.ParseColumns(cfg.Columns)
		}
		pc := postgres.Config{
			Table: ident, Columns: cols, SystemColumns: cfg.SystemColumns,
			Pipeline: j.pipeline, StateInTx: sameTx,
			SkipRecords:   cfg.OnError == OnErrorSkipRecord,
			UnknownFields: postgres.UnknownFields(cfg.UnknownFields),
			ExtraColumn:   cfg.ExtraColumn,
			Conversion: postgres.Conversion{
				RejectInvalidUTF8: cfg.InvalidUTF8 == "reject",
			},
			Log: func(msg string) { log.Warn().Msg(msg) },
		}
		if cfg.IgnoreUnknownFields {
			pc.UnknownFields = postgres.UnknownIgnore
		}
		if cfg.TimestampFormat != "auto" {
			pc.Conversion.TimestampFormat = cfg.TimestampFormat
		}
		if !sameTx {
			log.Warn().Msg("progress state is not in the target database: loading is at-least-once, not exactly-once")
		}
		t, err := postgres.New(ctx, targetPool, pc)
		if err != nil {
			return nil, err
		}
		j.target = t
	}

	fo := format.Options{
		Format:         cfg.Format,
		Header:         cfg.CSVHeader,
		NullString:     cfg.NullString,
		BatchRows:      cfg.BatchRows,
		BatchBytes:     cfg.BatchBytes,
		MaxRecordBytes: cfg.MaxRecordBytes,
		SkipRows:       cfg.SkipRows,
		RecordsField:   cfg.JSONRecordsField,
		Regex:          cfg.LinesRegex,
		Preset:         cfg.LinesPreset,
	}
	if cfg.CSVDelimiter != "" {
		fo.Delimiter = cfg.CSVDelimiter[0]
	}
	if cfg.CSVQuote != "" {
		fo.Quote = cfg.CSVQuote[0]
	}
	if cfg.CSVEscape != "" {
		fo.Escape = cfg.CSVEscape[0]
	}
	if cfg.CSVComment != "" {
		fo.Comment = cfg.CSVComment[0]
	}
	if cfg.Columns != "" {
		cols, _ := postgres.ParseColumns(cfg.Columns)
		for _, c := range cols {
			fo.Columns = append(fo.Columns, c.Name)
		}
	}
	j.load = load.Config{Format: fo, Compression: cfg.Compression, ReadBytes: &j.ReadBytes,
		SkipRecords: cfg.OnError == OnErrorSkipRecord, MaxRejects: cfg.MaxRejects, ParseWorkers: cfg.ParseWorkers}
	ok = true
	return j, nil
}

func openStore(ctx context.Context, cfg Config) (source.Store, error) {
	if strings.HasPrefix(cfg.Source, "s3://") {
		return s3.New(ctx, s3.Config{URL: cfg.Source, Endpoint: cfg.S3Endpoint, PathStyle: cfg.S3PathStyle})
	}
	return local.New(cfg.Source)
}

// connect opens a pool and checks the server answers, so a wrong URL or a
// down server fails at once with a one-line reason.
func (j *Job) connect(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("invalid PostgreSQL URL: %v", redact(err))}
	}
	if maxConns < 4 {
		maxConns = 4
	}
	pc.MaxConns = int32(maxConns)
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL: %v", redact(err))
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to PostgreSQL at %s:%d/%s: %v", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, pgReason(err))
	}
	j.pools = append(j.pools, pool)
	return pool, nil
}

// pgReason reduces a connection error to its cause.
func pgReason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Err.Error()
	}
	return redact(err)
}

// redact removes a password that an error message may quote.
func redact(err error) string {
	s := err.Error()
	if i := strings.Index(s, "password="); i >= 0 {
		end := strings.IndexAny(s[i:], " '\"")
		if end < 0 {
			end = len(s) - i
		}
		s = s[:i] + "password=xxxxx" + s[i+end:]
	}
	return s
}

// Pipeline is the job's progress-state name.
func (j *Job) Pipeline() string { return j.pipeline }

// Close releases the job's resources.
func (j *Job) Close() {
	if j.target != nil {
		j.target.Close()
	}
	if j.state != nil {
		j.state.Close()
	}
	for _, p := range j.pools {
		p.Close()
	}
	if j.rejectsFile != nil {
		j.rejectsFile.Close()
	}
}

var errAborted = errors.New("aborted by --on-error abort")

// Summary of a run.
type Summary struct {
	Files, Loaded, AlreadyDone, Failed int64
	Vanished, Rejected                 int64
	Aborted                            bool // --on-error abort stopped the run
	Unavailable                        bool // a service was down: the pass stopped early
	Records, Bytes                     int64
	Elapsed                            time.Duration
	Errors                             []error
}

// Snapshot loads every matching file not yet done, with cfg.Workers files
// in parallel. It returns an error only when the job itself fails (listing
// or state); failed files are counted in the summary.
func (j *Job) Snapshot(ctx context.Context) (Summary, error) {
	since, err := j.cfg.sinceTime(time.Now())
	if err != nil {
		return Summary{}, err
	}
	return j.pass(ctx, ctx, j.listing(discover.Options{Filter: j.filter(), Since: since}))
}

func (j *Job) filter() discover.Filter {
	return discover.Filter{Include: j.cfg.Include, Exclude: j.cfg.Exclude}
}

// task is one file to load, and who to tell how its load ended.
type task struct {
	obj  pusher.Object
	done func(outcome) // nil: nobody waits (listing)
}

// outcome of a task.
type outcome struct {
	kind     outcomeKind
	attempts int // failed: attempts so far
}

type outcomeKind int

const (
	// outLoaded: every record committed, now or before.
	outLoaded outcomeKind = iota
	// outFailed: the failure is recorded in the state.
	outFailed
	// outSkipped: nothing to load (the object vanished or changed, or it
	// is quarantined).
	outSkipped
	// outRetry: not finished (stopping, a service down, another process
	// loading it); the file resumes at its committed position later.
	outRetry
)

// feed sends the tasks of a pass: send blocks while the workers are busy
// and returns false once the pass stops taking files (then feed returns).
type feed func(ctx context.Context, send func(task) bool) error

// listing is the feed of one listing of the store.
func (j *Job) listing(opts discover.Options) feed {
	return func(ctx context.Context, send func(task) bool) error {
		err := discover.ListWith(ctx, j.store, opts, func(page []pusher.Object) error {
			progress, err := j.state.Lookup(ctx, j.pipeline, page)
			if err != nil {
				return err
			}
			for _, obj := range page {
				j.Listed.Add(1)
				if !j.wanted(obj, progress) {
					j.Skipped.Add(1)
					continue
				}
				if !send(task{obj: obj}) {
					return errAborted
				}
			}
			return nil
		})
		j.listingDone.Store(true)
		if errors.Is(err, errAborted) || (err != nil && ctx.Err() != nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", j.store, err)
		}
		return nil
	}
}

// flight is a file being loaded in a pass, with the tasks waiting for it
// (a file named twice, by a listing and a notification or by two
// notifications, loads once).
type flight struct {
	obj      pusher.Object
	attempts atomic.Int32 // as Start counted them
	waiters  []func(outcome)
	release  func() // frees the state claim
}

// pass loads every file the feed sends that is not done, reading under ctx
// and writing under writeCtx (which outlives ctx by the shutdown timeout,
// so in-flight chunks commit on a graceful stop). Every task's done is
// called exactly once before pass returns.
func (j *Job) pass(ctx, writeCtx context.Context, fd feed) (Summary, error) {
	start := time.Now()
	var sum Summary
	before := j.counters()
	workers := j.cfg.Workers
	files := make(chan task, workers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var p pusher.Pusher
	var async *pusher.Async

	// Under --on-error abort the first failed file stops the dispatch of
	// new files; files already loading finish.
	dispatch, stopDispatch := context.WithCancel(ctx)
	defer stopDispatch()
	var aborted atomic.Bool
	flights := map[string]*flight{}
	// finish ends the flight of obj with o: the claim is freed and every
	// waiter told.
	finish := func(obj pusher.Object, o outcome) {
		mu.Lock()
		f := flights[state.ID(obj)]
		delete(flights, state.ID(obj))
		mu.Unlock()
		if f == nil {
			return
		}
		if f.release != nil {
			f.release()
		}
		for _, w := range f.waiters {
			if w != nil {
				w(o)
			}
		}
	}
	if j.cfg.Async {
		async = pusher.NewAsync(writeCtx, pusher.AsyncConfig{
			Target: j.target, State: j.state, Pipeline: j.pipeline, InflightBytes: int64(j.cfg.InflightBytes),
			Done: func(obj pusher.Object) {
				j.Done.Add(1)
				j.log.Debug().Str("file", obj.Key).Msg("file loaded")
				finish(obj, outcome{kind: outLoaded})
			},
			// A chunk the target refuses (a value that does not convert
			// under skip-file or abort) fails its file, not the queue.
			FileError: func(err error) bool {
				return writeCtx.Err() == nil && !isTransient(err) && !errors.Is(err, pgstate.ErrConflict) && !errors.Is(err, context.Canceled)
			},
			Failed: func(obj pusher.Object, err *pusher.WriteError) {
				j.Failed.Add(1)
				j.log.Error().Str("file", obj.Key).Msg(err.Error())
				j.recordFailure(ctx, obj, err)
				mu.Lock()
				attempts := 0
				if f := flights[state.ID(obj)]; f != nil {
					attempts = int(f.attempts.Load())
				}
				sum.Errors = append(sum.Errors, err)
				mu.Unlock()
				if j.cfg.OnError == OnErrorAbort {
					aborted.Store(true)
					stopDispatch()
				}
				finish(obj, outcome{kind: outFailed, attempts: attempts})
			},
		})
		p = async
	} else {
		p = pusher.NewSync(j.target, j.state, j.pipeline)
	}
	// fail records obj's failure once none of its chunks is in flight (so
	// no write advances it afterwards), then ends its flight.
	// (When AbandonThen reports false, the pusher reports the file.)
	fail := func(obj pusher.Object, err error, attempts int) {
		then := func() {
			j.recordFailure(ctx, obj, err)
			finish(obj, outcome{kind: outFailed, attempts: attempts})
		}
		if async == nil {
			then()
		} else {
			async.AbandonThen(obj, then)
		}
	}
	// retry ends obj's flight unfinished, once none of its chunks is in
	// flight.
	retry := func(obj pusher.Object) {
		then := func() { finish(obj, outcome{kind: outRetry}) }
		if async == nil {
			then()
		} else {
			async.AbandonThen(obj, then)
		}
	}
	if async != nil {
		// A failed write stops the queue: stop taking files too (a feed
		// that never ends on its own, such as a queue, ends the pass).
		defer context.AfterFunc(async.Context(), stopDispatch)()
	}
	var unavailable error // first transient error: a service is down
	for range workers {
		wg.Go(func() {
			for t := range files {
				if dispatch.Err() != nil {
					if t.done != nil {
						t.done(outcome{kind: outRetry}) // drain: stopping
					}
					continue
				}
				id := state.ID(t.obj)
				mu.Lock()
				if f := flights[id]; f != nil {
					f.waiters = append(f.waiters, t.done) // already loading
					mu.Unlock()
					continue
				}
				f := &flight{obj: t.obj, waiters: []func(outcome){t.done}}
				flights[id] = f
				mu.Unlock()
				res, err := j.loadFile(ctx, writeCtx, t.obj, p, f)
				switch res.kind {
				case outLoaded, outSkipped:
					finish(t.obj, res)
				case outFailed:
					fail(t.obj, err, res.attempts)
				case outRetry:
					retry(t.obj)
				case outPushed:
					// The async pusher reports it (done, or failed); the
					// reader has stopped.
					async.Abandon(t.obj)
				}
				if err == nil {
					continue
				}
				if async != nil && (async.Err() != nil || ctx.Err() != nil) {
					// The queue stopped (a write failed: handled after
					// Close) or we are stopping: this file resumes later.
					stopDispatch()
					continue
				}
				if ctx.Err() != nil || errors.Is(err, state.ErrClaimed) || errors.Is(err, pgstate.ErrConflict) {
					continue // stopping, or another process has the file
				}
				if isTransient(err) {
					// Do not try the other files against a service that is
					// down: stop this pass; the caller backs off.
					mu.Lock()
					if unavailable == nil {
						unavailable = err
					}
					mu.Unlock()
					stopDispatch()
					continue
				}
				mu.Lock()
				sum.Errors = append(sum.Errors, err)
				mu.Unlock()
				if j.cfg.OnError == OnErrorAbort {
					aborted.Store(true)
					stopDispatch()
				}
			}
		})
	}
	send := func(t task) bool {
		select {
		case files <- t:
			return true
		case <-dispatch.Done():
			return false
		}
	}
	feedErr := fd(dispatch, send)
	close(files)
	wg.Wait()
	if async != nil {
		// Every chunk pushed is written and acked (or the queue stopped);
		// abandoned files are forgotten, and their failures recorded.
		cerr := async.Close(writeCtx)
		var we *pusher.WriteError
		switch {
		case cerr == nil:
		case errors.As(cerr, &we) && (isTransient(cerr) || errors.Is(cerr, pgstate.ErrConflict)):
			j.Retry.Add(1)
			j.log.Warn().Str("file", we.File.Key).Msg(cerr.Error() + " (will retry)")
			if unavailable == nil && isTransient(cerr) {
				unavailable = cerr
			}
		case errors.As(cerr, &we) && ctx.Err() == nil:
			// One file's chunk failed: that file fails; the others that
			// were in flight resume at their committed positions later.
			j.Failed.Add(1)
			j.log.Error().Str("file", we.File.Key).Msg(cerr.Error())
			j.recordFailure(ctx, we.File, cerr)
			finish(we.File, outcome{kind: outFailed, attempts: j.attempts(ctx, we.File)})
			sum.Errors = append(sum.Errors, cerr)
			if j.cfg.OnError == OnErrorAbort {
				aborted.Store(true)
			}
		default:
			// Stopping, or the shutdown timeout cut the drain short: the
			// files resume at their committed positions.
			if ctx.Err() == nil {
				j.log.Warn().Msg(cerr.Error())
			}
		}
	}
	// Files still in flight did not finish: they resume later.
	mu.Lock()
	var left []pusher.Object
	for _, f := range flights {
		left = append(left, f.obj)
	}
	mu.Unlock()
	for _, obj := range left {
		finish(obj, outcome{kind: outRetry})
	}
	after := j.counters()
	sum.Files = after.Listed - before.Listed
	sum.AlreadyDone = after.Skipped - before.Skipped
	sum.Loaded = after.Done - before.Done
	sum.Failed = after.Failed - before.Failed
	sum.Vanished = after.Vanished - before.Vanished
	sum.Rejected = after.Rejected - before.Rejected
	sum.Records = after.Records - before.Records
	sum.Bytes = after.Bytes - before.Bytes
	sum.Aborted = aborted.Load()
	sum.Elapsed = time.Since(start)
	if feedErr != nil {
		return sum, feedErr
	}
	if unavailable != nil {
		sum.Unavailable = true
		return sum, unavailable
	}
	return sum, nil
}

// attempts returns the attempts recorded for obj (0 if unknown).
func (j *Job) attempts(ctx context.Context, obj pusher.Object) int {
	pr, err := j.state.Lookup(context.WithoutCancel(ctx), j.pipeline, []pusher.Object{obj})
	if err != nil {
		return 0
	}
	return pr[state.ID(obj)].Attempts
}

// wanted says whether a listed object needs loading, given the progress of
// the versions of its key.
func (j *Job) wanted(obj pusher.Object, progress map[string]state.Progress) bool {
	pr, ok := progress[state.ID(obj)]
	if ok && pr.Status == state.Done {
		return false
	}
	if ok && pr.Status == state.Failed && j.cfg.MaxAttempts > 0 && pr.Attempts >= j.cfg.MaxAttempts {
		return false // quarantined: retried only as a new version
	}
	if !ok && !j.cfg.ReloadChanged {
		for id, p := range progress {
			if p.Status == state.Done && state.KeyOf(id) == obj.Key {
				return false // another version of the key was loaded
			}
		}
	}
	return true
}

type counts struct {
	Listed, Skipped, Done, Failed, Vanished, Rejected, Records, Bytes int64
}

func (j *Job) counters() counts {
	return counts{j.Listed.Load(), j.Skipped.Load(), j.Done.Load(), j.Failed.Load(), j.Vanished.Load(),
		j.Rejected.Load(), j.Records.Load(), j.ReadBytes.Load()}
}

// recordFailure marks obj failed in the state.
func (j *Job) recordFailure(ctx context.Context, obj pusher.Object, err error) {
	// With a dead database this fails too, and the file stays "loading"
	// to be resumed.
	if ferr := j.state.Fail(context.WithoutCancel(ctx), j.pipeline, obj, err); ferr != nil {
		j.log.Warn().Str("file", obj.Key).Err(ferr).Msg("cannot record the failure in the state")
	}
}

// outPushed: every chunk is pushed to the async pusher, which reports the
// file done.
const outPushed outcomeKind = -1

// loadFile claims obj (when the state can), starts it in the state and
// loads it from its committed position. The outcome says how it ended;
// outFailed means the caller records the failure.
func (j *Job) loadFile(ctx, writeCtx context.Context, obj pusher.Object, p pusher.Pusher, f *flight) (outcome, error) {
	log := j.log.With().Str("file", obj.Key).Logger()
	if c, ok := j.state.(state.Claimer); ok {
		release, err := c.Claim(ctx, j.pipeline, obj)
		if errors.Is(err, state.ErrClaimed) {
			j.Claimed.Add(1)
			log.Debug().Msg("another process is loading the file")
			return outcome{kind: outRetry}, err
		}
		if err != nil {
			j.Retry.Add(1)
			if ctx.Err() == nil {
				log.Warn().Msg(err.Error() + " (will retry)")
			}
			return outcome{kind: outRetry}, err
		}
		f.release = release
	}
	pr, err := j.state.Start(ctx, j.pipeline, obj)
	if err != nil && (ctx.Err() != nil || isTransient(err)) {
		j.Retry.Add(1)
		log.Warn().Msg(err.Error() + " (will retry)")
		return outcome{kind: outRetry}, err
	}
	if err != nil {
		j.Failed.Add(1)
		log.Error().Msg(err.Error())
		return outcome{kind: outRetry}, err // nothing recorded: the state itself fails
	}
	if pr.Status == state.Done {
		j.Skipped.Add(1)
		return outcome{kind: outLoaded}, nil
	}
	f.attempts.Store(int32(pr.Attempts))
	if pr.Pos.Records > 0 {
		log.Info().Int64("record", pr.Pos.Records).Int64("offset", pr.Pos.Offset).Int("attempt", pr.Attempts).Msg("resuming file")
	}
	cfg := j.load
	cfg.Pushed = func(n int64) { j.Records.Add(n) }
	if writeCtx != ctx {
		cfg.WriteCtx = writeCtx
	}
	cfg.Async = j.cfg.Async
	st, err := load.File(ctx, j.store, obj, pr.Pos, cfg, p)
	j.Rejected.Add(st.Rejects)
	if err != nil && (errors.Is(err, source.ErrNotFound) || errors.Is(err, s3.ErrChanged)) {
		// Deleted or replaced since listing: not a failure; a changed
		// object is a new version that the next listing shows.
		j.Vanished.Add(1)
		log.Warn().Msg(err.Error() + " (skipped)")
		return outcome{kind: outSkipped}, nil
	}
	if err != nil && ctx.Err() != nil {
		// Stopped: the file stays "loading" and resumes at its last
		// committed chunk.
		return outcome{kind: outRetry}, err
	}
	if err != nil && (isTransient(err) || errors.Is(err, pgstate.ErrConflict)) {
		// The store or the database is unavailable, or another process
		// moved the file: not the file's fault. It stays "loading"; the
		// next run (or poll) resumes it.
		j.Retry.Add(1)
		log.Warn().Msg(err.Error() + " (will retry)")
		return outcome{kind: outRetry}, err
	}
	var we *pusher.WriteError
	if err != nil && errors.As(err, &we) {
		if state.ID(we.File) == state.ID(obj) {
			// A write of this file failed: the pusher reports the file
			// (Failed), or the pass does when the queue stopped.
			return outcome{kind: outPushed}, nil
		}
		return outcome{kind: outRetry}, err // the async queue stopped; the pass handles it
	}
	if err != nil {
		j.Failed.Add(1)
		log.Error().Msg(err.Error())
		return outcome{kind: outFailed, attempts: pr.Attempts}, err
	}
	if st.Rejects > 0 {
		log.Warn().Int64("rejected", st.Rejects).Msg("file loaded with rejected records")
	}
	if j.cfg.Async {
		return outcome{kind: outPushed}, nil // the async pusher counts it done when its last chunk is acked
	}
	j.Done.Add(1)
	log.Debug().Int64("records", st.Records).Int("chunks", st.Chunks).Msg("file loaded")
	return outcome{kind: outLoaded}, nil
}
