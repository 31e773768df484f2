//go:build race

package parquet

// raceEnabled: the race detector is on (it slows the big tests tenfold and
// changes what the heap holds).
const raceEnabled = true
