// Package discover selects the files of a store to load: it lists the
// store, drops files that are always skipped (hidden files, directory
// markers) and keeps those that match the include globs and none of the
// exclude globs.
//
// Glob syntax, matched against the key relative to the store root
// (Store.Rel), segment by segment ('/' separates segments):
//
//   - `*` matches any run of characters within one segment (never '/');
//   - `?` matches one character other than '/';
//   - `[...]` is a character class, as in path.Match, but never matches
//     '/' (not even `[^a]`); `\` escapes;
//   - `**` as a whole segment matches zero or more whole segments, so
//     `**/*.csv` matches `a.csv` and `x/y/a.csv`, `logs/**` matches
//     everything under `logs/` (but not a file named `logs`), and
//     `a/**/b` matches `a/b` and `a/x/y/b`. Elsewhere (`a**b`), `**` is
//     the same as `*`.
//
// A leading "/" or "./" in a pattern is ignored (patterns are always
// relative to the root) and a trailing "/" means everything under that
// directory ("logs/" is "logs/**"). Matching is case-sensitive.
package discover

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// Filter selects keys by glob. With no Include patterns every key is
// included; a key is selected when it matches any Include pattern and no
// Exclude pattern.
type Filter struct {
	Include, Exclude []string
}

// Validate reports the first malformed pattern.
func (f Filter) Validate() error {
	for _, p := range f.Include {
		if err := validPattern(p); err != nil {
			return fmt.Errorf("include pattern %q: %w", p, err)
		}
	}
	for _, p := range f.Exclude {
		if err := validPattern(p); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", p, err)
		}
	}
	return nil
}

func validPattern(p string) error {
	p = normalize(p)
	if p == "" {
		return errors.New("empty pattern")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "**" {
			continue
		}
		// path.Match checks the whole pattern even when the name does not
		// match. A '/' inside [...] or after '\' splits the segment and so
		// also shows up here as a malformed segment.
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("segment %q: %w", seg, err)
		}
	}
	return nil
}

// Match reports whether rel, a key relative to the store root, is
// selected. Malformed patterns (see Validate) match nothing.
func (f Filter) Match(rel string) bool {
	if len(f.Include) > 0 {
		in := false
		for _, p := range f.Include {
			if Glob(p, rel) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	for _, p := range f.Exclude {
		if Glob(p, rel) {
			return false
		}
	}
	return true
}

// Glob reports whether name matches pattern (syntax in the package doc).
// A malformed pattern matches nothing.
func Glob(pattern, name string) bool {
	p := normalize(pattern)
	return p != "" && match(p, name)
}

func normalize(p string) string {
	for {
		switch {
		case strings.HasPrefix(p, "./"):
			p = p[2:]
		case strings.HasPrefix(p, "/"):
			p = p[1:]
		default:
			if strings.HasSuffix(p, "/") {
				p += "**"
			}
			return p
		}
	}
}

// match matches pattern against name segment by segment.
func match(pat, name string) bool {
	for {
		pseg, prest, pmore := strings.Cut(pat, "/")
		if pseg == "**" {
			// Consecutive ** are one **; this also bounds backtracking.
			for pmore && strings.HasPrefix(prest, "**") && (len(prest) == 2 || prest[2] == '/') {
				pseg, prest, pmore = strings.Cut(prest, "/")
			}
			if !pmore {
				return true // trailing ** matches all that is left
			}
			// Let ** absorb 0, 1, 2, ... leading segments of name.
			for {
				if match(prest, name) {
					return true
				}
				_, rest, more := strings.Cut(name, "/")
				if !more {
					return false
				}
				name = rest
			}
		}
		nseg, nrest, nmore := strings.Cut(name, "/")
		if ok, _ := path.Match(pseg, nseg); !ok {
			return false
		}
		if pmore != nmore {
			return false
		}
		if !pmore {
			return true
		}
		pat, name = prest, nrest
	}
}

// Skip reports whether an object is always skipped: a directory marker (key
// ending in '/') or a hidden file (a segment of rel starting with '.').
func Skip(o pusher.Object, rel string) bool {
	if strings.HasSuffix(o.Key, "/") || strings.HasSuffix(rel, "/") {
		return true
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// List lists store and calls fn with each page's selected objects: those
// not skipped (Skip) and matched by f (relative to the store root). Pages
// keep the store's order; pages left empty by filtering are not passed. It
// returns the first error from f.Validate, the store or fn.
func List(ctx context.Context, store source.Store, f Filter, fn func([]pusher.Object) error) error {
	return ListWith(ctx, store, Options{Filter: f}, fn)
}

// Options select what ListWith lists.
type Options struct {
	Filter Filter
	// StartAfter, when set, skips keys up to and including it (and, for
	// stores that support it, does not even list them).
	StartAfter string
	// Since, when set, keeps objects modified at or after it.
	Since time.Time
	// Stats, when set, has what the listing saw added to it.
	Stats *Stats
}

// Stats count what a listing saw: every key the store listed, and those
// it did not select, by reason. Listed minus the others is what it
// selected.
type Stats struct {
	Listed int64
	// Hidden counts hidden files and directory markers (Skip).
	Hidden int64
	// Unmatched counts the keys the include and exclude globs leave out.
	Unmatched int64
	// Old counts objects modified before Since, or not after StartAfter
	// when the store lists them anyway.
	Old int64
}

// ListWith is List with start-after and modified-since selection.
func ListWith(ctx context.Context, store source.Store, o Options, fn func([]pusher.Object) error) error {
	f := o.Filter
	if err := f.Validate(); err != nil {
		return err
	}
	list := store.List
	if sal, ok := store.(source.StartAfterLister); ok && o.StartAfter != "" {
		list = func(ctx context.Context, fn func([]pusher.Object) error) error {
			return sal.ListAfter(ctx, o.StartAfter, fn)
		}
	}
	st := o.Stats
	if st == nil {
		st = &Stats{}
	}
	return list(ctx, func(page []pusher.Object) error {
		var sel []pusher.Object
		st.Listed += int64(len(page))
		for _, obj := range page {
			rel := store.Rel(obj.Key)
			switch {
			case Skip(obj, rel):
				st.Hidden++
			case !f.Match(rel):
				st.Unmatched++
			case o.StartAfter != "" && obj.Key <= o.StartAfter,
				!o.Since.IsZero() && obj.LastModified.Before(o.Since):
				st.Old++
			default:
				sel = append(sel, obj)
			}
		}
		if len(sel) == 0 {
			return nil
		}
		return fn(sel)
	})
}

// ParseSince resolves a --since value at now: "" is no bound, a duration
// (24h, 90m) is that long before now, and a time is RFC 3339 or one of
// 2006-01-02T15:04:05, 2006-01-02 15:04:05, 2006-01-02 (UTC).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: expected a duration (24h, 90m) or a time (2024-05-01, 2024-05-01T10:00:00Z)", s)
}
