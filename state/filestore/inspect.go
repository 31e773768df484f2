package filestore

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferrydata/ferry/state"
)

// Pipelines implements state.Inspector: the pipeline named by each
// snapshot in the directory, or by the first line of a log that has no
// snapshot yet.
func (s *Store) Pipelines(_ context.Context) ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	seen := map[string]bool{}
	var names []string
	for _, de := range ents {
		name := de.Name()
		base, ok := strings.CutSuffix(name, ".json")
		if !ok {
			if base, ok = strings.CutSuffix(name, ".log"); !ok {
				continue
			}
		}
		if seen[base] {
			continue
		}
		seen[base] = true
		p, err := pipelineOf(filepath.Join(s.dir, base))
		if err != nil {
			return nil, err
		}
		if p != "" {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	return names, nil
}

// pipelineOf reads the pipeline's name from base.json, else from the
// first line of base.log; "" when neither says (an empty log, or one
// written by a ferry that did not name it).
func pipelineOf(base string) (string, error) {
	f, err := os.Open(base + ".json")
	if err == nil {
		defer f.Close()
		var doc struct {
			Pipeline string `json:"pipeline"`
		}
		if err := json.NewDecoder(f).Decode(&doc); err != nil {
			return "", fmt.Errorf("state: %s.json is not a ferry state file: %w", base, err)
		}
		return doc.Pipeline, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("state: %w", err)
	}
	l, err := os.Open(base + ".log")
	if err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	defer l.Close()
	line, err := bufio.NewReader(l).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("state: read %s.log: %w", base, err)
	}
	rec, err := decodeLine(line)
	if err != nil {
		return "", nil // empty, or a torn first line: nothing committed
	}
	return rec.Pipeline, nil
}

// pipelines returns the pipeline asked for, or all when it is "".
func (s *Store) pipelines(ctx context.Context, pipeline string) ([]string, error) {
	if pipeline != "" {
		return []string{pipeline}, nil
	}
	return s.Pipelines(ctx)
}

// Summary implements state.Inspector.
func (s *Store) Summary(_ context.Context, pipeline string, maxAttempts int) (state.Summary, error) {
	sum := state.Summary{Pipeline: pipeline}
	err := s.do(pipeline, readOnly(func(f *pipelineFile) {
		var oldest, failed *entry
		f.each(func(e *entry) {
			p := e.progress()
			sum.Loaded += max(p.Loaded, 0)
			sum.Rejected += max(p.Rejected, 0)
			sum.Rescued += e.Rescued
			if e.Status == state.Done && e.AfterLoad != nil {
				switch e.AfterLoad.Status {
				case state.AfterLoadPending:
					sum.AfterLoadPending++
				case state.AfterLoadFailed:
					sum.AfterLoadFailed++
				}
			}
			if !e.Counted {
				sum.Loaded += e.Pos.Records
			}
			switch e.Status {
			case state.Done:
				sum.Done++
				sum.Bytes += e.Size
				if sum.FirstLoad.IsZero() || e.Updated.Before(sum.FirstLoad) {
					sum.FirstLoad = e.Updated
				}
				if e.Updated.After(sum.LastLoad) {
					sum.LastLoad = e.Updated
				}
			case state.Loading:
				sum.Loading++
				if oldest == nil || attempted(e).Before(attempted(oldest)) || attempted(e).Equal(attempted(oldest)) && before(e, oldest) {
					oldest = e
				}
			case state.Failed:
				if maxAttempts > 0 && e.Attempts >= maxAttempts {
					sum.Quarantined++
				} else {
					sum.Failed++
				}
				if failed == nil || e.Updated.After(failed.Updated) || e.Updated.Equal(failed.Updated) && before(e, failed) {
					failed = e
				}
			}
		})
		if oldest != nil {
			fi := oldest.info(pipeline)
			sum.OldestLoading = &fi
		}
		if failed != nil {
			fi := failed.info(pipeline)
			sum.LastError = &fi
		}
	}))
	return sum, err
}

func attempted(e *entry) time.Time { return cmp.Or(e.Attempted, e.Updated) }

