package inspect

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

var (
	statusT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at       = func(d time.Duration) time.Time { return statusT0.Add(d) }
	done     = state.FileInfo{Pipeline: "logs", Key: "2024/05/01/a.csv.gz", ETag: "e1", Size: 1 << 20, Status: state.Done, Attempts: 1,
		Records: 1000, Loaded: 998, Rejected: 2, Rescued: 5, Modified: at(-time.Minute), Started: at(0), Attempted: at(0), Updated: at(3 * time.Second)}
	moved = state.FileInfo{Pipeline: "logs", Key: "2024/05/01/d.csv", ETag: "e4", Size: 40, Status: state.Done, Attempts: 1,
		Records: 3, Loaded: 3, Rejected: 0, Rescued: 0, Started: at(0), Attempted: at(0), Updated: at(5 * time.Second),
		AfterLoad: state.AfterLoad{Status: state.AfterLoadFailed, Action: "move:archive/", Attempts: 2, Error: "copy s3://b/2024/05/01/d.csv: SlowDown", At: at(10 * time.Second)}}
	loading = state.FileInfo{Pipeline: "logs", Key: "2024/05/01/b.csv.gz", ETag: "e2", Size: 5 << 30, Status: state.Loading, Attempts: 2,
		Records: 500000, Loaded: -1, Rejected: -1, Rescued: -1, Started: at(time.Minute), Attempted: at(2 * time.Minute), Updated: at(3 * time.Minute)}
	quarantined = state.FileInfo{Pipeline: "logs", Key: "2024/05/01/c.csv", ETag: "e3", Size: 12, Status: state.Failed, Attempts: 3,
		Error: "record 2: column \"n\": invalid integer \"x\"\n(line 3)", Started: at(time.Minute), Attempted: at(4 * time.Minute), Updated: at(4 * time.Minute),
		Retries: []state.Retry{{At: at(90 * time.Second), Attempts: 3, Error: "connection reset"}}}
)

func TestStatusOutput(t *testing.T) {
	retried := quarantined
	retried.Pipeline, retried.Attempts = "retried", 0
	out := statusJSON{Pipelines: []pipelineJSON{
		newPipelineJSON(state.Summary{Pipeline: "logs", Done: 120, Loading: 1, Failed: 2, Quarantined: 1, Loaded: 123456, Rejected: 2, Rescued: 7,
			AfterLoadPending: 3, AfterLoadFailed: 1,
			Bytes: 3 << 30, FirstLoad: at(3 * time.Second), LastLoad: at(time.Hour), OldestLoading: &loading, LastError: &quarantined}, 3),
		newPipelineJSON(state.Summary{Pipeline: "empty"}, 0),
		newPipelineJSON(state.Summary{Pipeline: "retried", Failed: 1, LastError: &retried}, 3),
		newPipelineJSON(state.Summary{Pipeline: "scaled", Done: 9, Leases: &state.Leases{Ranges: 16, Free: 5, Owners: []state.LeaseOwner{
			{Owner: "host-a/101/0a1b2c3d", Ranges: 6, Expires: at(time.Hour), Alive: true},
			{Owner: "host-b/202/4e5f6071", Ranges: 5, Expires: at(time.Hour - 10*time.Second), Alive: true},
			{Owner: "host-c/303/8293a4b5", Expires: at(time.Hour - time.Minute)}}}}, 3),
	}}
	var js, text bytes.Buffer
	if err := writeJSON(&js, out); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.json.golden", js.Bytes())
	if err := writeStatus(&text, out); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.txt.golden", text.Bytes())
}

func TestFilesOutput(t *testing.T) {
	out := filesJSON{Files: []fileJSON{newFileJSON(quarantined, 3), newFileJSON(loading, 3), newFileJSON(done, 3), newFileJSON(quarantined, 0), newFileJSON(moved, 3)}}
	var js, text bytes.Buffer
	if err := writeJSON(&js, out); err != nil {
		t.Fatal(err)
	}
	golden(t, "files.json.golden", js.Bytes())
	if err := writeFiles(&text, out, true); err != nil {
		t.Fatal(err)
	}
	golden(t, "files.txt.golden", text.Bytes())
	var empty bytes.Buffer
	if err := writeJSON(&empty, filesJSON{Files: []fileJSON{}}); err != nil || empty.String() != "{\n  \"files\": []\n}\n" {
		t.Errorf("no files: %q, %v; want an empty list", empty.String(), err)
	}
}

func TestRejectsOutput(t *testing.T) {
	out := rejectsJSON{Rejects: []rejectJSON{
		newRejectJSON(state.Reject{Pipeline: "logs", Key: "https://sqs/queue", MessageID: "m-1", Offset: -1, Error: "not an S3 notification", Raw: `{"hello": 1}`, At: at(time.Hour)}),
		newRejectJSON(state.Reject{Pipeline: "logs", Key: "a.csv", ETag: "e1", Record: 2, Offset: 17, Error: `column "n": invalid integer "x"`, Raw: "1,x\n", At: at(time.Minute)}),
		newRejectJSON(state.Reject{Pipeline: "logs", Key: "b.json", ETag: "e2", Record: 9, Offset: -1, Error: "not a JSON object", Raw: "[1]", At: at(0)}),
	}}
	var js, text bytes.Buffer
	if err := writeJSON(&js, out); err != nil {
		t.Fatal(err)
	}
	golden(t, "rejects.json.golden", js.Bytes())
	if err := writeRejects(&text, out); err != nil {
		t.Fatal(err)
	}
	golden(t, "rejects.txt.golden", text.Bytes())
}

// TestPipelineListIsShort: an error line names ten pipelines at most.
func TestPipelineListIsShort(t *testing.T) {
	var names []string
	for i := range 25 {
		names = append(names, fmt.Sprintf("p%02d", i))
	}
	got := PipelineList(names)
	if !strings.Contains(got, `"p09" and 15 more`) || strings.Contains(got, `"p10"`) {
		t.Errorf("PipelineList of 25 = %q", got)
	}
	if got := PipelineList(names[:2]); got != `pipelines: "p00", "p01"` {
		t.Errorf("PipelineList of 2 = %q", got)
	}
}
