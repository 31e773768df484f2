// Package format turns a decompressed byte stream into batches of records.
//
// A Reader is created at a position (the start of the file, or a committed
// position to resume from). It first reads what the format needs from the
// head of the stream (a CSV header), then skips to the position without
// parsing and continues from the record after it. Next fills one batch at a
// time, bounded by BatchRows and BatchBytes; Pos is the position just after
// the last record returned, which is always a record boundary.
//
// A bad record is returned as a *pusher.RecordError naming its ordinal and
// byte offset. Readers do not allocate per field: values are copied into the
// batch's shared buffer.
package format

import (
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/ferrydata/ferry/pusher"
)

// Formats ferry reads.
const (
	CSV     = "csv"
	TSV     = "tsv"
	JSONL   = "jsonl"
	JSON    = "json"
	Lines   = "lines"
	Parquet = "parquet"
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
	// MaxRecordBytes bounds one record (default 16 MiB).
	MaxRecordBytes int
	// SizeHint, when above 0, is about how many bytes the stream holds:
	// the read buffer starts no larger (at least 4 KiB), so that a small
	// file does not cost a 1 MiB buffer. It grows as a record needs.
	SizeHint int64

	// CSV: Quote encloses fields (default '"'; 0 after WithDefaults means
	// '"'); Escape, when set and not equal to Quote, escapes the next byte
	// inside quotes (e.g. '\\'); Comment, when set, starts a line that is
	// skipped; SkipRows drops that many physical lines before the header
	// (or the first record).
	Quote    byte
	Escape   byte
	Comment  byte
	SkipRows int

	// JSON: RecordsField is a dotted path to the array of records inside
	// the document ("Records", "data.items"); empty: a top-level array's
	// elements are the records, any other document is one record.
	RecordsField string

	// Lines: Regex (RE2 with named groups) splits each line into columns,
	// a line that does not match is a bad record; empty: one column "line".
	// Preset names a ready-made Regex ("alb", "nginx", "s3-access", ...).
	Regex  string
	Preset string
	// Seek, when set, returns the stream from byte off. A reader resuming
	// at a position uses it instead of reading and discarding the bytes
	// before it (the loader sets it for uncompressed files).
	Seek func(off int64) (io.Reader, error)
}

// Validate checks the options a user sets (before WithDefaults): a known
// format ("auto" or "" included), no negative counts, and at most one of
// Regex and Preset, which must compile or exist. Presets are checked by
// the lines package (RegisterPresets).
func (o Options) Validate() error {
	switch o.Format {
	case "", "auto", CSV, TSV, JSONL, JSON, Lines, Parquet:
	default:
		return fmt.Errorf("format %q: expected auto, csv, tsv, jsonl, json, lines or parquet", o.Format)
	}
	switch {
	case o.SkipRows < 0:
		return errors.New("skip rows must not be negative")
	case o.MaxRecordBytes < 0:
		return errors.New("max record bytes must not be negative")
	case o.BatchRows < 0 || o.BatchBytes < 0:
		return errors.New("batch rows and batch bytes must not be negative")
	case o.Delimiter == '"' || o.Delimiter == '\n' || o.Delimiter == '\r':
		return fmt.Errorf("CSV delimiter %q is not allowed", o.Delimiter)
	case o.Regex != "" && o.Preset != "":
		return errors.New("a lines regex and a lines preset exclude each other")
	}
	if o.Regex != "" {
		if _, err := regexp.Compile(o.Regex); err != nil {
			return fmt.Errorf("lines regex: %v", err)
		}
	}
	if o.Preset != "" && presetNames != nil && !slices.Contains(presetNames(), o.Preset) {
		return fmt.Errorf("lines preset %q: expected one of %s", o.Preset, strings.Join(presetNames(), ", "))
	}
	return nil
}

// presetNames lists the lines presets (set by RegisterPresets).
var presetNames func() []string

// RegisterPresets gives Validate the names of the lines presets; the
// lines package calls it from init.
func RegisterPresets(names func() []string) { presetNames = names }

// Defaults for Options.
const (
	DefaultBatchRows      = 100_000
	DefaultBatchBytes     = 8 << 20
	DefaultMaxRecordBytes = 16 << 20
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
	if o.Quote == 0 {
		o.Quote = '"'
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
	Next(b *pusher.Batch) error
	// Pos is the position after the last record returned by Next.
	Pos() pusher.Position
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
	case ".json":
		return JSON, nil
	case ".log", ".txt":
		return Lines, nil
	case ".parquet", ".pq":
		return Parquet, nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its extension; set --format", key)
}

// readers are the stream formats, registered by the format packages
// (csv, jsonl, json, lines) from init.
var readers = map[string]func(r io.Reader, o Options, start pusher.Position) (Reader, error){}

// Register makes a format available to New. Format packages call it from
// init; the command imports them.
func Register(name string, fn func(r io.Reader, o Options, start pusher.Position) (Reader, error)) {
	readers[name] = fn
}

// RandomAccess reports whether a format reads with ReaderAt (NewAt)
// instead of a stream (New).
func RandomAccess(name string) bool { _, ok := atReaders[name]; return ok }

var atReaders = map[string]func(ra io.ReaderAt, size int64, o Options, start pusher.Position) (Reader, error){}

// RegisterAt makes a random-access format (Parquet) available to NewAt.
func RegisterAt(name string, fn func(ra io.ReaderAt, size int64, o Options, start pusher.Position) (Reader, error)) {
	atReaders[name] = fn
}

// NewAt returns a Reader for a random-access format over ra (size bytes).
// Such formats handle their own compression; start.Records is the number
// of records to skip (start.Offset is not used).
func NewAt(ra io.ReaderAt, size int64, o Options, start pusher.Position) (Reader, error) {
	o = o.WithDefaults()
	fn, ok := atReaders[o.Format]
	if !ok {
		return nil, fmt.Errorf("format %q is not a random-access format", o.Format)
	}
	return fn(ra, size, o, start)
}

// New returns a Reader for o.Format reading r from the start position.
func New(r io.Reader, o Options, start pusher.Position) (Reader, error) {
	o = o.WithDefaults()
	fn, ok := readers[o.Format]
	if !ok {
		return nil, fmt.Errorf("unknown format %q", o.Format)
	}
	return fn(r, o, start)
}
