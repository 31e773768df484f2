//go:build integration

package integration

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/state/statetest"
)

// stateSchema names a state schema for one test (not created: Open does
// that) and drops it at the end.
func stateSchema(t *testing.T) pgstate.Schema {
	t.Helper()
	name := randomName("st_")
	t.Cleanup(func() { pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+name+" CASCADE") })
	return pgstate.Schema(name)
}

func TestPostgresStateInspector(t *testing.T) {
	statetest.RunInspector(t, func(t *testing.T) statetest.InspectStore {
		st, err := stateSchema(t).Open(t.Context(), pool)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestPostgresStateSchemaName(t *testing.T) {
	for _, bad := range []pgstate.Schema{"a b", `x"y`, "x'y", "1abc", "a.b"} {
		if _, err := bad.Open(t.Context(), pool); err == nil {
			t.Errorf("schema %q accepted", bad)
		}
	}
	// Case is kept: the name is quoted.
	sc := pgstate.Schema("St_" + randomName("Mixed"))
	t.Cleanup(func() { pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+string(sc)+`" CASCADE`) })
	st, err := sc.Open(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Start(t.Context(), "p", pusher.Object{Key: "k", ETag: "e"}); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, `SELECT count(*) FROM "`+string(sc)+`".files`); n != 1 {
		t.Fatalf("%d rows in %s.files; want 1", n, sc)
	}
	if n := queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = 'p' AND key = 'k' AND etag = 'e'`); n != 0 {
		t.Fatalf("the file went to ferry.files")
	}
}

// A ferry.files written by an older ferry gains the new columns and the
// view; its rows stay readable.
func TestPostgresStateUpgrade(t *testing.T) {
	sc := stateSchema(t)
	name := string(sc)
	exec1(t, `CREATE SCHEMA `+name)
	exec1(t, `CREATE TABLE `+name+`.files (
		pipeline text NOT NULL, key text NOT NULL, etag text NOT NULL, size bigint NOT NULL,
		status text NOT NULL CHECK (status IN ('loading', 'done', 'failed')),
		rows bigint NOT NULL DEFAULT 0, "offset" bigint NOT NULL DEFAULT 0, error text,
		attempts integer NOT NULL DEFAULT 0, started_at timestamptz NOT NULL DEFAULT now(),
		updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pipeline, key, etag))`)
	exec1(t, `INSERT INTO `+name+`.files (pipeline, key, etag, size, status, rows, attempts) VALUES ('p', 'old.csv', 'e', 10, 'done', 7, 1)`)
	st, err := sc.Open(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := st.Files(t.Context(), state.FileQuery{Pipeline: "p"})
	if err != nil || len(fs) != 1 || fs[0].Records != 7 || fs[0].Loaded != -1 || !fs[0].Modified.IsZero() || !fs[0].Attempted.IsZero() {
		t.Fatalf("Files = %+v, %v; want old.csv at 7, not counted, no times", fs, err)
	}
	sum, err := st.Summary(t.Context(), "p", 3)
	if err != nil || sum.Done != 1 || sum.Loaded != 7 || sum.Bytes != 10 {
		t.Fatalf("Summary = %+v, %v", sum, err)
	}
	equal(t, "load_history", queryRows(t, `SELECT key || ' ' || status || ' ' || rows || ' ' || bytes || ' ' || coalesce(load_seconds::text, 'null') FROM `+name+`.load_history`),
		[]string{"old.csv done 7 10 null"})
	// Opening again changes nothing.
	if _, err := sc.Open(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresLoadHistory(t *testing.T) {
	sc := stateSchema(t)
	st, err := sc.Open(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	mod := time.Now().Add(-time.Hour)
	a := pusher.Object{Key: "a.csv", ETag: "e", Size: 123, LastModified: mod}
	b := pusher.Object{Key: "b.csv", ETag: "e", Size: 5, LastModified: mod}
	if _, err := st.Start(ctx, "p", a); err != nil {
		t.Fatal(err)
	}
	c := &pusher.Chunk{File: a, End: pusher.Position{Records: 4}, Last: true,
		Rejects: []*pusher.RecordError{{Record: 2, Offset: 7, Raw: []byte("x,y"), Err: errors.New("bad value")}}}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Advance(ctx, tx, "p", c); err != nil {
		t.Fatal(err)
	}
	if err := sc.Reject(ctx, tx, "p", a, c.Rejects); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Start(ctx, "p", b); err != nil {
		t.Fatal(err)
	}
	if err := st.Fail(ctx, "p", b, errors.New("no such column")); err != nil {
		t.Fatal(err)
	}
	name := string(sc)
	equal(t, "load_history", queryRows(t, `SELECT concat_ws(' ', key, status, rows, rejected, bytes, attempts, coalesce(error, '-'),
			coalesce((load_seconds >= 0)::text, '-'), coalesce((lag_seconds BETWEEN 3500 AND 4000)::text, '-'), (loaded_at IS NOT NULL)::text, retries)
		FROM `+name+`.load_history WHERE pipeline = 'p' ORDER BY key`),
		[]string{"a.csv done 3 1 123 1 - true true true 0", "b.csv failed 0 0 5 1 no such column - - false 0"})
	// Retention prunes the view too.
	if n, err := st.Prune(ctx, "p", time.Now().Add(time.Hour), ""); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	equal(t, "load_history after prune", queryRows(t, `SELECT key FROM `+name+`.load_history`), []string{"b.csv"})

	rs, err := st.Rejects(ctx, state.RejectQuery{Pipeline: "p", Key: "a.csv"})
	if err != nil || len(rs) != 1 || rs[0].Record != 2 || rs[0].Offset != 7 || rs[0].Raw != "x,y" || rs[0].Error != "bad value" || rs[0].ETag != "e" || rs[0].At.IsZero() {
		t.Fatalf("Rejects = %+v, %v", rs, err)
	}
	if err := st.RejectMessage(ctx, "p", "http://queue", "m1", "not json", errors.New("not a notification")); err != nil {
		t.Fatal(err)
	}
	rs, err = st.Rejects(ctx, state.RejectQuery{Pipeline: "p"})
	if err != nil || len(rs) != 2 || rs[0].MessageID != "m1" || rs[0].Offset != -1 || rs[0].Record != 0 {
		t.Fatalf("Rejects, newest first = %+v, %v", rs, err)
	}
	rs, err = st.Rejects(ctx, state.RejectQuery{Limit: 1})
	if err != nil || len(rs) != 1 || rs[0].MessageID != "m1" {
		t.Fatalf("Rejects with limit 1 = %+v, %v", rs, err)
	}
	names, err := st.Pipelines(ctx)
	if err != nil || !slices.Equal(names, []string{"p"}) {
		t.Fatalf("Pipelines = %q, %v", names, err)
	}
}

// TestStateSchemaPrivileges: a role without CREATE on the database loads
// into a state schema created beforehand for it, and is told what it needs
// when the schema is missing.
func TestStateSchemaPrivileges(t *testing.T) {
	role := randomName("loader_")
	exec1(t, "CREATE ROLE "+role+" LOGIN")
	st, data := stateSchema(t), newSchema(t)
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+string(st)+" CASCADE")
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+data+" CASCADE")
		pool.Exec(context.Background(), "DROP ROLE "+role)
	})
	exec1(t, "GRANT USAGE, CREATE ON SCHEMA "+data+" TO "+role)
	url := strings.Replace(databaseURL, "postgres@", role+"@", 1)
	if !strings.Contains(url, role) {
		skipUnlessCI(t, "cannot put the role in %s", databaseURL)
	}
	src := writeDir(t, map[string][]byte{"t.csv": []byte("id\n1\n2\n")})
	args := []string{"snapshot", "--source", src, "--target", url, "--table", data + ".t", "--state-schema", string(st), "--pipeline", "p"}
	res := ferry(t, args...)
	if res.code != 1 || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, "needs CREATE on the database") {
		t.Fatalf("without the schema: exit %d, %q; want 1 and one line saying what is needed", res.code, res.stderr)
	}
	exec1(t, "CREATE SCHEMA "+string(st)+" AUTHORIZATION "+role)
	if res := ferry(t, args...); res.code != 0 {
		t.Fatalf("with the schema created beforehand: exit %d", res.code)
	}
	equal(t, "rows", queryRows(t, "SELECT count(*) FROM "+data+".t"), []string{"2"})
	equal(t, "state", queryRows(t, "SELECT key, status FROM "+string(st)+".files"), []string{"t.csv|done"})
	if res := ferry(t, "status", "--target", url, "--state-schema", string(st)); res.code != 0 || !strings.Contains(res.stdout, "1 done") {
		t.Fatalf("status as the role: exit %d\n%s", res.code, res.stdout)
	}
}
