// Package inspect is what the state commands (ferry status, files, retry
// and rejects) do with a pipeline's state: read it through a
// state.Inspector, make failed files eligible again, and print the result
// as text for a person or as JSON (--json) for a program.
//
// The JSON field names are a stable interface: fields may be added, none
// renamed or removed (testdata/*.golden hold them). The functions only
// read and print, except Retry; none creates state. Command holds the
// commands' flags and opens the state where a job keeps it; the config
// file and the exit status are the command line's.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ferrydata/ferry/state"
)

// Options select what the commands print, and how.
type Options struct {
	// Pipeline: only this pipeline's files or rejects ("": every
	// pipeline).
	Pipeline string
	// MaxAttempts: a failed file with this many attempts counts as
	// quarantined (0: none does).
	MaxAttempts int
	// JSON prints JSON instead of text.
	JSON bool
	// Status (Files): only files with this status: failed (quarantined
	// included), quarantined, loading or done ("": all).
	Status string
	// Prefix (Files): only keys that start with it.
	Prefix string
	// Key (Rejects): only the records of this file key.
	Key string
	// Limit (Files, Rejects): at most this many (0: all).
	Limit int
}

// Status prints one block per pipeline of names: files done, loading,
// failed and quarantined; records and bytes loaded; first and last load;
// the oldest file still loading; the last error.
func Status(ctx context.Context, in state.Inspector, names []string, o Options, w io.Writer) error {
	var out statusJSON
	out.Pipelines = []pipelineJSON{}
	for _, p := range names {
		sum, err := in.Summary(ctx, p, o.MaxAttempts)
		if err != nil {
			return err
		}
		out.Pipelines = append(out.Pipelines, newPipelineJSON(sum, o.MaxAttempts))
	}
	if o.JSON {
		return writeJSON(w, out)
	}
	return writeStatus(w, out)
}

// Files prints the files in the state, the most recently updated first.
func Files(ctx context.Context, in state.Inspector, o Options, w io.Writer) error {
	q := state.FileQuery{Pipeline: o.Pipeline, Status: state.Status(o.Status), Prefix: o.Prefix, Limit: o.Limit}
	if o.Status == "quarantined" {
		if o.MaxAttempts == 0 {
			return errors.New("quarantined files need max attempts above 0")
		}
		q.Status, q.MinAttempts = state.Failed, o.MaxAttempts
	}
	fs, err := in.Files(ctx, q)
	if err != nil {
		return err
	}
	out := filesJSON{Files: []fileJSON{}}
	for _, f := range fs {
		out.Files = append(out.Files, newFileJSON(f, o.MaxAttempts))
	}
	if o.JSON {
		return writeJSON(w, out)
	}
	return writeFiles(w, out, o.Pipeline == "")
}

// Retry makes the failed versions of keys (every failed file of the
// pipeline when keys is empty) load again at the next run or poll, and
// prints what it changed. It returns, one error each, the keys it left as
// they were: no such file, or not failed.
func Retry(ctx context.Context, in state.Inspector, pipeline string, keys []string, w io.Writer) (left []error, err error) {
	changed, err := in.Retry(ctx, pipeline, keys)
	if err != nil {
		return nil, err
	}
	writeRetried(w, pipeline, changed)
	for _, k := range keys {
		if slices.ContainsFunc(changed, func(f state.FileInfo) bool { return f.Key == k }) {
			continue
		}
		fs, err := in.Files(ctx, state.FileQuery{Pipeline: pipeline, Keys: []string{k}})
		if err != nil {
			return left, err
		}
		if len(fs) == 0 {
			left = append(left, fmt.Errorf("%q: no such file in pipeline %q", k, pipeline))
		} else {
			left = append(left, fmt.Errorf("%q: not failed (%s), left as it is", k, fs[0].Status))
		}
	}
	return left, nil
}

// Rejects prints the rejected records, the newest first, with their
// errors. A store that keeps none returns state.ErrNoRejects.
func Rejects(ctx context.Context, in state.Inspector, o Options, w io.Writer) error {
	rs, err := in.Rejects(ctx, state.RejectQuery{Pipeline: o.Pipeline, Key: o.Key, Limit: o.Limit})
	if err != nil {
		return err
	}
	out := rejectsJSON{Rejects: []rejectJSON{}}
	for _, r := range rs {
		out.Rejects = append(out.Rejects, newRejectJSON(r))
	}
	if o.JSON {
		return writeJSON(w, out)
	}
	return writeRejects(w, out)
}

// PipelineList names the pipelines for an error line: at most
// maxListed of them, and how many more (ferry status lists them all).
func PipelineList(names []string) string {
	if len(names) == 0 {
		return "it has no pipelines"
	}
	if len(names) > maxListed {
		return fmt.Sprintf("pipelines: %s and %d more; 'ferry status' lists them", strings.Join(quoteAll(names[:maxListed]), ", "), len(names)-maxListed)
	}
	return "pipelines: " + strings.Join(quoteAll(names), ", ")
}

// maxListed is how many pipeline names an error line gives.
const maxListed = 10

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// utc formats a time for output: RFC 3339 in UTC, to the second.
func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }
