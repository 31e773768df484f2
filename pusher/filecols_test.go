package pusher

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMetaColumns(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"record,file", []string{"file", "record"}, ""},
		{" loaded_at , _ferry_etag,SIZE,file,file", []string{"file", "etag", "size", "loaded_at"}, ""},
		{"file,path", nil, `unknown metadata column "path"`},
	} {
		got, err := ParseMetaColumns(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestPartitionsHive(t *testing.T) {
	rel := func(k string) string { return strings.TrimPrefix(k, "landing/") }
	p, err := NewPartitions(true, "", rel)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key     string
		want    []Partition
		matched bool
		err     string
	}{
		{"landing/dt=2024-05-01/region=eu/part-0.csv", []Partition{{Name: "dt", Value: "2024-05-01"}, {Name: "region", Value: "eu"}}, true, ""},
		// Above the root does not count; the file's own name neither.
		{"landing/x=1/a=b.csv", []Partition{{Name: "x", Value: "1"}}, true, ""},
		{"landing/plain/part-0.csv", nil, false, ""},
		{"landing/part=0.csv", nil, false, ""},
		// Hive's escapes, its NULL, an empty value, a segment without a name.
		{"landing/city=S%C3%A3o%20Paulo/n=__HIVE_DEFAULT_PARTITION__/e=/=x/f.csv",
			[]Partition{{Name: "city", Value: "São Paulo"}, {Name: "n", Null: true}, {Name: "e", Null: true}}, true, ""},
		// A bad escape is kept as written.
		{"landing/q=100%/f.csv", []Partition{{Name: "q", Value: "100%"}}, true, ""},
		{`landing/we"ird=a'b/f.csv`, []Partition{{Name: `we"ird`, Value: "a'b"}}, true, ""},
		{"landing/a=1/b=2/a=3/f.csv", nil, false, `partition "a" appears twice`},
	} {
		got, matched, err := p.Of(tt.key)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("%s: error %v, want %q naming the key", tt.key, err, tt.err)
			}
			continue
		}
		if err != nil || matched != tt.matched || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, %v, %v; want %+v, %v", tt.key, got, matched, err, tt.want, tt.matched)
		}
	}
}

func TestPartitionsPattern(t *testing.T) {
	p, err := NewPartitions(false, `(?P<year>\d{4})/(?P<month>\d{2})/(?:(?P<host>[a-z]+)-|(?P<host>\d+)_)?`, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key     string
		want    []Partition
		matched bool
	}{
		{"logs/2024/05/web-1.log", []Partition{{Name: "year", Value: "2024"}, {Name: "month", Value: "05"}, {Name: "host", Value: "web"}}, true},
		// The second alternative of a repeated name.
		{"logs/2024/05/42_x.log", []Partition{{Name: "year", Value: "2024"}, {Name: "month", Value: "05"}, {Name: "host", Value: "42"}}, true},
		{"logs/2024/05/x.log", []Partition{{Name: "year", Value: "2024"}, {Name: "month", Value: "05"}, {Name: "host", Null: true}}, true},
		{"logs/latest.log", []Partition{{Name: "year", Null: true}, {Name: "month", Null: true}, {Name: "host", Null: true}}, false},
	} {
		got, matched, err := p.Of(tt.key)
		if err != nil || matched != tt.matched || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, %v, %v; want %+v, %v", tt.key, got, matched, err, tt.want, tt.matched)
		}
	}
}

func TestNewPartitionsErrors(t *testing.T) {
	for _, tt := range []struct {
		hive    bool
		pattern string
		err     string
	}{
		{true, "(?P<a>x)", "cannot be used together"},
		{false, `(\d+)/`, "has no named group"},
		{false, `(?P<a>[`, "--key-pattern"},
	} {
		if _, err := NewPartitions(tt.hive, tt.pattern, nil); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%v %q: error %v, want %q", tt.hive, tt.pattern, err, tt.err)
		}
	}
	if p, err := NewPartitions(false, "", nil); p != nil || err != nil {
		t.Errorf("no flags: %v, %v", p, err)
	}
	var none *Partitions
	if got, matched, err := none.Of("a=1/f.csv"); got != nil || !matched || err != nil {
		t.Errorf("nil partitions: %v %v %v", got, matched, err)
	}
}
