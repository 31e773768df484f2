//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inspect runs a state command with --json and decodes its output.
func inspect(t *testing.T, out any, args ...string) {
	t.Helper()
	res := ferry(t, append(args, "--json")...)
	if res.code != 0 {
		t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), res.code, res.stderr)
	}
	if err := json.Unmarshal([]byte(res.stdout), out); err != nil {
		t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, res.stdout)
	}
}

type statusOut struct {
	Pipelines []struct {
		Pipeline  string
		Files     struct{ Done, Loading, Failed, Quarantined int }
		LastError *struct {
			Key, Error string
		} `json:"last_error"`
	}
}

type filesOut struct {
	Files []struct {
		Key, Status, Error string
		Attempts           int
		Records            int
		Retries            []struct {
			Attempts int
			Error    string
		}
	}
}

// TestRetryQuarantinedLoadsOnce: under replicate --max-attempts 1, a file
// that a table constraint refuses is quarantined and stays so; once the
// constraint is gone, ferry retry makes the next poll load it, once. The
// state lives in its own --state-schema, and the connections say which
// pipeline they serve.
func TestRetryQuarantinedLoadsOnce(t *testing.T) {
	t.Parallel()
	schema, bucket := newSchema(t), newBucket(t)
	sc := stateSchema(t)
	if _, err := sc.Open(t.Context(), pool); err != nil { // to query it before ferry's start got that far
		t.Fatal(err)
	}
	st := string(sc)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text CONSTRAINT no_bad CHECK (note <> 'bad'))")
	put(t, bucket, "good.csv", idsCSV(1, 10, "ok"))
	put(t, bucket, "bad.csv", idsCSV(11, 15, "bad"))
	pipeline := randomName("retry-")
	r := startReplicate(t, append(pgArgs("s3://"+bucket+"/", schema, pipeline), "--max-attempts", "1", "--state-schema", st)...)
	files := st + ".files"
	r.waitCount(1, `SELECT count(*) FROM `+files+` WHERE pipeline = $1 AND status = 'done'`, pipeline)
	r.waitCount(1, `SELECT count(*) FROM `+files+` WHERE pipeline = $1 AND status = 'failed' AND attempts = 1`, pipeline)
	if n := queryInt(t, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, "ferry/"+pipeline); n == 0 {
		t.Errorf("no connection with application_name ferry/%s", pipeline)
	}
	if n := queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = $1`, pipeline); n != 0 {
		t.Errorf("%d files of the pipeline in ferry.files; want them in %s only", n, st)
	}
	loc := []string{"--target", databaseURL, "--state-schema", st, "--pipeline", pipeline}

	var sum statusOut
	inspect(t, &sum, append([]string{"status", "--max-attempts", "1"}, loc...)...)
	if len(sum.Pipelines) != 1 || sum.Pipelines[0].Files.Done != 1 || sum.Pipelines[0].Files.Quarantined != 1 ||
		sum.Pipelines[0].LastError == nil || sum.Pipelines[0].LastError.Key != "bad.csv" || !strings.Contains(sum.Pipelines[0].LastError.Error, "no_bad") {
		t.Fatalf("status = %+v; want 1 done, bad.csv quarantined by no_bad", sum)
	}
	res := ferry(t, append([]string{"status"}, loc...)...)
	if res.code != 0 || !strings.Contains(res.stdout, "1 done, 0 loading, 1 failed, 0 quarantined (at --max-attempts 3)") {
		t.Errorf("status text with the default --max-attempts 3 = %d\n%s", res.code, res.stdout)
	}

	exec1(t, "ALTER TABLE "+table(schema, "t")+" DROP CONSTRAINT no_bad")
	res = ferry(t, append([]string{"retry"}, append(loc, "bad.csv")...)...)
	if res.code != 0 || !strings.Contains(res.stdout, "retry bad.csv") || !strings.Contains(res.stdout, "1 files of pipeline") {
		t.Fatalf("retry = %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	r.waitCount(2, `SELECT count(*) FROM `+files+` WHERE pipeline = $1 AND status = 'done'`, pipeline)
	r.waitCount(15, countSQL(schema))
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE note = 'bad') FROM "+table(schema, "t")), []string{"15|15|5"})

	var fs filesOut
	inspect(t, &fs, append([]string{"files", "--prefix", "bad"}, loc...)...)
	if len(fs.Files) != 1 || fs.Files[0].Status != "done" || fs.Files[0].Attempts != 1 || fs.Files[0].Records != 5 || fs.Files[0].Error != "" ||
		len(fs.Files[0].Retries) != 1 || fs.Files[0].Retries[0].Attempts != 1 || !strings.Contains(fs.Files[0].Retries[0].Error, "no_bad") {
		t.Fatalf("files = %+v; want bad.csv done at 5 records, attempt 1, the retried failure in its history", fs)
	}
	equal(t, "load_history", queryRows(t, `SELECT key, status, rows, attempts, retries, lag_seconds IS NOT NULL, load_seconds >= 0
		FROM `+st+`.load_history WHERE pipeline = $1 ORDER BY key`, pipeline),
		[]string{"bad.csv|done|5|1|1|true|true", "good.csv|done|10|1|0|true|true"})
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	equal(t, "rows after stop", queryRows(t, "SELECT count(*) FROM "+table(schema, "t")), []string{"15"})
}

// TestInspectCommandsFileState: the same cycle with the .ferry directory
// store (a file target): a quarantined file is skipped by later runs, is
// counted in the log of a restarted replicate, and loads once after retry;
// rejects are read from the rejects file.
func TestInspectCommandsFileState(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	src := writeDir(t, map[string][]byte{
		"a.jsonl": []byte(idsJSONL(1, 3, "a")),
		"b.jsonl": []byte(idsJSONL(4, 5, long)),
	})
	work := t.TempDir()
	stateDir, out, rejects := filepath.Join(work, "state"), filepath.Join(work, "out.jsonl"), filepath.Join(work, "rejects.jsonl")
	job := func(extra ...string) []string {
		return append([]string{"--source", src, "--target", "file:" + out, "--state", stateDir, "--pipeline", "p", "--max-attempts", "1"}, extra...)
	}
	lines := func() int {
		b, _ := os.ReadFile(out)
		return strings.Count(string(b), "\n")
	}
	if res := ferry(t, append([]string{"snapshot"}, job("--on-error", "skip-file", "--max-record-bytes", "100")...)...); res.code != 1 {
		t.Fatalf("snapshot with a record too long: exit %d; want 1", res.code)
	}
	var sum statusOut
	inspect(t, &sum, "status", "--state", stateDir, "--max-attempts", "1")
	if len(sum.Pipelines) != 1 || sum.Pipelines[0].Pipeline != "p" || sum.Pipelines[0].Files.Done != 1 || sum.Pipelines[0].Files.Quarantined != 1 {
		t.Fatalf("status = %+v; want p: 1 done, 1 quarantined", sum)
	}
	// Quarantined: not loaded again, even once it would load.
	if res := ferry(t, append([]string{"snapshot"}, job()...)...); res.code != 0 || lines() != 3 {
		t.Fatalf("snapshot of a quarantined file: exit %d, %d lines; want 0, 3", res.code, lines())
	}
	r := startReplicate(t, job()...)
	r.waitFor("the quarantined count in the log", func() bool {
		for _, l := range r.logs("") {
			if l["quarantined"] == float64(1) {
				return true
			}
		}
		return false
	})
	if code := r.stop(); code != 0 || lines() != 3 {
		t.Fatalf("replicate: exit %d, %d lines; want 0, 3", code, lines())
	}

	res := ferry(t, "retry", "--state", stateDir, "b.jsonl") // the only pipeline
	if res.code != 0 || !strings.Contains(res.stdout, "retry b.jsonl") {
		t.Fatalf("retry = %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for range 2 {
		if res := ferry(t, append([]string{"snapshot"}, job()...)...); res.code != 0 || lines() != 5 {
			t.Fatalf("snapshot after retry: exit %d, %d lines; want 0, 5 (b.jsonl once)", res.code, lines())
		}
	}
	var fs filesOut
	inspect(t, &fs, "files", "--state", stateDir, "--pipeline", "p", "--status", "done")
	if len(fs.Files) != 2 || fs.Files[0].Key != "b.jsonl" || len(fs.Files[0].Retries) != 1 || !strings.Contains(fs.Files[0].Retries[0].Error, "100") {
		t.Fatalf("files = %+v; want b.jsonl (most recent) with its retried failure, a.jsonl", fs)
	}

	// Rejects go to the rejects file, which rejects reads.
	if err := os.WriteFile(filepath.Join(src, "c.jsonl"), []byte(`{"id":6}`+"\nnot json\n"+`{"id":7}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := ferry(t, append([]string{"snapshot"}, job("--on-error", "skip-record", "--rejects-file", rejects)...)...); res.code != 0 || lines() != 7 {
		t.Fatalf("snapshot with a bad record: exit %d, %d lines; want 0, 7", res.code, lines())
	}
	var rj struct {
		Rejects []struct {
			Key, Raw string
			Record   int
		}
	}
	inspect(t, &rj, "rejects", "--state", stateDir, "--rejects-file", rejects, "--key", "c.jsonl")
	if len(rj.Rejects) != 1 || rj.Rejects[0].Record != 2 || rj.Rejects[0].Raw != "not json" {
		t.Fatalf("rejects = %+v; want c.jsonl record 2", rj)
	}
	if res := ferry(t, "rejects", "--state", stateDir, "--pipeline", "nope"); res.code != 2 || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, `unknown pipeline "nope"`) {
		t.Fatalf("unknown pipeline: exit %d, %q", res.code, res.stderr)
	}
}

