package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state/filestore"
)

// The commands on a .ferry directory, end to end.
func TestInspectFileStore(t *testing.T) {
	dir := t.TempDir()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := pusher.Object{Key: "in/a.csv", ETag: "e1", Size: 10}
	b := pusher.Object{Key: "in/b.csv", ETag: "e1", Size: 20}
	if _, err := st.Start(ctx, "p", a); err != nil {
		t.Fatal(err)
	}
	if err := st.Advance(ctx, "p", &pusher.Chunk{File: a, End: pusher.Position{Records: 3}, Last: true}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := st.Start(ctx, "p", b); err != nil {
			t.Fatal(err)
		}
		if err := st.Fail(ctx, "p", b, errors.New("record 1: bad")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Start(ctx, "q", a); err != nil {
		t.Fatal(err)
	}
	st.Close()
	rejects := filepath.Join(dir, "rejects.jsonl")
	if err := os.WriteFile(rejects, []byte(`{"pipeline":"p","key":"in/a.csv","etag":"e1","record":2,"error":"bad value","raw":"x","rejected_at":"2024-05-01T00:00:00Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	names := func() string {
		ents, _ := os.ReadDir(dir)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return strings.Join(out, " ")
	}
	before := names()
	ferry := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := ferry("status", "--state", dir, "--json")
	var sj struct {
		Pipelines []struct {
			Pipeline string
			Files    struct{ Done, Quarantined int64 }
			Records  int64                 `json:"records_loaded"`
			Last     *struct{ Key string } `json:"last_error"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &sj) != nil || len(sj.Pipelines) != 2 {
		t.Fatalf("status = %d %q %q", code, out, errOut)
	}
	if p := sj.Pipelines[0]; p.Pipeline != "p" || p.Files.Done != 1 || p.Files.Quarantined != 1 || p.Records != 3 || p.Last == nil || p.Last.Key != b.Key {
		t.Errorf("status of p = %+v", p)
	}
	code, out, _ = ferry("status", "--state", dir, "--pipeline", "q")
	if code != 0 || !strings.Contains(out, `pipeline "q"`) || !strings.Contains(out, "0 done, 1 loading") || strings.Contains(out, `"p"`) {
		t.Errorf("status --pipeline q = %d\n%s", code, out)
	}
	code, out, _ = ferry("files", "--state", dir, "--pipeline", "p", "--status", "quarantined")
	if code != 0 || !strings.Contains(out, "quarantined") || !strings.Contains(out, b.Key) || strings.Contains(out, a.Key) {
		t.Errorf("files --status quarantined = %d\n%s", code, out)
	}
	code, out, errOut = ferry("retry", "--state", dir, "--pipeline", "p", b.Key)
	if code != 0 || !strings.Contains(out, "retry in/b.csv (etag e1): 3 attempts, error: record 1: bad") || !strings.Contains(out, "1 files") {
		t.Errorf("retry = %d %q %q", code, out, errOut)
	}
	code, out, _ = ferry("files", "--state", dir, "--pipeline", "p", "--status", "failed", "--json")
	var fj struct {
		Files []struct {
			Status   string
			Attempts int
			Retries  []struct{ Error string }
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &fj) != nil || len(fj.Files) != 1 || fj.Files[0].Status != "failed" || fj.Files[0].Attempts != 0 ||
		len(fj.Files[0].Retries) != 1 || fj.Files[0].Retries[0].Error != "record 1: bad" {
		t.Errorf("files after retry = %d %s", code, out)
	}
	code, _, errOut = ferry("retry", "--state", dir, "--pipeline", "p", a.Key, "nope")
	if code != 1 || !strings.Contains(errOut, `"in/a.csv": not failed (done)`) || !strings.Contains(errOut, `"nope": no such file`) {
		t.Errorf("retry of a done and an unknown key = %d %q", code, errOut)
	}
	code, out, _ = ferry("rejects", "--state", dir, "--rejects-file", rejects, "--json")
	var rj struct{ Rejects []struct{ Error string } }
	if code != 0 || json.Unmarshal([]byte(out), &rj) != nil || len(rj.Rejects) != 1 || rj.Rejects[0].Error != "bad value" {
		t.Errorf("rejects = %d %s", code, out)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"status", "--state", dir, "--pipeline", "nope"}, 2, `unknown pipeline "nope" in state directory ` + dir + ` (pipelines: "p", "q")`},
		{[]string{"retry", "--state", dir, "--all-failed"}, 2, "retry: name the pipeline with --pipeline"},
		{[]string{"retry", "--state", dir, "--pipeline", "p"}, 2, "retry: name the file keys, or --all-failed"},
		{[]string{"files", "--state", dir, "--status", "odd"}, 2, `--status "odd"`},
		{[]string{"status", "--state", filepath.Join(dir, "missing")}, 1, "no ferry state in " + filepath.Join(dir, "missing")},
		{[]string{"status", "--state", "postgres://127.0.0.1:1/db?connect_timeout=2"}, 1, "cannot connect to PostgreSQL"},
		{[]string{"status", "--state-schema", "a b", "--state", dir}, 2, "--state-schema"},
		{[]string{"status", "extra"}, 2, `unexpected argument "extra"`},
	} {
		code, out, errOut := ferry(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("ferry %q = %d, stdout %q, stderr %q; want %d and one line with %q", tc.args, code, out, errOut, tc.code, tc.msg)
		}
	}
	// The job's config file says where the state is and which pipeline;
	// its other keys are the job's.
	config := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(config, []byte("source: s3://b/x\nformat: csv\nstate: "+dir+"\npipeline: q\nmax-attempts: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = ferry("status", "--config", config)
	if code != 0 || !strings.Contains(out, `pipeline "q"`) || strings.Contains(out, `pipeline "p"`) || !strings.Contains(out, "(at --max-attempts 1)") {
		t.Errorf("status --config = %d %q %q", code, out, errOut)
	}
	code, out, _ = ferry("status", "--config", config, "--pipeline", "p")
	if code != 0 || !strings.Contains(out, `pipeline "p"`) {
		t.Errorf("status --config --pipeline p = %d %q; want the flag to win", code, out)
	}
	if after := names(); after != before {
		t.Errorf("the commands changed the directory: %s, was %s", after, before)
	}
}
