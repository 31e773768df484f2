package format

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// AddFlags binds o to the reading flags of a job (--format, --csv-*,
// --skip-rows, --json-records-field, --lines-regex, --max-record-bytes,
// --null-string, --batch-rows, --batch-bytes), with their defaults.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Format, "format", "auto", "file format: auto (by extension), csv, tsv, jsonl, json, lines or parquet")
	fs.BoolVar(&o.Header, "csv-header", true, "the first CSV row names the columns (false: name them with --columns)")
	fs.Func("csv-delimiter", "CSV field delimiter, one byte (default , for csv, tab for tsv; \\t accepted)", oneByte(&o.Delimiter, true))
	fs.Func("csv-quote", "CSV quote character, one byte (default \")", oneByte(&o.Quote, false))
	fs.Func("csv-escape", "CSV escape character inside quotes, e.g. \\ (default: none, a doubled quote is a quote)", oneByte(&o.Escape, false))
	fs.Func("csv-comment", "lines starting with this byte are skipped (default: none)", oneByte(&o.Comment, false))
	fs.IntVar(&o.SkipRows, "skip-rows", 0, "CSV/TSV: drop this many lines at the start of each file, before the header")
	fs.StringVar(&o.RecordsField, "json-records-field", "", "json: dotted path to the array of records in each document (e.g. Records, data.items); default: a top-level array, else the document is one record")
	fs.StringVar(&o.Regex, "lines-regex", "", "lines: RE2 pattern whose named groups become columns; a line that does not match is a bad record")
	SizeVar(fs, &o.MaxRecordBytes, "max-record-bytes", DefaultMaxRecordBytes, "a record (line, CSV row, JSON element) longer than this is a bad record")
	fs.StringVar(&o.NullString, "null-string", "", "an unquoted CSV field equal to this is NULL (default: empty unquoted field)")
	fs.IntVar(&o.BatchRows, "batch-rows", DefaultBatchRows, "records per chunk (one COPY and transaction)")
	SizeVar(fs, &o.BatchBytes, "batch-bytes", DefaultBatchBytes, "bytes per chunk, e.g. 8MiB")
}

// oneByte parses a one-byte flag (CSV delimiter, quote, escape, comment);
// where tab is true, a tab may be written \t or tab.
func oneByte(v *byte, tab bool) func(string) error {
	return func(s string) error {
		if tab && (s == `\t` || s == "tab") {
			s = "\t"
		}
		if len(s) > 1 {
			return errors.New("must be one byte")
		}
		*v = 0
		if s != "" {
			*v = s[0]
		}
		return nil
	}
}

// SizeVar defines a byte-count flag (1048576, 64KiB, 8MiB, 1GiB, 10MB)
// stored in p, whose usage shows its default in the largest binary unit
// that divides it.
func SizeVar[T int | int64](fs *flag.FlagSet, p *T, name string, value T, usage string) {
	*p = value
	fs.Var(size[T]{p}, name, usage)
}

type size[T int | int64] struct{ v *T }

func (s size[T]) String() string {
	if s.v == nil {
		return "0"
	}
	return FormatSize(int64(*s.v))
}

func (s size[T]) Set(v string) error {
	n, err := ParseSize(v)
	*s.v = T(n)
	return err
}

// FormatSize spells n in the largest binary unit that divides it (8MiB).
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// ParseSize reads a byte count: a number, optionally followed by B, KiB,
// MiB, GiB, KB, MB or GB (in any case).
func ParseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	s, mult := strings.TrimSpace(v), int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), u.suffix) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (examples: 1048576, 512KiB, 8MiB)", v)
	}
	return n * mult, nil
}
