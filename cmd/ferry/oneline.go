package main

import (
	"strings"

	"github.com/rs/zerolog"
)

// oneLine keeps a message on one line: line breaks inside it (a driver's
// multi-line error, a server's DETAIL and HINT) are written \n, and
// trailing ones dropped.
func oneLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}

// oneLineMessage is a console writer's FormatPrepare: the message on one
// line (field values with line breaks are quoted already).
func oneLineMessage(evt map[string]any) error {
	if m, ok := evt[zerolog.MessageFieldName].(string); ok {
		evt[zerolog.MessageFieldName] = oneLine(m)
	}
	return nil
}
