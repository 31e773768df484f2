package source

import "testing"

func TestParseAfterLoad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want AfterLoad
		bad  bool
	}{
		{in: "", want: AfterLoad{Kind: AfterLoadKeep}},
		{in: "keep", want: AfterLoad{Kind: AfterLoadKeep}},
		{in: "delete", want: AfterLoad{Kind: AfterLoadDelete}},
		{in: "move:archive/", want: AfterLoad{Kind: AfterLoadMove, Prefix: "archive/"}},
		{in: "move:/data/done", want: AfterLoad{Kind: AfterLoadMove, Prefix: "/data/done"}},
		{in: "tag:ferry=loaded", want: AfterLoad{Kind: AfterLoadTag, TagKey: "ferry", TagValue: "loaded"}},
		{in: "tag:k=", want: AfterLoad{Kind: AfterLoadTag, TagKey: "k"}},
		{in: "tag:a=b=c", want: AfterLoad{Kind: AfterLoadTag, TagKey: "a", TagValue: "b=c"}},
		{in: "move:", bad: true},
		{in: "move:/", bad: true},
		{in: "tag:novalue", bad: true},
		{in: "tag:=v", bad: true},
		{in: "delete:x", bad: true},
		{in: "archive", bad: true},
	} {
		var got AfterLoad
		err := got.UnmarshalText([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if text, _ := got.MarshalText(); tc.in != "" && string(text) != tc.in {
			t.Errorf("%q prints as %q", tc.in, text)
		}
	}
}
