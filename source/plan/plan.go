// Package plan is ferry's dry run (ferry plan): it lists the files a
// snapshot would load now, given the state, reads a bounded sample of
// them (the first Records records of each of the first Files files to
// load), and has the target map the sample as a load would (the table it
// would create, or how the fields map onto the existing one), with the
// records a load would reject. It writes nothing: no table, no state, no
// rejects, no after-load action; the state is only looked up.
package plan

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/discover"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/inspect"
)

// Usage is ferry plan's usage text, before its flags.
const Usage = `Usage: ferry plan --source DIR|s3://bucket/prefix [snapshot flags] [--json] [--plan-files N] [--plan-records N] [--plan-rejects N]

A dry run of 'ferry snapshot' with the same flags (and config file): the files
it would load now, the table it would create (DDL) or how the fields map onto
the existing table, what --unknown-fields would do, and the first records it
would reject, from a sample of the files. It writes nothing. Exit status: 0
when the load would succeed, 1 when it would fail (a record rejected under
--on-error abort or skip-file, a table it cannot load), 2 on bad usage.

Flags:
`

// Options are ferry plan's own flags.
type Options struct {
	JSON    bool // --json
	Files   int  // --plan-files: files read for the sample
	Records int  // --plan-records: records read from each of them
	Rejects int  // --plan-rejects: rejected records listed
	// AllowEmpty (--allow-empty): a source where no file matches would
	// not fail the snapshot.
	AllowEmpty bool
}

// AddFlags binds the options to fs, the flags of command, and sets its
// usage, when command is "plan"; else it does nothing.
func (o *Options) AddFlags(fs *flag.FlagSet, command string) {
	if command != "plan" {
		return
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), Usage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.JSON, "json", false, "plan: print a JSON object (stable field names, see the README) instead of text")
	fs.IntVar(&o.Files, "plan-files", 3, "plan: read a sample of this many of the files to load")
	fs.IntVar(&o.Records, "plan-records", 10000, "plan: read the first this many records of each sampled file (a new table's types are inferred from the first 10000 records, as a load does)")
	fs.IntVar(&o.Rejects, "plan-rejects", 10, "plan: list at most this many records a load would reject")
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Files < 1 || o.Records < 1 || o.Rejects < 0 {
		return errors.New("--plan-files and --plan-records must be at least 1, --plan-rejects not negative")
	}
	return nil
}

// Section is the target's part of the report: text, and why the load
// would fail ("" when it would not). Its JSON is the report's "table".
type Section = interface {
	WriteText(w io.Writer) error
	Failed() string
}

// RejectFunc receives a record the target would reject, or keep in its
// rescue column (rescued).
type RejectFunc = func(c *pusher.Chunk, e *pusher.RecordError, rescued bool)

// Target maps the sample onto the target without writing anything
// (targets/postgres.Planner).
type Target interface {
	PlanSample(ctx context.Context, sample []*pusher.Chunk, reject RejectFunc) (Section, error)
}

// Config is what to plan.
type Config struct {
	Store source.Store
	// State holds the pipeline's progress, only looked up; nil when there
	// is none yet (every file is new). When nil, Run opens the state that
	// StateURL, TargetURL and StateSchema name (the job's --state, --target
	// and --state-schema), if there is one, without creating it.
	State                            state.Store
	StateURL, TargetURL, StateSchema string
	Pipeline                         string
	// Runner: the snapshot's options (filter, since, on-error, on-change,
	// max attempts).
	Runner runner.Options
	// Load says how files are read (Pushed, ParseWorkers and the like are
	// ignored: the sample is read sequentially).
	Load load.Config
	// Target, nil for a target without a table (JSON lines).
	Target  Target
	Options Options
	// Where is where the rows go (--target, for a target without a
	// table; the report names a Target that is a fmt.Stringer by it).
	Where string
}

// keysShown is how many keys of the files to load the report names.
const keysShown = 10

