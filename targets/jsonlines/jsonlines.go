// Package jsonlines writes records as JSON lines, one object per record with
// keys in column order, to stdout or appended to a file. Strings stay JSON
// strings, JSON numbers and booleans are written as read, objects and arrays
// as read but compacted (no insignificant whitespace, so never a newline),
// and NULL (or a missing field) is null. Every line is one valid JSON
// object in valid UTF-8: invalid bytes in names, strings and nested values
// become U+FFFD, or, with RejectInvalidUTF8, make the record a bad record
// (rejected under SkipRecords, else failing the chunk).
//
// Each chunk is written with one write call and, for a file, synced before
// Write returns; progress is recorded after that, so a crash can repeat a
// chunk: delivery is at-least-once.
package jsonlines

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferrydata/ferry/pusher"
)

// Target writes JSON lines to w.
type Target struct {
	name   string
	mu     sync.Mutex
	w      io.Writer
	file   *os.File
	System bool // add _ferry_file and _ferry_record (Metadata file, record)
	// Metadata names the metadata fields to add to each record
	// (pusher.MetaNames), as _ferry_NAME.
	Metadata []string
	// Partitions, when set, adds the values of each file's key as fields
	// (JSON strings; null where the key gives none).
	Partitions *pusher.Partitions

	// Rejects, when set, receives one JSON line per rejected record
	// (--rejects-file), after the chunk's records are written.
	Rejects     io.Writer
	rejectsFile *os.File // opened by Open
	Pipeline    string

	// RejectInvalidUTF8 makes a value or field name that is not valid
	// UTF-8 a bad value (--invalid-utf8 reject); by default its bad bytes
	// become U+FFFD.
	RejectInvalidUTF8 bool
	// SkipRecords: a record with a bad value is a reject of its chunk
	// (appended to Chunk.Rejects and written to Rejects) instead of
	// failing the chunk (--on-error skip-record).
	SkipRecords bool
}

// reject is one line of a rejects file.
type reject struct {
	Pipeline   string    `json:"pipeline"`
	Key        string    `json:"key"`
	ETag       string    `json:"etag"`
	Record     int64     `json:"record,omitempty"`
	ByteOffset *int64    `json:"byte_offset,omitempty"`
	MessageID  string    `json:"message_id,omitempty"`
	Error      string    `json:"error"`
	Raw        string    `json:"raw"`
	RejectedAt time.Time `json:"rejected_at"`
}

var _ pusher.Target = (*Target)(nil)

// Stdout returns a target writing to standard output.
func Stdout() *Target { return &Target{name: "stdout", w: os.Stdout} }

// Writer returns a target writing to w.
func Writer(name string, w io.Writer) *Target { return &Target{name: name, w: w} }

// File returns a target appending to the file at path (created if needed).
func File(path string) (*Target, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	return &Target{name: "file:" + path, w: f, file: f}, nil
}

// Write implements pusher.Target. A record with a bad value fails the
// chunk with a *pusher.RecordError, or under SkipRecords becomes one of the
// chunk's rejects. A chunk with more rejects than its RejectLimit (when
// >= 0) fails. A chunk that fails writes nothing.
func (t *Target) Write(_ context.Context, c *pusher.Chunk) error {
	buf, rejects, err := t.render(c)
	if err != nil {
		return err
	}
	if err := rejectLimit(c, rejects); err != nil {
		return err
	}
	if err := t.write(buf); err != nil {
		return err
	}
	c.Rejects = append(c.Rejects, rejects...)
	return t.writeRejects(c)
}

// WriteGroup implements pusher.GroupTarget: the chunks (of different
// files) are rendered, then written with one write and one sync. A chunk
// that fails writes nothing and is named by a *pusher.ChunkError.
func (t *Target) WriteGroup(_ context.Context, cs []*pusher.Chunk) error {
	var all []byte
	rejects := make([][]*pusher.RecordError, len(cs))
	for i, c := range cs {
		buf, rs, err := t.render(c)
		if err == nil {
			err = rejectLimit(c, rs)
		}
		if err != nil {
			return &pusher.ChunkError{Index: i, Err: err}
		}
		if all == nil {
			all = buf[:len(buf):len(buf)] // render's buffer is not reused
		} else {
			all = append(all, buf...)
		}
		rejects[i] = rs
	}
	if err := t.write(all); err != nil {
		return err
	}
	for i, c := range cs {
		c.Rejects = append(c.Rejects, rejects[i]...)
		if err := t.writeRejects(c); err != nil {
			return err
		}
	}
	return nil
}

// rejectLimit fails a chunk that, with the rejects rs, has more than its
// RejectLimit (when >= 0).
func rejectLimit(c *pusher.Chunk, rs []*pusher.RecordError) error {
	if all := len(c.Rejects) + len(rs); c.RejectLimit >= 0 && all > c.RejectLimit {
		last := append(c.Rejects[:len(c.Rejects):len(c.Rejects)], rs...)[all-1]
		return fmt.Errorf("too many rejected records (--max-rejects); last: %v", last)
	}
	return nil
}

