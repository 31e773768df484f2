// Package jsonlines writes records as JSON lines, one object per record with
// keys in column order, to stdout or appended to a file. Strings stay JSON
// strings, JSON numbers, booleans, objects and arrays are written as read,
// and NULL (or a missing field) is null.
//
// Each chunk is written with one write call and, for a file, synced before
// Write returns; progress is recorded after that, so a crash can repeat a
// chunk: delivery is at-least-once.
package jsonlines

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/targets"
)

// Target writes JSON lines to w.
type Target struct {
	name   string
	mu     sync.Mutex
	w      io.Writer
	file   *os.File
	System bool // add _ferry_file and _ferry_record
}

var _ targets.Target = (*Target)(nil)

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

// Write implements targets.Target.
func (t *Target) Write(_ context.Context, c *source.Chunk) error {
	b := c.Batch
	if b == nil || b.Len() == 0 {
		return nil
	}
	buf := make([]byte, 0, b.Size()*2+b.Len()*16)
	keys := make([][]byte, len(b.Columns))
	for i, name := range b.Columns {
		keys[i] = appendString(nil, []byte(name))
	}
	fileKey := appendString(nil, []byte(c.File.Key))
	for r := 0; r < b.Len(); r++ {
		buf = append(buf, '{')
		fields := b.Record(r)
		for i := range b.Columns {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, keys[i]...)
			buf = append(buf, ':')
			if i >= len(fields) {
				buf = append(buf, "null"...)
				continue
			}
			f := fields[i]
			switch f.Kind {
			case source.Null:
				buf = append(buf, "null"...)
			case source.String:
				buf = appendString(buf, b.Value(f))
			default:
				buf = append(buf, b.Value(f)...)
			}
		}
		if t.System {
			buf = append(buf, `,"_ferry_file":`...)
			buf = append(buf, fileKey...)
			buf = append(buf, `,"_ferry_record":`...)
			buf = strconv.AppendInt(buf, c.First()+int64(r), 10)
		}
		buf = append(buf, '}', '\n')
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

const hex = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// CommitsProgress implements targets.Target: progress is kept separately.
func (t *Target) CommitsProgress() bool { return false }

// String implements targets.Target.
func (t *Target) String() string { return t.name }

// Close closes the file, if any.
func (t *Target) Close() error {
	if t.file != nil {
		return t.file.Close()
	}
	return nil
}
