package jsonlines

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Open returns the target a --target value names: "stdout" ("" and "-"
// too) or "file:PATH". When rejectsPath is set, rejected records are
// appended to that file as JSON lines; Close closes it.
func Open(target, rejectsPath string) (*Target, error) {
	var t *Target
	switch {
	case target == "" || target == "stdout" || target == "-":
		t = Stdout()
	case strings.HasPrefix(target, "file:") && len(target) > len("file:"):
		var err error
		if t, err = File(strings.TrimPrefix(target, "file:")); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("target %q: expected stdout or file:PATH", target)
	}
	if rejectsPath != "" {
		f, err := os.OpenFile(rejectsPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("rejects file: %w", err), t.Close())
		}
		t.Rejects, t.rejectsFile = f, f
	}
	return t, nil
}