// TestInspectCommandsPostgres: rejects and files from ferry.rejects and
// ferry.files, and the one-line errors for state that is not there.
func TestInspectCommandsPostgres(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	src := writeDir(t, map[string][]byte{"in.csv": []byte("id,note\n1,a\nx,b\n3,c\n")})
	pipeline := randomName("rej-")
	if res := ferry(t, "snapshot", "--source", src, "--target", databaseURL, "--table", schema+".t", "--pipeline", pipeline, "--on-error", "skip-record"); res.code != 0 {
		t.Fatalf("snapshot: exit %d", res.code)
	}
	var rj struct {
		Rejects []struct {
			Pipeline, Key, Error, Raw string
			Record                    int
		}
	}
	inspect(t, &rj, "rejects", "--target", databaseURL, "--pipeline", pipeline)
	if len(rj.Rejects) != 1 || rj.Rejects[0].Key != "in.csv" || rj.Rejects[0].Record != 2 || !strings.Contains(rj.Rejects[0].Error, `"x"`) {
		t.Fatalf("rejects = %+v; want in.csv record 2", rj)
	}
	res := ferry(t, "rejects", "--state", databaseURL, "--pipeline", pipeline)
	if res.code != 0 || !strings.Contains(res.stdout, "in.csv record 2") {
		t.Fatalf("rejects text = %d\n%s", res.code, res.stdout)
	}
	var fs filesOut
	inspect(t, &fs, "files", "--target", databaseURL, "--pipeline", pipeline)
	if len(fs.Files) != 1 || fs.Files[0].Status != "done" || fs.Files[0].Records != 3 {
		t.Fatalf("files = %+v", fs)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"status", "--target", databaseURL, "--pipeline", "nope-" + pipeline}, 2, `unknown pipeline "nope-` + pipeline + `" in PostgreSQL schema ferry`},
		{[]string{"status", "--target", databaseURL, "--state-schema", "no_such_schema"}, 1, "no ferry state in PostgreSQL schema no_such_schema"},
		{[]string{"files", "--state", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2"}, 1, "cannot connect to PostgreSQL"},
		{[]string{"retry", "--target", databaseURL, "--pipeline", pipeline, "in.csv"}, 1, `"in.csv": not failed (done)`},
	} {
		res := ferry(t, tc.args...)
		if res.code != tc.code || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, tc.msg) {
			t.Errorf("ferry %s: exit %d, stderr %q; want %d and one line with %q", strings.Join(tc.args, " "), res.code, res.stderr, tc.code, tc.msg)
		}
	}
	if n := queryInt(t, `SELECT count(*) FROM pg_namespace WHERE nspname = 'no_such_schema'`); n != 0 {
		t.Errorf("status created the schema it was asked about")
	}
}
