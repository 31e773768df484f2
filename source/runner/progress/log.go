package progress

import (
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// NewLogger is the log on stderr (--log-level, --log-format).
func NewLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: expected debug, info, warn or error", level)
	}
	zerolog.DurationFieldFormat = zerolog.DurationFormatString // 29.6ms, not 0.0296
	switch format {
	case "json":
		return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
	case "console", "":
		cw := zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !IsTerminal(w), FormatPrepare: oneLineMessage}
		return zerolog.New(cw).Level(lvl).With().Timestamp().Logger(), nil
	}
	return zerolog.Logger{}, fmt.Errorf("--log-format %q: expected console or json", format)
}

// oneLineMessage is a console writer's FormatPrepare: the message on one
// line (field values with line breaks are quoted already).
func oneLineMessage(evt map[string]any) error {
	if m, ok := evt[zerolog.MessageFieldName].(string); ok {
		evt[zerolog.MessageFieldName] = OneLine(m)
	}
	return nil
}

// IsTerminal: w is a terminal (colours, the progress bar).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
