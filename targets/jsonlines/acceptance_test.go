package jsonlines_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state/filestore"
	"github.com/ferrydata/ferry/targets/jsonlines"
	"github.com/ferrydata/ferry/targets/targettest"
)

// TestAcceptance runs the target suite against a JSON lines file, with its
// rejects file and progress in a file store (what ferry uses with
// --target file:PATH).
func TestAcceptance(t *testing.T) {
	targettest.Run(t, func(t *testing.T) targettest.Env {
		dir := t.TempDir()
		outPath, rejectsPath := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "rejects.jsonl")
		st, err := filestore.New(filepath.Join(dir, "state"))
		if err != nil {
			t.Fatal(err)
		}
		const pipeline = "acceptance"
		return targettest.Env{
			Open: func(t *testing.T, _ targettest.Options) pusher.Target {
				tg, err := jsonlines.File(outPath)
				if err != nil {
					t.Fatal(err)
				}
				rf, err := os.OpenFile(rejectsPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { rf.Close() })
				tg.System, tg.Rejects, tg.Pipeline = true, rf, pipeline
				return tg
			},
			State:    st,
			Pipeline: pipeline,
			Records: func(t *testing.T) []targettest.Record {
				var out []targettest.Record
				for _, line := range readLines(t, outPath) {
					var r struct {
						ID     any     `json:"id"`
						Name   *string `json:"name"`
						File   string  `json:"_ferry_file"`
						Record int64   `json:"_ferry_record"`
					}
					decode(t, line, &r)
					id, _ := r.ID.(json.Number)
					if s, ok := r.ID.(string); ok {
						id = json.Number(s)
					}
					out = append(out, targettest.Record{File: r.File, Record: r.Record, ID: string(id), Name: r.Name})
				}
				return out
			},
			Rejects: func(t *testing.T) []targettest.Reject {
				var out []targettest.Reject
				for _, line := range readLines(t, rejectsPath) {
					var r struct {
						Pipeline, Key, Error, Raw string
						Record                    int64
					}
					decode(t, line, &r)
					if r.Pipeline != pipeline {
						t.Errorf("reject of pipeline %q", r.Pipeline)
					}
					out = append(out, targettest.Reject{File: r.Key, Record: r.Record, Error: r.Error, Raw: r.Raw})
				}
				return out
			},
		}
	})
}

// readLines returns the lines of the file at path (none if it is missing).
func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return lines
}

func decode(t *testing.T, line []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("line %s: %v", line, err)
	}
}