func before(a, b *entry) bool { return a.Key < b.Key || a.Key == b.Key && a.ETag < b.ETag }

// Files implements state.Inspector.
func (s *Store) Files(ctx context.Context, q state.FileQuery) ([]state.FileInfo, error) {
	names, err := s.pipelines(ctx, q.Pipeline)
	if err != nil {
		return nil, err
	}
	var out []state.FileInfo
	for _, p := range names {
		err := s.do(p, readOnly(func(f *pipelineFile) {
			f.each(func(e *entry) {
				if q.Status != "" && e.Status != q.Status || e.Attempts < q.MinAttempts || !strings.HasPrefix(e.Key, q.Prefix) ||
					len(q.Keys) > 0 && !slices.Contains(q.Keys, e.Key) {
					return
				}
				out = append(out, e.info(p))
			})
		}))
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b state.FileInfo) int {
		return cmp.Or(b.Updated.Compare(a.Updated), cmp.Compare(a.Key, b.Key), cmp.Compare(a.ETag, b.ETag), cmp.Compare(a.Pipeline, b.Pipeline))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// Retry implements state.Inspector with one commit.
func (s *Store) Retry(_ context.Context, pipeline string, keys []string) ([]state.FileInfo, error) {
	var out []state.FileInfo
	err := s.do(pipeline, func(f *pipelineFile) (record, error) {
		out = out[:0]
		var rec record
		now := time.Now().UTC()
		f.each(func(e *entry) {
			if e.Status != state.Failed || len(keys) > 0 && !slices.Contains(keys, e.Key) {
				return
			}
			out = append(out, e.info(pipeline))
			n := *e
			n.Retries = append(slices.Clip(e.Retries), state.Retry{At: now, Attempts: e.Attempts, Error: e.Error})
			n.Attempts = 0
			n.Updated = now
			rec.Put = append(rec.Put, &n)
		})
		for _, n := range rec.Put {
			f.put(n)
		}
		return rec, nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b state.FileInfo) int { return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.ETag, b.ETag)) })
	return out, nil
}

// rejectLine is a line of the rejects file, as the JSON-lines target
// writes it.
type rejectLine struct {
	Pipeline   string    `json:"pipeline"`
	Key        string    `json:"key"`
	ETag       string    `json:"etag"`
	Record     int64     `json:"record"`
	ByteOffset *int64    `json:"byte_offset"`
	MessageID  string    `json:"message_id"`
	Error      string    `json:"error"`
	Raw        string    `json:"raw"`
	RejectedAt time.Time `json:"rejected_at"`
}

// Rejects implements state.Inspector by reading RejectsFile (ErrNoRejects
// when it is not set; none when it does not exist).
func (s *Store) Rejects(_ context.Context, q state.RejectQuery) ([]state.Reject, error) {
	if s.RejectsFile == "" {
		return nil, state.ErrNoRejects
	}
	f, err := os.Open(s.RejectsFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rejects: %w", err)
	}
	defer f.Close()
	var out []state.Reject
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("rejects: read %s: %w", s.RejectsFile, err)
		}
		var l rejectLine
		if jerr := json.Unmarshal(line, &l); jerr != nil {
			if err == io.EOF {
				break // a last line cut short
			}
			return nil, fmt.Errorf("rejects: %s line %d: %w", s.RejectsFile, n, jerr)
		}
		if q.Pipeline != "" && l.Pipeline != q.Pipeline || q.Key != "" && l.Key != q.Key {
			continue
		}
		rj := state.Reject{Pipeline: l.Pipeline, Key: l.Key, ETag: l.ETag, Record: l.Record, Offset: -1,
			MessageID: l.MessageID, Error: l.Error, Raw: l.Raw, At: l.RejectedAt}
		if l.ByteOffset != nil {
			rj.Offset = *l.ByteOffset
		}
		out = append(out, rj)
		if q.Limit > 0 && len(out) >= 2*q.Limit {
			out = append(out[:0], out[len(out)-q.Limit:]...)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	slices.Reverse(out)
	return out, nil
}
