//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filestore

import "os"

// Without flock, only one process may use a pipeline's state at a time.
func lockExclusive(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