// Run plans. Its errors are the run's (listing, state, catalog); what
// the load would do, failures included, is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	rep := &Report{Source: cfg.Store.String(), Target: cfg.Where, Pipeline: cfg.Pipeline, OnError: string(cfg.Runner.OnError),
		Rejects: []Reject{}, Files: Files{FirstKeys: []string{}}}
	// The pipeline is named as snapshot names it (ferry's cmd pipelineName).
	type namer interface {
		Pipeline(ctx context.Context, source string, st state.Store, sameDB bool) (string, error)
	}
	n, named := cfg.Target.(namer)
	defaulted := cfg.Pipeline == ""
	if defaulted {
		where := cfg.Where
		if where == "" || where == "-" {
			where = "stdout"
		}
		cfg.Pipeline = cfg.Store.String() + " -> " + where
	}
	var err error
	if defaulted && named {
		if cfg.Pipeline, err = n.Pipeline(ctx, cfg.Store.String(), nil, false); err != nil {
			return nil, err
		}
	}
	if cfg.State == nil {
		st, closeState, err := inspect.OpenStore(ctx, cfg.StateURL, cfg.TargetURL, cfg.StateSchema, cfg.Pipeline)
		if err != nil {
			return nil, err
		}
		defer closeState()
		cfg.State = st
	}
	if defaulted && named && cfg.State != nil {
		if cfg.Pipeline, err = n.Pipeline(ctx, cfg.Store.String(), cfg.State, cfg.StateURL == ""); err != nil {
			return nil, err
		}
	}
	rep.Pipeline = cfg.Pipeline
	var toLoad []pusher.Object
	var st discover.Stats
	opts := discover.Options{Filter: cfg.Runner.Filter, Since: cfg.Runner.Since, Stats: &st}
	err = discover.ListWith(ctx, cfg.Store, opts, func(page []pusher.Object) error {
		progress := map[string]state.Progress{}
		if cfg.State != nil {
			var err error
			if progress, err = cfg.State.Lookup(ctx, cfg.Pipeline, page); err != nil {
				return fmt.Errorf("look up progress: %w", err)
			}
		}
		for _, o := range page {
			pr, seen := progress[o.ID()]
			switch {
			case !runner.Wanted(cfg.Runner, o, progress) && seen && pr.Status == state.Failed:
				rep.Files.Quarantined++
			case !runner.Wanted(cfg.Runner, o, progress):
				rep.Files.Loaded++
			default:
				if seen && pr.Pos.Records > 0 {
					rep.Files.Resuming++
				}
				rep.Files.ToLoad++
				rep.Files.Bytes += o.Size
				if len(rep.Files.FirstKeys) < keysShown {
					rep.Files.FirstKeys = append(rep.Files.FirstKeys, o.Key)
				}
				if len(toLoad) < cfg.Options.Files {
					toLoad = append(toLoad, o)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", cfg.Store, err)
	}
	rep.Files.Listed, rep.Files.NotSelected = st.Listed, st.Hidden+st.Unmatched+st.Old
	if rep.Files.Listed == rep.Files.NotSelected && !cfg.Options.AllowEmpty && !cfg.Runner.AfterLoad.Removes() {
		rep.fail(fmt.Sprintf("no files matched in %s: a snapshot exits 1 (--allow-empty makes it exit 0)", cfg.Store))
	}

	sample, err := read(ctx, cfg, toLoad, rep)
	defer func() {
		for _, c := range sample {
			c.Release()
		}
	}()
	if err != nil {
		return nil, err
	}
	if cfg.Target != nil {
		if s, ok := cfg.Target.(fmt.Stringer); ok {
			rep.Target = s.String()
		}
		sec, err := cfg.Target.PlanSample(ctx, sample, func(c *pusher.Chunk, e *pusher.RecordError, rescued bool) {
			rep.reject(cfg, c.File.Key, e, rescued)
		})
		if err != nil {
			return nil, err
		}
		rep.Table = sec
		if why := sec.Failed(); why != "" {
			rep.fail(why)
		}
	}
	rep.cut(toLoad, cfg.Options.Rejects)
	if rep.Rejected > 0 && cfg.Runner.OnError != runner.OnErrorSkipRecord {
		rep.fail(fmt.Sprintf("%d record(s) of the sample would be rejected under --on-error %s", rep.Rejected, cfg.Runner.OnError))
	}
	if m := cfg.Load.MaxRejects; cfg.Runner.OnError == runner.OnErrorSkipRecord && m >= 0 {
		for key, n := range rep.perFile {
			if n > m {
				rep.fail(fmt.Sprintf("%s: %d records of the sample would be rejected, more than --max-rejects %d", key, n, m))
			}
		}
	}
	return rep, nil
}

// ErrWouldFail is what Write returns when the report says that the load
// would fail (ferry plan's exit status 1).
var ErrWouldFail = errors.New("the load would fail")

// Write runs the plan and writes its report to w (JSON with
// Options.JSON); ErrWouldFail when the report says the load would fail.
func Write(ctx context.Context, cfg Config, w io.Writer) error {
	rep, err := Run(ctx, cfg)
	if err == nil {
		err = rep.Write(w, cfg.Options.JSON)
	}
	if err == nil && rep.WouldFail {
		err = ErrWouldFail
	}
	return err
}

// errSampled stops a file's read once the sample has its records.
var errSampled = errors.New("sampled")

// sampler is the pusher of the sample's reads: it keeps the chunks (the
// plan releases them) and stops the read past the bound.
type sampler struct {
	chunks  []*pusher.Chunk
	records int
	limit   int
}

func (s *sampler) Push(_ context.Context, c *pusher.Chunk) error {
	s.chunks = append(s.chunks, c)
	if c.Batch != nil {
		s.records += c.Batch.Len()
	}
	if s.records >= s.limit && !c.Last {
		return errSampled
	}
	return nil
}

func (s *sampler) Finish(_ pusher.Object, err error, done func(pusher.FileResult)) {
	done(pusher.FileResult{Err: err})
}

// read reads the sample: the first Records records of each file, every
// record the reader cannot read kept as a reject (skip-record), so the
// plan lists them all whatever the policy.
func read(ctx context.Context, cfg Config, files []pusher.Object, rep *Report) ([]*pusher.Chunk, error) {
	lc := cfg.Load
	lc.SkipRecords, lc.MaxRejects, lc.ParseWorkers, lc.Pushed, lc.ReadBytes, lc.AfterLoad = true, -1, 1, nil, nil, ""
	// Chunks of at most the sample's records: the read stops there.
	lc.Format.BatchRows = min(cmp.Or(lc.Format.BatchRows, cfg.Options.Records), cfg.Options.Records)
	var all []*pusher.Chunk
	for _, obj := range files {
		s := &sampler{limit: cfg.Options.Records}
		_, err := load.File(ctx, cfg.Store, obj, pusher.Position{}, lc, s)
		all = append(all, s.chunks...)
		rep.Sample.Files++
		rep.Sample.Records += int64(s.records)
		for _, c := range s.chunks {
			for _, e := range c.Rejects {
				rep.reject(cfg, obj.Key, e, false)
			}
		}
		switch {
		case err == nil || errors.Is(err, errSampled):
		case ctx.Err() != nil:
			return all, ctx.Err()
		case pusher.ClassOf(err) == pusher.ClassUnavailable:
			return all, err
		default:
			// The file cannot be read past here: a load fails it.
			rep.reject(cfg, obj.Key, &pusher.RecordError{Record: -1, Offset: -1, Err: err}, false)
			rep.fail(fmt.Sprintf("%s: %v", obj.Key, err))
		}
	}
	return all, nil
}
