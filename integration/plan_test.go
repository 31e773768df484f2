//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planJSON is the part of ferry plan's --json report the tests read.
type planJSON struct {
	Files struct {
		ToLoad    int      `json:"to_load"`
		Bytes     int64    `json:"bytes"`
		FirstKeys []string `json:"first_keys"`
		Loaded    int      `json:"already_loaded"`
	} `json:"files"`
	Table *struct {
		Exists    bool                             `json:"exists"`
		Create    []string                         `json:"create"`
		Matched   []struct{ Field string }         `json:"matched"`
		Unknown   []struct{ Field, Action string } `json:"unknown"`
		Missing   []struct{ Column, Gets string }  `json:"missing"`
		Conflicts []struct {
			Column, Action string
			Values         int
		} `json:"conflicts"`
		Alter []string `json:"alter"`
	} `json:"table"`
	Rejected int `json:"rejected"`
	Rejects  []struct {
		File   string `json:"file"`
		Record int64  `json:"record"`
		Offset int64  `json:"offset"`
		Error  string `json:"error"`
	} `json:"rejects"`
	WouldFail bool `json:"would_fail"`
}

func planOf(t *testing.T, r result) planJSON {
	t.Helper()
	var p planJSON
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.stdout)
	}
	return p
}

// stateTables counts the tables of a state schema (0 when it does not
// exist).
func stateTables(t *testing.T, schema string) int64 {
	return queryInt(t, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema)
}

// TestPlanNewTable: for a table that does not exist, ferry plan prints the
// DDL a load runs, the type inferred per column, and creates nothing: no
// schema, no table, no state.
func TestPlanNewTable(t *testing.T) {
	t.Parallel()
	schema := randomName("it_plan_")
	stateSchema := randomName("it_planstate_")
	src := writeDir(t, map[string][]byte{
		"a.csv": []byte("id,name,amount,day\n1,a,1.5,2024-05-01\n2,b,2,2024-05-02\n"),
	})
	r := ferry(t, "plan", "--source", src, "--target", databaseURL, "--table", schema+".ev", "--state-schema", stateSchema, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	p := planOf(t, r)
	if p.Table == nil || p.Table.Exists || len(p.Table.Create) < 2 {
		t.Fatalf("no CREATE for a new table: %s", r.stdout)
	}
	ddl := strings.Join(p.Table.Create, "; ")
	for _, want := range []string{`CREATE SCHEMA IF NOT EXISTS "` + schema + `"`, `"id" bigint`, `"name" text`, `"amount" double precision`, `"day" date`} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL %s: no %q", ddl, want)
		}
	}
	if p.Files.ToLoad != 1 || p.Files.FirstKeys[0] != "a.csv" || p.Files.Bytes == 0 {
		t.Errorf("files %+v, want a.csv", p.Files)
	}
	if n := queryInt(t, `SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)`, []string{schema, stateSchema}); n != 0 {
		t.Fatalf("plan created %d schema(s)", n)
	}
	// The same DDL is what a snapshot runs.
	r = ferry(t, "snapshot", "--source", src, "--target", databaseURL, "--table", schema+".ev", "--state-schema", stateSchema)
	t.Cleanup(func() {
		exec1(t, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; DROP SCHEMA IF EXISTS "+stateSchema+" CASCADE")
	})
	if r.code != 0 {
		t.Fatalf("snapshot: exit %d", r.code)
	}
	equal(t, "columns", columnsOf(t, schema, "ev"), []string{"id bigint", "name text", "amount double precision", "day date"})
	// Planned again: the file is loaded, nothing to do; the state and the
	// rows stay as they are.
	stateRows := func() []string {
		return queryRows(t, "SELECT (SELECT count(*) FROM "+stateSchema+".files)::text || '/' || (SELECT count(*) FROM "+stateSchema+".load_history)::text || '/' || (SELECT count(*) FROM "+table(schema, "ev")+")::text")
	}
	before := stateRows()
	p = planOf(t, ferry(t, "plan", "--source", src, "--target", databaseURL, "--table", schema+".ev", "--state-schema", stateSchema, "--json"))
	if p.Files.ToLoad != 0 || p.Files.Loaded != 1 || !p.Table.Exists {
		t.Errorf("after the load: files %+v, table exists %v; want 0 to load, 1 loaded", p.Files, p.Table.Exists)
	}
	equal(t, "state files/load_history/rows after plan", stateRows(), before)
}

