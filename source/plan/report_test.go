package plan

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrydata/ferry/pusher"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeSection is a target's section.
type fakeSection struct{ failed string }

func (f fakeSection) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, "Table \"t\" exists.\n")
	return err
}
func (f fakeSection) Failed() string { return f.failed }

func report() *Report {
	r := &Report{Source: "s3://b/p", Target: "PostgreSQL table \"t\"", Pipeline: "s3://b/p -> t", OnError: "abort",
		Files:  Files{Listed: 12, NotSelected: 2, ToLoad: 13, Bytes: 3 << 20, Resuming: 1, FirstKeys: []string{"a.csv", "b.csv"}, Loaded: 4, Quarantined: 1},
		Sample: Sample{Files: 2, Records: 2000}, Table: fakeSection{}}
	cfg := Config{Options: Options{Rejects: 2}}
	r.reject(cfg, "b.csv", &pusher.RecordError{Record: 7, Offset: 120, Err: errors.New("wrong number of fields")}, false)
	r.reject(cfg, "a.csv", &pusher.RecordError{Record: 3, Offset: -1, Err: errors.New(`column "n": invalid bigint "x"`)}, true)
	r.reject(cfg, "a.csv", &pusher.RecordError{Record: -1, Offset: -1, Err: errors.New("gzip: invalid header")}, false)
	r.cut([]pusher.Object{{Key: "a.csv"}, {Key: "b.csv"}}, 2)
	r.fail("2 record(s) of the sample would be rejected under --on-error abort")
	return r
}

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		json bool
	}{{"report.txt", false}, {"report.json", true}} {
		var b bytes.Buffer
		if err := report().Write(&b, tc.json); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", tc.name)
		if *update {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs (go test -update):\n%s", tc.name, b.String())
		}
	}
}

func TestReportRejectsOrder(t *testing.T) {
	r := report()
	if len(r.Rejects) != 2 || r.Rejects[0].File != "a.csv" || r.Rejects[0].Record != -1 || r.Rejects[1].Record != 3 {
		t.Fatalf("rejects not in file then record order: %+v", r.Rejects)
	}
	if r.Rejected != 2 || r.Rescued != 1 {
		t.Fatalf("rejected %d rescued %d, want 2 and 1", r.Rejected, r.Rescued)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{Files: 1, Records: 1}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Options{Files: 0, Records: 1}).Validate(); err == nil {
		t.Fatal("--plan-files 0 accepted")
	}
}
