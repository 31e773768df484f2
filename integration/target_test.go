//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	pgtarget "github.com/ferrydata/ferry/targets/postgres"
	"github.com/ferrydata/ferry/targets/targettest"
)

// TestPostgresTargetAcceptance runs the target suite against PostgreSQL,
// with progress in the same transaction as the rows (exactly-once) and in
// a file store (at-least-once). The target reaches the server through a
// proxy the suite can take down, as a server that goes away.
func TestPostgresTargetAcceptance(t *testing.T) {
	t.Parallel()
	for _, stateInTx := range []bool{true, false} {
		name := "state in the same transaction"
		if !stateInTx {
			name = "state in a file store"
		}
		t.Run(name, func(t *testing.T) {
			targettest.Run(t, func(t *testing.T) targettest.Env { return pgTargetEnv(t, stateInTx) })
		})
	}
}

func pgTargetEnv(t *testing.T, stateInTx bool) targettest.Env {
	ctx := t.Context()
	tbl := pgx.Identifier{newSchema(t), "t"}
	// A table ferry did not create: its columns are not widened, so "x"
	// does not convert to the id's bigint.
	exec1(t, "CREATE TABLE "+tbl.Sanitize()+" (id bigint, name text, _ferry_file text, _ferry_record bigint)")
	pipeline := randomName("targets-")
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DELETE FROM ferry.files WHERE pipeline = $1", pipeline)
		pool.Exec(context.Background(), "DELETE FROM ferry.rejects WHERE pipeline = $1", pipeline)
	})
	proxy := newPGProxy(t)
	tpool := proxy.pool(t)
	// The suite reads progress directly, also while the proxy is down.
	var st state.Store
	var err error
	if stateInTx {
		st, err = pgstate.New(ctx, pool)
	} else {
		st, err = filestore.New(filepath.Join(t.TempDir(), "state"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return targettest.Env{
		Open: func(t *testing.T, o targettest.Options) pusher.Target {
			tg, err := pgtarget.New(t.Context(), tpool, pgtarget.Config{Table: tbl, SystemColumns: true,
				Pipeline: pipeline, StateInTx: stateInTx, SkipRecords: o.SkipRecords})
			if err != nil {
				t.Fatal(err)
			}
			return tg
		},
		State:    st,
		Pipeline: pipeline,
		Records: func(t *testing.T) []targettest.Record {
			rows, _ := pool.Query(t.Context(), "SELECT _ferry_file, _ferry_record, id::text, name FROM "+tbl.Sanitize())
			recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (targettest.Record, error) {
				var r targettest.Record
				var id *string
				err := row.Scan(&r.File, &r.Record, &id, &r.Name)
				if id != nil {
					r.ID = *id
				}
				return r, err
			})
			if err != nil {
				t.Fatal(err)
			}
			return recs
		},
		Rejects: func(t *testing.T) []targettest.Reject {
			rows, _ := pool.Query(t.Context(), "SELECT key, record, error, coalesce(raw, '') FROM ferry.rejects WHERE pipeline = $1", pipeline)
			rejects, err := pgx.CollectRows(rows, pgx.RowToStructByPos[targettest.Reject])
			if err != nil {
				t.Fatal(err)
			}
			return rejects
		},
		Converts: true,
		Unavailable: func(t *testing.T) func() {
			proxy.down()
			return proxy.up
		},
	}
}

// TestPostgresTargetConnectionLost: a connection lost in the middle of a
// COPY, terminated by the server (as one shutting down does) or dropped
// without a word (a crash, the network), fails the write as
// ClassUnavailable and lands nothing; the file then resumes.
func TestPostgresTargetConnectionLost(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"terminated", "dropped"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			tbl := pgx.Identifier{newSchema(t), "t"}
			exec1(t, "CREATE TABLE "+tbl.Sanitize()+" (id bigint, _ferry_file text, _ferry_record bigint)")
			proxy := newPGProxy(t)
			tpool := proxy.pool(t)
			pipeline := randomName("lost-")
			st, err := pgstate.New(ctx, pool)
			if err != nil {
				t.Fatal(err)
			}
			tg, err := pgtarget.New(ctx, tpool, pgtarget.Config{Table: tbl, SystemColumns: true, Pipeline: pipeline, StateInTx: true})
			if err != nil {
				t.Fatal(err)
			}
			obj := pusher.Object{Key: "a.csv", ETag: "e1"}
			if _, err := st.Start(ctx, pipeline, obj); err != nil {
				t.Fatal(err)
			}
			newChunk := func() *pusher.Chunk {
				b := &pusher.Batch{Columns: []string{"id"}}
				for i := range 3 {
					b.StartRecord()
					b.AddField(pusher.Number, []byte(strconv.Itoa(i)))
				}
				return &pusher.Chunk{File: obj, End: pusher.Position{Records: 3}, Last: true, Batch: b, RejectLimit: -1}
			}

			// The COPY waits for a lock this test holds while its
			// connection is lost.
			lock, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Rollback(context.Background())
			if _, err := lock.Exec(ctx, "LOCK TABLE "+tbl.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tg.Write(ctx, newChunk()) }()
			deadline := time.Now().Add(10 * time.Second)
			var pid int
			for {
				err := pool.QueryRow(ctx, `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
					WHERE l.relation = to_regclass($1) AND NOT l.granted AND a.query LIKE 'COPY%'`, tbl.Sanitize()).Scan(&pid)
				if err == nil {
					break
				}
				if !errors.Is(err, pgx.ErrNoRows) || time.Now().After(deadline) {
					t.Fatalf("the COPY is not waiting for the lock: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if how == "terminated" {
				exec1(t, "SELECT pg_terminate_backend($1)", pid)
			} else {
				proxy.down()
			}
			err = <-done
			t.Logf("write: %v", err)
			if c := pusher.ClassOf(err); c != pusher.ClassUnavailable {
				t.Fatalf("write on a lost connection: %v (class %v); want unavailable", err, c)
			}
			lock.Rollback(ctx)
			if how == "dropped" {
				proxy.up()
			}
			// The engine retries a ClassUnavailable failure after a pause.
			deadline = time.Now().Add(30 * time.Second)
			for {
				err := tg.Write(ctx, newChunk())
				if err == nil {
					break
				}
				if c := pusher.ClassOf(err); c != pusher.ClassUnavailable || time.Now().After(deadline) {
					t.Fatalf("write after the connection was lost: %v (class %v)", err, c)
				}
				time.Sleep(100 * time.Millisecond)
			}
			equal(t, "rows", queryRows(t, "SELECT id, _ferry_record FROM "+tbl.Sanitize()+" ORDER BY id"), []string{"0|1", "1|2", "2|3"})
		})
	}
}