// TestPlanExistingTable: matched, unknown, missing and conflicting
// columns of a table ferry did not create, the records a load would
// reject and the exit status by --on-error; nothing is written.
func TestPlanExistingTable(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	stateSchema := randomName("it_planstate_")
	exec1(t, "CREATE TABLE "+table(schema, "ev")+" (id bigint, name text, req int NOT NULL, note text, made timestamptz DEFAULT now())")
	src := writeDir(t, map[string][]byte{
		"a.jsonl": []byte(`{"id":1,"name":"a","req":1,"zz":true}` + "\n" + `{"id":"x","name":"b","req":2}` + "\n" + `{"id":3,"req":"y"}` + "\n" + "not json\n"),
	})
	base := []string{"plan", "--source", src, "--target", databaseURL, "--table", schema + ".ev", "--state-schema", stateSchema, "--json"}
	r := ferry(t, append(base, "--unknown-fields", "ignore")...)
	if r.code != 1 {
		t.Fatalf("abort with bad records: exit %d, want 1", r.code)
	}
	p := planOf(t, r)
	if !p.WouldFail || p.Table == nil || !p.Table.Exists {
		t.Fatalf("plan: %s", r.stdout)
	}
	if len(p.Table.Matched) != 3 || len(p.Table.Unknown) != 1 || p.Table.Unknown[0].Field != "zz" || p.Table.Unknown[0].Action != "ignored" {
		t.Errorf("matched %v unknown %v, want id, name, req and zz ignored", p.Table.Matched, p.Table.Unknown)
	}
	missing := map[string]string{}
	for _, m := range p.Table.Missing {
		missing[m.Column] = m.Gets
	}
	if missing["note"] != "NULL" || missing["made"] != "its default" || len(missing) != 2 {
		t.Errorf("missing %v", missing)
	}
	if len(p.Table.Conflicts) != 2 {
		t.Errorf("conflicts %+v, want id and req", p.Table.Conflicts)
	}
	// The reader's reject (line 4, with its byte offset) and the two
	// values that do not convert, in record order.
	if p.Rejected != 3 || len(p.Rejects) != 3 || p.Rejects[0].Record != 2 || p.Rejects[2].Record != 4 || p.Rejects[2].Offset <= 0 {
		t.Errorf("rejects %+v, want records 2, 3 and 4 (with its offset)", p.Rejects)
	}
	// skip-record: the same rejects, and the load would succeed.
	if r := ferry(t, append(base, "--unknown-fields", "ignore", "--on-error", "skip-record")...); r.code != 0 {
		t.Errorf("skip-record: exit %d, want 0", r.code)
	}
	// add: the ALTER TABLE a load would run.
	p = planOf(t, ferry(t, append(base, "--unknown-fields", "add", "--on-error", "skip-record")...))
	if len(p.Table.Alter) != 1 || !strings.Contains(p.Table.Alter[0], `ADD COLUMN IF NOT EXISTS "zz" boolean`) {
		t.Errorf("alter %v, want zz boolean", p.Table.Alter)
	}
	// A NOT NULL column no field fills: every record refused.
	exec1(t, "ALTER TABLE "+table(schema, "ev")+" ADD COLUMN must text NOT NULL")
	if r := ferry(t, append(base, "--unknown-fields", "ignore", "--on-error", "skip-record")...); r.code != 1 || !strings.Contains(r.stdout, "NOT NULL without a default") {
		t.Errorf("NOT NULL column: exit %d, want 1 and the column named", r.code)
	}
	equal(t, "columns unchanged", columnsOf(t, schema, "ev"), []string{"id bigint", "name text", "req integer", "note text", "made timestamp with time zone", "must text"})
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "ev")); n != 0 {
		t.Errorf("plan wrote %d rows", n)
	}
	if n := stateTables(t, stateSchema); n != 0 {
		t.Errorf("plan created %d state tables", n)
	}
}

