package discover

import (
	"flag"
	"time"
)

// AddFlags binds f to --include and --exclude (repeatable), and since to
// --since, read when the flag is parsed.
func (f *Filter) AddFlags(fs *flag.FlagSet, since *time.Time) {
	fs.Func("include", "load only keys matching this `glob` (relative to the prefix; * within a segment, ** across /); repeatable", func(s string) error {
		f.Include = append(f.Include, s)
		return nil
	})
	fs.Func("exclude", "skip keys matching this `glob`; repeatable", func(s string) error {
		f.Exclude = append(f.Exclude, s)
		return nil
	})
	fs.Func("since", "only objects modified at or after this: a `duration` back from now (24h) or a time (2024-05-01T00:00:00Z)", func(s string) (err error) {
		*since, err = ParseSince(s, time.Now())
		return err
	})
}
