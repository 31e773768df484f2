package postgres

import (
	"flag"
	"fmt"
	"strconv"
)

// AddFlags binds c to the PostgreSQL target's own flags (--unknown-fields and
// its aliases, --extra-column, --timestamp-format, --merge-key, --rescue-column), with
// their defaults; Validate checks them.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.TextVar(&c.UnknownFields, "unknown-fields", UnknownError, "fields with no column in the table: error, ignore, extra (kept in the jsonb column --extra-column) or add (a new column, added in the chunk's transaction)")
	fs.TextVar(&c.UnknownFields, "jsonl-unknown-fields", UnknownError, "same as --unknown-fields")
	fs.BoolFunc("ignore-unknown-fields", "same as --unknown-fields ignore", func(s string) error {
		b, err := strconv.ParseBool(s)
		if b {
			c.UnknownFields = UnknownIgnore
		}
		return err
	})
	fs.StringVar(&c.ExtraColumn, "extra-column", "_extra", "jsonb column for fields with no column under --unknown-fields extra (created with the table)")
	fs.StringVar(&c.Conversion.TimestampFormat, "timestamp-format", "auto", "timestamps: auto (ISO 8601 / RFC 3339 text), epoch_s or epoch_ms (numbers are seconds or milliseconds since 1970)")
	fs.Var(mergeKeyValue{c}, "merge-key", "upsert instead of append: `columns` of a unique key (col[,col...]; \"quoted\" names hold commas); each chunk is staged in a temporary table, the last record of a key in file order wins, and INSERT ... ON CONFLICT updates the row; a record whose key is NULL is a bad record")
	fs.StringVar(&c.RescueColumn, "rescue-column", "", "jsonb `column` that keeps values that do not convert to their column's type ({\"field\": \"value\"}); the typed column is NULL and the record loads")
}

// Validate checks the settings the flags give.
func (c *Config) Validate() error {
	switch c.Conversion.TimestampFormat {
	case "":
		c.Conversion.TimestampFormat = "auto"
	case "auto", "epoch_s", "epoch_ms":
	default:
		return fmt.Errorf("--timestamp-format %q: expected auto, epoch_s or epoch_ms", c.Conversion.TimestampFormat)
	}
	return c.validateMergeKey()
}
