// Package format turns a decompressed byte stream into batches of records.
//
// A Reader is created at a position (the start of the file, or a committed
// position to resume from). It first reads what the format needs from the
// head of the stream (a CSV header), then skips to the position without
// parsing and continues from the record after it. Next fills one batch at a
// time, bounded by BatchRows and BatchBytes; Pos is the position just after
// the last record returned, which is always a record boundary.
//
// A bad record is returned as a *source.RecordError naming its ordinal and
// byte offset. Readers do not allocate per field: values are copied into the
// batch's shared buffer.
package format

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ferrydata/ferry/source"
)

// Formats ferry reads.
const (
	CSV   = "csv"
	TSV   = "tsv"
	JSONL = "jsonl"
)

// Options configure a Reader.
type Options struct {
	// Format is CSV, TSV or JSONL (already resolved from "auto").
	Format string
	// Header: the first CSV record names the columns (default true).
	Header bool
	// Columns names the CSV columns when Header is false.
	Columns []string
	// Delimiter separates CSV fields (default ',' for CSV, '\t' for TSV).
	Delimiter byte
	// NullString: an unquoted CSV field equal to it is NULL (default "":
	// an empty unquoted field is NULL; a quoted empty field is "").
	NullString string
	// BatchRows and BatchBytes bound one batch (defaults 100,000 and 8 MiB).
	BatchRows  int
	BatchBytes int
	// MaxRecordBytes bounds one record (default 64 MiB).
	MaxRecordBytes int
	// Seek, when set, returns the stream from byte off. A reader resuming
	// at a position uses it instead of reading and discarding the bytes
	// before it (the loader sets it for uncompressed files).
	Seek func(off int64) (io.Reader, error)
}

// Defaults for Options.
const (
	DefaultBatchRows      = 100_000
	DefaultBatchBytes     = 8 << 20
	DefaultMaxRecordBytes = 64 << 20
)

// WithDefaults fills unset fields.
func (o Options) WithDefaults() Options {
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.Delimiter == 0 {
		if o.Format == TSV {
			o.Delimiter = '\t'
		} else {
			o.Delimiter = ','
		}
	}
	return o
}

// Reader reads records in batches.
type Reader interface {
	// Next resets b and fills it with the next records. It returns io.EOF,
	// with b empty, when the stream has no more records.
	Next(b *source.Batch) error
	// Pos is the position after the last record returned by Next.
	Pos() source.Position
}

// Detect picks a format from a key's extension, after removing a
// compression extension (.gz, .gzip, .zst, .zstd).
func Detect(key string) (string, error) {
	name := strings.ToLower(path.Base(key))
	for _, ext := range []string{".gz", ".gzip", ".zst", ".zstd"} {
		name = strings.TrimSuffix(name, ext)
	}
	switch path.Ext(name) {
	case ".csv":
		return CSV, nil
	case ".tsv", ".tab":
		return TSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its extension; set --format", key)
}

// newFunc is set by the format packages' registration (see register.go).
var readers = map[string]func(r io.Reader, o Options, start source.Position) (Reader, error){}

// Register makes a format available to New. Format packages call it from
// init; the command imports them.
func Register(name string, fn func(r io.Reader, o Options, start source.Position) (Reader, error)) {
	readers[name] = fn
}

// New returns a Reader for o.Format reading r from the start position.
func New(r io.Reader, o Options, start source.Position) (Reader, error) {
	o = o.WithDefaults()
	fn, ok := readers[o.Format]
	if !ok {
		return nil, fmt.Errorf("unknown format %q", o.Format)
	}
	return fn(r, o, start)
}
