// Package onesend is a loopback relay between a provider CLI and its model
// API that lets the source leave the machine at most once per failed
// attempt, and reports what the provider said about retrying.
//
// The CLIs retry a failed model call on their own (grok's OpenAI client
// twice, with no setting to stop it), and each retry resends the whole
// prompt and diff. A review points the CLI at a Relay instead of the API:
// the Relay forwards every request unchanged until the first error answer
// to a POST (the model call), hands that answer to the CLI with
// `x-should-retry: false` (which the Anthropic and OpenAI clients obey),
// and from then on answers every further POST itself with the same error,
// forwarding nothing. So a retry the CLI makes anyway never leaves the
// machine, and the Retry-After of the failure is kept for the job record.
//
// Invariant: once Failure reports a failure, no request with a body is
// forwarded again. The Relay listens on 127.0.0.1 only, under a random
// path prefix that only the CLI is told, and adds no credentials: it
// forwards what the CLI sends.
package onesend

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relay-host/relay-host/sdk"
)

// maxErrorBody is how much of an error answer is kept to replay.
const maxErrorBody = 1 << 20

// Failure is the first error answer the provider gave to a model call.
type Failure struct {
	// Status is the HTTP status; 0 when the provider could not be reached
	// (the request may still have arrived).
	Status int
	// RetryAfter is the provider's Retry-After, or 0 when it gave none.
	RetryAfter time.Duration
	// Refused counts the later model calls the Relay answered itself
	// instead of forwarding: the CLI's own retries.
	Refused int
}

// Relay is a running relay. Point the CLI at URL (plus whatever path
// suffix the CLI's base URL has upstream); Close it when the CLI is done.
type Relay struct {
	// URL is "http://127.0.0.1:<port>/<token>", without a trailing slash:
	// it stands for the upstream base URL.
	URL string

	prefix string
	srv    *http.Server
	proxy  *httputil.ReverseProxy

	mu       sync.Mutex
	failure  *Failure
	status   int
	header   http.Header
	body     []byte
	forwards int
}

// Start starts a relay to upstream, an http or https base URL such as
// "https://api.x.ai/v1".
func Start(upstream string) (*Relay, error) {
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errors.New("the API base URL is not an http(s) URL with a host")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1: %w", err)
	}
	r := &Relay{prefix: "/" + hex.EncodeToString(tok[:])}
	r.URL = "http://" + ln.Addr().String() + r.prefix
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Path = strings.TrimPrefix(pr.Out.URL.Path, r.prefix)
			pr.Out.URL.RawPath = ""
			pr.SetURL(u)
		},
		// Streamed answers (SSE) reach the CLI as they arrive.
		FlushInterval:  -1,
		ModifyResponse: r.inspect,
		ErrorHandler:   r.unreachable,
		// The plugin's stderr is not a log: unreachable reports it.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 30 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Close stops the relay and drops its connections.
func (r *Relay) Close() { r.srv.Close() }

// Failure is the first failed model call, or nil when none failed.
func (r *Relay) Failure() *Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure == nil {
		return nil
	}
	f := *r.failure
	return &f
}

// Forwarded is the number of requests with a body that reached upstream.
// WithRetryAfter is err with the Retry-After of the first failed model
// call, when err is an *sdk.Error and a call failed; err as it is
// otherwise. r may be nil (no relay was used).
func (r *Relay) WithRetryAfter(err error) error {
	var e *sdk.Error
	if r != nil && errors.As(err, &e) {
		if f := r.Failure(); f != nil {
			e.RetryAfter = f.RetryAfter
		}
	}
	return err
}

func (r *Relay) Forwarded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forwards
}

func (r *Relay) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != r.prefix && !strings.HasPrefix(req.URL.Path, r.prefix+"/") {
		http.NotFound(w, req)
		return
	}
	if !carriesBody(req) {
		r.proxy.ServeHTTP(w, req)
		return
	}
	r.mu.Lock()
	if r.failure != nil {
		// A retry: answer it here, so the source is not sent again.
		r.failure.Refused++
		status, header, body := r.status, r.header.Clone(), r.body
		r.mu.Unlock()
		io.Copy(io.Discard, io.LimitReader(req.Body, 64<<20))
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	r.forwards++
	r.mu.Unlock()
	r.proxy.ServeHTTP(w, req)
}

// carriesBody: a model call is a POST (or any request with a body); HEAD
// and GET probes carry no source and are forwarded as they are.
func carriesBody(req *http.Request) bool {
	return req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodOptions
}

// inspect keeps the first error answer to a model call and tells the CLI
// not to retry it.
func (r *Relay) inspect(res *http.Response) error {
	if res.StatusCode < 400 || !carriesBody(res.Request) {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Del("Content-Length")
	res.Header.Del("Transfer-Encoding")
	res.Header.Set("X-Should-Retry", "false")
	r.fail(res.StatusCode, res.Header, body, retryAfter(res.Header, time.Now()))
	return nil
}

// unreachable answers a call that got no answer upstream. The request may
// have arrived anyway, so it counts as a failure and is not retried.
func (r *Relay) unreachable(w http.ResponseWriter, req *http.Request, err error) {
	h := http.Header{"Content-Type": {"application/json"}, "X-Should-Retry": {"false"}}
	body := []byte(`{"error":{"type":"api_error","message":"relay-host could not reach the model API (connection error)"}}`)
	if carriesBody(req) {
		r.fail(0, h, body, 0)
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(http.StatusBadGateway)
	w.Write(body)
}

func (r *Relay) fail(status int, h http.Header, body []byte, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure != nil {
		return
	}
	r.failure = &Failure{Status: status, RetryAfter: wait}
	r.status, r.header, r.body = status, h.Clone(), body
	if status == 0 {
		r.status = http.StatusBadGateway
	}
}

// retryAfter is the wait an error answer asks for: Retry-After (seconds or
// a date), else the Anthropic/OpenAI retry-after-ms.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d := sdk.ParseRetryAfter(h.Get("Retry-After"), now); d > 0 {
		return d
	}
	if ms, err := strconv.ParseInt(strings.TrimSpace(h.Get("Retry-After-Ms")), 10, 64); err == nil && ms > 0 {
		return min(time.Duration(min(ms, int64(sdk.MaxRetryAfter/time.Millisecond)))*time.Millisecond, sdk.MaxRetryAfter)
	}
	return 0
}

// NoProxy is environ with 127.0.0.1 added to NO_PROXY and no_proxy, so a
// CLI that honours HTTP(S)_PROXY still reaches the relay directly: a proxy
// elsewhere cannot reach this machine's loopback. (The relay's own calls
// upstream use the proxy settings as they are.)
func NoProxy(environ []string) []string {
	out := make([]string, 0, len(environ)+2)
	seen := map[string]bool{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if k == "NO_PROXY" || k == "no_proxy" {
			seen[k] = true
			if strings.TrimSpace(v) != "" {
				kv = k + "=" + v + ",127.0.0.1"
			} else {
				kv = k + "=127.0.0.1"
			}
		}
		out = append(out, kv)
	}
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		if !seen[k] {
			out = append(out, k+"=127.0.0.1")
		}
	}
	return out
}
