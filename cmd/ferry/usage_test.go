package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// TestHelpOnStdout: help asked for goes to stdout with status 0, so that
// 'ferry snapshot -h | less' shows it.
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "snapshot"}, {"help", "replicate"},
		{"snapshot", "-h"}, {"replicate", "--help"}, {"snapshot", "--source", "x", "-help"}} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if code != exitOK || !strings.Contains(stdout.String(), "Usage") || stderr.Len() > 0 {
			t.Errorf("ferry %s: exit %d, stdout %d bytes, stderr %q; want 0, the usage on stdout, nothing on stderr",
				strings.Join(args, " "), code, stdout.Len(), stderr.String())
		}
	}
	// A wrong flag is a one-line error on stderr, status 2.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"snapshot", "--no-such-flag"}, &stdout, &stderr); code != exitUsage || stdout.Len() > 0 ||
		strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
		t.Errorf("bad flag: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestUsageDefaults: each flag's description states its default once
// (the flag package appends "(default X)" to what the text says itself).
func TestUsageDefaults(t *testing.T) {
	for _, command := range []string{"snapshot", "replicate"} {
		var out bytes.Buffer
		fs, _ := newFlags(command, &out)
		fs.Usage()
		for line := range strings.Lines(out.String()) {
			if strings.Count(strings.ToLower(line), "default") > 1 {
				t.Errorf("%s -h: default given twice: %s", command, strings.TrimSpace(line))
			}
		}
		for _, want := range []string{"(default 8MiB)", "(default 64MiB)", "(default 16MiB)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s -h: no %q", command, want)
			}
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 1000: "1000", 1 << 10: "1KiB", 8 << 20: "8MiB", 3 << 30: "3GiB", 1536 << 10: "1536KiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := parseSize(formatSize(n)); err != nil || int64(back) != n {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v", n, back, err)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		out := stdout.String()
		if code != exitOK || !strings.HasPrefix(out, "ferry ") || strings.Count(out, "\n") != 1 || len(out) < len("ferry x\n") {
			t.Errorf("ferry %s: exit %d, %q", args[0], code, out)
		}
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "fa028a9c0123456789abcdef0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "(devel) commit fa028a9c0123 (modified) go1.26.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0 go1.26.0"},
		{&debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, "(devel) commit abc"},
		{nil, "(devel)"},
	} {
		if got := versionOf(c.bi); got != c.want {
			t.Errorf("versionOf = %q, want %q", got, c.want)
		}
	}
}