// TestPlanS3JSONLines: an s3:// source and a JSON-lines target: the files
// listed in MinIO, and no .ferry state directory made.
func TestPlanS3JSONLines(t *testing.T) {
	t.Parallel()
	bucket := newBucket(t)
	put(t, bucket, "logs/a.jsonl", []byte(`{"a":1}`+"\n"))
	put(t, bucket, "logs/b.jsonl", []byte(`{"a":2}`+"\n"+"{bad\n"))
	put(t, bucket, "other/c.jsonl", []byte(`{"a":3}`+"\n"))
	stateDir, out := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "out.jsonl")
	r := ferry(t, "plan", "--source", "s3://"+bucket+"/logs/", "--s3-path-style", "--target", "file:"+out, "--state", stateDir, "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a bad record under abort)", r.code)
	}
	p := planOf(t, r)
	if p.Files.ToLoad != 2 || strings.Join(p.Files.FirstKeys, ",") != "logs/a.jsonl,logs/b.jsonl" || p.Table != nil {
		t.Errorf("files %+v (table %v), want logs/a.jsonl and logs/b.jsonl", p.Files, p.Table)
	}
	if p.Rejected != 1 || p.Rejects[0].File != "logs/b.jsonl" || p.Rejects[0].Record != 2 {
		t.Errorf("rejects %+v, want logs/b.jsonl record 2", p.Rejects)
	}
	for _, path := range []string{stateDir, out} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("plan made %s (%v)", path, err)
		}
	}
	// Loaded into a state directory: plan counts the files loaded and
	// leaves the directory as it is.
	if r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/logs/", "--s3-path-style", "--target", "file:"+out, "--state", stateDir, "--on-error", "skip-record", "--rejects-file", filepath.Join(t.TempDir(), "rej.jsonl")); r.code != 0 {
		t.Fatalf("snapshot: exit %d", r.code)
	}
	dirState := func() []string {
		var out []string
		entries, err := os.ReadDir(stateDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d %s", e.Name(), fi.Size(), fi.ModTime()))
		}
		return out
	}
	before := dirState()
	p = planOf(t, ferry(t, "plan", "--source", "s3://"+bucket+"/logs/", "--s3-path-style", "--target", "file:"+out, "--state", stateDir, "--json"))
	if p.Files.ToLoad != 0 || p.Files.Loaded != 2 {
		t.Errorf("after the snapshot: files %+v, want 0 to load, 2 loaded", p.Files)
	}
	equal(t, "state directory after plan", dirState(), before)
	// Text by default.
	r = ferry(t, "plan", "--source", "s3://"+bucket+"/logs/", "--s3-path-style", "--state", t.TempDir(), "--on-error", "skip-record")
	if r.code != 0 || !strings.Contains(r.stdout, "A snapshot would load 2 file(s)") || !strings.Contains(r.stdout, "logs/b.jsonl record 2") {
		t.Errorf("text: exit %d\n%s", r.code, r.stdout)
	}
}

// TestPlanDrift: on a table ferry created, a value that does not fit
// widens its column (the ALTER a load runs); with --rescue-column, the
// records are rescued, not rejected. Nothing changes in the table.
func TestPlanDrift(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	stateSchema := randomName("it_planstate_")
	t.Cleanup(func() { exec1(t, "DROP SCHEMA IF EXISTS "+stateSchema+" CASCADE") })
	dir := writeDir(t, map[string][]byte{"a.jsonl": []byte(`{"id":1,"n":2}` + "\n")})
	base := []string{"--source", dir, "--target", databaseURL, "--table", schema + ".ev", "--state-schema", stateSchema}
	if r := ferry(t, append([]string{"snapshot"}, base...)...); r.code != 0 {
		t.Fatalf("snapshot: exit %d", r.code)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(`{"id":2,"n":2.5}`+"\n"+`{"id":3,"n":"many"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := ferry(t, append([]string{"plan", "--json"}, base...)...)
	p := planOf(t, r)
	if r.code != 0 || p.Files.ToLoad != 1 || p.Files.Loaded != 1 || p.Rejected != 0 {
		t.Fatalf("exit %d, files %+v, rejected %d: want 0, b.jsonl to load, nothing rejected", r.code, p.Files, p.Rejected)
	}
	alter := strings.Join(p.Table.Alter, "; ")
	if !strings.Contains(alter, `ALTER COLUMN "n" TYPE double precision`) || !strings.Contains(alter, `ALTER COLUMN "n" TYPE text`) {
		t.Errorf("alter %q: want n widened to double precision, then text", alter)
	}
	if len(p.Table.Conflicts) != 1 || p.Table.Conflicts[0].Values != 2 || !strings.Contains(p.Table.Conflicts[0].Action, "widen") {
		t.Errorf("conflicts %+v, want n widened for 2 values", p.Table.Conflicts)
	}
	// A table ferry did not create is not widened: the values are rescued.
	exec1(t, "COMMENT ON TABLE "+table(schema, "ev")+" IS NULL; ALTER TABLE "+table(schema, "ev")+" ADD COLUMN _rescued jsonb")
	r = ferry(t, append([]string{"plan", "--json", "--rescue-column", "_rescued"}, base...)...)
	p = planOf(t, r)
	if r.code != 0 || p.Rejected != 0 || len(p.Rejects) != 2 || !strings.Contains(r.stdout, `"rescued": 2`) {
		t.Errorf("rescue: exit %d, rejected %d, rejects %+v; want 2 rescued", r.code, p.Rejected, p.Rejects)
	}
	equal(t, "columns unchanged", columnsOf(t, schema, "ev"), []string{"id bigint", "n bigint", "_rescued jsonb"})
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "ev")); n != 1 {
		t.Errorf("rows %d, want the 1 the snapshot loaded", n)
	}
}
