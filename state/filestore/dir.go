package filestore

import (
	"cmp"
	"strings"
)

// DefaultDir is the state directory when a job names none.
const DefaultDir = ".ferry"

// Dir is the directory a state location names: a path, or file:PATH;
// DefaultDir when it is empty.
func Dir(location string) string {
	return cmp.Or(strings.TrimPrefix(location, "file:"), DefaultDir)
}
