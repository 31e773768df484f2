package pusher

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Columns whose values come from where a record's file is rather than from
// the record: the file's metadata (MetaColumns) and the values its key
// holds (Partitions). Both targets write them; they are the same for every
// record of a file, but for the record ordinal.

// MetaPrefix starts the name of every metadata column: _ferry_file,
// _ferry_record, ...
const MetaPrefix = "_ferry_"

// Metadata column names (without MetaPrefix).
const (
	MetaFile     = "file"      // the object key (text)
	MetaRecord   = "record"    // the record's ordinal in the file, from 1 (bigint)
	MetaETag     = "etag"      // the object's ETag (text)
	MetaModified = "modified"  // the object's LastModified (timestamptz)
	MetaSize     = "size"      // the object's size in bytes as stored (bigint)
	MetaLoadedAt = "loaded_at" // when the record was committed (timestamptz)
)

// MetaNames lists the metadata columns in the order they are added.
var MetaNames = []string{MetaFile, MetaRecord, MetaETag, MetaModified, MetaSize, MetaLoadedAt}

// ParseMetaColumns parses a comma-separated list of metadata column names
// ("file,record,etag"), each with or without MetaPrefix. It returns them in
// MetaNames order, each once; "" is none.
func ParseMetaColumns(s string) ([]string, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(n)), MetaPrefix)
		if n == "" {
			continue
		}
		if !slices.Contains(MetaNames, n) {
			return nil, fmt.Errorf("unknown metadata column %q: expected %s", n, strings.Join(MetaNames, ", "))
		}
		want[n] = true
	}
	var out []string
	for _, n := range MetaNames {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Partition is one column a file's key gives: its name and value. Null is
// set for an empty Hive value or Hive's __HIVE_DEFAULT_PARTITION__, and
// for a named group of the pattern that took no part in the match.
type Partition struct {
	Name, Value string
	Null        bool
}

// Partitions derives columns from a file's key: Hive-style name=value path
// segments (Hive), or the named groups of a regular expression (Pattern).
type Partitions struct {
	// Hive: every directory segment of the key below the source root that
	// is name=value gives a column name with that value (URL-unescaped, as
	// Hive and Spark escape them).
	Hive bool
	// Pattern: its named groups, matched against the key below the root
	// (anywhere in it, unless anchored), give the columns.
	Pattern *regexp.Regexp
	// Rel returns a key relative to the source root (nil: the key as is).
	Rel func(key string) string
}

// hiveNull is the value Hive writes for a NULL partition.
const hiveNull = "__HIVE_DEFAULT_PARTITION__"

// NewPartitions returns the partitions of --partition-columns (hive) or
// --key-pattern (pattern), or nil when neither is set. A pattern must
// compile and name at least one group; both together are an error.
func NewPartitions(hive bool, pattern string, rel func(string) string) (*Partitions, error) {
	if !hive && pattern == "" {
		return nil, nil
	}
	if hive && pattern != "" {
		return nil, errors.New("--partition-columns and --key-pattern cannot be used together")
	}
	p := &Partitions{Hive: hive, Rel: rel}
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("--key-pattern: %w", err)
		}
		named := 0
		for _, n := range re.SubexpNames() {
			if n != "" {
				named++
			}
		}
		if named == 0 {
			return nil, fmt.Errorf("--key-pattern %q has no named group, such as (?P<year>\\d{4})", pattern)
		}
		p.Pattern = re
	}
	return p, nil
}

// Of returns the partition columns of key, in the order they appear, and
// whether the key has any: false when the pattern does not match or a
// Hive-style key has no name=value segment (its columns are then NULL).
// A name given twice by one key is an error.
func (p *Partitions) Of(key string) ([]Partition, bool, error) {
	if p == nil {
		return nil, true, nil
	}
	rel := key
	if p.Rel != nil {
		rel = p.Rel(key)
	}
	var out []Partition
	if p.Pattern != nil {
		m := p.Pattern.FindStringSubmatchIndex(rel)
		seen := map[string]int{}
		for i, name := range p.Pattern.SubexpNames() {
			if name == "" {
				continue
			}
			null := m == nil || m[2*i] < 0
			if j, ok := seen[name]; ok { // the same name on alternatives: the first that matched
				if out[j].Null && !null {
					out[j] = Partition{Name: name, Value: rel[m[2*i]:m[2*i+1]]}
				}
				continue
			}
			seen[name] = len(out)
			pt := Partition{Name: name, Null: null}
			if !null {
				pt.Value = rel[m[2*i]:m[2*i+1]]
			}
			out = append(out, pt)
		}
		return out, m != nil, nil
	}
	segs := strings.Split(rel, "/")
	for _, seg := range segs[:len(segs)-1] { // the last is the file's name
		name, value, ok := strings.Cut(seg, "=")
		if !ok || name == "" {
			continue
		}
		if n, err := url.PathUnescape(name); err == nil {
			name = n
		}
		for _, o := range out {
			if o.Name == name {
				return nil, false, fmt.Errorf("key %q: partition %q appears twice", key, name)
			}
		}
		pt := Partition{Name: name, Value: value}
		if v, err := url.PathUnescape(value); err == nil {
			pt.Value = v
		}
		pt.Null = pt.Value == hiveNull || pt.Value == ""
		if pt.Null {
			pt.Value = ""
		}
		out = append(out, pt)
	}
	return out, len(out) > 0, nil
}
