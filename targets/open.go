package targets

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/targets/jsonlines"
	"github.com/ferrydata/ferry/targets/postgres"
)

// Config names a job's target and the state of its progress, as the
// command line gives them.
type Config struct {
	Target   string // stdout ("" and "-" too), file:PATH or a PostgreSQL URL
	Table    string // PostgreSQL: [schema.]name, for the default pipeline name
	Source   string // the store's name: the default pipeline name starts with it
	Pipeline string // the job's name; "" for DefaultPipeline's
	// State is where progress is kept: "" for beside the rows in a
	// PostgreSQL target (in its transactions), else the directory .ferry;
	// a directory or a PostgreSQL URL.
	State       string
	StateSchema string
	RejectsFile string // JSON lines targets: where rejected records go
	MaxConns    int    // of each PostgreSQL pool

	// Postgres is the PostgreSQL target's configuration (Table set);
	// Open adds the pipeline, StateInTx, the partitions and the log.
	Postgres   postgres.Config
	Partitions *pusher.Partitions
	// Metadata, RejectInvalidUTF8 and SkipRecords: a JSON lines target's
	// settings (see jsonlines.Target).
	Metadata                       []string
	RejectInvalidUTF8, SkipRecords bool

	Log zerolog.Logger
}

// RejectSink records a queue message that is not a notification (the
// same method as the SQS feed's RejectSink).
type RejectSink interface {
	RejectMessage(ctx context.Context, pipeline, queueURL, messageID, body string, cause error) error
}

// Opened is a target with its state, ready for the engine.
type Opened struct {
	Target   pusher.Target
	State    state.Store
	Pipeline string     // the job's name: Config.Pipeline, or the default (or older) one
	Rejects  RejectSink // where rejected queue messages go; nil: they are only logged
	// RejectsAt names where rejected records go, for the summary.
	RejectsAt string
	pools     []*pgxpool.Pool // the PostgreSQL connections (health checks)
	closers   []func()        // in reverse order of opening
}

// Open connects to the target and the state cfg names and builds the
// target. Unreachable databases fail here with a clear error; a URL that
// does not parse wraps pgstate.ErrBadURL. On error, what was opened is
// closed.
func Open(ctx context.Context, cfg Config) (_ *Opened, err error) {
	pg, err := IsPostgres(cfg.Target)
	if err != nil {
		return nil, err
	}
	o := &Opened{RejectsAt: cfg.RejectsAt()}
	defer func() {
		if err != nil {
			o.Close()
		}
	}()
	log := cfg.Log
	// The connections are named after the pipeline (application_name),
	// before the state that may keep an older name is open.
	appName := cfg.Pipeline
	if appName == "" {
		appName, _, _ = DefaultPipeline(cfg.Source, cfg.Target, cfg.Table)
	}
	appName = "ferry/" + appName
	var targetPool *pgxpool.Pool
	var jl *jsonlines.Target
	if pg {
		if targetPool, err = o.connect(ctx, cfg.Target, cfg.MaxConns, appName); err != nil {
			return nil, err
		}
	} else {
		if jl, err = jsonlines.Open(cfg.Target, cfg.RejectsFile); err != nil {
			return nil, err
		}
		o.closers = append(o.closers, func() { jl.Close() })
		jl.Metadata, jl.Partitions = cfg.Metadata, cfg.Partitions
		jl.RejectInvalidUTF8, jl.SkipRecords = cfg.RejectInvalidUTF8, cfg.SkipRecords
		if cfg.RejectsFile != "" {
			o.Rejects = jl
		}
	}

	var st state.Store
	pool, sameTx := targetPool, cfg.State == "" && pg // default: beside the rows
	switch {
	case pgstate.IsURL(cfg.State):
		if pool, err = o.connect(ctx, cfg.State, cfg.MaxConns, appName); err == nil {
			st, err = pgstate.Schema(cfg.StateSchema).Open(ctx, pool)
		}
	case sameTx:
		st, err = pgstate.Schema(cfg.StateSchema).Open(ctx, pool)
	default:
		st, err = filestore.New(filestore.Dir(cfg.State))
	}
	if err != nil {
		return nil, err
	}
	o.closers = append(o.closers, func() { st.Close() })
	o.State = st
	if sink, ok := st.(RejectSink); ok {
		o.Rejects = sink // ferry.rejects, beside the rows
	}
	if o.Pipeline, err = Pipeline(ctx, cfg, st, sameTx, targetPool); err != nil {
		return nil, err
	}

	if jl != nil {
		jl.Pipeline = o.Pipeline
		o.Target = jl
		return o, nil
	}
	if !sameTx {
		log.Warn().Msg("progress state is not in the target database: loading is at-least-once, not exactly-once")
	}
	pc := cfg.Postgres
	pc.Pipeline, pc.StateInTx, pc.Partitions = o.Pipeline, sameTx, cfg.Partitions
	pc.Log = func(msg string) { log.Warn().Msg(msg) }
	t, err := postgres.New(ctx, targetPool, pc)
	if err != nil {
		return nil, err
	}
	o.closers = append(o.closers, func() { t.Close() })
	o.Target = t
	return o, nil
}

// connect opens a pool and checks the server answers.
func (o *Opened) connect(ctx context.Context, url string, maxConns int, appName string) (*pgxpool.Pool, error) {
	pool, err := pgstate.Connect(ctx, url, maxConns, appName)
	if err != nil {
		return nil, err
	}
	o.closers = append(o.closers, pool.Close)
	o.pools = append(o.pools, pool)
	return pool, nil
}

// Ping checks that the PostgreSQL servers of the target and the state
// answer (a state directory and no PostgreSQL: nil).
func (o *Opened) Ping(ctx context.Context) error {
	for _, p := range o.pools {
		if err := p.Ping(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close releases what Open opened: the target, then the state, then the
// connections.
func (o *Opened) Close() {
	for i := len(o.closers) - 1; i >= 0; i-- {
		o.closers[i]()
	}
}

// RejectsAt names where rejected records go, for the summary: the state
// schema's rejects table for PostgreSQL, else the rejects file.
func (c Config) RejectsAt() string {
	if pg, _ := IsPostgres(c.Target); pg {
		return cmp.Or(c.StateSchema, "ferry") + ".rejects"
	}
	return cmp.Or(c.RejectsFile, "the rejects file")
}

// IsPostgres says whether a --target value is a PostgreSQL URL; else it
// must be stdout or file:PATH.
func IsPostgres(t string) (bool, error) {
	if t == "" || t == "stdout" || t == "-" || strings.HasPrefix(t, "file:") && t != "file:" {
		return false, nil
	}
	if pgstate.IsURL(t) {
		return true, nil
	}
	return false, fmt.Errorf("--target %q: expected stdout, file:PATH or a PostgreSQL URL (postgres://...)", t)
}
