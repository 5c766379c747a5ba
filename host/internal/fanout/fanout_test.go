package fanout

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseReviewers(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    []Reviewer
		wantErr string
	}{
		{[]string{"claude"}, []Reviewer{{Provider: "claude"}}, ""},
		{[]string{"claude,apireviewer/deepseek"}, []Reviewer{{Provider: "claude"}, {Provider: "apireviewer", Route: "deepseek"}}, ""},
		{[]string{"claude", "gemini/subscription"}, []Reviewer{{Provider: "claude"}, {Provider: "gemini", Route: "subscription"}}, ""},
		{[]string{" claude , kimi "}, []Reviewer{{Provider: "claude"}, {Provider: "kimi"}}, ""},
		{[]string{"claude,claude"}, nil, `reviewer "claude" is named twice`},
		{[]string{"a/x", "a/x"}, nil, `reviewer "a/x" is named twice`},
		{[]string{"claude,"}, nil, `"" is not a reviewer`},
		{[]string{"a/b/c"}, nil, `"a/b/c" is not a reviewer`},
		{[]string{"a/"}, nil, `"a/" is not a reviewer`},
		{[]string{"/r"}, nil, `"/r" is not a reviewer`},
	} {
		got, err := ParseReviewers(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseReviewers(%q) err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseReviewers(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if n := (Reviewer{Provider: "apireviewer", Route: "glm"}).Name(); n != "apireviewer/glm" {
		t.Errorf("Name = %q", n)
	}
}
