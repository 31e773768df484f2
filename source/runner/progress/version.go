package progress

import (
	"runtime/debug"
	"strings"
)

// Version says which ferry this is: the module version ("(devel)" when
// built from a checkout), the VCS commit it was built from and whether
// the tree had changes, and the Go release.
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return VersionOf(bi)
}

// VersionOf formats bi (nil: no build information) as Version does:
// "v1.2.0 go1.26.0", "(devel) commit 0123456789ab (modified) go1.26.0".
func VersionOf(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(devel)"
	}
	parts := []string{bi.Main.Version}
	if parts[0] == "" {
		parts[0] = "(devel)"
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		parts = append(parts, "commit", rev[:min(len(rev), 12)])
		if modified {
			parts = append(parts, "(modified)")
		}
	}
	if bi.GoVersion != "" {
		parts = append(parts, bi.GoVersion)
	}
	return strings.Join(parts, " ")
}
