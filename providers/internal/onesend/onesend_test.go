package onesend

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/providers/internal/fakemodel"
)

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func start(t *testing.T, upstream string) *Relay {
	t.Helper()
	r, err := Start(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

const chat = `{"model":"m","messages":[{"role":"user","content":"the diff"}]}`

func TestPassesAnswersThrough(t *testing.T) {
	fake := fakemodel.New(t)
	r := start(t, fake.URL+"/v1/")
	for _, body := range []string{chat, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`} {
		res, got := post(t, r.URL+"/chat/completions", body)
		if res.StatusCode != 200 || !strings.Contains(got, "Looks fine.") {
			t.Errorf("HTTP %d %s", res.StatusCode, got)
		}
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || reqs[0].Path != "/v1/chat/completions" || !strings.Contains(reqs[0].Prompt, "the diff") {
		t.Errorf("upstream got %+v", reqs)
	}
	if r.Failure() != nil || r.Forwarded() != 2 {
		t.Errorf("failure %+v, forwarded %d", r.Failure(), r.Forwarded())
	}
}

// TestOneSendAfterAFailure: the first error answer reaches the CLI with
// x-should-retry: false and its Retry-After is kept; the CLI's retries are
// answered by the relay and never reach upstream.
func TestOneSendAfterAFailure(t *testing.T) {
	for _, tt := range []struct {
		status int
		header string
		want   time.Duration
	}{
		{429, "30", 30 * time.Second},
		{500, "", 0},
		{401, "", 0},
	} {
		fake := fakemodel.New(t)
		fake.FailWith(tt.status, fakemodel.OpenAIRateLimit)
		fake.SetFailHeader("Retry-After", tt.header)
		r := start(t, fake.URL+"/v1")
		for i := range 3 {
			res, body := post(t, r.URL+"/chat/completions", chat)
			if res.StatusCode != tt.status || body != fakemodel.OpenAIRateLimit || res.Header.Get("X-Should-Retry") != "false" || res.Header.Get("Retry-After") != tt.header {
				t.Errorf("%d: answer %d: HTTP %d %q, x-should-retry %q, retry-after %q", tt.status, i, res.StatusCode, body, res.Header.Get("X-Should-Retry"), res.Header.Get("Retry-After"))
			}
		}
		if n := len(fake.Requests()); n != 1 {
			t.Errorf("%d: %d requests upstream, want 1", tt.status, n)
		}
		f := r.Failure()
		if f == nil || f.Status != tt.status || f.RetryAfter != tt.want || f.Refused != 2 {
			t.Errorf("%d: failure %+v", tt.status, f)
		}
	}
}

func TestProbesStillForwarded(t *testing.T) {
	fake := fakemodel.New(t)
	fake.FailWith(429, "{}")
	r := start(t, fake.URL+"/v1")
	post(t, r.URL+"/chat/completions", chat)
	res, err := http.Get(r.URL + "/models")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("%d requests upstream; want the failed call and the GET", n)
	}
}

func TestRefusesOtherPaths(t *testing.T) {
	fake := fakemodel.New(t)
	r := start(t, fake.URL)
	base := strings.TrimSuffix(r.URL, r.prefix)
	res, _ := post(t, base+"/v1/chat/completions", chat)
	if res.StatusCode != 404 || len(fake.Requests()) != 0 {
		t.Errorf("no token: HTTP %d, %d requests upstream", res.StatusCode, len(fake.Requests()))
	}
}

func TestUnreachableCountsAsAFailure(t *testing.T) {
	fake := fakemodel.Start()
	url := fake.URL
	fake.Close()
	r := start(t, url)
	for range 2 {
		if res, _ := post(t, r.URL+"/v1/messages", chat); res.StatusCode != http.StatusBadGateway || res.Header.Get("X-Should-Retry") != "false" {
			t.Errorf("HTTP %d", res.StatusCode)
		}
	}
	if f := r.Failure(); f == nil || f.Status != 0 || f.Refused != 1 || r.Forwarded() != 1 {
		t.Errorf("failure %+v, forwarded %d", f, r.Forwarded())
	}
}

func TestStartRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "https://user:pw@host/v1", "://"} {
		if r, err := Start(u); err == nil {
			r.Close()
			t.Errorf("Start(%q) succeeded", u)
		}
	}
}

func TestRetryAfterMs(t *testing.T) {
	h := http.Header{"Retry-After-Ms": {"1500"}}
	if got := retryAfter(h, time.Now()); got != 1500*time.Millisecond {
		t.Errorf("retry-after-ms 1500: %v", got)
	}
}

func TestNoProxy(t *testing.T) {
	got := NoProxy([]string{"PATH=/bin", "no_proxy=corp.example", "HTTPS_PROXY=http://proxy:3128"})
	want := []string{"PATH=/bin", "no_proxy=corp.example,127.0.0.1", "HTTPS_PROXY=http://proxy:3128", "NO_PROXY=127.0.0.1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("NoProxy = %q, want %q", got, want)
	}
}