func (t *Target) writeRejects(c *pusher.Chunk) error {
	if len(c.Rejects) == 0 || t.Rejects == nil {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	now := time.Now().UTC()
	for _, r := range c.Rejects {
		line := reject{Pipeline: t.Pipeline, Key: c.File.Key, ETag: c.File.ETag, Record: r.Record,
			Error: r.Err.Error(), Raw: strings.ToValidUTF8(string(r.Raw), "\uFFFD"), RejectedAt: now}
		if r.Offset >= 0 {
			off := r.Offset
			line.ByteOffset = &off
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.Rejects.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	if f, ok := t.Rejects.(*os.File); ok {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync rejects: %w", err)
		}
	}
	return nil
}

// RejectMessage writes a rejects line for a queue message that is not a
// notification: key is the queue URL, raw the body cut at
// pusher.MaxRawBytes. It is a no-op without a Rejects writer. The line
// names the target's Pipeline.
func (t *Target) RejectMessage(_ context.Context, _, queueURL, messageID, body string, cause error) error {
	if t.Rejects == nil {
		return nil
	}
	if len(body) > pusher.MaxRawBytes {
		body = body[:pusher.MaxRawBytes]
	}
	line, err := json.Marshal(reject{Pipeline: t.Pipeline, Key: queueURL, MessageID: messageID, Error: cause.Error(),
		Raw: strings.ToValidUTF8(body, "\uFFFD"), RejectedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.Rejects.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	if f, ok := t.Rejects.(*os.File); ok {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync rejects: %w", err)
		}
	}
	return nil
}

// render renders the chunk's records as JSON lines, and returns the
// records rejected for a bad value (under SkipRecords; without it, the
// first bad value fails the chunk).
func (t *Target) render(c *pusher.Chunk) ([]byte, []*pusher.RecordError, error) {
	b := c.Batch
	if b == nil || b.Len() == 0 {
		return nil, nil, nil
	}
	enc := encoder{reject: t.RejectInvalidUTF8}
	buf := make([]byte, 0, b.Size()*2+b.Len()*16)
	tail, record, err := t.fileFields(c)
	if err != nil {
		return nil, nil, err
	}
	var rejects []*pusher.RecordError
	for r := 0; r < b.Len(); r++ {
		var n int
		var err error
		buf, n, err = enc.appendRecord(buf, b, r)
		if err != nil {
			re := &pusher.RecordError{Record: c.First() + int64(r), Offset: -1, Err: err}
			if !t.SkipRecords {
				return nil, nil, re
			}
			re.Raw = pusher.CutRaw(b.AppendJSON(nil, r))
			rejects = append(rejects, re)
			continue
		}
		for i, f := range tail {
			if n > 0 || i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, f...)
			if record == i {
				buf = strconv.AppendInt(buf, c.First()+int64(r), 10)
			}
		}
		buf = append(buf, '}', '\n')
	}
	return buf, rejects, nil
}

// fileFields renders the metadata and partition members of c's records
// ("name":value); the member at index record ends with its name and
// takes the record ordinal (-1: none).
func (t *Target) fileFields(c *pusher.Chunk) (members [][]byte, record int, err error) {
	record = -1
	meta := t.Metadata
	if t.System {
		meta = append(slices.Clone(meta), pusher.MetaFile, pusher.MetaRecord)
	}
	if meta, err = pusher.ParseMetaColumns(strings.Join(meta, ",")); err != nil {
		return nil, -1, err
	}
	member := func(name string) []byte {
		return append(pusher.AppendJSONString(nil, []byte(name)), ':')
	}
	f := c.File
	now := time.Now().UTC()
	for _, m := range meta {
		v := member(pusher.MetaPrefix + m)
		switch m {
		case pusher.MetaFile:
			v = pusher.AppendJSONString(v, []byte(f.Key))
		case pusher.MetaRecord:
			record = len(members)
		case pusher.MetaETag:
			v = pusher.AppendJSONString(v, []byte(f.ETag))
		case pusher.MetaSize:
			v = strconv.AppendInt(v, f.Size, 10)
		case pusher.MetaModified:
			if f.LastModified.IsZero() {
				v = append(v, "null"...)
			} else {
				v = pusher.AppendJSONString(v, f.LastModified.UTC().AppendFormat(nil, time.RFC3339Nano))
			}
		case pusher.MetaLoadedAt:
			v = pusher.AppendJSONString(v, now.AppendFormat(nil, time.RFC3339Nano))
		}
		members = append(members, v)
	}
	parts, _, err := t.Partitions.Of(f.Key)
	if err != nil {
		return nil, -1, err
	}
	for _, pt := range parts {
		if strings.HasPrefix(pt.Name, pusher.MetaPrefix) {
			return nil, -1, fmt.Errorf("key %q: partition %q has the name of a field ferry adds", f.Key, pt.Name)
		}
		for _, col := range c.Batch.Columns {
			if col == pt.Name {
				return nil, -1, fmt.Errorf("key %q: partition %q has the name of a field of the file: rename one of them", f.Key, pt.Name)
			}
		}
		v := member(pt.Name)
		if pt.Null {
			v = append(v, "null"...)
		} else {
			v = pusher.AppendJSONString(v, []byte(pt.Value))
		}
		members = append(members, v)
	}
	return members, record, nil
}

// write writes the rendered records.
func (t *Target) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.w.Write(buf); err != nil {
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	if t.file != nil {
		if err := t.file.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", t.name, err)
		}
	}
	return nil
}

// CommitsProgress implements pusher.Target: progress is kept separately.
func (t *Target) CommitsProgress() bool { return false }

// String implements pusher.Target.
func (t *Target) String() string { return t.name }

// Close closes the file, if any.
func (t *Target) Close() error {
	var err error
	if t.file != nil {
		err = t.file.Close()
	}
	if t.rejectsFile != nil {
		err = errors.Join(err, t.rejectsFile.Close())
	}
	return err
}