// TestPostgresUnreachable: with nothing listening where the database
// should be, the target and the state store fail to open as
// ClassUnavailable.
func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	proxy := newPGProxy(t)
	proxy.down()
	p := proxy.pool(t)
	_, err := pgtarget.New(t.Context(), p, pgtarget.Config{Table: pgx.Identifier{"t"}})
	if c := pusher.ClassOf(err); c != pusher.ClassUnavailable {
		t.Errorf("target on a closed port: %v (class %v); want unavailable", err, c)
	}
	_, err = pgstate.New(t.Context(), p)
	if c := pusher.ClassOf(err); c != pusher.ClassUnavailable {
		t.Errorf("state on a closed port: %v (class %v); want unavailable", err, c)
	}
}

// pgProxy forwards TCP connections to the test database. down breaks every
// connection and refuses new ones, as a server that went away; up serves
// again on the same port.
type pgProxy struct {
	t          *testing.T
	serverNet  string // "tcp" or "unix"
	serverAddr string
	port       int

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newPGProxy(t *testing.T) *pgProxy {
	t.Helper()
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, serverNet: "tcp", serverAddr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), conns: map[net.Conn]bool{}}
	if filepath.IsAbs(cfg.Host) {
		p.serverNet, p.serverAddr = "unix", filepath.Join(cfg.Host, fmt.Sprintf(".s.PGSQL.%d", cfg.Port))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	p.serve(ln)
	t.Cleanup(func() {
		p.down()
		p.wg.Wait()
	})
	return p
}

// pool returns a pool that reaches the database through the proxy; it is
// closed at the end of the test.
func (p *pgProxy) pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = "127.0.0.1", uint16(p.port), nil
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pl, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pl.Close)
	return pl
}

func (p *pgProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by down
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

func (p *pgProxy) forward(client net.Conn) {
	server, err := net.Dial(p.serverNet, p.serverAddr)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // down meanwhile
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = true, true
	p.mu.Unlock()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	wg.Go(func() { pipe(server, client) })
	pipe(client, server)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// down stops listening and breaks every forwarded connection.
func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// up listens again on the proxy's port.
func (p *pgProxy) up() {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
	if err != nil {
		p.t.Errorf("proxy: listen again on port %d: %v", p.port, err)
		return
	}
	p.serve(ln)
}
